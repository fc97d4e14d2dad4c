/* bench/suite_scale.c: the `scale` suite, throughput and latency against the number of threads.
 *
 * For each pool, request mix, placement, engine and thread count (--threads, default 1, 2, 4
 * ... up to the CPUs this process may run on, and that count itself), T threads, thread i
 * pinned to the i-th allowed CPU (modulo their number), start together at a barrier and run a
 * closed loop for the preset's point duration: each keeps a ring of 16 live blocks and per
 * step frees the oldest (once the ring is full) and allocates one. Both calls are timed one by
 * one (clock_gettime around the call, nothing else inside), after an untimed warm-up run at the
 * most threads of the series. Each series runs SCALE_REPS (3) times over all its thread
 * counts in turn (1, 2, 4, 1, 2, 4, ...), so that a drift of this shared machine falls on
 * every count alike; the row has the median over the repetitions of the pairs (one allocation
 * and one free) per second of the whole run, per thread, the speedup (medians) over one
 * thread of the same pool, mix, placement and engine, each repetition's throughput, and the
 * calls' percentiles (all threads' and repetitions' histograms merged).
 *
 * Pools:
 *   sim   a simulated partition of the preset's size over two nodes (no memory behind it, so
 *         the calls are the search and the bookkeeping only), made fresh per point;
 *   real  the system partition of real hugepages (--pool, --page), engine chosen per point
 *         (mmc_partition_set_engine), emptied between points;
 *   dpdk  the DPDK peer: its IOVA-contiguous memzones on its own hugepages, as many as the real
 *         pool's, in a process of its own (run_dpdk below), mixes small and medium.
 * Mixes (request sizes drawn per call, uniformly, from the thread's own seeded PRNG):
 *   small   4 KiB - 64 KiB in whole frames, unconstrained (MmAllocateContiguousMemoryEx);
 *   medium  1 - 8 MiB, Highest 3/4 of the way up the pool's PFNs, boundary 16 MiB;
 *   mdl     MmAllocatePagesForMdlEx of 64 KiB - 1 MiB scattered pages (MM_DONT_ZERO_
 *           ALLOCATION), freed with MmFreePagesFromMdl + ExFreePool: the real pool only (an MDL
 *           has no partition argument).
 * Placements: own (thread i prefers node i mod nodes: a thread per node when there are as many
 * threads as nodes) and one (every thread prefers node 0: the threads share one node's lock).
 * The real pool has the machine's nodes (one on this machine's VM: both placements coincide,
 * only `own` runs). An engine that is not node-parallel (alloc/partition.c) serialises its
 * threads at the partition lock in both.
 *
 * One scale.csv row per point (columns in results/README.md), written as it is measured.
 * This suite does not go through Google Benchmark: each point is a run of threads.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "peer_dpdk.h"

static const char *const scale_columns[] = {
    "run_id", "host", "pool", "pool_bytes", "nodes", "engine", "mix", "placement", "threads",
    "cpus", "duration_s", "pairs", "failed", "pairs_per_s", "pairs_per_s_per_thread", "speedup",
    "alloc_p50_ns", "alloc_p99_ns", "alloc_p999_ns", "free_p50_ns", "free_p99_ns", "reps",
    "rep_pairs_per_s", "seed",
};
#define NCOLS (sizeof(scale_columns) / sizeof(scale_columns[0]))

enum { MIX_SMALL, MIX_MEDIUM, MIX_MDL, MIX_COUNT };
static const char *const mix_name[MIX_COUNT] = {"small", "medium", "mdl"};
enum { RING = 16, SCALE_REPS = 3 };

struct point {
    mmc_partition_t *part;      /* PartitionObject (NULL: the system partition) */
    bool dpdk;                  /* the DPDK peer's memzones instead of mmcontig's routines */
    int mix;
    unsigned nodes;             /* nodes of the pool */
    bool own;                   /* placement own (else one) */
    uint64_t highest;           /* medium: HighestAcceptableAddress */
    unsigned threads;
    double duration_s;
    pthread_barrier_t start;
    volatile int stop;
};

struct worker {
    struct point *pt;
    unsigned index;
    int cpu;
    uint64_t seed;
    uint64_t pairs, failed;
    uint64_t t0_ns, t1_ns;
    struct hist alloc_h, free_h;
};

/* A DPDK memzone of the mix's size (its boundary; DPDK has no range to ask for): the
 * rte_memzone, or NULL. */
static void *alloc_dpdk(const struct point *pt, uint64_t r)
{
    const uint64_t bytes = pt->mix == MIX_SMALL ? (1 + r % 16) * 4096 : (256 + r % 1793) * 4096;
    struct dpdk_block b = {0};
    const char *why;
    if (dpdk_peer_reserve(bytes, MMC_FRAME_BYTES, pt->mix == MIX_SMALL ? 0 : 16 * MIB, &b, &why) < 0)
        return NULL;
    return (void *)b.mz;
}

static void *alloc_one(const struct point *pt, unsigned node, uint64_t *rng, bool *mdl)
{
    const uint64_t r = _mmc_rand(rng);
    PHYSICAL_ADDRESS zero = {.QuadPart = 0}, any = {.QuadPart = -1};
    *mdl = false;
    if (pt->dpdk)
        return alloc_dpdk(pt, r);
    if (pt->mix == MIX_MDL) {
        *mdl = true;
        const SIZE_T bytes = (16 + r % 241) * 4096; /* 64 KiB - 1 MiB */
        return MmAllocatePagesForMdlEx(zero, any, zero, bytes, MmCached, MM_DONT_ZERO_ALLOCATION);
    }
    SIZE_T bytes = pt->mix == MIX_SMALL ? (1 + r % 16) * 4096 : (256 + r % 1793) * 4096;
    PHYSICAL_ADDRESS hi = pt->mix == MIX_SMALL ? any : (PHYSICAL_ADDRESS){.QuadPart = (LONGLONG)pt->highest};
    PHYSICAL_ADDRESS bound = {.QuadPart = pt->mix == MIX_SMALL ? 0 : (LONGLONG)(16 * MIB)};
    PVOID base = NULL;
    MmAllocateContiguousMemoryEx(&bytes, zero, hi, bound, node, PAGE_READWRITE, pt->part, BENCH_TAG, 0,
                                 &base);
    return base;
}

static void free_one(const struct point *pt, void *p, bool mdl)
{
    if (pt->dpdk) {
        dpdk_peer_free(&(struct dpdk_block){.mz = p});
    } else if (mdl) {
        MmFreePagesFromMdl(p);
        ExFreePool(p);
    } else {
        MmFreeContiguousMemory(p);
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct point *pt = w->pt;
    if (w->cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(w->cpu, &set);
        pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    }
    const unsigned node = pt->own ? w->index % pt->nodes : 0;
    void *ring[RING] = {0};
    bool ring_mdl[RING] = {0};
    unsigned head = 0;
    uint64_t rng = w->seed;
    hist_reset(&w->alloc_h);
    hist_reset(&w->free_h);
    pthread_barrier_wait(&pt->start);
    w->t0_ns = bench_now_ns();
    while (!__atomic_load_n(&pt->stop, __ATOMIC_RELAXED)) {
        if (ring[head]) {
            const uint64_t a = bench_now_ns();
            free_one(pt, ring[head], ring_mdl[head]);
            hist_record(&w->free_h, bench_now_ns() - a);
            ring[head] = NULL;
        }
        bool mdl;
        const uint64_t a = bench_now_ns();
        void *p = alloc_one(pt, node, &rng, &mdl);
        const uint64_t ns = bench_now_ns() - a;
        if (p) {
            hist_record(&w->alloc_h, ns);
            ring[head] = p;
            ring_mdl[head] = mdl;
            w->pairs++;
        } else {
            w->failed++;
        }
        head = (head + 1) % RING;
    }
    w->t1_ns = bench_now_ns();
    for (unsigned k = 0; k < RING; k++)
        if (ring[k])
            free_one(pt, ring[k], ring_mdl[k]);
    return NULL;
}

/* The CPUs this process may run on, in order. */
static unsigned allowed_cpus(int *cpus, unsigned max)
{
    cpu_set_t set;
    unsigned n = 0;
    if (sched_getaffinity(0, sizeof(set), &set) != 0)
        return 0;
    for (int c = 0; c < CPU_SETSIZE && n < max; c++)
        if (CPU_ISSET(c, &set))
            cpus[n++] = c;
    return n;
}

struct scale_ctx {
    struct csv csv;
    int cpus[1024];
    unsigned ncpus;
    int error;
};

/* What one run of a point's threads did. */
struct point_run {
    unsigned started;           /* threads that ran */
    char cpus[256];             /* their CPUs, space separated */
    uint64_t pairs, failed;
    double secs;                /* first thread's start to last one's end */
    struct hist alloc_h, free_h; /* all threads' merged */
};

static double run_rate(const struct point_run *r)
{
    return r->secs > 0 ? (double)r->pairs / r->secs : 0;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median of the repetitions' throughputs (the mean of the middle two for an even count). */
static double median_rate(const struct point_run *r, unsigned n)
{
    double v[SCALE_REPS];
    for (unsigned i = 0; i < n; i++)
        v[i] = run_rate(&r[i]);
    qsort(v, n, sizeof(v[0]), cmp_double);
    return n == 0 ? 0 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The row of a point: its repetitions r[0..n) (their histograms merged, their calls summed,
 * their median throughput), base the median of the 1-thread point of the series (0: none). */
static void write_row(struct scale_ctx *x, const struct point *pt, const char *pool,
                      uint64_t pool_bytes, const char *engine, const struct point_run *r,
                      unsigned n, double base)
{
    struct hist *ah = malloc(sizeof(*ah)), *fh = malloc(sizeof(*fh));
    uint64_t pairs = 0, failed = 0;
    double secs = 0;
    char reps[SCALE_REPS * 24] = "";
    if (ah && fh) {
        hist_reset(ah);
        hist_reset(fh);
    }
    for (unsigned i = 0; i < n; i++) {
        pairs += r[i].pairs;
        failed += r[i].failed;
        secs += r[i].secs;
        snprintf(reps + strlen(reps), sizeof(reps) - strlen(reps), "%s%.0f", i ? ";" : "", run_rate(&r[i]));
        if (ah && fh) {
            hist_merge(ah, &r[i].alloc_h);
            hist_merge(fh, &r[i].free_h);
        }
    }
    const double rate = median_rate(r, n);
    const unsigned threads = n ? r[n - 1].started : 0;
    struct csv *c = &x->csv;
    csv_str(c, bench_g.run_id);
    csv_str(c, bench_g.host);
    csv_str(c, pool);
    csv_u64(c, pool_bytes);
    csv_u64(c, pt->nodes);
    csv_str(c, engine);
    csv_str(c, mix_name[pt->mix]);
    csv_str(c, pt->dpdk ? "any" : pt->own ? "own" : "one");
    csv_u64(c, threads);
    csv_str(c, n ? r[n - 1].cpus : "");
    csv_f64(c, secs, 3);
    csv_u64(c, pairs);
    csv_u64(c, failed);
    csv_f64(c, rate, 0);
    csv_f64(c, threads ? rate / threads : 0, 0);
    if (base > 0)
        csv_f64(c, rate / base, 3);
    else
        csv_empty(c);
    const bool h = ah && fh;
    csv_u64(c, h ? hist_percentile(ah, 0.50) : 0);
    csv_u64(c, h ? hist_percentile(ah, 0.99) : 0);
    csv_u64(c, h ? hist_percentile(ah, 0.999) : 0);
    csv_u64(c, h ? hist_percentile(fh, 0.50) : 0);
    csv_u64(c, h ? hist_percentile(fh, 0.99) : 0);
    csv_u64(c, n);
    csv_str(c, reps);
    csv_u64(c, bench_g.opt.seed);
    if (csv_row_end(c) < 0)
        x->error = 1;
    fprintf(stderr, "mmcontig bench: scale: %s %s %s/%s %u thread%s: %.0f pairs/s (median of %u)%s\n",
            pool, engine, mix_name[pt->mix], pt->dpdk ? "any" : pt->own ? "own" : "one", threads,
            threads == 1 ? "" : "s", rate, n, failed ? ", some calls failed" : "");
    free(ah);
    free(fh);
}

/* Run pt->threads threads for pt->duration_s into *out. 0, or -1 when the threads could not be
 * had (out holds those that ran). */
static int run_point(struct scale_ctx *x, struct point *pt, struct point_run *out)
{
    struct worker *w = calloc(pt->threads, sizeof(*w));
    pthread_t *t = calloc(pt->threads, sizeof(*t));
    memset(out, 0, sizeof(*out));
    hist_reset(&out->alloc_h);
    hist_reset(&out->free_h);
    if (!w || !t) {
        free(w);
        free(t);
        return -1;
    }
    pt->stop = 0;
    pthread_barrier_init(&pt->start, NULL, pt->threads + 1);
    unsigned started = 0;
    for (unsigned i = 0; i < pt->threads; i++) {
        w[i] = (struct worker){.pt = pt, .index = i, .cpu = x->ncpus ? x->cpus[i % x->ncpus] : -1,
                               .seed = _mmc_rand_mix(bench_g.opt.seed, i + 1)};
        if (pthread_create(&t[i], NULL, worker_main, &w[i]) != 0)
            break;
        started++;
    }
    const unsigned wanted = pt->threads;
    if (started < wanted) { /* the barrier would never open: let the others run, stop */
        fprintf(stderr, "mmcontig bench: scale: cannot start %u threads\n", wanted);
        pt->threads = started;
        x->error = 1;
    }
    pthread_barrier_wait(&pt->start);
    const uint64_t until = bench_now_ns() + (uint64_t)(pt->duration_s * 1e9);
    while (bench_now_ns() < until && !bench_stop) {
        struct timespec ms = {0, 2000000};
        nanosleep(&ms, NULL);
    }
    __atomic_store_n(&pt->stop, 1, __ATOMIC_RELAXED);
    for (unsigned i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&pt->start);
    uint64_t t0 = UINT64_MAX, t1 = 0;
    out->started = started;
    for (unsigned i = 0; i < started; i++) {
        out->pairs += w[i].pairs;
        out->failed += w[i].failed;
        t0 = w[i].t0_ns < t0 ? w[i].t0_ns : t0;
        t1 = w[i].t1_ns > t1 ? w[i].t1_ns : t1;
        hist_merge(&out->alloc_h, &w[i].alloc_h);
        hist_merge(&out->free_h, &w[i].free_h);
        snprintf(out->cpus + strlen(out->cpus), sizeof(out->cpus) - strlen(out->cpus), "%s%d",
                 i ? " " : "", w[i].cpu);
    }
    out->secs = t1 > t0 ? (double)(t1 - t0) / 1e9 : 0;
    free(w);
    free(t);
    return started < wanted ? -1 : 0;
}

/* Every thread count for one pool, mix, placement and engine: an untimed warm-up at the most
 * threads (a fresh partition's tables fault their pages in on first touch: without it the
 * first point, one thread, would pay for them and every speedup would look better), then
 * SCALE_REPS repetitions, each running every thread count in turn (1, 2, 4, ..., 1, 2, 4, ...:
 * a drift of the machine falls on every count alike); a row per thread count with the median
 * of its repetitions. */
static void run_series(struct scale_ctx *x, struct point *pt, const char *pool, uint64_t pool_bytes,
                       const char *engine)
{
    const unsigned nt = bench_g.opt.nthreads;
    struct point_run *r = calloc((size_t)nt * SCALE_REPS, sizeof(*r));
    if (!r) {
        x->error = 1;
        return;
    }
    unsigned most = 1;
    for (unsigned k = 0; k < nt; k++)
        most = bench_g.opt.threads[k] > most ? bench_g.opt.threads[k] : most;
    const double d = pt->duration_s;
    pt->threads = most;
    pt->duration_s = d / 3;
    run_point(x, pt, &r[0]);
    pt->duration_s = d;
    unsigned done = 0; /* repetitions every count completed */
    for (unsigned rep = 0; rep < SCALE_REPS && !bench_stop; rep++) {
        for (unsigned k = 0; k < nt && !bench_stop; k++) {
            pt->threads = bench_g.opt.threads[k];
            if (run_point(x, pt, &r[k * SCALE_REPS + rep]) < 0)
                x->error = 1;
        }
        if (!bench_stop)
            done++;
    }
    double base = 0;
    for (unsigned k = 0; k < nt; k++)
        if (bench_g.opt.threads[k] == 1)
            base = median_rate(&r[k * SCALE_REPS], done);
    for (unsigned k = 0; k < nt && done; k++)
        write_row(x, pt, pool, pool_bytes, engine, &r[k * SCALE_REPS], done, base);
    free(r);
}

static double point_s(void)
{
    return bench_g.opt.scale_seconds > 0 ? bench_g.opt.scale_seconds : bench_g.opt.preset->scale_point_s;
}

static void run_sim(struct scale_ctx *x)
{
    const uint64_t bytes = bench_g.opt.preset->scale_sim_bytes;
    for (unsigned e = 0; e < bench_g.opt.nengines && !bench_stop; e++)
        for (int mix = MIX_SMALL; mix <= MIX_MEDIUM && !bench_stop; mix++)
            for (int own = 1; own >= 0 && !bench_stop; own--) {
                struct mmc_sim_config sc;
                mmc_sim_config_init(&sc);
                sc.pool_bytes = bytes;
                sc.nnodes = 2;
                sc.seed = bench_g.opt.seed;
                snprintf(sc.algo, sizeof(sc.algo), "%s", bench_g.opt.engines[e]);
                struct point pt = {.mix = mix, .nodes = 2, .own = own, .duration_s = point_s()};
                if (mmc_partition_create_simulated(&sc, &pt.part) < 0) {
                    fprintf(stderr, "mmcontig bench: scale: simulated pool for %s: %s\n", sc.algo,
                            mmc_last_error());
                    x->error = 1;
                    continue;
                }
                long nr = mmc_partition_runs(pt.part, NULL, 0);
                struct mmc_run_info *runs = nr > 0 ? calloc((size_t)nr, sizeof(*runs)) : NULL;
                pt.highest = UINT64_MAX;
                if (runs && mmc_partition_runs(pt.part, runs, (size_t)nr) == nr) {
                    const uint64_t lo = runs[0].base_pfn << 12;
                    const uint64_t hi = (runs[nr - 1].base_pfn + runs[nr - 1].frames) << 12;
                    pt.highest = lo + (hi - lo) / 4 * 3;
                }
                free(runs);
                run_series(x, &pt, "sim", bytes, bench_g.opt.engines[e]);
                mmc_partition_destroy(pt.part);
            }
}

static void run_real(struct scale_ctx *x)
{
    struct mmc_config cfg = bench_g.opt.pool_cfg;
    cfg.grow = 0; /* the pool as it is: the points time the search, not the kernel */
    if (mmc_init(&cfg) < 0) {
        fprintf(stderr, "mmcontig bench: scale: the real pool: %s (its rows are left out)\n",
                mmc_last_error());
        x->error = 1;
        return;
    }
    struct mmc_stats st;
    mmc_partition_stats(NULL, &st);
    const unsigned nodes = mmc_node_count();
    const uint64_t pool_bytes = st.pool_frames << 12;
    struct mmc_run_info *runs = calloc((size_t)st.runs, sizeof(*runs));
    uint64_t highest = UINT64_MAX;
    if (runs && mmc_partition_runs(NULL, runs, st.runs) > 0) {
        const uint64_t lo = runs[0].base_pfn << 12;
        const uint64_t hi = (runs[st.runs - 1].base_pfn + runs[st.runs - 1].frames) << 12;
        highest = lo + (hi - lo) / 4 * 3;
    }
    free(runs);
    for (unsigned e = 0; e < bench_g.opt.nengines && !bench_stop; e++) {
        if (mmc_partition_set_engine(NULL, bench_g.opt.engines[e]) < 0) {
            fprintf(stderr, "mmcontig bench: scale: %s\n", mmc_last_error());
            x->error = 1;
            continue;
        }
        for (int mix = MIX_SMALL; mix < MIX_COUNT && !bench_stop; mix++)
            for (int own = 1; own >= (nodes > 1 ? 0 : 1) && !bench_stop; own--) {
                struct point pt = {.part = NULL, .mix = mix, .nodes = nodes, .own = own,
                                   .highest = highest, .duration_s = point_s()};
                run_series(x, &pt, "real", pool_bytes, bench_g.opt.engines[e]);
            }
    }
    mmc_fini();
}

/* ---- the DPDK peer, in a child process (bench/child.c says why) ----
 *
 * `mmcontig bench __scale-dpdk PPID FD RUN_ID HOST SEED SECONDS THREADS CPUS BYTES`: the child
 * starts EAL over BYTES of 2 MiB hugepages (the real pool's size; target_dpdk raises
 * nr_hugepages for them under the hugepage lock and gives them back), runs the small and
 * medium series with the same threads, CPUs, seeds and ring (rte_memzone_reserve_bounded
 * with RTE_MEMZONE_IOVA_CONTIG on SOCKET_ID_ANY: placement `any`; medium without the range,
 * which DPDK cannot ask for) and appends its rows to scale.csv through FD, one write(2) each,
 * while the benchmark waits. */
static int parse_list(const char *s, unsigned *out, unsigned max)
{
    unsigned n = 0;
    for (char *end; *s && n < max; s = *end ? end + 1 : end) {
        out[n++] = (unsigned)strtoul(s, &end, 10);
        if (end == s)
            return -1;
    }
    return (int)n;
}

int suite_scale_dpdk_child(int argc, char **argv)
{
    if (argc != 10) {
        fprintf(stderr, "mmcontig bench %s: internal to the scale suite (PPID FD RUN_ID HOST SEED "
                "SECONDS THREADS CPUS BYTES)\n", argv[0]);
        return BENCH_EXIT_USAGE;
    }
    if (bench_child_enter(argv[1]) < 0)
        return BENCH_EXIT_CASE_ERRORS;
    struct scale_ctx x = {.csv = {.fd = atoi(argv[2]), .ncols = NCOLS}};
    snprintf(bench_g.run_id, sizeof(bench_g.run_id), "%s", argv[3]);
    snprintf(bench_g.host, sizeof(bench_g.host), "%s", argv[4]);
    bench_g.opt.seed = strtoull(argv[5], NULL, 10);
    bench_g.opt.scale_seconds = strtod(argv[6], NULL);
    unsigned cpus[1024];
    const int nt = parse_list(argv[7], bench_g.opt.threads, BENCH_MAX_LIST);
    const int nc = parse_list(argv[8], cpus, 1024);
    bench_g.pools[0].pool_bytes = strtoull(argv[9], NULL, 10);
    if (nt <= 0 || nc < 0 || bench_g.opt.scale_seconds <= 0 || !bench_g.pools[0].pool_bytes) {
        fprintf(stderr, "mmcontig bench %s: bad arguments\n", argv[0]);
        return BENCH_EXIT_USAGE;
    }
    bench_g.opt.nthreads = (unsigned)nt;
    x.ncpus = (unsigned)nc;
    for (int i = 0; i < nc; i++)
        x.cpus[i] = (int)cpus[i];
    char err[600];
    if (target_dpdk(err, sizeof(err)) < 0) {
        fprintf(stderr, "mmcontig bench: scale: DPDK: %s\n", err);
        return BENCH_EXIT_CASE_ERRORS;
    }
    for (int mix = MIX_SMALL; mix <= MIX_MEDIUM; mix++) {
        struct point pt = {.dpdk = true, .mix = mix, .nodes = 1, .own = true, .highest = UINT64_MAX,
                           .duration_s = bench_g.opt.scale_seconds};
        run_series(&x, &pt, "dpdk", bench_g.pools[0].pool_bytes, "dpdk");
    }
    target_dpdk_done();
    return x.error ? BENCH_EXIT_CASE_ERRORS : BENCH_EXIT_OK;
}

static void run_dpdk(struct scale_ctx *x)
{
    if (!MMC_BENCH_HAVE_DPDK) {
        fprintf(stderr, "mmcontig bench: scale: no DPDK rows: the DPDK peer is not built (install "
                "libdpdk-dev and reconfigure, meson feature 'dpdk')\n");
        return;
    }
    char fd[16], seed[24], secs[32], threads[BENCH_MAX_LIST * 8] = "", cpus[1024 * 6] = "", bytes[24];
    snprintf(fd, sizeof(fd), "%d", x->csv.fd);
    snprintf(seed, sizeof(seed), "%" PRIu64, bench_g.opt.seed);
    snprintf(secs, sizeof(secs), "%.6f", point_s());
    snprintf(bytes, sizeof(bytes), "%" PRIu64, bench_g.pools[0].pool_bytes);
    for (unsigned k = 0; k < bench_g.opt.nthreads; k++)
        snprintf(threads + strlen(threads), sizeof(threads) - strlen(threads), "%s%u", k ? "," : "",
                 bench_g.opt.threads[k]);
    /* two mixes, each a warm-up of a third of a point and SCALE_REPS points per thread count */
    const double total_s = 2 * point_s() * (1.0 / 3 + SCALE_REPS * bench_g.opt.nthreads);
    for (unsigned i = 0; i < x->ncpus && strlen(cpus) < sizeof(cpus) - 8; i++)
        snprintf(cpus + strlen(cpus), sizeof(cpus) - strlen(cpus), "%s%d", i ? "," : "", x->cpus[i]);
    const char *args[] = {fd, bench_g.run_id, bench_g.host, seed, secs, threads, cpus, bytes, NULL};
    const int status = bench_child_run("__scale-dpdk", args, x->csv.fd,
                                       120 + (unsigned)(2 * total_s));
    char why[200];
    if (bench_child_why(status, why, sizeof(why))) {
        fprintf(stderr, "mmcontig bench: scale: the DPDK peer: %s (the rows it had not written "
                "are missing)\n", why);
        x->error = 1;
    }
}

int suite_scale_run(void)
{
    struct scale_ctx x = {0};
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/scale.csv", bench_g.opt.out_dir);
    int rc = csv_open(&x.csv, path, scale_columns, NCOLS);
    if (rc < 0) {
        fprintf(stderr, "mmcontig bench: cannot write %s: %s\n", path, strerror(-rc));
        return rc;
    }
    x.ncpus = allowed_cpus(x.cpus, sizeof(x.cpus) / sizeof(x.cpus[0]));
    run_sim(&x);
    if (!bench_stop)
        run_real(&x);
    if (!bench_stop)
        run_dpdk(&x);
    csv_close(&x.csv);
    return x.error ? -EIO : 0;
}

/* The default --threads: 1, 2, 4 ... below the allowed CPUs, then their count. */
unsigned suite_scale_default_threads(unsigned *out, unsigned max)
{
    int cpus[1024];
    unsigned ncpu = allowed_cpus(cpus, 1024), n = 0;
    if (ncpu == 0)
        ncpu = 1;
    for (unsigned t = 1; t < ncpu && n + 1 < max; t *= 2)
        out[n++] = t;
    out[n++] = ncpu;
    return n;
}
