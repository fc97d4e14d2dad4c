/* bench/target.c: which memory the running case measures, and its life cycle.
 *
 * Owns: the one live mmcontig partition per pool (the real pool or a simulated one), made when
 * a case needs another pool and destroyed when the next one does; the engine a case names is
 * set on it with mmc_partition_set_engine (the index rebuilt over the same frame database, every
 * allocation kept), so every engine searches the very same hugepages in the very same state;
 * the state (shadow.c) built once per (pool, state) and kept while the engines take turns; the
 * lazy mmc_init (one hugepage per node for the system partition, which the benchmark does not
 * use); the DPDK peer's EAL and the hugepages reserved for it. At most one of them holds memory
 * at a time, so the DPDK peer and mmcontig never share hugepages. DPDK's EAL can be brought up
 * once per process: its cases run together.
 *
 * Cases run in registration order: on the real pool (fill, size, constraint, engine), engines
 * innermost, so whatever drifts over the run (the machine, the kernel's free lists) drifts
 * alike for all; on the simulated pools (fill, engine, size, constraint), so the index of a
 * 1 TiB pool is rebuilt once per engine and fill rather than per case. The recipe's result for
 * a (pool, fill) is cached in shadow.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "peer_dpdk.h"

static struct target cur;           /* the live partition when cur.part */
static struct {                     /* the last pool that could not be made */
    unsigned pool; char err[512]; bool set;
} failed;
static int init_rc = 1;             /* 1 = mmc_init not tried */
static char init_err[512];
static int dpdk_state;              /* 0 never started, 1 live, 2 done (or failed: dpdk_err) */
static char dpdk_err[512];          /* why it could not start, for every later DPDK case */
static long dpdk_topup_pages;
#define DPDK_PAGE_BYTES (2 * MIB)
#define DPDK_SLACK_PAGES 32

static int ensure_init(char *err, size_t errlen)
{
    if (init_rc == 1) {
        struct mmc_config cfg;
        mmc_config_init(&cfg);
        memset(cfg.node_pool_bytes, 0, sizeof(cfg.node_pool_bytes));
        cfg.page_bytes = bench_g.opt.page_bytes;
        cfg.pool_bytes = bench_g.opt.page_bytes; /* rounded up to one hugepage per node */
        snprintf(cfg.algo, sizeof(cfg.algo), "%s", bench_g.opt.engines[0]);
        init_rc = mmc_init(&cfg);
        if (init_rc == -EALREADY)
            init_rc = 0;
        if (init_rc < 0)
            snprintf(init_err, sizeof(init_err), "mmc_init: %s", mmc_last_error());
    }
    if (init_rc < 0)
        snprintf(err, errlen, "%s", init_err);
    return init_rc;
}

static void release_partition(void)
{
    if (!cur.part)
        return;
    char err[64];
    if (cur.sh) /* free the aged blocks: a partition destroyed with live blocks reports a leak */
        shadow_reset(cur.sh, err, sizeof(err));
    shadow_free(cur.sh);
    mmc_partition_destroy(cur.part);
    memset(&cur, 0, sizeof(cur));
}

/* The engine's index over the pool's frames, read after the pool reached the case's state
 * (an index may grow with the free stretches: tlsf). */
static void read_meta(struct target *t)
{
    struct mmc_stats st;
    t->have_meta = mmc_partition_stats(t->part, &st) == 0 && st.pool_frames;
    if (t->have_meta) {
        t->meta_bytes_per_frame = (double)st.engine_metadata_bytes / (double)st.pool_frames;
        t->meta_bytes_per_span_frame = st.span_frames ? (double)st.engine_metadata_bytes / (double)st.span_frames : 0;
    }
}

static void log_pool(const struct target *t, double seconds)
{
    struct mmc_stats st;
    if (!bench_g.pools_log || mmc_partition_stats(t->part, &st) < 0)
        return;
    const struct bench_pool *p = &bench_g.pools[t->pool];
    fprintf(bench_g.pools_log,
            "%s\n    {\"engine\": \"%s\", \"engines\": \"every engine in turn, by "
            "mmc_partition_set_engine\", \"pool\": \"%s\", \"simulated\": %s, \"page_bytes\": %" PRIu64
            ", \"hugepages\": %" PRIu64 ", \"pool_frames\": %" PRIu64 ", \"runs\": %" PRIu64
            ", \"largest_run_frames\": %" PRIu64 ", \"topup_hugepages\": %" PRIu64
            ", \"create_seconds\": %.3f}",
            ftell(bench_g.pools_log) > 0 ? "," : "", bench_g.opt.engines[t->engine], p->label,
            p->simulated ? "true" : "false", st.page_bytes, st.hugepages, st.pool_frames, st.runs,
            st.largest_run_frames, st.topup_hugepages, seconds);
    fflush(bench_g.pools_log);
}

/* The dma32 layout (results/README.md "Scenarios"): 8 GiB of 2 MiB hugepages, 512 MiB of them
 * below 4 GiB in four runs of 128 MiB (at 1, 1.5, 2 and 2.5 GiB), the rest
 * above 4 GiB in 15 runs of 512 MiB, 2 MiB apart, as a machine's RAM sits around the PCI hole.
 * Written once to OUT/layout-dma32.csv (replayable with mmc_sim_config.layout_file). */
static int write_dma32_layout(char *path, size_t len, char *err, size_t errlen)
{
    snprintf(path, len, "%s/layout-dma32.csv", bench_g.opt.out_dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    const uint64_t hp = 2 * MIB, fpm = MIB / MMC_FRAME_BYTES; /* frames per MiB */
    fprintf(f, "# mmcontig bench: the dma32 scenario's layout, 512 MiB below 4 GiB, 7.5 GiB above\n"
               "base_pfn,frames,node,page_bytes\n");
    for (uint64_t k = 0; k < 4; k++)
        fprintf(f, "%" PRIu64 ",%" PRIu64 ",0,%" PRIu64 "\n", (1024 + 512 * k) * fpm, 128 * fpm, hp);
    for (uint64_t k = 0; k < 15; k++)
        fprintf(f, "%" PRIu64 ",%" PRIu64 ",0,%" PRIu64 "\n", (4096 + 514 * k) * fpm, 512 * fpm, hp);
    if (fclose(f) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int make_partition(int engine, unsigned pool, char *err, size_t errlen)
{
    const struct bench_pool *p = &bench_g.pools[pool];
    mmc_partition_t *part = NULL;
    uint64_t t0 = bench_now_ns();
    int rc;
    char layout[PATH_MAX + 32];
    if (p->dma32_layout && write_dma32_layout(layout, sizeof(layout), err, errlen) < 0)
        return -1;
    if (p->simulated) {
        struct mmc_sim_config sc;
        mmc_sim_config_init(&sc);
        if (p->dma32_layout)
            sc.layout_file = layout;
        sc.pool_bytes = p->pool_bytes;
        sc.page_bytes = p->page_bytes;
        sc.mean_run_hugepages = 0; /* one run: the sweep measures size, the aging fragments */
        sc.nnodes = 1;
        sc.seed = bench_g.opt.seed;
        snprintf(sc.algo, sizeof(sc.algo), "%s", bench_g.opt.engines[engine]);
        rc = mmc_partition_create_simulated(&sc, &part);
    } else {
        if (ensure_init(err, errlen) < 0)
            return -1;
        struct mmc_config cfg = bench_g.opt.pool_cfg;
        snprintf(cfg.algo, sizeof(cfg.algo), "%s", bench_g.opt.engines[engine]);
        cfg.grow = 0; /* the matrix's pool is fixed: growth has its own cases (state grow) */
        rc = mmc_partition_create(&cfg, &part);
    }
    if (rc < 0) {
        snprintf(err, errlen, "%s partition %s with engine %s: %s",
                 p->simulated ? "simulated" : "real", p->label, bench_g.opt.engines[engine],
                 mmc_last_error());
        return -1;
    }
    cur.part = part;
    cur.engine = engine;
    cur.pool = pool;
    cur.have_state = false;
    cur.sh = shadow_new(part, err, errlen);
    if (!cur.sh) {
        release_partition();
        return -1;
    }
    cur.pool_frames = shadow_frames(cur.sh);
    shadow_set_load(cur.sh, !p->simulated); /* load frames where trades are real and cheap */
    log_pool(&cur, (double)(bench_now_ns() - t0) * 1e-9);
    return 0;
}

static bool same_state(const struct state_spec *a, const struct state_spec *b)
{
    return a->kind == b->kind && a->fill_pct == b->fill_pct && a->frames == b->frames &&
           a->boundary_frames == b->boundary_frames && a->constraint == b->constraint;
}

static int build_state(const struct state_spec *st, unsigned pool, char *err, size_t errlen)
{
    const char *label = bench_g.pools[pool].label;
    if (st->kind == STATE_AGED)
        return shadow_age(cur.sh, st->fill_pct, bench_g.opt.seed, label, err, errlen);
    uint64_t n = cur.pool_frames, lo = 0, hi = n - 1;
    if (st->constraint == CON_RANGE || st->constraint == CON_RANGE_BOUNDARY) {
        lo = n / 4; /* the range constraint's ranks (measure.c) */
        hi = n - n / 4 - 1;
    }
    return shadow_build(cur.sh, st, lo, hi, bench_g.opt.seed, label, err, errlen);
}

/* The engine of the case on the live partition: its index rebuilt over the frame database as
 * it is (mmc_partition_set_engine), the state and every allocation kept. */
static int use_engine(int engine, char *err, size_t errlen)
{
    if (cur.engine == engine)
        return 0;
    if (mmc_partition_set_engine(cur.part, bench_g.opt.engines[engine]) < 0) {
        snprintf(err, errlen, "%s", mmc_last_error());
        return -1;
    }
    cur.engine = engine;
    read_meta(&cur); /* the index of this engine over this state */
    return 0;
}

struct target *target_mmcontig(int engine, unsigned pool, const struct state_spec *state,
                               char *err, size_t errlen)
{
    if (failed.set && failed.pool == pool) {
        snprintf(err, errlen, "%s", failed.err);
        return NULL;
    }
    if (!cur.part || cur.pool != pool) {
        release_partition();
        if (dpdk_state == 1)
            target_dpdk_done();
        if (make_partition(engine, pool, err, errlen) < 0) {
            failed.set = true;
            failed.pool = pool;
            snprintf(failed.err, sizeof(failed.err), "%s", err);
            return NULL;
        }
    }
    if (use_engine(engine, err, errlen) < 0)
        return NULL;
    if (!cur.have_state || !same_state(&cur.state, state)) {
        if (build_state(state, pool, err, errlen) < 0) {
            release_partition(); /* its state is unknown: start afresh next time */
            return NULL;
        }
        cur.state = *state;
        cur.have_state = true;
        cur.largest_free_frames = shadow_largest_free(cur.sh);
        read_meta(&cur); /* mmc_partition_stats is O(frames): once per state and engine */
    }
    return &cur;
}

mmc_partition_t *target_grow_partition(int engine, unsigned pool, char *err, size_t errlen)
{
    const struct bench_pool *p = &bench_g.pools[pool];
    err[0] = 0;
    release_partition();
    target_dpdk_done();
    if (ensure_init(err, errlen) < 0)
        return NULL;
    struct mmc_config cfg = bench_g.opt.pool_cfg;
    memset(cfg.node_pool_bytes, 0, sizeof(cfg.node_pool_bytes));
    cfg.node_pool_bytes[bench_g.opt.nodes[0]] = p->pool_bytes; /* one node: growth's own */
    cfg.grow = 1;
    cfg.pool_max_bytes = p->grow_max_bytes;
    snprintf(cfg.algo, sizeof(cfg.algo), "%s", bench_g.opt.engines[engine]);
    mmc_partition_t *part = NULL;
    if (mmc_partition_create(&cfg, &part) < 0) {
        snprintf(err, errlen, "real partition %s with engine %s: %s", p->label,
                 bench_g.opt.engines[engine], mmc_last_error());
        return NULL;
    }
    /* every run held by one pinned block: no free frame, no load to trade */
    long nr = mmc_partition_runs(part, NULL, 0);
    struct mmc_run_info *runs = nr > 0 ? calloc((size_t)nr, sizeof(*runs)) : NULL;
    if (runs)
        nr = mmc_partition_runs(part, runs, (size_t)nr);
    for (long r = 0; runs && r < nr; r++) {
        SIZE_T bytes = runs[r].frames * MMC_FRAME_BYTES;
        PHYSICAL_ADDRESS lo = {.QuadPart = (LONGLONG)(runs[r].base_pfn * MMC_FRAME_BYTES)};
        PHYSICAL_ADDRESS hi = {.QuadPart = (LONGLONG)((runs[r].base_pfn + runs[r].frames) * MMC_FRAME_BYTES - 1)};
        PHYSICAL_ADDRESS none = {.QuadPart = 0};
        void *va = NULL;
        if (MmAllocateContiguousMemoryEx(&bytes, lo, hi, none, MM_ANY_NODE_OK, PAGE_READWRITE, part,
                                         BENCH_TAG, 0, &va) != /* free: no slow path, no growth */
            STATUS_SUCCESS) {
            snprintf(err, errlen, "%s: filling run %ld of the fresh pool failed: %s", p->label, r,
                     mmc_last_error());
            nr = -1;
        }
    }
    free(runs);
    if (nr <= 0) {
        if (nr == 0 || !err[0])
            snprintf(err, errlen, "%s: the fresh pool has no runs (%s)", p->label, mmc_last_error());
        target_grow_release(part);
        return NULL;
    }
    return part;
}

void target_grow_release(mmc_partition_t *part)
{
    if (!part)
        return;
    mmc_partition_clear(part); /* the filling blocks, silently */
    mmc_partition_destroy(part);
}

void target_invalidate(struct target *t)
{
    t->have_state = false;
}

int target_dpdk(char *err, size_t errlen)
{
    if (dpdk_state == 1)
        return 0;
    if (dpdk_state == 2 && dpdk_err[0]) {
        snprintf(err, errlen, "%s", dpdk_err);
        return -EIO;
    }
    if (dpdk_state == 2) {
        snprintf(err, errlen, "DPDK's EAL was already shut down in this process (it cannot be "
                 "initialised twice): run the DPDK cases together, without "
                 "--benchmark_enable_random_interleaving");
        return -EALREADY;
    }
    release_partition();
    const uint64_t mem = bench_g.pools[0].pool_bytes;
    if (!MMC_BENCH_HAVE_DPDK) {
        dpdk_state = 2;
        int rc = dpdk_peer_init(mem, NULL, err, errlen);
        snprintf(dpdk_err, sizeof(dpdk_err), "%s", err);
        return rc;
    }
    /* DPDK's own hugepages: its -m plus slack for EAL's internal memzones and for other
     * processes (the library's pools fault their hugepages outside the lock). The lock is held
     * through rte_eal_init, so no mmcontig process tops up or gives back in between. */
    mmc_hugepages_lock();
    long added = mmc_hugepages_reserve(-1, DPDK_PAGE_BYTES, mem / DPDK_PAGE_BYTES + DPDK_SLACK_PAGES);
    if (added < 0) {
        mmc_hugepages_unlock();
        snprintf(err, errlen, "%s", mmc_last_error());
        dpdk_state = 2;
        snprintf(dpdk_err, sizeof(dpdk_err), "DPDK's hugepages: %s", err);
        snprintf(bench_g.dpdk_status, sizeof(bench_g.dpdk_status), "no hugepages: %s", err);
        return (int)added;
    }
    dpdk_topup_pages = added;
    uint64_t t0 = bench_now_ns();
    int rc = dpdk_peer_init(mem, NULL, err, errlen);
    mmc_hugepages_unlock();
    if (rc < 0) {
        mmc_hugepages_giveback(-1, DPDK_PAGE_BYTES, (uint64_t)dpdk_topup_pages);
        dpdk_topup_pages = 0;
        dpdk_state = 2;
        snprintf(dpdk_err, sizeof(dpdk_err), "%s", err);
        snprintf(bench_g.dpdk_status, sizeof(bench_g.dpdk_status), "failed: %s", err);
        return rc;
    }
    snprintf(bench_g.dpdk_status, sizeof(bench_g.dpdk_status),
             "ran: %s, EAL %s, %" PRIu64 " MiB of 2 MiB hugepages (%ld added to nr_hugepages and "
             "given back), init %.2f s", dpdk_peer_version(), dpdk_peer_eal_args(), mem >> 20,
             added, (double)(bench_now_ns() - t0) * 1e-9);
    dpdk_state = 1;
    return 0;
}

void target_dpdk_done(void)
{
    if (dpdk_state != 1)
        return;
    dpdk_peer_fini();
    mmc_hugepages_giveback(-1, DPDK_PAGE_BYTES, (uint64_t)dpdk_topup_pages);
    dpdk_topup_pages = 0;
    dpdk_state = 2;
}

void target_release_all(void)
{
    release_partition();
    target_dpdk_done();
    if (init_rc == 0)
        mmc_fini();
    init_rc = 1;
}
