/* tests/test_engines.c: the differential test of the search engines.
 *
 * The driver and its checks are tests/engine_check.c, shared with `mmcontig check-engine`
 * (which runs them on any engine, a plugin's too, and shrinks a failing sequence); here every
 * engine in _mmc_engines[] (new ones are covered as soon as they are listed) is driven
 * with the same seeded random operations on synthetic simulated layouts, and after every step
 * compared with an exhaustive oracle (tests/oracle.c, which shares no code with alloc/):
 *   - success exactly when the oracle finds a satisfying block (an engine failing when one
 *     exists is a false failure: a test failure, unless the engine's summary says it is
 *     "incomplete", in which case the rate is reported; -EAGAIN only under max_work);
 *   - the returned block satisfies mmc_search_fits() and the oracle's own predicate, before it
 *     is taken; an engine whose summary says "top-down first fit" (linear, bitmap, tree)
 *     returns the oracle's highest block, exactly ("bottom-up first fit": its lowest);
 *   - no frame is handed out twice (the test's own ownership map);
 *   - free_frames and node_free[] equal a recount of the frame database, which equals the
 *     ownership map.
 * Three modes:
 *   internal  the engine driven as the partition drives it: _mmc_frames_set, then take; on a
 *             free _mmc_frames_set(FREE), then give; a few scattered ranges of 1-4 frames are
 *             taken as MDL pages (not blocks find returned) and given back. >= 10^5 operations per engine over several
 *             layouts (one run, many small runs, 2-4 nodes, interleaved nodes, 1 GiB hugepages,
 *             the edges of the span, 128 lone hugepages over a 4 TiB span). A quarter of each
 *             layout's hugepages start outside the pool and enter it (reserve, add) a third
 *             and two thirds of the way through, as a growth does; half-way through the engine
 *             is rebuilt from the frame database. The engine's index must follow the pool, not
 *             the span: at most A bytes per frame of pool (memory_a) + 1/1024 per frame of span.
 *   public    a simulated partition (mmc_partition_create_simulated) through
 *             MmAllocateContiguousMemoryEx / MmGetPhysicalAddress / mmc_query /
 *             MmFreeContiguousMemory, without mmc_init(), hugepages or root.
 *   1 TiB     a 1 TiB simulated partition per engine: a few hundred operations, and the
 *             engine's metadata in bytes per frame.
 *
 * Under ThreadSanitizer the 1 TiB cases are left out (said in the output): its runtime keeps
 * the application's mappings in fixed ranges, which cannot hold the 2 x 2 TiB of address space
 * a 1 TiB partition's views reserve, so the partition cannot be made (before this was known
 * the TSan run failed there after minutes, with no TSan report). The other builds run them.
 *
 * Usage: test_engines [--seed N] [--engine NAME] [--layout I] [--scale F] [--no-tib]
 *   The seed also comes from MMC_TEST_SEED; it is printed first. A mismatch prints the seed,
 *   engine, layout, step, request and both answers: rerun with that seed (and --engine,
 *   --layout) to reproduce it, or run `mmcontig check-engine` on the engine for a shrunken,
 *   replayable sequence. Output is TAP; the exit status is nonzero on any failure.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "mmcontig/wdm.h"
#include "engine_check.h"

/* ---- TAP ---- */

static int t_count, t_failed;

static void t_ok(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void t_ok(bool cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%sok %d - ", cond ? "" : "not ", ++t_count);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
    t_failed += !cond;
}

/* ---- layout files and argument checks ---- */

static int write_file(char *path, const char *text)
{
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    FILE *fp = fdopen(fd, "w");
    if (!fp)
        return -1;
    fputs(text, fp);
    return fclose(fp);
}

static void test_replay(uint64_t seed)
{
    /* a synthetic partition's runs, written as `mmcontig layout --record` writes them, replay
     * to the same runs */
    struct mmc_sim_config cfg;
    mmc_partition_t *a = NULL, *b = NULL;
    mmc_sim_config_init(&cfg);
    cfg.pool_bytes = 512 * MMC_MIB;
    cfg.mean_run_hugepages = 2.5;
    cfg.nnodes = 3;
    cfg.node_split = MMC_SIM_NODES_INTERLEAVED;
    cfg.seed = ec_case_seed(seed, 300);
    bool good = mmc_partition_create_simulated(&cfg, &a) == 0;
    long n = good ? mmc_partition_runs(a, NULL, 0) : 0;
    struct mmc_run_info *ra = calloc((size_t)n + 1, sizeof(*ra)), *rb = calloc((size_t)n + 1, sizeof(*rb));
    char path[] = "/tmp/mmc-layout-XXXXXX";
    int fd = good && ra && rb && mmc_partition_runs(a, ra, (size_t)n) == n ? mkstemp(path) : -1;
    FILE *fp = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (fp) {
        fprintf(fp, "base_pfn,frames,node,page_bytes\n");
        for (long i = 0; i < n; i++)
            fprintf(fp, "%" PRIu64 ",%" PRIu64 ",%u,%" PRIu64 "\n", ra[i].base_pfn, ra[i].frames,
                    ra[i].node, cfg.page_bytes);
        good = fclose(fp) == 0;
        struct mmc_sim_config rcfg;
        mmc_sim_config_init(&rcfg);
        rcfg.layout_file = path;
        snprintf(rcfg.algo, sizeof(rcfg.algo), "%s", _mmc_engines[0]->name);
        good = good && mmc_partition_create_simulated(&rcfg, &b) == 0 &&
               mmc_partition_runs(b, rb, (size_t)n + 1) == n;
        for (long i = 0; good && i < n; i++)
            good = ra[i].base_pfn == rb[i].base_pfn && ra[i].frames == rb[i].frames &&
                   ra[i].node == rb[i].node && rb[i].free_frames == rb[i].frames;
        char *text = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&text, &len);
        good = good && m && mmc_partition_print_layout(b, m) == 0;
        if (m)
            fclose(m);
        good = good && text && strstr(text, "node 2");
        free(text);
        unlink(path);
    } else {
        good = false;
    }
    t_ok(good, "replay: a recorded layout (%ld runs, 3 nodes) replays to the same runs; stats "
         "and print_layout work without mmc_init()", n);
    if (a)
        mmc_partition_destroy(a);
    if (b)
        mmc_partition_destroy(b);
    free(ra);
    free(rb);

    /* malformed files: an error naming file and line */
    static const struct {
        const char *text, *expect; /* expect: substring of mmc_last_error(), NULL = success */
    } files[] = {
        {"base_pfn,frames,node\n0,512,0,2097152\n", ":1: header"},
        {"base_pfn,frames,node,page_bytes\n1048576,512,0,2097152\n1048576,512,0,2097152\n", ":3: run"},
        {"base_pfn,frames,node,page_bytes\n1048576,500,0,2097152\n", ":2: run"},
        {"base_pfn,frames,node,page_bytes\n1048576,512,64,2097152\n", ":2: node 64"},
        {"base_pfn,frames,node,page_bytes\n1048576,512,0,4096\n", ":2: page_bytes"},
        {"base_pfn,frames,node,page_bytes\n1048576,512,0,2097152\n2097152,262144,0,1073741824\n",
         ":3: page_bytes"},
        {"base_pfn,frames,node,page_bytes\n# comment\n\n1048576,512,x,2097152\n", ":4:"},
        {"base_pfn,frames,node,page_bytes\n1048576,512,0,2097152,7\n", ":2:"},
        {"base_pfn,frames,node,page_bytes\n99999999999999999999999,512,0,2097152\n", ":2:"},
        {"base_pfn,frames,node,page_bytes\n-512,512,0,2097152\n", ":2:"},
        {"base_pfn,frames,node,page_bytes\n4503599627370496,512,0,2097152\n", ":2: run"},
        {"base_pfn,frames,node,page_bytes\n", "no runs"},
        {"", "no runs"},
        {"1048576,512,0,2097152\r\n1049088,1024,1,2097152\r\n\r\n", NULL}, /* no header, CRLF */
        {" base_pfn,frames,node,page_bytes\n # c\n1048576 , 512 ,5, 2097152 \n", NULL},
    };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char p2[] = "/tmp/mmc-layout-XXXXXX";
        struct mmc_sim_config c2;
        mmc_partition_t *h = NULL;
        mmc_sim_config_init(&c2);
        c2.layout_file = p2;
        int rc = write_file(p2, files[i].text) == 0 ? mmc_partition_create_simulated(&c2, &h) : -999;
        const char *err = mmc_last_error();
        bool ok = files[i].expect ? rc == -EINVAL && strstr(err, p2) && strstr(err, files[i].expect)
                                  : rc == 0;
        t_ok(ok, "replay: layout file %zu %s (%d: %s)", i,
             files[i].expect ? "is refused with file:line" : "is accepted", rc,
             files[i].expect ? err : "");
        if (h)
            mmc_partition_destroy(h);
        unlink(p2);
    }
    struct mmc_sim_config c3;
    mmc_partition_t *h = NULL;
    mmc_sim_config_init(&c3);
    c3.layout_file = "/nonexistent/layout.csv";
    t_ok(mmc_partition_create_simulated(&c3, &h) == -ENOENT && strstr(mmc_last_error(), "layout.csv"),
         "replay: a missing file gives -ENOENT (%s)", mmc_last_error());

    /* synthetic: arguments out of range */
    static const struct {
        uint64_t pool, page;
        double mean;
        unsigned nnodes;
        int split;
        const char *algo;
    } bad[] = {
        {0, 2 * MMC_MIB, 0, 1, 0, "linear"},
        {64 * MMC_MIB, 4096, 0, 1, 0, "linear"},
        {64 * MMC_MIB, 2 * MMC_MIB, -1, 1, 0, "linear"},
        {64 * MMC_MIB, 2 * MMC_MIB, 0, 0, 0, "linear"},
        {64 * MMC_MIB, 2 * MMC_MIB, 0, 33, 0, "linear"}, /* 32 hugepages */
        {64 * MMC_MIB, 2 * MMC_MIB, 0, 65, 0, "linear"},
        {64 * MMC_MIB, 2 * MMC_MIB, 0, 1, 7, "linear"},
        {64 * MMC_MIB, 2 * MMC_MIB, 0, 1, 0, "no-such-engine"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        mmc_sim_config_init(&c3);
        c3.pool_bytes = bad[i].pool;
        c3.page_bytes = bad[i].page;
        c3.mean_run_hugepages = bad[i].mean;
        c3.nnodes = bad[i].nnodes;
        c3.node_split = bad[i].split;
        snprintf(c3.algo, sizeof(c3.algo), "%s", bad[i].algo);
        h = NULL;
        int rc = mmc_partition_create_simulated(&c3, &h);
        t_ok(rc == -EINVAL && !h, "synthetic: bad config %zu refused (%d: %s)", i, rc, mmc_last_error());
    }
    /* determinism: the same seed, the same layout; another seed, another one */
    uint64_t *p1, *p2, *p3, n1, n2, n3;
    uint8_t *d1, *d2, *d3;
    struct mmc_sim_spec sp = {256 * MMC_MIB, 2 * MMC_MIB, 2, 2, MMC_SIM_NODES_BLOCKS, 42};
    bool det = _mmc_sim_synthetic(&sp, &p1, &d1, &n1) == 0 && _mmc_sim_synthetic(&sp, &p2, &d2, &n2) == 0;
    sp.seed = 43;
    det = det && _mmc_sim_synthetic(&sp, &p3, &d3, &n3) == 0 && n1 == 128 && n1 == n2 && n1 == n3 &&
          !memcmp(p1, p2, n1 * 8) && !memcmp(d1, d2, n1) && memcmp(p1, p3, n1 * 8) &&
          d1[0] == 0 && d1[63] == 0 && d1[64] == 1 && d1[127] == 1;
    t_ok(det, "synthetic: deterministic per seed; blocks split nodes in halves");
    if (det) {
        free(p1), free(p2), free(p3), free(d1), free(d2), free(d3);
    }
}

/* ---- the cost of growth ---- */

/* A 64 GiB one-run layout with every 64th hugepage held back: the time to build the engine's
 * index over the pool (what a growth cost when it rebuilt the index) against the time to take
 * one hugepage in (reserve + add), printed, not asserted (times on a shared machine drift); the
 * state after is checked against the oracle's count. */
static bool growth_cost(const struct mmc_engine_ops *e, double *create_us, double *add_us)
{
    const uint64_t nh = 32768, hpf = 512;
    uint64_t *pfn = malloc(nh * sizeof(*pfn)), *late = malloc(nh / 64 * sizeof(*late)), np = 0, nl = 0;
    uint8_t *node = calloc(nh, 1);
    struct mmc_frames f;
    void *st = NULL;
    bool good = pfn && late && node;
    for (uint64_t h = 0; good && h < nh; h++) {
        const uint64_t x = (1ull << 20) + h * hpf;
        if (h % 64 == 63)
            late[nl++] = x;
        else
            pfn[np++] = x;
    }
    good = good && _mmc_frames_init(&f, 1ull << 20, nh * hpf, hpf, np, pfn, node) == 0;
    if (!good) {
        free(pfn), free(late), free(node);
        return false;
    }
    double t0 = ec_now();
    good = e->create(&f, &st) == 0;
    *create_us = (ec_now() - t0) * 1e6;
    double t_add = 0;
    for (uint64_t k = 0; good && k < nl; k++) {
        t0 = ec_now();
        good = _mmc_frames_reserve(&f, 1, &late[k], node) == 0 && e->reserve(st, 1, &late[k]) == 0;
        if (good) {
            _mmc_frames_add(&f, 1, &late[k], node);
            e->add(st, late[k] - f.base_pfn);
        }
        t_add += ec_now() - t0;
    }
    *add_us = nl ? t_add * 1e6 / (double)nl : 0;
    /* every frame free in one run: the engine finds the whole pool */
    struct mmc_search rq = {.frames = nh * hpf, .highest_pfn = UINT64_MAX, .node_mask = 1};
    uint64_t first = 0, work = 0;
    good = good && f.nruns == 1 && e->find(st, &rq, &first, &work) == 0 && first == 0;
    if (st)
        e->destroy(st);
    _mmc_frames_destroy(&f);
    free(pfn), free(late), free(node);
    return good;
}

/* ---- main ---- */

int main(int argc, char **argv)
{
    uint64_t seed = 1;
    const char *only_engine = NULL, *env = getenv("MMC_TEST_SEED");
    long only_layout = -1;
    double scale = 1.0;
    bool tib = true;
#if defined(__SANITIZE_THREAD__)
#define MMC_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MMC_TSAN 1
#endif
#endif
#ifdef MMC_TSAN
    tib = false;
    printf("# ThreadSanitizer build: the 1 TiB cases are left out (its fixed application ranges "
           "cannot hold a 1 TiB partition's 2 x 2 TiB of reserved views)\n");
#endif
    if (env && *env)
        seed = strtoull(env, NULL, 0);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--engine") && i + 1 < argc)
            only_engine = argv[++i];
        else if (!strcmp(argv[i], "--layout") && i + 1 < argc)
            only_layout = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--scale") && i + 1 < argc)
            scale = strtod(argv[++i], NULL);
        else if (!strcmp(argv[i], "--no-tib"))
            tib = false;
        else {
            fprintf(stderr, "usage: %s [--seed N] [--engine NAME] [--layout I] [--scale F] "
                    "[--no-tib]\n", argv[0]);
            return 2;
        }
    }
    printf("# seed %" PRIu64 " (rerun: --seed %" PRIu64 " or MMC_TEST_SEED=%" PRIu64 ")\n", seed,
           seed, seed);

    /* internal mode */
    for (size_t ei = 0; _mmc_engines[ei]; ei++) {
        const struct mmc_engine_ops *e = _mmc_engines[ei];
        if (only_engine && strcmp(only_engine, e->name))
            continue;
        struct ec_tally all = {0};
        double t0 = ec_now();
        for (size_t ci = 0; ci < ec_nlayouts; ci++) {
            if (only_layout >= 0 && (size_t)only_layout != ci)
                continue;
            struct ec_tally t = {0};
            bool good = ec_run_internal(e, ci, seed, scale, &t, NULL);
            t_ok(good, "%s: layout %zu (%s): %" PRIu64 " ops, %" PRIu64 " found, %" PRIu64
                 " none, %" PRIu64 " -EAGAIN, agrees with the oracle", e->name, ci, ec_layouts[ci].name,
                 t.ops, t.found, t.none, t.eagain);
            all.ops += t.ops, all.allocs += t.allocs, all.found += t.found, all.none += t.none;
            all.false_fail += t.false_fail, all.eagain += t.eagain, all.find_s += t.find_s;
        }
        printf("# engine %s: %" PRIu64 " ops (%" PRIu64 " searches) in %.2f s, %.3f s in find "
               "(%.2f us per search)\n", e->name, all.ops, all.allocs, ec_now() - t0, all.find_s,
               all.allocs ? all.find_s * 1e6 / (double)all.allocs : 0.0);
        if (ec_engine_incomplete(e))
            printf("# engine %s declares itself incomplete: %" PRIu64 " false failures in %" PRIu64
                   " searches (%.3f%%)\n", e->name, all.false_fail, all.allocs,
                   all.allocs ? 100.0 * (double)all.false_fail / (double)all.allocs : 0.0);
    }

    /* public mode, without mmc_init() */
    for (size_t ei = 0; _mmc_engines[ei]; ei++) {
        const struct mmc_engine_ops *e = _mmc_engines[ei];
        if (only_engine && strcmp(only_engine, e->name))
            continue;
        struct ec_pub_case pc = ec_pub_256m(seed, scale);
        double t0 = ec_now();
        struct ec_pub_out po = {0};
        bool good = ec_run_public(e, &pc, ec_case_seed(seed, 101), "public API, 256 MiB, 3 nodes", &po);
        t_ok(good, "%s: simulated partition through the NT routines: %" PRIu64 " ops (%.2f s)",
             e->name, pc.ops, ec_now() - t0);
    }

    if (!only_engine)
        test_replay(seed);

    /* growth: taking a hugepage in against rebuilding the index */
    for (size_t ei = 0; tib && _mmc_engines[ei]; ei++) {
        const struct mmc_engine_ops *e = _mmc_engines[ei];
        if (only_engine && strcmp(only_engine, e->name))
            continue;
        double create_us = 0, add_us = 0;
        bool good = growth_cost(e, &create_us, &add_us);
        printf("# engine %s: a hugepage enters a 64 GiB pool in %.2f us (reserve + add); building "
               "the index over the pool takes %.0f us\n", e->name, add_us, create_us);
        t_ok(good, "%s: 512 hugepages enter a 64 GiB pool one by one, the run joins them and the "
             "engine finds the whole pool as one block", e->name);
    }

    /* 1 TiB */
    for (size_t ei = 0; tib && _mmc_engines[ei]; ei++) {
        const struct mmc_engine_ops *e = _mmc_engines[ei];
        if (only_engine && strcmp(only_engine, e->name))
            continue;
        struct ec_pub_case pc = ec_pub_1tib(seed);
        struct ec_pub_out po = {0};
        double t0 = ec_now();
        bool good = ec_run_public(e, &pc, ec_case_seed(seed, 201), "1 TiB", &po);
        printf("# engine %s: %.3f bytes per frame of pool at 1 TiB (%.5f per frame of span; "
               "beyond the frame database's own), created in %.2f s, %.1f us per "
               "MmAllocateContiguousMemoryEx\n", e->name, po.bytes_per_frame,
               po.bytes_per_span_frame, po.create_s,
               po.allocs ? po.alloc_s * 1e6 / (double)po.allocs : 0.0);
        t_ok(good, "%s: 1 TiB simulated partition (2^28 frames): %" PRIu64 " ops (%.2f s)",
             e->name, pc.ops, ec_now() - t0);
    }

    mmc_fini();
    printf("1..%d\n", t_count);
    if (t_failed)
        printf("# %d of %d failed (seed %" PRIu64 ")\n", t_failed, t_count, seed);
    return t_failed ? 1 : 0;
}
