/* bench/suite_frag.c: the `frag` suite, fragmentation over time under the load model.
 *
 * For each engine and each placement policy (plain, clustered) a partition of real hugepages is
 * aged by the load model's aging trace (mmc_aging_run: MDLs, contiguous blocks with
 * constraints, movable and standby load, frees, around a target utilisation; recipe and seed in
 * results/README.md). At evenly spaced points of the trace (from its progress callback, so the
 * trace is paused meanwhile) one sample is taken: the kernel's measures from the frame database
 * (U(9), U(18), FI(9), the largest free stretch) and probe requests of 2 MiB and 8 MiB, with and
 * without FAST_ONLY, each allocated and freed at once. Probes without FAST_ONLY may trade load
 * away (probe_trades); the trace's own contiguous allocations may too (trades). One frag.csv row per sample and
 * probe (columns in results/README.md), written as it is taken.
 *
 * This suite does not go through Google Benchmark: it is a time series, not a matrix of cases.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static const char *const frag_columns[] = {
    "run_id", "host", "t_s", "ops", "engine", "policy", "u9", "u18", "fi9", "largest_free_bytes",
    "probe_bytes", "probe_fast_only", "probe_success_rate", "probe_p50_ns", "probe_trades", "trades",
    "frames_moved", "frames_dropped", "utilisation", "seed",
};
#define NCOLS (sizeof(frag_columns) / sizeof(frag_columns[0]))

struct frag_ctx {
    struct csv csv;
    mmc_partition_t *part;
    const char *engine, *policy;
    uint64_t t0_ns, every_ops, next_ops;
    uint64_t trades_seen;           /* stats.trades at the previous sample */
    unsigned probe_calls;           /* calls per probe and sample */
    int error;
};

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void sample(struct frag_ctx *x, uint64_t ops)
{
    static const uint64_t probe_bytes[2] = {2 * MIB, 8 * MIB};
    struct mmc_frag m;
    struct mmc_stats st;
    double t_s = (double)(bench_now_ns() - x->t0_ns) / 1e9;
    if (mmc_partition_frag(x->part, -1, &m) < 0)
        return;
    mmc_partition_stats(x->part, &st);
    const uint64_t trace_trades = st.trades - x->trades_seen; /* by the trace since the last sample */
    for (int pb = 0; pb < 2; pb++)
        for (int fast = 1; fast >= 0; fast--) {
            uint64_t lat[64], ok = 0, before = st.trades;
            for (unsigned c = 0; c < x->probe_calls && c < 64; c++) {
                SIZE_T n = probe_bytes[pb];
                PHYSICAL_ADDRESS lo = {.QuadPart = 0}, hi = {.QuadPart = -1}, none = {.QuadPart = 0};
                void *p = NULL;
                uint64_t t = bench_now_ns();
                NTSTATUS s = MmAllocateContiguousMemoryEx(&n, lo, hi, none, MM_ANY_NODE_OK, PAGE_READWRITE,
                                                          x->part, BENCH_TAG,
                                                          fast ? MM_ALLOCATE_CONTIGUOUS_MEMORY_FAST_ONLY : 0, &p);
                t = bench_now_ns() - t;
                if (s == STATUS_SUCCESS) {
                    lat[ok++] = t;
                    MmFreeContiguousMemory(p);
                }
            }
            qsort(lat, ok, sizeof(*lat), cmp_u64);
            mmc_partition_stats(x->part, &st);
            struct csv *c = &x->csv;
            csv_str(c, bench_g.run_id);
            csv_str(c, bench_g.host);
            csv_f64(c, t_s, 3);
            csv_u64(c, ops);
            csv_str(c, x->engine);
            csv_str(c, x->policy);
            csv_f64(c, m.unusable[9], 4);
            csv_f64(c, m.unusable[18], 4);
            csv_f64(c, m.fragmentation[9], 4);
            csv_u64(c, m.largest_free_frames * MMC_FRAME_BYTES);
            csv_u64(c, probe_bytes[pb]);
            csv_u64(c, (uint64_t)fast);
            csv_f64(c, x->probe_calls ? (double)ok / (double)x->probe_calls : 0.0, 3);
            if (ok)
                csv_u64(c, lat[ok / 2]);
            else
                csv_empty(c);
            csv_u64(c, st.trades - before); /* by this probe's calls */
            csv_u64(c, trace_trades);
            csv_u64(c, st.frames_moved);
            csv_u64(c, st.frames_dropped);
            csv_f64(c, 1.0 - (double)st.free_frames / (double)st.pool_frames, 4);
            csv_u64(c, bench_g.opt.seed);
            if (csv_row_end(c) < 0)
                x->error = -EIO;
        }
    x->trades_seen = st.trades;
}

static void on_progress(void *arg, uint64_t done, uint64_t total)
{
    struct frag_ctx *x = arg;
    if (done >= x->next_ops || done == total) {
        sample(x, done);
        x->next_ops += x->every_ops;
    }
}

int suite_frag_run(void)
{
    const bool full = !strcmp(bench_g.opt.preset->name, "full");
    const uint64_t pool_bytes = full ? 4 * GIB : 256 * MIB;
    const uint64_t ops = full ? 200000 : 12000;
    const unsigned samples = full ? 100 : 24;
    static const char *const policy_name[2] = {"plain", "clustered"};
    char path[PATH_MAX + 16];
    struct frag_ctx x;
    memset(&x, 0, sizeof(x));
    snprintf(path, sizeof(path), "%s/frag.csv", bench_g.opt.out_dir);
    int rc = csv_open(&x.csv, path, frag_columns, NCOLS);
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
        csv_close(&x.csv);
        return rc;
    }
    rc = 0;
    for (unsigned e = 0; e < bench_g.opt.nengines && !bench_stop && !rc; e++)
        for (int pol = 0; pol < 2 && !bench_stop && !rc; pol++) {
            cfg.pool_bytes = pool_bytes;
            snprintf(cfg.algo, sizeof(cfg.algo), "%s", bench_g.opt.engines[e]);
            x.part = NULL;
            if (mmc_partition_create(&cfg, &x.part) < 0) {
                fprintf(stderr, "mmcontig bench: frag: %s pool for %s: %s\n", "real", cfg.algo, mmc_last_error());
                bench_g.case_errors++;
                continue;
            }
            mmc_partition_set_placement(x.part, pol);
            struct mmc_aging a;
            mmc_aging_init(&a);
            a.seed = bench_g.opt.seed;
            a.ops = ops;
            a.threads = 2;
            a.target_utilisation = 0.8;
            a.progress = on_progress;
            a.progress_arg = &x;
            x.engine = bench_g.opt.engines[e];
            x.policy = policy_name[pol];
            x.every_ops = ops / samples;
            x.next_ops = 0;
            x.trades_seen = 0;
            x.probe_calls = 5;
            x.t0_ns = bench_now_ns();
            fprintf(stderr, "mmcontig bench: frag: %s, %s placement: %" PRIu64 " operations of the "
                    "aging trace on %" PRIu64 " MiB, %u samples\n", x.engine, x.policy, ops,
                    pool_bytes / MIB, samples);
            sample(&x, 0);
            if (mmc_aging_run(x.part, &a, NULL) < 0) {
                fprintf(stderr, "mmcontig bench: frag: aging %s: %s\n", x.engine, mmc_last_error());
                bench_g.case_errors++;
            }
            if (x.error)
                rc = x.error;
            mmc_partition_clear(x.part); /* the aged objects, released at once and silently */
            mmc_partition_destroy(x.part);
        }
    csv_close(&x.csv);
    if (own_init)
        mmc_fini();
    return rc;
}
