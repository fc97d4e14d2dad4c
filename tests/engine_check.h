/* tests/engine_check.h: the differential test of a search engine against the exhaustive oracle
 * (tests/oracle.c), shared by tests/test_engines.c (every built-in engine) and
 * `mmcontig check-engine` (any engine, a plugin's too: bench/check_engine.c).
 *
 * Internal mode drives an engine as a partition does (the frame database changed first, then
 * take / give; hugepages entering the pool through reserve / add; the engine rebuilt half-way)
 * with seeded operations on the layouts below, and checks every answer against the oracle and
 * the rules of mmcontig/engine.h: exact (mmc_search_fits and the oracle's own predicate),
 * complete (no false failure unless the summary says "incomplete"), placement ("top-down first
 * fit": the oracle's highest block; "bottom-up first fit": its lowest), work within max_work,
 * no frame handed out twice, the database's counters against a recount, and the memory rule.
 * Each run records its operations as a trace (struct ec_trace): a failing trace replays
 * deterministically, shrinks to a shorter one that still fails, and is written to / read from
 * a text file. Public mode runs a simulated partition through the NT routines.
 */
#ifndef MMC_TESTS_ENGINE_CHECK_H
#define MMC_TESTS_ENGINE_CHECK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "internal.h"

/* Messages ("# ..." lines) go to stdout unless this is set (the shrinker's replays). */
extern bool ec_quiet;

double ec_now(void);
/* The seed of case idx of a run seeded with seed. */
uint64_t ec_case_seed(uint64_t seed, uint64_t idx);

/* The contracts an engine declares in its summary (mmcontig/engine.h, rules 2 and 3). */
bool ec_engine_top_down(const struct mmc_engine_ops *e);
bool ec_engine_bottom_up(const struct mmc_engine_ops *e);
bool ec_engine_incomplete(const struct mmc_engine_ops *e);

/* ---- layouts of internal mode ---- */
struct ec_layout {
    const char *name;
    struct mmc_sim_spec spec;   /* pool_bytes 0: a hand-made layout (edge or sparse) */
    uint64_t ops;               /* operations per engine, before scale */
    bool sparse;                /* hand-made: 128 lone hugepages over 4 TiB, else the edges */
};
extern const struct ec_layout ec_layouts[];
extern const size_t ec_nlayouts;

struct ec_tally {
    uint64_t ops, allocs, found, none, false_fail, eagain, frees;
    double find_s;              /* seconds inside engine->find */
};

/* ---- traces ---- */
/* EC_PIN: `count` free frames from database frame `ref` (inside one hugepage) become MDL
 * frames, one take() (as MDL pages and load are taken: not a block find() returned; a no-op
 * if any of them is not free); freed by an EC_FREE naming it. */
enum ec_op_kind { EC_ALLOC, EC_FREE, EC_GROW, EC_REBUILD, EC_PIN };
struct ec_op {
    uint8_t kind;               /* enum ec_op_kind */
    uint8_t mark;               /* EC_GROW: the batch of held-back hugepages that enters (1, 2) */
    uint64_t ref;               /* EC_FREE: index of the EC_ALLOC or EC_PIN op whose frames are
                                   freed (a no-op if they were not taken); EC_PIN: the first
                                   frame (database index) */
    uint64_t count;             /* EC_PIN: frames */
    struct mmc_search rq;       /* EC_ALLOC */
};
struct ec_trace {
    size_t layout;              /* index in ec_layouts */
    uint64_t seed;              /* the run's seed: the layout and the held-back hugepages */
    struct ec_op *ops;
    uint64_t n, cap;
    uint64_t fail_op;           /* after a failing run or replay: the op that failed */
    char what[512];             /* and what was wrong (the first message) */
};
void ec_trace_free(struct ec_trace *t);

/* Internal mode on layout ci: seeded operations (ec_layouts[ci].ops x scale), checked after
 * each. Records them in *rec if not NULL (on failure up to and including the failing one,
 * rec->fail_op and rec->what set). true if every check held. */
bool ec_run_internal(const struct mmc_engine_ops *e, size_t ci, uint64_t seed, double scale,
                     struct ec_tally *t, struct ec_trace *rec);
/* Replay a trace with the same checks. true if it passes; else tr->fail_op, tr->what. */
bool ec_replay(const struct mmc_engine_ops *e, struct ec_trace *tr, struct ec_tally *t);
/* Shrink a failing trace in place to a shorter one that still fails (removing chunks of
 * operations, halving the chunk, until no single operation can go or budget_s seconds have
 * passed). Returns the replays made. */
uint64_t ec_shrink(const struct mmc_engine_ops *e, struct ec_trace *tr, double budget_s);
/* Write a trace (engine, plugin path or NULL, layout, seed, one op per line). 0 or -errno. */
int ec_trace_write(const char *path, const struct ec_trace *tr, const char *engine, const char *plugin);
/* Read one: 0, or -errno / -EINVAL with err filled ("file:line: what is wrong"). engine and
 * plugin get the file's (plugin "" if none). */
int ec_trace_read(const char *path, struct ec_trace *tr, char *engine, size_t engine_len,
                  char *plugin, size_t plugin_len, char *err, size_t errlen);
/* Print the trace's operations as "# " lines (at most max of them). */
void ec_trace_print(const struct ec_trace *tr, uint64_t max);

/* ---- public mode: a simulated partition through the NT routines ---- */
struct ec_pub_case {
    struct mmc_sim_config cfg;
    uint64_t ops;
    uint64_t range_frames;     /* 0: any range; else ranges at most this wide (keeps 1 TiB fast) */
};
struct ec_pub_out {
    double create_s;            /* mmc_partition_create_simulated */
    double bytes_per_frame;     /* engine metadata per frame of pool */
    double bytes_per_span_frame; /* and per frame of span */
    double alloc_s;             /* inside MmAllocateContiguousMemoryEx */
    uint64_t allocs;            /* calls of it */
};
bool ec_run_public(const struct mmc_engine_ops *e, const struct ec_pub_case *pc, uint64_t seed,
                   const char *label, struct ec_pub_out *out);
/* The two public cases test_engines and check-engine run: a 256 MiB partition of 3 nodes, runs
 * of 3 hugepages on average, 3000 x scale operations; a 1 TiB one of 2 nodes, runs of 4, 300
 * operations in ranges of at most 2^20 frames. Their layouts' seeds derive from seed. */
struct ec_pub_case ec_pub_256m(uint64_t seed, double scale);
struct ec_pub_case ec_pub_1tib(uint64_t seed);

#endif
