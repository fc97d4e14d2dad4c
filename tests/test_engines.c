/* tests/test_engines.c: the differential test of the search engines.
 *
 * Every engine in _mmc_engines[] (new ones are covered as soon as they are listed) is driven
 * with the same seeded random operations on synthetic simulated layouts, and after every step
 * compared with an exhaustive oracle (tests/oracle.c, which shares no code with alloc/):
 *   - success exactly when the oracle finds a satisfying block (an engine failing when one
 *     exists is a false failure: a test failure, unless the engine's summary says it is
 *     "incomplete", in which case the rate is reported; -EAGAIN only under max_work);
 *   - the returned block satisfies _mmc_search_fits() and the oracle's own predicate, before it
 *     is taken; an engine whose summary says "top-down first fit" (linear, bitmap, tree)
 *     returns the oracle's highest block, exactly;
 *   - no frame is handed out twice (the test's own ownership map);
 *   - free_frames and node_free[] equal a recount of the frame database, which equals the
 *     ownership map.
 * Three modes:
 *   internal  the engine driven as the partition drives it: _mmc_frames_set, then take; on a
 *             free _mmc_frames_set(FREE), then give. >= 10^5 operations per engine over several
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
 * Usage: test_engines [--seed N] [--engine NAME] [--layout I] [--scale F] [--no-tib]
 *   The seed also comes from MMC_TEST_SEED; it is printed first. A mismatch prints the seed,
 *   engine, layout, step, request and both answers: rerun with that seed (and --engine,
 *   --layout) to reproduce it. Output is TAP; the exit status is nonzero on any failure.
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
#include "oracle.h"

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

/* ---- PRNG: xoshiro256** seeded with splitmix64 ---- */

struct rng {
    uint64_t s[4];
};

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rnd(struct rng *r)
{
    uint64_t *s = r->s, result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, n), n >= 1. */
static uint64_t below(struct rng *r, uint64_t n) { return n ? rnd(r) % n : 0; }

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- what the test knows about engines ---- */

/* Engines declare their contract in their one-line summary. "top-down first fit": the
 * placement is the highest-PFN satisfying block, linear's, compared exactly. */
static bool engine_top_down(const struct mmc_engine_ops *e)
{
    return e->summary && strstr(e->summary, "top-down first fit");
}

/* "incomplete": may fail while a block exists; false failures are counted, not failed. */
static bool engine_incomplete(const struct mmc_engine_ops *e)
{
    return e->summary && strstr(e->summary, "incomplete");
}

/* ---- layouts ---- */

#define MAX_FRAMES_RQ 16384 /* 64 MiB */

struct layout_case {
    const char *name;
    struct mmc_sim_spec spec;   /* pool_bytes 0: a hand-made layout, below */
    uint64_t ops;               /* operations per engine, before --scale */
    bool sparse;                /* hand-made: sparse_layout(), else edge_layout() */
};

static const struct layout_case cases[] = {
    {"one run, 1 node, 128 MiB", {128 * MMC_MIB, 2 * MMC_MIB, 0, 1, MMC_SIM_NODES_BLOCKS, 0}, 18000},
    {"small runs (mean 1.5 hugepages), 1 node, 256 MiB",
     {256 * MMC_MIB, 2 * MMC_MIB, 1.5, 1, MMC_SIM_NODES_BLOCKS, 0}, 18000},
    {"2 nodes in blocks, mean run 4 hugepages, 256 MiB",
     {256 * MMC_MIB, 2 * MMC_MIB, 4, 2, MMC_SIM_NODES_BLOCKS, 0}, 18000},
    {"4 nodes interleaved, mean run 2 hugepages, 192 MiB",
     {192 * MMC_MIB, 2 * MMC_MIB, 2, 4, MMC_SIM_NODES_INTERLEAVED, 0}, 18000},
    {"3 nodes, one 32 MiB run each (64 MiB requests fail)",
     {96 * MMC_MIB, 2 * MMC_MIB, 0, 3, MMC_SIM_NODES_BLOCKS, 0}, 18000},
    {"1 GiB hugepages, 2 of them, 1 node, one run",
     {2 * MMC_GIB, MMC_GIB, 0, 1, MMC_SIM_NODES_BLOCKS, 0}, 6000},
    {"1 GiB hugepages, 3 of them, 2 nodes interleaved, mean run 1",
     {3 * MMC_GIB, MMC_GIB, 1, 2, MMC_SIM_NODES_INTERLEAVED, 0}, 6000},
    /* pool_bytes 0: edge_layout(), sparse_layout() */
    {"edges: runs at PFN 0 and ending at the last PFN a database indexes, adjacent nodes, 2 nodes",
     {0, 2 * MMC_MIB, 0, 2, 0, 0}, 8000, false},
    {"sparse: 128 lone hugepages scattered over a 4 TiB span, 2 nodes",
     {0, 2 * MMC_MIB, 0, 2, 0, 0}, 3000, true},
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* A hand-made 2 MiB layout at the edges of what a frame database indexes: a run from PFN 0,
 * one physically adjacent to it on the other node, runs of one hugepage, and a run ending at
 * the last PFN of the longest span (MMC_SPAN_MAX_FRAMES). 96 MiB. */
static int edge_layout(uint64_t **hp_pfn, uint8_t **hp_node, uint64_t *nh)
{
    static const struct {
        uint64_t pfn, hugepages;
        uint8_t node;
    } runs[] = {
        {0, 12, 0},                                /* from PFN 0 */
        {12 * 512, 4, 1},                          /* right after it, the other node */
        {20 * 512, 1, 0}, {22 * 512, 1, 1}, {23 * 512, 1, 0},
        {1ull << 20, 16, 1},                       /* 4 GiB */
        {(1ull << 30) - 8 * 512, 8, 0},            /* ending at 4 TiB */
        {MMC_SPAN_MAX_FRAMES - 5 * 512, 5, 1},     /* ending at the top of the longest span */
    };
    uint64_t n = 0;
    for (size_t r = 0; r < sizeof(runs) / sizeof(runs[0]); r++)
        n += runs[r].hugepages;
    *hp_pfn = malloc(n * sizeof(**hp_pfn));
    *hp_node = malloc(n);
    if (!*hp_pfn || !*hp_node)
        return -ENOMEM;
    *nh = 0;
    for (size_t r = 0; r < sizeof(runs) / sizeof(runs[0]); r++)
        for (uint64_t k = 0; k < runs[r].hugepages; k++, (*nh)++) {
            (*hp_pfn)[*nh] = runs[r].pfn + k * 512;
            (*hp_node)[*nh] = runs[r].node;
        }
    return 0;
}

/* 128 lone 2 MiB hugepages, each in its own GiB, scattered over a 4 TiB span (the memory
 * rule's hard case: an index that follows the span, not the pool, fails it). Node 0 below
 * 2 TiB, node 1 above. */
static int sparse_layout(uint64_t seed, uint64_t **hp_pfn, uint8_t **hp_node, uint64_t *nh)
{
    enum { N = 128, GIBS = 4096 };
    uint8_t *taken = calloc(GIBS, 1);
    *hp_pfn = malloc(N * sizeof(**hp_pfn));
    *hp_node = malloc(N);
    if (!taken || !*hp_pfn || !*hp_node) {
        free(taken);
        return -ENOMEM;
    }
    uint64_t x = seed;
    for (unsigned k = 0; k < N;) {
        uint64_t g = splitmix(&x) % GIBS;
        if (!taken[g])
            taken[g] = 1, k++;
    }
    *nh = 0;
    for (uint64_t g = 0; g < GIBS; g++) {
        if (!taken[g])
            continue;
        (*hp_pfn)[*nh] = (g << 18) + (splitmix(&x) % 512) * 512;
        (*hp_node)[(*nh)++] = g < GIBS / 2 ? 0 : 1;
    }
    free(taken);
    return 0;
}

/* The span a frame database over a layout covers: its hugepages, rounded out to 1 GiB. */
static void layout_span(const uint64_t *hp_pfn, uint64_t nh, uint64_t hp_frames, uint64_t *base,
                        uint64_t *frames)
{
    const uint64_t g = MMC_GIB >> MMC_FRAME_SHIFT;
    *base = hp_pfn[0] / g * g;
    *frames = (hp_pfn[nh - 1] + hp_frames + g - 1) / g * g - *base;
}

/* The memory rule: an engine's index follows the pool, not the span: at most A bytes per
 * frame of pool (A per engine, from its documented figure) plus 1/1024 byte per frame of span
 * (and 64 KiB of fixed tables). */
static double memory_a(const struct mmc_engine_ops *e)
{
    static const struct {
        const char *name;
        double a;
    } t[] = {{"linear", 0.01}, {"bitmap", 0.2}, {"buddy", 0.5}, {"tlsf", 0.3}, {"tree", 1.0}};
    for (size_t k = 0; k < sizeof(t) / sizeof(t[0]); k++)
        if (!strcmp(e->name, t[k].name))
            return t[k].a;
    return 1.0;
}

static bool memory_ok(const struct mmc_engine_ops *e, const void *st, const struct mmc_frames *f,
                      const char *where)
{
    const double bytes = (double)e->metadata_bytes(st);
    const double bound = memory_a(e) * (double)f->present_frames + (double)f->nframes / 1024 + 65536;
    if (bytes <= bound)
        return true;
    printf("# %s: the engine's index is %.0f bytes: %.3f per frame of pool, %.6f per frame of span; "
           "the rule allows %.2f per frame of pool + 1/1024 per frame of span (%.0f bytes)\n",
           where, bytes, bytes / (double)f->present_frames, bytes / (double)f->nframes, memory_a(e), bound);
    return false;
}

/* ---- requests ---- */

static unsigned ceil_log2(uint64_t n)
{
    return n <= 1 ? 0 : 64 - (unsigned)__builtin_clzll(n - 1);
}

static uint64_t gen_frames(struct rng *r)
{
    uint64_t k = below(r, 100);
    if (k < 45) /* log-uniform 1 .. 16384 */
        return 1 + below(r, 1ull << below(r, 15)) % MAX_FRAMES_RQ;
    if (k < 65)
        return 1 + below(r, 16);
    if (k < 82)
        return 1ull << below(r, 15);
    return 512 * (1 + below(r, MAX_FRAMES_RQ / 512));
}

/* A PFN somewhere interesting: inside a run, at its edges, in a gap, outside the pool. */
static uint64_t gen_pfn(struct rng *r, const struct oracle *o)
{
    const struct oracle_run *run = &o->runs[below(r, o->nruns)];
    uint64_t k = below(r, 10);
    if (k < 5)
        return run->base_pfn + below(r, run->frames);
    if (k < 7)
        return run->base_pfn + (below(r, 2) ? run->frames : 0) + below(r, 3) - 1;
    if (k < 8)
        return run->base_pfn + below(r, run->frames / 512 + 1) * 512;
    const uint64_t lo = o->runs[0].base_pfn, hi = o->runs[o->nruns - 1].base_pfn +
                                                  o->runs[o->nruns - 1].frames;
    return lo - 1000 + below(r, hi - lo + 2000);
}

static struct mmc_search gen_request(struct rng *r, const struct oracle *o, unsigned nnodes)
{
    struct mmc_search rq = {.frames = gen_frames(r), .highest_pfn = UINT64_MAX,
                            .node_mask = ~0ull};
    uint64_t k = below(r, 100);
    if (k < 45) {
        if (below(r, 2))
            rq.highest_pfn = (UINT64_MAX >> 12); /* what "any address" becomes in nt.c */
    } else if (k < 90) {
        uint64_t a = gen_pfn(r, o), b = below(r, 3) ? gen_pfn(r, o) : a + rq.frames - 1 + below(r, 4);
        rq.lowest_pfn = a < b ? a : b;
        rq.highest_pfn = a < b ? b : a;
        if (below(r, 4) == 0)
            rq.lowest_pfn = 0;
        else if (below(r, 4) == 0)
            rq.highest_pfn = UINT64_MAX;
    } else if (k < 95) {
        rq.lowest_pfn = gen_pfn(r, o);
        rq.highest_pfn = rq.lowest_pfn + rq.frames - 1; /* exactly one place */
    } else { /* empty or too small: must fail */
        rq.lowest_pfn = gen_pfn(r, o);
        rq.highest_pfn = rq.lowest_pfn + rq.frames - 1 - below(r, rq.frames + 1);
        if (below(r, 2))
            rq.highest_pfn = rq.lowest_pfn - 1 - below(r, 100);
    }
    k = below(r, 100);
    unsigned lg = ceil_log2(rq.frames);
    if (k < 55)
        rq.boundary_frames = 0;
    else if (k < 88)
        rq.boundary_frames = 1ull << (lg + below(r, 7));
    else if (k < 96)
        rq.boundary_frames = 1ull << (lg + below(r, 41 - lg));
    else if (lg > 0)
        rq.boundary_frames = 1ull << below(r, lg); /* smaller than the block: must fail */
    k = below(r, 100);
    if (k < 50)
        rq.node_mask = ~0ull;
    else if (k < 80)
        rq.node_mask = 1ull << below(r, nnodes);
    else if (k < 95)
        rq.node_mask = rnd(r) & ((1ull << nnodes) - 1); /* may be 0: must fail */
    else
        rq.node_mask = rnd(r) & ~((1ull << nnodes) - 1); /* only absent nodes */
    if (below(r, 100) < 3)
        rq.max_work = 1 + below(r, 4096);
    return rq;
}

static struct oracle_rq to_orq(const struct mmc_search *rq)
{
    return (struct oracle_rq){rq->frames, rq->lowest_pfn, rq->highest_pfn, rq->boundary_frames,
                              rq->node_mask};
}

static void print_rq(const char *pfx, const struct mmc_search *rq)
{
    printf("%s request: %" PRIu64 " frames, PFN [%#" PRIx64 ", %#" PRIx64 "], boundary %" PRIu64
           " frames, node mask %#" PRIx64 ", max_work %" PRIu64 "\n", pfx, rq->frames,
           rq->lowest_pfn, rq->highest_pfn, rq->boundary_frames, rq->node_mask, rq->max_work);
}

/* ---- frame numbers ----
 * The oracle numbers the layout's frames its own way (the k-th frame of its hugepages in PFN
 * order); the frame database by PFN - base_pfn. The test's ownership map is the oracle's. */

static int64_t index_of_pfn(const struct oracle *o, uint64_t nh, uint64_t pfn)
{
    for (uint64_t lo = 0, hi = nh; lo < hi;) { /* the hugepage holding pfn, by bisection */
        uint64_t mid = lo + (hi - lo) / 2;
        if (pfn < o->hp_pfn[mid])
            hi = mid;
        else if (pfn - o->hp_pfn[mid] >= o->hp_frames)
            lo = mid + 1;
        else
            return (int64_t)(mid * o->hp_frames + (pfn - o->hp_pfn[mid]));
    }
    return -1;
}

/* The oracle's frame of database frame i (present), or -1. */
static int64_t orc_of(const struct mmc_frames *f, const struct oracle *o, uint64_t i)
{
    return index_of_pfn(o, o->nframes / o->hp_frames, f->base_pfn + i);
}

/* The database's frame of oracle frame k. */
static uint64_t eng_of(const struct mmc_frames *f, const struct oracle *o, uint64_t k)
{
    return oracle_pfn(o, k) - f->base_pfn;
}

/* ---- internal mode ---- */

struct tally {
    uint64_t ops, allocs, found, none, false_fail, eagain, frees;
    double find_s;              /* seconds inside engine->find */
};

struct live {
    uint64_t first, frames;
};

static uint64_t case_seed(uint64_t seed, uint64_t idx)
{
    uint64_t x = seed ^ (idx * 0x632be59bd9b4e019ull);
    return splitmix(&x);
}

/* Recount the frame database and compare with its counters and the ownership map (0 free,
 * 1 used, 2 absent: a hugepage not yet in the pool), over every hugepage of the layout. */
static bool recount(const struct mmc_frames *f, const struct oracle *o, const uint8_t *used,
                    const char *where)
{
    uint64_t node_free[MMC_MAX_NODES] = {0}, total = 0, disagree = 0, first_bad = 0, present = 0;
    const uint64_t nh = o->nframes / o->hp_frames;
    for (uint64_t h = 0; h < nh; h++) {
        const uint8_t *u = used + h * o->hp_frames;
        const uint64_t i0 = o->hp_pfn[h] - f->base_pfn;
        uint64_t nfree = 0, bad = 0;
        const uint32_t ord = mmc_frame_ord(f, i0);
        bad += (ord != MMC_ORD_NONE) != (u[0] != 2);
        present += ord != MMC_ORD_NONE;
        /* the hugepage's free plane read once (an absent one has no free frame) */
        const uint64_t *fw = ord != MMC_ORD_NONE ? mmc_frames_words(f, MMC_PLANE_FREE, ord) : NULL;
        for (uint64_t j = 0; j < o->hp_frames; j++) {
            bool is_free = fw && ((fw[j >> 6] >> (j & 63)) & 1);
            nfree += is_free;
            bad += is_free != (u[j] == 0);
        }
        if (bad && !disagree)
            first_bad = i0;
        disagree += bad;
        node_free[o->hp_node[h]] += nfree;
        total += nfree;
    }
    bool good = total == f->free_frames && !disagree && present == f->nhugepages;
    for (unsigned n = 0; n < MMC_MAX_NODES; n++)
        good = good && node_free[n] == f->node_free[n];
    if (!good)
        printf("# %s: recount %" PRIu64 " free, database says %" PRIu64 "; %" PRIu64 " frames "
               "disagree with the ownership map (first near frame %" PRIu64 "); %" PRIu64
               " hugepages present, database says %" PRIu64 "\n", where, total, f->free_frames,
               disagree, first_bad, present, f->nhugepages);
    return good;
}

/* Hugepages of the layout held back (held[h]) with mark == h's batch enter the pool: the
 * database's reserve, the engine's, the database's add, the engine's add per hugepage. */
static bool grow_batch(const struct mmc_engine_ops *e, void *st, struct mmc_frames *f,
                       const struct oracle *o, uint8_t *held, uint8_t mark, uint8_t *used,
                       uint64_t *free_total, uint64_t *node_free, const char *where)
{
    const uint64_t nh = o->nframes / o->hp_frames;
    uint64_t *pfn = malloc(nh * sizeof(*pfn)), n = 0;
    uint8_t *node = malloc(nh);
    bool good = pfn && node;
    for (uint64_t h = 0; good && h < nh; h++)
        if (held[h] == mark)
            pfn[n] = o->hp_pfn[h], node[n++] = o->hp_node[h];
    if (good && n) {
        int rc = _mmc_frames_reserve(f, n, pfn, node);
        if (rc == 0)
            rc = e->reserve(st, n, pfn);
        good = rc == 0;
        if (!good)
            printf("# %s: reserving room for %" PRIu64 " hugepages failed: %d\n", where, n, rc);
    }
    if (good && n) {
        _mmc_frames_add(f, n, pfn, node);
        for (uint64_t a = 0; a < n; a++)
            e->add(st, pfn[a] - f->base_pfn);
        for (uint64_t h = 0; h < nh; h++) {
            if (held[h] != mark)
                continue;
            held[h] = 0;
            memset(used + h * o->hp_frames, 0, o->hp_frames);
            *free_total += o->hp_frames;
            node_free[o->hp_node[h]] += o->hp_frames;
        }
    }
    free(pfn);
    free(node);
    return good;
}

static bool run_internal(const struct mmc_engine_ops *e, size_t ci, uint64_t seed, double scale,
                         struct tally *t)
{
    const struct layout_case *c = &cases[ci];
    struct mmc_sim_spec spec = c->spec;
    spec.seed = case_seed(seed, ci);
    uint64_t *hp_pfn = NULL, nh = 0;
    uint8_t *hp_node = NULL;
    struct mmc_frames f;
    struct oracle o = {0};
    void *st = NULL;
    bool good = true;
    char where[200];

    int lrc = spec.pool_bytes ? _mmc_sim_synthetic(&spec, &hp_pfn, &hp_node, &nh)
              : c->sparse     ? sparse_layout(spec.seed, &hp_pfn, &hp_node, &nh)
                              : edge_layout(&hp_pfn, &hp_node, &nh);
    if (lrc < 0) {
        printf("# layout: %s\n", mmc_last_error());
        return false;
    }
    const uint64_t hp_frames = spec.page_bytes >> MMC_FRAME_SHIFT, layout_frames = nh * hp_frames;
    struct rng r;
    rng_seed(&r, spec.seed);
    /* Growth: a quarter of the hugepages (at random; at least one stays) are held back and
     * enter the pool a third and two thirds of the way through (batches 1 and 2). */
    uint8_t *held = calloc(nh, 1), *pnode = malloc(nh);
    uint64_t *ppfn = malloc(nh * sizeof(*ppfn)), np = 0, base = 0, span = 0;
    uint8_t *used = calloc(layout_frames, 1);
    struct live *live = malloc((layout_frames + 1) * sizeof(*live));
    if (!held || !pnode || !ppfn || !used || !live) {
        printf("# out of memory\n");
        free(held), free(pnode), free(ppfn), free(used), free(live), free(hp_pfn), free(hp_node);
        return false;
    }
    for (uint64_t h = 0; h < nh; h++) {
        if (nh > 1 && below(&r, 4) == 0 && np + 1 < nh)
            held[h] = (uint8_t)(1 + below(&r, 2));
        if (held[h])
            memset(used + h * hp_frames, 2, hp_frames);
        else
            ppfn[np] = hp_pfn[h], pnode[np++] = hp_node[h];
    }
    if (np == 0) /* every hugepage drew "held": the first one stays */
        held[0] = 0, ppfn[np] = hp_pfn[0], pnode[np++] = hp_node[0], memset(used, 0, hp_frames);
    layout_span(hp_pfn, nh, hp_frames, &base, &span);
    if (_mmc_frames_init(&f, base, span, hp_frames, np, ppfn, pnode) < 0) {
        printf("# _mmc_frames_init failed over the span [%#" PRIx64 ", +%#" PRIx64 ")\n", base, span);
        free(held), free(pnode), free(ppfn), free(used), free(live), free(hp_pfn), free(hp_node);
        return false;
    }
    free(ppfn);
    free(pnode);
    if (oracle_init(&o, hp_frames, nh, hp_pfn, hp_node, used) < 0 || e->create(&f, &st) < 0) {
        printf("# out of memory\n");
        good = false;
        goto out;
    }
    snprintf(where, sizeof(where), "seed %" PRIu64 ", engine %s, layout %zu (%s), built", seed,
             e->name, ci, c->name);
    good = memory_ok(e, st, &f, where);
    {   /* the database refuses a hugepage it has and one outside its span */
        const uint64_t in = f.hp_pfn[0], out_pfn = f.base_pfn + f.nframes;
        const uint8_t n0 = 0;
        good = good && _mmc_frames_reserve(&f, 1, &in, &n0) == -EEXIST &&
               _mmc_frames_reserve(&f, 1, &out_pfn, &n0) == -EINVAL;
        if (!good)
            printf("# %s: _mmc_frames_reserve took a present hugepage or one outside the span\n", where);
    }

    uint64_t nlive = 0, free_total = f.free_frames, node_free[MMC_MAX_NODES] = {0};
    for (unsigned n = 0; n < MMC_MAX_NODES; n++)
        node_free[n] = f.node_free[n];
    const uint64_t ops = (uint64_t)((double)c->ops * scale) + 1;
    const bool exact = engine_top_down(e), incomplete = engine_incomplete(e);
    const uint64_t recount_every = layout_frames <= (1u << 17) ? 1 : 16;

    for (uint64_t step = 0; step < ops && good; step++) {
        snprintf(where, sizeof(where), "seed %" PRIu64 ", engine %s, layout %zu (%s), step %" PRIu64,
                 seed, e->name, ci, c->name, step);
        if ((step == ops / 3 || step == 2 * ops / 3) &&
            !grow_batch(e, st, &f, &o, held, step == ops / 3 ? 1 : 2, used, &free_total, node_free,
                        where)) {
            good = false;
            break;
        }
        if (step == 2 * ops / 3 && o.nruns != f.nruns) { /* every hugepage is in: the same runs */
            printf("# %s: the oracle sees %" PRIu64 " runs, the frame database %" PRIu64 "\n",
                   where, o.nruns, f.nruns);
            good = false;
            break;
        }
        if (step == ops / 2) { /* rebuild from the database's current state */
            e->destroy(st);
            st = NULL;
            if (e->create(&f, &st) < 0) {
                printf("# %s: rebuilding the engine failed\n", where);
                good = false;
                break;
            }
        }
        /* phases: fill, churn, drain */
        double fill = 1.0 - (double)free_total / (double)f.present_frames;
        unsigned p_alloc = fill < 0.5 ? 70 : fill < 0.85 ? 52 : 35;
        if ((step / 3000) % 4 == 3)
            p_alloc = 20;
        t->ops++;
        if (nlive == 0 || below(&r, 100) < p_alloc) {
            struct mmc_search rq = gen_request(&r, &o, f.nnodes);
            struct oracle_rq orq = to_orq(&rq);
            uint64_t ofirst = 0, first = UINT64_MAX;
            bool exists = oracle_find_highest(&o, &orq, &ofirst);
            double t0 = now_s();
            uint64_t work = 0;
            int rc = e->find(st, &rq, &first, &work);
            const int64_t kfirst = rc == 0 ? orc_of(&f, &o, first) : -1; /* the oracle's number */
            t->find_s += now_s() - t0;
            t->allocs++;
            /* the bound holds for the work the engine reports, within a few units (an engine
             * checks it once per step of its innermost loops) */
            if (rq.max_work && work > rq.max_work + 2) {
                printf("# %s: work %" PRIu64 " past max_work %" PRIu64 "\n", where, work, rq.max_work);
                print_rq("#", &rq);
                good = false;
                break;
            }
            if (rc == -EAGAIN && rq.max_work && work < rq.max_work) {
                printf("# %s: -EAGAIN after %" PRIu64 " units of work, below max_work %" PRIu64 "\n",
                       where, work, rq.max_work);
                good = false;
                break;
            }
            if (rc == 0) {
                t->found++;
                bool fits = _mmc_search_fits(&f, &rq, first),
                     ofits = kfirst >= 0 && oracle_fits(&o, &orq, (uint64_t)kfirst);
                if (!fits || !ofits || !exists || (exact && (uint64_t)kfirst != ofirst)) {
                    printf("# %s: engine returned frame %" PRIu64 " (PFN %#" PRIx64 "); "
                           "_mmc_search_fits %d, oracle fits %d; oracle: %s frame %" PRIu64
                           " (PFN %#" PRIx64 ")\n", where, first,
                           first < f.nframes ? mmc_frame_pfn(&f, first) : 0, fits, ofits,
                           exists ? "highest block at" : "no block", ofirst,
                           exists ? oracle_pfn(&o, ofirst) : 0);
                    print_rq("#", &rq);
                    good = false;
                    break;
                }
                for (uint64_t i = (uint64_t)kfirst; i < (uint64_t)kfirst + rq.frames; i++) {
                    if (used[i]) { /* cannot happen if the oracle holds; checked anyway */
                        printf("# %s: frame %" PRIu64 " handed out twice\n", where, eng_of(&f, &o, i));
                        good = false;
                    }
                    used[i] = 1;
                }
                _mmc_frames_set(&f, first, rq.frames, MMC_FRAME_CONTIG | MMC_FRAME_HEAD);
                e->take(st, first, rq.frames);
                live[nlive++] = (struct live){first, rq.frames};
                free_total -= rq.frames;
                node_free[oracle_node(&o, (uint64_t)kfirst)] -= rq.frames;
            } else if (rc == -EAGAIN) {
                t->eagain++;
                if (!rq.max_work) {
                    printf("# %s: -EAGAIN without max_work\n", where);
                    print_rq("#", &rq);
                    good = false;
                }
            } else if (rc == -ENOMEM) {
                t->none++;
                if (exists) {
                    t->false_fail++;
                    if (!incomplete) {
                        printf("# %s: false failure: the engine found nothing, the oracle a "
                               "block at frame %" PRIu64 " (PFN %#" PRIx64 ")\n", where,
                               eng_of(&f, &o, ofirst), oracle_pfn(&o, ofirst));
                        print_rq("#", &rq);
                        good = false;
                    }
                }
            } else {
                printf("# %s: find returned %d\n", where, rc);
                good = false;
            }
        } else {
            uint64_t k = below(&r, nlive);
            struct live b = live[k];
            live[k] = live[--nlive];
            const uint64_t kb = (uint64_t)orc_of(&f, &o, b.first);
            for (uint64_t i = kb; i < kb + b.frames; i++)
                used[i] = 0;
            _mmc_frames_set(&f, b.first, b.frames, MMC_FRAME_FREE);
            e->give(st, b.first, b.frames);
            free_total += b.frames;
            node_free[oracle_node(&o, kb)] += b.frames;
            t->frees++;
        }
        if (f.free_frames != free_total) {
            printf("# %s: free_frames %" PRIu64 ", the test counts %" PRIu64 "\n", where,
                   f.free_frames, free_total);
            good = false;
        }
        for (unsigned n = 0; n < MMC_MAX_NODES; n++)
            if (f.node_free[n] != node_free[n]) {
                printf("# %s: node_free[%u] %" PRIu64 ", the test counts %" PRIu64 "\n", where, n,
                       f.node_free[n], node_free[n]);
                good = false;
            }
        if (good && (step % recount_every == 0 || step + 1 == ops))
            good = recount(&f, &o, used, where);
    }
    /* the metadata function works on any state, and the rule holds after growth */
    good = good && memory_ok(e, st, &f, where);
out:
    if (st)
        e->destroy(st);
    oracle_fini(&o);
    free(live);
    free(used);
    free(held);
    _mmc_frames_destroy(&f);
    free(hp_pfn);
    free(hp_node);
    return good;
}

/* ---- public mode: a simulated partition through the NT routines ---- */

struct pub_case {
    struct mmc_sim_config cfg;
    uint64_t ops;
    uint64_t window_frames;     /* 0: any range; else ranges at most this wide (keeps 1 TiB fast) */
};

struct pub_out {
    double create_s;            /* mmc_partition_create_simulated */
    double bytes_per_frame;     /* engine metadata per frame of pool */
    double bytes_per_span_frame; /* and per frame of span */
    double alloc_s;             /* inside MmAllocateContiguousMemoryEx */
    uint64_t allocs;            /* calls of it */
};

static bool run_public(const struct mmc_engine_ops *e, const struct pub_case *pc, uint64_t seed,
                       const char *label, struct pub_out *out)
{
    mmc_partition_t *h = NULL;
    struct mmc_sim_config cfg = pc->cfg;
    snprintf(cfg.algo, sizeof(cfg.algo), "%s", e->name);
    char where[200];
    double t0 = now_s();
    int rc = mmc_partition_create_simulated(&cfg, &h);
    out->create_s = now_s() - t0;
    if (rc < 0) {
        printf("# %s, engine %s: mmc_partition_create_simulated: %s\n", label, e->name,
               mmc_last_error());
        return false;
    }
    struct mmc_partition *part = h; /* white box: the test links the internal archive */
    const struct mmc_frames *f = &part->frames;
    out->bytes_per_frame = (double)part->engine->metadata_bytes(part->engine_state) /
                           (double)f->present_frames;
    out->bytes_per_span_frame = (double)part->engine->metadata_bytes(part->engine_state) /
                                (double)f->nframes;
    uint8_t *used = calloc(f->present_frames, 1);
    struct oracle o = {0};
    struct live *live = malloc(pc->ops * sizeof(*live));
    void **bases = malloc(pc->ops * sizeof(*bases));
    bool good = used && live && bases &&
                oracle_init(&o, f->hp_frames, f->nhugepages, f->hp_pfn, f->hp_node, used) == 0;
    struct rng r;
    rng_seed(&r, seed);
    uint64_t nlive = 0, free_total = f->present_frames;
    const bool exact = engine_top_down(e), incomplete = engine_incomplete(e);
    const ULONG tag = 0x74736554; /* 'Test' */

    for (uint64_t step = 0; step < pc->ops && good; step++) {
        snprintf(where, sizeof(where), "seed %" PRIu64 ", engine %s, %s, step %" PRIu64, seed,
                 e->name, label, step);
        if (nlive == 0 || below(&r, 100) < (free_total * 4 > f->present_frames ? 60u : 35u)) {
            struct mmc_search rq = gen_request(&r, &o, f->nnodes);
            if (pc->window_frames && (rq.highest_pfn - rq.lowest_pfn > pc->window_frames ||
                                      rq.lowest_pfn > rq.highest_pfn)) {
                rq.lowest_pfn = gen_pfn(&r, &o);
                rq.highest_pfn = rq.lowest_pfn + below(&r, pc->window_frames);
            }
            /* NT arguments: bytes, acceptable addresses, a boundary in bytes (>= the size,
             * else the call fails before any search), a preferred node or any */
            if (rq.boundary_frames && rq.boundary_frames < rq.frames)
                rq.boundary_frames = 0;
            if (rq.boundary_frames > (1ull << 40))
                rq.boundary_frames = 1ull << 40;
            if (rq.highest_pfn > (UINT64_MAX >> 13))
                rq.highest_pfn = UINT64_MAX >> 12; /* 0xffff...: the last page in full */
            if (rq.lowest_pfn > rq.highest_pfn)
                rq.lowest_pfn = rq.highest_pfn;
            SIZE_T bytes = rq.frames * PAGE_SIZE - below(&r, 2) * below(&r, PAGE_SIZE);
            PHYSICAL_ADDRESS lo = {.QuadPart = (LONGLONG)(rq.lowest_pfn * PAGE_SIZE -
                                                          (rq.lowest_pfn ? below(&r, 2) * below(&r, PAGE_SIZE - 1) : 0))};
            PHYSICAL_ADDRESS hi = {.QuadPart = (LONGLONG)(rq.highest_pfn * PAGE_SIZE + PAGE_SIZE - 1 -
                                                          below(&r, 2) * below(&r, PAGE_SIZE))};
            PHYSICAL_ADDRESS bnd = {.QuadPart = (LONGLONG)(rq.boundary_frames * PAGE_SIZE)};
            /* lo rounds up to rq.lowest_pfn unless it was a page boundary minus < 4095 */
            rq.lowest_pfn = ((uint64_t)lo.QuadPart + PAGE_SIZE - 1) / PAGE_SIZE;
            rq.highest_pfn = (uint64_t)hi.QuadPart / PAGE_SIZE;
            ULONG pref = below(&r, 2) ? MM_ANY_NODE_OK : (ULONG)below(&r, f->nnodes);
            /* the NT layer's order: the preferred node (0 for any), then the others ascending */
            unsigned order[MMC_MAX_NODES], nord = 0, from = pref == MM_ANY_NODE_OK ? 0 : pref;
            order[nord++] = from;
            for (unsigned n = 0; n < f->nnodes; n++)
                if (n != from)
                    order[nord++] = n;
            uint64_t ofirst = 0;
            bool exists = false;
            struct oracle_rq orq = to_orq(&rq);
            if (rq.lowest_pfn <= rq.highest_pfn && rq.highest_pfn - rq.lowest_pfn >= rq.frames - 1)
                for (unsigned k = 0; k < nord && !exists; k++) {
                    orq.node_mask = 1ull << order[k];
                    exists = oracle_find_highest(&o, &orq, &ofirst);
                }
            PVOID base = NULL;
            SIZE_T nb = bytes;
            double ta = now_s();
            NTSTATUS s = MmAllocateContiguousMemoryEx(&nb, lo, hi, bnd, pref, PAGE_READWRITE, h, tag,
                                                      0, &base);
            out->alloc_s += now_s() - ta;
            out->allocs++;
            if (s == STATUS_SUCCESS) {
                PHYSICAL_ADDRESS pa = MmGetPhysicalAddress(base);
                int64_t first = index_of_pfn(&o, f->nhugepages, (uint64_t)pa.QuadPart / PAGE_SIZE);
                struct mmc_alloc_info info;
                orq.node_mask = ~0ull;
                bool ok = first >= 0 && (pa.QuadPart & (PAGE_SIZE - 1)) == 0 &&
                          nb == rq.frames * PAGE_SIZE && oracle_fits(&o, &orq, (uint64_t)first) &&
                          /* the views are addressed by physical address */
                          (char *)base == _mmc_pool_va(&part->pool, (uint64_t)pa.QuadPart / PAGE_SIZE, false) &&
                          mmc_query(base, &info) == 0 && info.base == base &&
                          info.bytes == nb && info.base_phys == (uint64_t)pa.QuadPart &&
                          info.node == oracle_node(&o, (uint64_t)first) && info.tag == tag &&
                          exists && (!exact || (uint64_t)first == ofirst);
                if (!ok) {
                    printf("# %s: block at %p, physical %#" PRIx64 " (frame %" PRId64 ") does "
                           "not satisfy the request or is not the oracle's (%s, frame %" PRIu64
                           ")\n", where, base, (uint64_t)pa.QuadPart, first,
                           exists ? "exists" : "none", ofirst);
                    print_rq("#", &rq);
                    good = false;
                    break;
                }
                for (uint64_t i = (uint64_t)first; i < (uint64_t)first + rq.frames; i++)
                    used[i] = 1;
                live[nlive] = (struct live){(uint64_t)first, rq.frames};
                bases[nlive++] = base;
                free_total -= rq.frames;
            } else if (s == STATUS_INSUFFICIENT_RESOURCES) {
                if (exists && !incomplete) {
                    printf("# %s: false failure: the oracle has a block at frame %" PRIu64 "\n",
                           where, ofirst);
                    print_rq("#", &rq);
                    good = false;
                }
            } else {
                printf("# %s: status %#x\n", where, (unsigned)s);
                print_rq("#", &rq);
                good = false;
            }
        } else {
            uint64_t k = below(&r, nlive);
            MmFreeContiguousMemory(bases[k]);
            for (uint64_t i = live[k].first; i < live[k].first + live[k].frames; i++)
                used[i] = 0;
            free_total += live[k].frames;
            live[k] = live[--nlive];
            bases[k] = bases[nlive];
        }
        if (f->free_frames != free_total || part->blocks_live != nlive) {
            printf("# %s: partition has %" PRIu64 " free frames and %" PRIu64 " blocks, the test "
                   "counts %" PRIu64 " and %" PRIu64 "\n", where, f->free_frames,
                   part->blocks_live, free_total, nlive);
            good = false;
        }
    }
    if (good && f->present_frames <= (1u << 20)) {
        struct mmc_stats stv;
        good = mmc_partition_stats(h, &stv) == 0 && stv.free_frames == free_total &&
               stv.live_blocks == nlive && !strcmp(stv.algo, e->name) && stv.nnodes == f->nnodes;
        if (!good)
            printf("# %s: mmc_partition_stats disagrees\n", label);
        good = good && recount(f, &o, used, label);
    }
    for (uint64_t k = 0; k < nlive; k++)
        MmFreeContiguousMemory(bases[k]);
    good = good && f->free_frames == f->present_frames && part->blocks_live == 0;
    mmc_partition_destroy(h);
    oracle_fini(&o);
    free(used);
    free(live);
    free(bases);
    return good;
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
    cfg.seed = case_seed(seed, 300);
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
    double t0 = now_s();
    good = e->create(&f, &st) == 0;
    *create_us = (now_s() - t0) * 1e6;
    double t_add = 0;
    for (uint64_t k = 0; good && k < nl; k++) {
        t0 = now_s();
        good = _mmc_frames_reserve(&f, 1, &late[k], node) == 0 && e->reserve(st, 1, &late[k]) == 0;
        if (good) {
            _mmc_frames_add(&f, 1, &late[k], node);
            e->add(st, late[k] - f.base_pfn);
        }
        t_add += now_s() - t0;
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
        struct tally all = {0};
        double t0 = now_s();
        for (size_t ci = 0; ci < NCASES; ci++) {
            if (only_layout >= 0 && (size_t)only_layout != ci)
                continue;
            struct tally t = {0};
            bool good = run_internal(e, ci, seed, scale, &t);
            t_ok(good, "%s: layout %zu (%s): %" PRIu64 " ops, %" PRIu64 " found, %" PRIu64
                 " none, %" PRIu64 " -EAGAIN, agrees with the oracle", e->name, ci, cases[ci].name,
                 t.ops, t.found, t.none, t.eagain);
            all.ops += t.ops, all.allocs += t.allocs, all.found += t.found, all.none += t.none;
            all.false_fail += t.false_fail, all.eagain += t.eagain, all.find_s += t.find_s;
        }
        printf("# engine %s: %" PRIu64 " ops (%" PRIu64 " searches) in %.2f s, %.3f s in find "
               "(%.2f us per search)\n", e->name, all.ops, all.allocs, now_s() - t0, all.find_s,
               all.allocs ? all.find_s * 1e6 / (double)all.allocs : 0.0);
        if (engine_incomplete(e))
            printf("# engine %s declares itself incomplete: %" PRIu64 " false failures in %" PRIu64
                   " searches (%.3f%%)\n", e->name, all.false_fail, all.allocs,
                   all.allocs ? 100.0 * (double)all.false_fail / (double)all.allocs : 0.0);
    }

    /* public mode, without mmc_init() */
    for (size_t ei = 0; _mmc_engines[ei]; ei++) {
        const struct mmc_engine_ops *e = _mmc_engines[ei];
        if (only_engine && strcmp(only_engine, e->name))
            continue;
        struct pub_case pc = {.ops = (uint64_t)(3000 * scale) + 1};
        mmc_sim_config_init(&pc.cfg);
        pc.cfg.pool_bytes = 256 * MMC_MIB;
        pc.cfg.mean_run_hugepages = 3;
        pc.cfg.nnodes = 3;
        pc.cfg.seed = case_seed(seed, 100);
        double t0 = now_s();
        struct pub_out po = {0};
        bool good = run_public(e, &pc, case_seed(seed, 101), "public API, 256 MiB, 3 nodes", &po);
        t_ok(good, "%s: simulated partition through the NT routines: %" PRIu64 " ops (%.2f s)",
             e->name, pc.ops, now_s() - t0);
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
        struct pub_case pc = {.ops = 300, .window_frames = 1ull << 20};
        mmc_sim_config_init(&pc.cfg);
        pc.cfg.pool_bytes = 1024 * MMC_GIB;
        pc.cfg.mean_run_hugepages = 4;
        pc.cfg.nnodes = 2;
        pc.cfg.seed = case_seed(seed, 200);
        struct pub_out po = {0};
        double t0 = now_s();
        bool good = run_public(e, &pc, case_seed(seed, 201), "1 TiB", &po);
        printf("# engine %s: %.3f bytes per frame of pool at 1 TiB (%.5f per frame of span; "
               "beyond the frame database's own), created in %.2f s, %.1f us per "
               "MmAllocateContiguousMemoryEx\n", e->name, po.bytes_per_frame,
               po.bytes_per_span_frame, po.create_s,
               po.allocs ? po.alloc_s * 1e6 / (double)po.allocs : 0.0);
        t_ok(good, "%s: 1 TiB simulated partition (2^28 frames): %" PRIu64 " ops (%.2f s)",
             e->name, pc.ops, now_s() - t0);
    }

    mmc_fini();
    printf("1..%d\n", t_count);
    if (t_failed)
        printf("# %d of %d failed (seed %" PRIu64 ")\n", t_failed, t_count, seed);
    return t_failed ? 1 : 0;
}
