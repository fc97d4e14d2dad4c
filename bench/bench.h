/* bench/bench.h: declarations shared by the files of `mmcontig bench`, grouped by the file that
 * defines them (as alloc/internal.h does for the library).
 *
 * The benchmark uses the public headers only (mmcontig/mmcontig.h, mmcontig/wdm.h). A case is
 * one row of a result CSV: one suite, one engine or peer, one pool, one request size, one
 * constraint, one fill level, measured over a fixed number of calls (per repetition).
 *
 * Units are in the names: _bytes, _frames, _pfn, _ns, _s, _pct.
 */
#ifndef MMC_BENCH_BENCH_H
#define MMC_BENCH_BENCH_H

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "csv.h"
#include "gbench.h"
#include "hist.h"
#include "config.h"
#include "mmcontig/mmcontig.h"
#include "mmcontig/testing.h"
#include "mmcontig/wdm.h"
#include "bench_cli.h"
/* the project's one PRNG, the library's leaf header (header-only: no symbol is exported) */
#include "../alloc/rand.h"

#define KIB ((uint64_t)1024)
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)
#define TIB (1024 * GIB)

#define BENCH_TAG 0x6863626du       /* 'mbch': the pool tag of every Ex call of the benchmark */
#define BENCH_ANY_NODE UINT32_MAX   /* node column "any" (MM_ANY_NODE_OK) */
#define BENCH_MAX_ENGINES 16
#define BENCH_MAX_POOLS 16
#define BENCH_MAX_LIST 24
#define BENCH_MAX_REPS 64    /* repetitions of a case (--benchmark_repetitions) */
/* Largest pool whose cases read mmc_partition_stats around them for the trades column: the
 * call is O(frames) (a hash of the frame database), 64 GiB ~ 50 ms, 1 TiB ~ 1 s. */
#define BENCH_TRADES_MAX_FRAMES (64 * GIB / MMC_FRAME_BYTES)

/* Exit codes of `mmcontig bench` (documented in --help). */
enum bench_exit {
    BENCH_EXIT_OK = 0,          /* every selected case ran */
    BENCH_EXIT_CASE_ERRORS = 1, /* some cases could not run (named on stderr and in gbench.json),
                                   or an output file could not be written */
    BENCH_EXIT_USAGE = 2,       /* bad option or argument */
    BENCH_EXIT_SIGINT = 130,    /* interrupted by SIGINT: every completed row is kept */
    BENCH_EXIT_SIGTERM = 143,   /* interrupted by SIGTERM: every completed row is kept */
};

enum bench_suite { SUITE_SEARCH = 0, SUITE_FASTONLY, SUITE_PEERS, SUITE_COUNT };
/* CON_DMA32 comes after CON_COUNT_MATRIX: the matrix sweeps the constraints before it. */
enum bench_constraint { CON_NONE = 0, CON_RANGE, CON_BOUNDARY, CON_RANGE_BOUNDARY, CON_NODE,
                        CON_COUNT_MATRIX, CON_DMA32 = CON_COUNT_MATRIX, CON_COUNT };
/* The free map a case's calls meet (CSV column `state`; results/README.md "Scenarios"). */
enum bench_state {
    STATE_AGED = 0,     /* the aging recipe at fill_pct, churned between calls (the matrix) */
    STATE_NEEDLE,       /* the one fitting block at the bottom of the allowed range, every
                           other free stretch one frame too short */
    STATE_CUT,          /* every free stretch straddles a multiple of the boundary; 1 in 32
                           lies between two multiples of it */
    STATE_NEAR_LARGEST, /* the aged state held fixed; request = a share of its largest stretch */
    STATE_GROW,         /* a small real pool, every frame in use, growth allowed: the ordinary
                           path must take hugepages from the kernel (a fresh pool per call) */
    STATE_COUNT
};
#define BENCH_DMA32_HIGHEST 0xFFFFFFFFull /* HighestAcceptableAddress of a 32-bit DMA mask */
enum bench_peer { PEER_MMCONTIG = 0, PEER_DPDK, PEER_KERNEL_2M, PEER_KERNEL_1G, PEER_COUNT };

extern const char *const bench_suite_name[SUITE_COUNT];
extern const char *const bench_constraint_name[CON_COUNT];
extern const char *const bench_state_name[STATE_COUNT];
extern const char *const bench_peer_name[PEER_COUNT];

/* A pool the cases search: the real one (hugepages) or a simulated one (synthetic layout). */
struct bench_pool {
    char label[32];                 /* "real-512M", "sim-64G": part of the case names */
    bool simulated;                 /* 1: mmc_partition_create_simulated */
    uint64_t pool_bytes;            /* asked for (real: the whole pool over its nodes) */
    uint64_t page_bytes;            /* hugepage size */
    uint64_t node_pool_bytes[MMC_MAX_NODES]; /* real: bytes per node number (0: none there) */
    bool dma32_layout;              /* simulated over the dma32 layout (target.c) instead of
                                       one synthetic run */
    bool grow;                      /* real, the grow cases' pool: pool_bytes at creation, all of
                                       it in use, growth allowed up to grow_max_bytes */
    uint64_t grow_max_bytes;        /* mmc_config.pool_max_bytes of the grow cases */
};

/* The numbers a preset fixes (bench.c holds "quick" and "full"). */
struct bench_preset {
    const char *name;
    uint64_t pool_bytes;            /* default --pool */
    uint64_t sizes_bytes[BENCH_MAX_LIST]; unsigned nsizes;     /* real pool request sizes */
    unsigned fills_pct[8]; unsigned nfills;                     /* real pool fill levels */
    int64_t calls;                  /* measured calls per case and repetition, real pool */
    uint64_t sim_pools_bytes[BENCH_MAX_LIST]; unsigned nsim;   /* simulated pool sizes */
    uint64_t sim_sizes_bytes[BENCH_MAX_LIST]; unsigned nsim_sizes;
    unsigned sim_fills_pct[8]; unsigned nsim_fills;
    unsigned sim_constraints;       /* bit mask of enum bench_constraint for simulated pools */
    int64_t sim_calls;              /* calls per case, simulated pools */
    uint64_t peer_sizes_bytes[BENCH_MAX_LIST]; unsigned npeer_sizes;
    int64_t peer_calls_small;       /* DPDK and mmcontig rows of peers, requests <= 1 MiB */
    int64_t peer_calls_medium;      /* ... <= 8 MiB */
    int64_t peer_calls_large;       /* ... > 8 MiB */
    int64_t kernel_calls_2m;        /* kernel-hugetlb-2M calls */
    int64_t kernel_calls_1g;        /* kernel-hugetlb-1G calls */
    int repetitions;                /* default --benchmark_repetitions */
    int64_t grow_calls;             /* calls per grow case (each on a fresh small pool) */
    double case_budget_s;           /* a case stops (row kept, error noted) after this long */
    unsigned warmup_calls;          /* untimed calls before each case's measured calls */
    double scale_point_s;           /* scale suite: seconds each thread count runs */
    uint64_t scale_sim_bytes;       /* scale suite: the simulated pool */
};

/* The command line, resolved. */
struct bench_opts {
    bool suite[SUITE_COUNT];        /* suites selected */
    bool frag;                      /* the frag suite (suite_frag.c: a time series, not cases) */
    bool scale;                     /* the scale suite (suite_scale.c: runs of threads) */
    unsigned threads[BENCH_MAX_LIST]; unsigned nthreads; /* --threads, or the default */
    double scale_seconds;           /* --scale-seconds, 0 = the preset's point duration */
    bool frag_kernel;               /* the frag-kernel suite (frag_kernel.c) */
    uint64_t frag_ops;              /* --frag-ops: aging operations per engine and placement, 0 =
                                       the preset's (suite_frag.c) */
    char engines[BENCH_MAX_ENGINES][MMC_NAME_MAX]; unsigned nengines;
    const char *plugin_path[BENCH_MAX_ENGINES]; /* --plugin, loaded (mmc_engine_load) */
    const char *plugin_name[BENCH_MAX_ENGINES]; unsigned nplugins; /* their engines' names */
    struct mmc_config pool_cfg;     /* real pool: pool_bytes / node_pool_bytes / page_bytes */
    char pool_arg[128];             /* --pool as given ("" = preset default) */
    uint64_t page_bytes;            /* --page */
    unsigned nodes[MMC_MAX_NODES]; unsigned nnodes; /* --nodes, or every node with memory */
    uint64_t seed;                  /* --seed */
    char out_dir[PATH_MAX];         /* --out, or results/<host>/<UTC time> */
    const struct bench_preset *preset;
    int64_t calls_override;         /* --calls, 0 = preset */
    uint64_t sim_pools_bytes[BENCH_MAX_LIST]; unsigned nsim; /* --sim-pools, or preset */
    int repetitions;                /* --benchmark_repetitions, or preset */
    bool list_only;                 /* --benchmark_list_tests: no output, no memory */
    int argc; char **argv;          /* the command line as typed (context.json) */
};

/* One measured case = one CSV row. */
struct case_acc;
struct bench_case {
    int suite;                      /* enum bench_suite */
    int peer;                       /* enum bench_peer */
    int engine;                     /* index into opts.engines; -1 for a peer */
    unsigned pool;                  /* index into bench_g.pools (mmcontig rows) */
    uint64_t request_bytes;
    int constraint;                 /* enum bench_constraint */
    uint32_t node;                  /* preferred node, BENCH_ANY_NODE for "any" */
    unsigned fill_pct;              /* target fill of the aged pool */
    int state;                      /* enum bench_state */
    unsigned share_pct;             /* STATE_NEAR_LARGEST: request = this % of the largest
                                       free stretch (set when the case runs) */
    uint32_t flags;                 /* Ex Flags (1 = FAST_ONLY) */
    int64_t calls;                  /* per repetition */
    int reps;                       /* repetitions */
    char name[160];                 /* Google Benchmark name (filterable) */
    bool last_dpdk;                 /* the last DPDK case registered: clean up EAL after it */
    /* filled when it runs, for the row */
    uint64_t pool_bytes, page_bytes, lowest, highest, boundary;
    bool simulated;
    bool have_meta; double meta_bytes_per_frame, meta_bytes_per_span_frame;
    uint64_t largest_free_bytes;    /* longest free stretch when the case started */
    bool measured_fn;               /* false_negatives column is measured */
    bool measured_viol;             /* violations column is measured */
    bool measured_trades;           /* trades column is measured (pools up to
                                       BENCH_TRADES_MAX_FRAMES) */
    /* progress of the case over its repetitions */
    struct case_acc *acc;           /* histograms while it runs (measure.c) */
    int reps_done;
    bool finished;                  /* its row is written (or it was given up) */
    /* results kept after the row (fits, ratios) */
    bool have_result;
    uint64_t r_calls, r_ok, r_p50_ns, r_p99_ns;
};

/* Everything of one run. */
struct bench_run {
    struct bench_opts opt;
    char host[64];
    char run_id[128];               /* <host>-<UTC time> */
    char start_utc[32];
    struct csv csv[SUITE_COUNT];    /* open when the suite is selected */
    bool csv_ok[SUITE_COUNT];
    struct bench_pool pools[BENCH_MAX_POOLS]; unsigned npools; /* pools[0] = the real pool */
    struct bench_case *cases; size_t ncases, cases_cap;
    size_t nregs;                   /* registrations: one per case and repetition */
    size_t predicted_cases;         /* case runs (repetitions) matching --benchmark_filter */
    uint64_t case_errors;           /* cases that could not run */
    uint64_t budget_stops;          /* cases stopped by their time budget */
    uint64_t write_errors;          /* rows that could not be written */
    double timer_overhead_ns;       /* median cost of one clock_gettime pair */
    FILE *aging_log;                /* JSON fragments for context.json (aging states), memstream */
    char *aging_json; size_t aging_json_len;
    FILE *pools_log;                /* JSON fragments: each partition made */
    char *pools_json; size_t pools_json_len;
    char dpdk_status[256];          /* context.json: what the DPDK peer did */
};

extern struct bench_run bench_g;
extern volatile sig_atomic_t bench_stop; /* the signal that asked to stop, 0 if none */

/* ---- suite_frag.c ---- */
/* Run the frag suite (frag.csv in out_dir): 0 or -errno. */
int suite_frag_run(void);
/* Operations of the aging trace per engine and placement: --frag-ops, else the preset's. */
uint64_t suite_frag_ops(void);
/* frag_kernel.c: the real kernel's fragmentation (called by suite_frag_run, mmc_init done). */
int frag_kernel_run(void);
/* `mmcontig bench __frag-kernel-dpdk FD BYTES PPID` (internal, not in --help): one DPDK
 * request of the frag-kernel suite in a process of its own; argv[0] is the subcommand. */
int frag_kernel_dpdk_child(int argc, char **argv);

/* ---- suite_scale.c ---- */
/* Run the scale suite (scale.csv in out_dir): 0 or -errno. */
int suite_scale_run(void);
/* The default thread counts (1, 2, 4 ... and the CPUs this process may use): how many. */
unsigned suite_scale_default_threads(unsigned *out, unsigned max);
/* `mmcontig bench __scale-dpdk PPID ...` (internal): the DPDK peer's points in a process of
 * its own; argv[0] is the subcommand. A BENCH_EXIT_* code. */
int suite_scale_dpdk_child(int argc, char **argv);

/* ---- child.c: a part of the run in a process of its own (this binary exec'd again) ---- */
#define BENCH_CHILD_GRACE_S 30 /* after SIGINT / SIGTERM of the benchmark, then SIGKILL */
/* Run `mmcontig bench NAME PPID ARGS...` (args NULL-terminated) and wait for it: keep_fd stays
 * open in it (-1: none; a child hands its results back through it, e.g. a file it writes).
 * SIGKILL after timeout_s, or BENCH_CHILD_GRACE_S after bench_stop; what a child that did not
 * exit 0 raised is given back from its ledger. The wait status, or -errno when it could not
 * be started. */
int bench_child_run(const char *name, const char *const *args, int keep_fd, unsigned timeout_s);
/* In the child, first: die with the benchmark (PR_SET_PDEATHSIG), ignore SIGINT / SIGTERM
 * (the parent's grace lets it finish and give back). -1 if the parent is not ppid any more. */
int bench_child_enter(const char *ppid);
/* Why a child's status is a failure (in buf), or NULL when it exited 0. */
const char *bench_child_why(int status, char *buf, size_t len);

/* ---- bench.c ---- */
/* mmc_bench_main(): bench_cli.h. */
/* Install the SIGINT / SIGTERM handlers: the first signal sets bench_stop (work stops at the
 * next call, files are closed cleanly); a second one kills the process at once. */
void bench_signals_install(void);
/* Add a case (copied). Returns it, or NULL when out of memory. */
struct bench_case *bench_add_case(const struct bench_case *c);
/* Calls of a case of a given kind, --calls applied. */
int64_t bench_calls(int64_t preset_calls);
/* "4K", "64M", "1G", "512M": a size for case names and labels. */
void bench_size_label(char *buf, size_t len, uint64_t bytes);

/* ---- measure.c: the per-case loop, the row ---- */
/* The slow path's counters of mmc_stats, as deltas over a case (CSV columns trades ..
 * grow_ns). */
struct slow_counters {
    uint64_t trades, frames_moved, frames_dropped, hugepages_added, compactions, grow_ns;
};
/* d += after - before, counter by counter. */
void slow_delta(struct slow_counters *d, const struct mmc_stats *after, const struct mmc_stats *before);
void slow_add(struct slow_counters *d, const struct slow_counters *s);
/* Time source of every measured call: clock_gettime(CLOCK_MONOTONIC) (see measure.c). */
uint64_t bench_now_ns(void);
/* Median cost in ns of two back-to-back bench_now_ns() calls. */
double bench_timer_overhead_ns(void);
/* The Google Benchmark function of every case (user = struct bench_case *). */
void bench_case_fn(gbench_state_t *st, void *user);
/* The smallest power of two >= v bytes, at least a frame (the boundary constraint's value). */
uint64_t bench_next_pow2_bytes(uint64_t v);
/* The boundary of the cut state for a request of `frames`: 4 x it rounded up to a power of two,
 * in frames. */
uint64_t bench_cut_boundary_frames(uint64_t frames);
/* Request of a case on an aged mmcontig target: fills c->lowest/highest/boundary. */
struct target;
void bench_case_request(struct bench_case *c, const struct target *t);
/* Used by the peers suite for its own loops: */
bool case_begin(gbench_state_t *st, struct bench_case *c);
/* work: mmc_last_search_work() after the call (units of the engine), -1 for a peer. */
void case_record(struct bench_case *c, bool ok, uint64_t ns, bool false_negative, bool violation,
                 int64_t work);
/* True if the loop must stop now (signal or time budget): the reason is set on st. */
bool case_must_stop(gbench_state_t *st, struct bench_case *c, uint64_t started_ns);
/* End of one repetition: counters, the row after the last one (or after a budget stop). */
void case_end(gbench_state_t *st, struct bench_case *c, bool ran);
void case_fail(gbench_state_t *st, struct bench_case *c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Open the CSV of each selected suite under out_dir. 0 or -errno. */
int bench_open_csvs(void);
void bench_close_csvs(void);
extern const char *const bench_csv_columns[];
extern const unsigned bench_csv_ncolumns;

/* ---- target.c: which partition is live ---- */
/* A free map to build (shadow.c): the aging recipe at a fill level, or a scenario's state,
 * which depends on the request (frames) and its allowed range (constraint). */
struct state_spec {
    int kind;                       /* STATE_AGED (also for STATE_NEAR_LARGEST), NEEDLE, CUT */
    unsigned fill_pct;              /* STATE_AGED */
    uint64_t frames;                /* NEEDLE, CUT: the request; 0 for AGED */
    uint64_t boundary_frames;       /* CUT */
    int constraint;                 /* NEEDLE: its range; CON_NONE for the others */
};
struct target {
    int engine;                     /* index into opts.engines */
    unsigned pool;                  /* index into bench_g.pools */
    mmc_partition_t *part;
    struct shadow *sh;              /* shadow.c: the bench's own copy of the free map */
    bool have_state;                /* false: fresh, never built */
    struct state_spec state;        /* the state built */
    uint64_t pool_frames;
    uint64_t largest_free_frames;   /* longest free stretch of that state */
    bool have_meta; double meta_bytes_per_frame, meta_bytes_per_span_frame;
};
/* The state a case needs (its kind, fill, request and constraint). */
struct state_spec bench_case_state(const struct bench_case *c);
/* The pool's one partition, created if needed (the previous pool's destroyed), searching with
 * `engine` (mmc_partition_set_engine: the same frames and state for every engine), brought to
 * the state (shadow.c) unless it is there already. NULL with err set if it cannot be had. */
struct target *target_mmcontig(int engine, unsigned pool, const struct state_spec *state,
                               char *err, size_t errlen);
/* The live partition's state is no longer the one built (trades moved load): build it again
 * before the next case. */
void target_invalidate(struct target *t);
/* A grow case's pool: a fresh partition of pool p (p->grow: its pool_bytes, growth allowed up
 * to p->grow_max_bytes) searching with `engine`, every frame of it held by pinned blocks, so that
 * any request must grow it. Any other partition and the DPDK peer are released first. NULL
 * with err set if it cannot be had. target_grow_release() gives it back (its hugepages, those
 * it grew by too). */
mmc_partition_t *target_grow_partition(int engine, unsigned pool, char *err, size_t errlen);
void target_grow_release(mmc_partition_t *part);
/* Make the DPDK peer live (destroys any partition first). 0, or -errno with err set. */
int target_dpdk(char *err, size_t errlen);
/* Release the DPDK peer (cannot be brought back in this process). */
void target_dpdk_done(void);
/* Release everything: partition, DPDK, mmc_fini. */
void target_release_all(void);

/* ---- shadow.c: shadow free map, the fill levels' block recipe, churn, oracle ---- */
struct shadow;
/* Build the shadow of an empty partition from mmc_partition_runs(). */
struct shadow *shadow_new(mmc_partition_t *part, char *err, size_t errlen);
void shadow_free(struct shadow *s);
uint64_t shadow_frames(const struct shadow *s);
/* PFN of the frame of rank i (0 = lowest PFN of the pool). */
uint64_t shadow_pfn_of_rank(const struct shadow *s, uint64_t i);
/* Free every live block (back to an empty pool). 0 or -1 with err. */
int shadow_reset(struct shadow *s, char *err, size_t errlen);
/* Age the empty pool to fill_pct by the recipe (results/README.md "Aging recipes", B); append its
 * state (fill reached, free stretches, unusable / fragmentation index) to bench_g's context. */
int shadow_age(struct shadow *s, unsigned fill_pct, uint64_t seed, const char *pool_label,
               char *err, size_t errlen);
/* Build a scenario's state (needle, cut: results/README.md "Scenarios") on the empty pool and
 * make it in the partition; its range is [lo_rank, hi_rank] (frame ranks). 0 or -1 with err. */
int shadow_build(struct shadow *s, const struct state_spec *spec, uint64_t lo_rank,
                 uint64_t hi_rank, uint64_t seed, const char *pool_label, char *err, size_t errlen);
/* Real pool: the aged states hold load frames (a share of the recipe's blocks, drawn by the
 * recipe's proportions, made movable or standby load; results/README.md). */
void shadow_set_load(struct shadow *s, bool on);
/* Load frames of the state as built (movable + standby). */
uint64_t shadow_load_frames(const struct shadow *s);
/* After a call returned [va, va + bytes) and before it is freed: if the block covers load
 * frames, a trade moved or dropped them; the shadow follows them (mmc_load_pfn) and frees the
 * block's frames. 0, or -1 with err when the partition and the shadow disagree. */
int shadow_note_block(struct shadow *s, void *va, uint64_t bytes, char *err, size_t errlen);
/* True once a trade moved or dropped load since the state was built: shadow_revert cannot put
 * it back, the state must be built again (target_invalidate). */
bool shadow_load_moved(const struct shadow *s);
/* Longest free stretch (frames) of the state built (aged or scenario), before any churn. */
uint64_t shadow_largest_free(const struct shadow *s);
/* Frames in use now. */
uint64_t shadow_used_frames(const struct shadow *s);
/* One churn step between two measured calls (untimed): free a random live block, allocate
 * recipe blocks until the aged fill is reached again. 0 or -1 with err. */
int shadow_churn(struct shadow *s, uint64_t *rng, char *err, size_t errlen);
/* Undo every churn step: back to the aged state. 0 or -1 with err. */
int shadow_revert(struct shadow *s, char *err, size_t errlen);
/* The exhaustive oracle: does a free block of `frames` frames exist in [lowest_pfn,
 * highest_pfn], inside one run, not crossing a multiple of boundary_frames (0: none)? */
bool shadow_exists(const struct shadow *s, uint64_t frames, uint64_t lowest_pfn,
                   uint64_t highest_pfn, uint64_t boundary_frames);
/* Check the shadow against the partition's own per-run free counts. 0 or -1 with err. */
int shadow_check(const struct shadow *s, char *err, size_t errlen);

/* ---- hugetlb.c: node indexes and pagemap, for the peers, over the library's public calls ----
 * (The kernel's hugepage counts: mmc_hugepages_* of mmcontig.h.) */
/* Kernel node index of mmcontig node number n (mmc_node_map); n itself past the last node. */
int hugetlb_os_node(unsigned n);
/* Nodes with memory (mmc_node_map), at least 1. */
unsigned hugetlb_node_count(void);
/* Check [va, va + bytes) against /proc/self/pagemap (mmc_pagemap_read: the kernel's PFNs now,
 * not the frame database's): present, physically contiguous, first
 * frame aligned to align_bytes, not crossing a multiple of boundary_bytes (0: none). Returns
 * 0 if all hold, 1 if one fails (why set), -errno if pagemap cannot be read. *phys: the first
 * physical address. */
int pagemap_check(const void *va, uint64_t bytes, uint64_t align_bytes, uint64_t boundary_bytes,
                  uint64_t *phys, const char **why);

/* ---- noise.c: how noisy the machine was (context.json noise) ---- */
/* At the start: affinity, SMT, cpufreq, /proc/stat, a frequency sample, the timer's cost. */
void noise_start(void);
/* Between cases (cheap; at most once a second): a frequency sample where cpufreq exists. */
void noise_sample(void);
/* At the end: /proc/stat again, the last frequency sample. */
void noise_end(void);
/* The "noise" member of context.json (a line ending in ",\n"); final: the end fields. */
void noise_json(FILE *f, bool final);

/* ---- progress.c: the progress line on stderr ---- */
void progress_start(size_t total_cases);
void progress_case_begin(const struct bench_case *c);
void progress_tick(void);            /* cheap; redraws at most 5 times a second on a tty */
void progress_case_end(const struct bench_case *c, const char *status);
void progress_clear(void *unused);   /* before Google Benchmark prints (gbench hook) */
void progress_finish(void);

/* ---- context.c: context.json and the facts it holds ---- */
/* Write out_dir/context.json (atomically: a temporary file renamed). final: the end fields
 * (end_utc, buddyinfo_after, exit) are filled. 0 or -errno. */
int context_write(bool final, int exit_code);
/* Read /proc/buddyinfo and every /sys/kernel/mm/hugepages setting now (start of the run). */
void context_snapshot_start(void);
/* "YYYYMMDDTHHMMSSZ" of now. */
void context_utc_now(char *buf, size_t len, bool compact);

/* ---- suite_*.c: registration ---- */
/* search and fastonly together: each case of one is registered beside its twin in the other,
 * so both meet the same aged partition (made once) one after the other; then the scenarios. */
void suite_search_register(void);
extern const uint32_t suite_fastonly_flags; /* suite_fastonly.c */
void suite_peers_register(void);
/* After the run: the fitted slope of latency against pool size (pool_sweep_fit.csv) and the
 * peers' ratios to mmcontig's engines (peers_ratio.csv). 0 or -errno. */
int suite_search_write_fit(void);
int suite_peers_write_ratios(void);
/* The peers suite's own case function (DPDK and kernel rows). */
void suite_peers_case(gbench_state_t *st, struct bench_case *c);

#endif /* MMC_BENCH_BENCH_H */
