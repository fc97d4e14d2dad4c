/* bench/suite_frag.c: the `frag` suite, fragmentation under load at steady state.
 *
 * For each engine and each placement policy (plain, clustered) a partition of real hugepages is
 * aged by the load model's aging trace (mmc_aging_run: MDLs, contiguous blocks with
 * constraints, movable and standby load, frees, around a target utilisation; results/README.md
 * "Aging recipes", A), counted in operations: quick 10^6, full 10^8 (pool: create_pool()).
 *
 * Samples are taken on a log scale of operations (0, then 4 per decade from 100: 100, 178, 316,
 * 562, 1000, ...; and the last), from the trace's progress callback, so the trace is paused
 * meanwhile. A sample holds the library's measures (mmc_partition_frag: U(j) and FI(j) at orders
 * 9, 11, 14, 18, the largest free stretch) and probe requests of 2, 8 and 64 MiB, each with
 * FAST_ONLY and without, a few calls each, allocated and freed at once; for each probe its
 * success, its latency, what the ordinary path paid (trades, frames moved and dropped,
 * hugepages added, time growing), U(j) of the probe's order and how much that U(j) moved over
 * the last decade of operations (u_decade_change: the steady-state test the report reads). One frag.csv row per
 * sample and probe (columns in results/README.md), written as it is taken.
 *
 * The numbers are the library's: nothing here recomputes a fragmentation formula.
 * This suite does not go through Google Benchmark: it is a series, not a matrix of cases.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static const char *const frag_columns[] = {
    "run_id", "host", "mode", "pool_bytes", "page_bytes", "t_s", "ops", "engine", "policy", "u9", "u11", "u14", "u18", "fi9",
    "fi11", "fi14", "largest_free_bytes", "probe_bytes", "probe_fast_only", "probe_order", "probe_u",
    "probe_u_decade_change", "probe_calls", "probe_successes", "probe_success_rate", "probe_p50_ns",
    "probe_trades", "probe_frames_moved", "probe_frames_dropped", "probe_hugepages_added",
    "probe_grow_ns", "trades", "frames_moved", "frames_dropped", "hugepages", "utilisation", "seed",
};
#define NCOLS (sizeof(frag_columns) / sizeof(frag_columns[0]))

#define NPROBES 3
static const uint64_t probe_bytes[NPROBES] = {2 * MIB, 8 * MIB, 64 * MIB};
static const unsigned probe_order[NPROBES] = {9, 11, 14};
#define PER_DECADE 4                /* samples per decade of operations */
#define FIRST_SAMPLE_OPS 100        /* the first sample after 0 */
#define MAX_SAMPLES 64
#define PROBE_CALLS 3

struct frag_ctx {
    struct csv csv;
    mmc_partition_t *part;
    const char *engine, *policy;
    uint64_t t0_ns, ops_total;
    uint64_t next_ops;              /* ops of the next sample */
    unsigned next_k;                /* its index on the log grid (ops = 10^(k / PER_DECADE)) */
    unsigned nsamples;
    uint64_t sample_ops[MAX_SAMPLES];
    double sample_u[MAX_SAMPLES][NPROBES]; /* U(j) of each probe's order at each sample */
    uint64_t trades_seen;           /* stats.trades at the previous sample */
    int error;
};

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Ops of grid point k: 10^(k / PER_DECADE), rounded. */
static uint64_t grid_ops(unsigned k) { return (uint64_t)llround(pow(10.0, (double)k / PER_DECADE)); }

/* How much U(j) of probe p moved over the last decade of operations at sample `now`: the mean of
 * U(j) over the samples in (ops / 10, ops] minus its mean over (ops / 100, ops / 10] (4 samples
 * each on the grid: one sample's U(j) swings with each block freed), or NAN before two whole
 * decades of samples (ops / 100 < FIRST_SAMPLE_OPS). */
static double u_decade_change(const struct frag_ctx *x, unsigned now, unsigned p)
{
    const uint64_t ops = x->sample_ops[now], d1 = ops / 10, d2 = ops / 100;
    if (d2 < FIRST_SAMPLE_OPS)
        return NAN;
    double s1 = 0, s2 = 0;
    unsigned n1 = 0, n2 = 0;
    for (unsigned i = 0; i <= now; i++) {
        const uint64_t o = x->sample_ops[i];
        if (o > d1)
            s1 += x->sample_u[i][p], n1++;
        else if (o > d2)
            s2 += x->sample_u[i][p], n2++;
    }
    return n1 && n2 ? s1 / n1 - s2 / n2 : NAN;
}

/* One probe: calls of probe_bytes[p], FAST_ONLY or not, each freed at once; the row. */
static void probe(struct frag_ctx *x, const struct mmc_frag *m, unsigned p, bool fast, double t_s,
                  uint64_t ops, uint64_t trace_trades, unsigned si)
{
    uint64_t lat[PROBE_CALLS], ok = 0;
    struct mmc_stats b, a;
    mmc_partition_stats(x->part, &b);
    for (unsigned c = 0; c < PROBE_CALLS; c++) {
        SIZE_T n = probe_bytes[p];
        PHYSICAL_ADDRESS lo = {.QuadPart = 0}, hi = {.QuadPart = -1}, none = {.QuadPart = 0};
        void *va = NULL;
        uint64_t t = bench_now_ns();
        NTSTATUS s = MmAllocateContiguousMemoryEx(&n, lo, hi, none, MM_ANY_NODE_OK, PAGE_READWRITE,
                                                  x->part, BENCH_TAG,
                                                  fast ? MM_ALLOCATE_CONTIGUOUS_MEMORY_FAST_ONLY : 0, &va);
        t = bench_now_ns() - t;
        if (s == STATUS_SUCCESS) {
            lat[ok++] = t;
            MmFreeContiguousMemory(va);
        }
    }
    qsort(lat, ok, sizeof(*lat), cmp_u64);
    mmc_partition_stats(x->part, &a);
    const double u = m->unusable[probe_order[p]], change = u_decade_change(x, si, p);
    struct csv *c = &x->csv;
    csv_str(c, bench_g.run_id);
    csv_str(c, bench_g.host);
    csv_str(c, "pool");
    csv_u64(c, a.pool_frames * MMC_FRAME_BYTES);
    csv_u64(c, a.page_bytes);
    csv_f64(c, t_s, 3);
    csv_u64(c, ops);
    csv_str(c, x->engine);
    csv_str(c, x->policy);
    static const unsigned uo[4] = {9, 11, 14, 18}, fo[3] = {9, 11, 14};
    for (unsigned i = 0; i < 4; i++)
        csv_f64(c, m->unusable[uo[i]], 4);
    for (unsigned i = 0; i < 3; i++)
        csv_f64(c, m->fragmentation[fo[i]], 4);
    csv_u64(c, m->largest_free_frames * MMC_FRAME_BYTES);
    csv_u64(c, probe_bytes[p]);
    csv_u64(c, fast);
    csv_u64(c, probe_order[p]);
    csv_f64(c, u, 4);
    if (isnan(change))
        csv_empty(c);
    else
        csv_f64(c, change, 4);
    csv_u64(c, PROBE_CALLS);
    csv_u64(c, ok);
    csv_f64(c, (double)ok / PROBE_CALLS, 3);
    if (ok)
        csv_u64(c, lat[ok / 2]);
    else
        csv_empty(c);
    csv_u64(c, a.trades - b.trades);
    csv_u64(c, a.frames_moved - b.frames_moved);
    csv_u64(c, a.frames_dropped - b.frames_dropped);
    csv_u64(c, a.hugepages_added - b.hugepages_added);
    csv_u64(c, a.grow_ns - b.grow_ns);
    csv_u64(c, trace_trades);
    csv_u64(c, a.frames_moved);
    csv_u64(c, a.frames_dropped);
    csv_u64(c, a.hugepages);
    csv_f64(c, 1.0 - (double)a.free_frames / (double)a.pool_frames, 4);
    csv_u64(c, bench_g.opt.seed);
    if (csv_row_end(c) < 0)
        x->error = -EIO;
}

static void sample(struct frag_ctx *x, uint64_t ops)
{
    struct mmc_frag m;
    struct mmc_stats st;
    const double t_s = (double)(bench_now_ns() - x->t0_ns) / 1e9;
    if (x->nsamples >= MAX_SAMPLES || mmc_partition_frag(x->part, -1, &m) < 0)
        return;
    const unsigned si = x->nsamples++;
    x->sample_ops[si] = ops;
    for (unsigned p = 0; p < NPROBES; p++)
        x->sample_u[si][p] = m.unusable[probe_order[p]];
    mmc_partition_stats(x->part, &st);
    const uint64_t trace_trades = st.trades - x->trades_seen; /* by the trace since the last sample */
    for (unsigned p = 0; p < NPROBES; p++)
        for (int fast = 1; fast >= 0; fast--)
            probe(x, &m, p, fast, t_s, ops, trace_trades, si);
    mmc_partition_stats(x->part, &st);
    x->trades_seen = st.trades;
    if (ops && ((si - 1) % PER_DECADE == 0 || ops == x->ops_total)) /* progress: once per decade */
        fprintf(stderr, "mmcontig bench: frag: %s, %s: %" PRIu64 " of %" PRIu64 " operations, "
                "U(9) %.3f, %.1f s\n", x->engine, x->policy, ops, x->ops_total, m.unusable[9], t_s);
}

static void on_progress(void *arg, uint64_t done, uint64_t total)
{
    struct frag_ctx *x = arg;
    if (done >= x->next_ops || done == total) {
        sample(x, done);
        while (x->next_ops <= done)
            x->next_ops = grid_ops(++x->next_k);
        if (x->next_ops > total)
            x->next_ops = total;
    }
}

/* One engine and placement: the pool (x->part, fresh) aged and sampled, then given back. */
static int age_one(struct frag_ctx *x, const char *engine, int pol, uint64_t ops)
{
    static const char *const policy_name[2] = {"plain", "clustered"};
    struct mmc_stats st;
    mmc_partition_stats(x->part, &st);
    mmc_partition_set_placement(x->part, pol);
    struct mmc_aging a;
    mmc_aging_init(&a);
    a.seed = bench_g.opt.seed;
    a.ops = ops;
    a.threads = 1; /* the trace runs one operation at a time anyway; a second thread only waits */
    a.target_utilisation = 0.8;
    a.progress = on_progress;
    a.progress_arg = x;
    a.stop = (const volatile int *)&bench_stop;
    x->engine = engine;
    x->policy = policy_name[pol];
    x->ops_total = ops;
    x->nsamples = 0;
    x->next_k = 2 * PER_DECADE;     /* 10^2 */
    x->next_ops = FIRST_SAMPLE_OPS;
    x->trades_seen = 0;
    x->t0_ns = bench_now_ns();
    fprintf(stderr, "mmcontig bench: frag: %s, %s placement: %" PRIu64 " operations of the aging "
            "trace on %" PRIu64 " MiB of %" PRIu64 " MiB hugepages, sampled on a log scale\n",
            engine, x->policy, ops, st.pool_frames * MMC_FRAME_BYTES / MIB, st.page_bytes / MIB);
    sample(x, 0);
    const int rc = mmc_aging_run(x->part, &a, NULL);
    if (rc < 0 && rc != -EINTR) {
        fprintf(stderr, "mmcontig bench: frag: aging %s: %s\n", engine, mmc_last_error());
        bench_g.case_errors++;
    }
    mmc_partition_clear(x->part); /* the aged objects, released at once and silently */
    mmc_partition_destroy(x->part);
    x->part = NULL;
    return x->error;
}

/* The pool: one run if the host allows, so that what fragments it is the load and the engine,
 * not the order in which the kernel handed out hugepages (2 MiB hugepages of a loaded host are
 * rarely adjacent: a 2 MiB-page pool's runs may hold no 8 MiB block before any load). So 1 GiB
 * hugepages (quick: one; full: four), no growth; without them, 2 MiB hugepages (quick 128 MiB,
 * full 4 GiB) that may grow by a quarter. */
static mmc_partition_t *create_pool(struct mmc_config *cfg, bool full, const char *engine)
{
    snprintf(cfg->algo, sizeof(cfg->algo), "%s", engine);
    static int use_2m; /* 1 GiB hugepages failed once: do not ask again */
    mmc_partition_t *part = NULL;
    if (!use_2m) {
        cfg->page_bytes = GIB;
        cfg->pool_bytes = cfg->pool_max_bytes = full ? 4 * GIB : GIB;
        if (mmc_partition_create(cfg, &part) == 0)
            return part;
        fprintf(stderr, "mmcontig bench: frag: no pool of 1 GiB hugepages (%s): 2 MiB hugepages "
                "instead, whose runs depend on how the kernel hands them out\n", mmc_last_error());
        use_2m = 1;
    }
    cfg->page_bytes = 2 * MIB;
    cfg->pool_bytes = full ? 4 * GIB : 128 * MIB;
    cfg->pool_max_bytes = cfg->pool_bytes + cfg->pool_bytes / 4;
    if (mmc_partition_create(cfg, &part) < 0) {
        fprintf(stderr, "mmcontig bench: frag: real pool for %s: %s\n", cfg->algo, mmc_last_error());
        return NULL;
    }
    return part;
}

uint64_t suite_frag_ops(void)
{
    const bool full = !strcmp(bench_g.opt.preset->name, "full");
    return bench_g.opt.frag_ops ? bench_g.opt.frag_ops : full ? 100000000ull : 1000000ull;
}

int suite_frag_run(void)
{
    const bool full = !strcmp(bench_g.opt.preset->name, "full");
    const uint64_t ops = suite_frag_ops();
    char path[PATH_MAX + 16];
    struct frag_ctx x;
    memset(&x, 0, sizeof(x));
    snprintf(path, sizeof(path), "%s/frag.csv", bench_g.opt.out_dir);
    int rc = bench_g.opt.frag ? csv_open(&x.csv, path, frag_columns, NCOLS) : 0;
    if (rc < 0) {
        fprintf(stderr, "mmcontig bench: frag: cannot write %s: %s\n", path, strerror(-rc));
        return rc;
    }
    /* a system partition of one hugepage per node: the suite's pools are its own partitions */
    struct mmc_config cfg;
    mmc_config_init(&cfg);
    memset(cfg.node_pool_bytes, 0, sizeof(cfg.node_pool_bytes));
    cfg.page_bytes = bench_g.opt.page_bytes;
    cfg.pool_bytes = bench_g.opt.page_bytes;
    rc = mmc_init(&cfg);
    bool own_init = rc == 0;
    if (rc < 0 && rc != -EALREADY) {
        fprintf(stderr, "mmcontig bench: frag: %s\n", mmc_last_error());
        if (bench_g.opt.frag)
            csv_close(&x.csv);
        return rc;
    }
    rc = 0;
    cfg.grow = 1;
    for (unsigned e = 0; bench_g.opt.frag && e < bench_g.opt.nengines && !bench_stop && !rc; e++)
        for (int pol = 0; pol < 2 && !bench_stop && !rc; pol++) {
            x.part = create_pool(&cfg, full, bench_g.opt.engines[e]);
            if (!x.part) {
                bench_g.case_errors++;
                continue;
            }
            rc = age_one(&x, bench_g.opt.engines[e], pol, ops);
        }
    if (bench_g.opt.frag)
        csv_close(&x.csv);
    if (!rc && bench_g.opt.frag_kernel && !bench_stop)
        rc = frag_kernel_run();
    if (own_init)
        mmc_fini();
    return rc;
}
