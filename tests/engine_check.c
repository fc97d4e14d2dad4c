/* tests/engine_check.c: the differential test of a search engine against the exhaustive
 * oracle, as tests/test_engines.c and `mmcontig check-engine` run it (engine_check.h says what
 * it checks). Internal mode is a machine that executes one operation at a time (allocate with
 * a request, free a block, let held-back hugepages enter, rebuild the engine), so that the same
 * operations run from the seeded generator, from a trace file, or from a shrunken trace.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine_check.h"
#include "mmcontig/wdm.h"
#include "oracle.h"

bool ec_quiet;
static char *say_first;         /* the first message of a run, kept here if not NULL */
static size_t say_first_len;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    if (say_first && !*say_first) { /* kept without the "# " and the newline */
        char msg[512];
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        const char *m = strncmp(msg, "# ", 2) ? msg : msg + 2;
        snprintf(say_first, say_first_len, "%.*s", (int)strcspn(m, "\n"), m);
    }
    if (ec_quiet)
        return;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
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

double ec_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- what the test knows about engines ---- */

/* Engines declare their contract in their one-line summary. "top-down first fit": the
 * placement is the highest-PFN satisfying block, linear's, compared exactly. */
bool ec_engine_top_down(const struct mmc_engine_ops *e)
{
    return e->summary && strstr(e->summary, "top-down first fit");
}

/* "bottom-up first fit": the lowest-PFN satisfying block, compared exactly. */
bool ec_engine_bottom_up(const struct mmc_engine_ops *e)
{
    return e->summary && strstr(e->summary, "bottom-up first fit");
}

/* "incomplete": may fail while a block exists; false failures are counted, not failed. */
bool ec_engine_incomplete(const struct mmc_engine_ops *e)
{
    return e->summary && strstr(e->summary, "incomplete");
}

/* ---- layouts ---- */

#define MAX_FRAMES_RQ 16384 /* 64 MiB */

const struct ec_layout ec_layouts[] = {
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
const size_t ec_nlayouts = sizeof(ec_layouts) / sizeof(ec_layouts[0]);

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
    say("# %s: the engine's index is %.0f bytes: %.3f per frame of pool, %.6f per frame of span; "
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
    say("%s request: %" PRIu64 " frames, PFN [%#" PRIx64 ", %#" PRIx64 "], boundary %" PRIu64
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

uint64_t ec_case_seed(uint64_t seed, uint64_t idx)
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
    bool good = total == mmc_frames_free(f) && !disagree && present == f->nhugepages;
    for (unsigned n = 0; n < MMC_MAX_NODES; n++)
        good = good && node_free[n] == f->node[n].free;
    if (!good)
        say("# %s: recount %" PRIu64 " free, database says %" PRIu64 "; %" PRIu64 " frames "
               "disagree with the ownership map (first near frame %" PRIu64 "); %" PRIu64
               " hugepages present, database says %" PRIu64 "\n", where, total, mmc_frames_free(f),
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
            say("# %s: reserving room for %" PRIu64 " hugepages failed: %d\n", where, n, rc);
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

/* ---- internal mode: the machine ---- */

struct live {
    uint64_t first, frames;
    uint64_t op;                /* the EC_ALLOC op that took it */
};

struct machine {
    const struct mmc_engine_ops *e;
    size_t ci;
    uint64_t seed;
    uint64_t *hp_pfn, nh, hp_frames, layout_frames;
    uint8_t *hp_node, *held, *used;
    struct mmc_frames f;
    bool f_ok;
    struct oracle o;
    void *st;
    struct live *live;
    uint64_t nlive, free_total, node_free[MMC_MAX_NODES];
    uint64_t recount_every;
    bool exact_top, exact_bottom, incomplete;
    struct rng r;               /* the generator's, after the held-back hugepages were drawn */
    struct ec_tally *t;
    char where[256];
};

static void machine_fini(struct machine *m)
{
    if (m->st)
        m->e->destroy(m->st);
    oracle_fini(&m->o);
    if (m->f_ok)
        _mmc_frames_destroy(&m->f);
    free(m->live), free(m->used), free(m->held), free(m->hp_pfn), free(m->hp_node);
    memset(m, 0, sizeof(*m));
}

/* Layout ci for seed, a quarter of it held back, the database, the oracle, the engine. */
static bool machine_init(struct machine *m, const struct mmc_engine_ops *e, size_t ci, uint64_t seed,
                         struct ec_tally *t)
{
    memset(m, 0, sizeof(*m));
    m->e = e, m->ci = ci, m->seed = seed, m->t = t;
    const struct ec_layout *c = &ec_layouts[ci];
    struct mmc_sim_spec spec = c->spec;
    spec.seed = ec_case_seed(seed, ci);
    snprintf(m->where, sizeof(m->where), "seed %" PRIu64 ", engine %s, layout %zu (%s), built",
             seed, e->name, ci, c->name);
    int lrc = spec.pool_bytes ? _mmc_sim_synthetic(&spec, &m->hp_pfn, &m->hp_node, &m->nh)
              : c->sparse     ? sparse_layout(spec.seed, &m->hp_pfn, &m->hp_node, &m->nh)
                              : edge_layout(&m->hp_pfn, &m->hp_node, &m->nh);
    if (lrc < 0) {
        say("# layout: %s\n", mmc_last_error());
        return false;
    }
    const uint64_t nh = m->nh, hp_frames = spec.page_bytes >> MMC_FRAME_SHIFT;
    m->hp_frames = hp_frames;
    m->layout_frames = nh * hp_frames;
    rng_seed(&m->r, spec.seed);
    /* Growth: a quarter of the hugepages (at random; at least one stays) are held back and
     * enter the pool a third and two thirds of the way through (batches 1 and 2). */
    m->held = calloc(nh, 1);
    uint8_t *pnode = malloc(nh);
    uint64_t *ppfn = malloc(nh * sizeof(*ppfn)), np = 0, base = 0, span = 0;
    m->used = calloc(m->layout_frames, 1);
    m->live = malloc((m->layout_frames + 1) * sizeof(*m->live));
    if (!m->held || !pnode || !ppfn || !m->used || !m->live) {
        say("# out of memory\n");
        free(pnode), free(ppfn);
        return false;
    }
    for (uint64_t h = 0; h < nh; h++) {
        if (nh > 1 && below(&m->r, 4) == 0 && np + 1 < nh)
            m->held[h] = (uint8_t)(1 + below(&m->r, 2));
        if (m->held[h])
            memset(m->used + h * hp_frames, 2, hp_frames);
        else
            ppfn[np] = m->hp_pfn[h], pnode[np++] = m->hp_node[h];
    }
    if (np == 0) { /* every hugepage drew "held": the first one stays */
        m->held[0] = 0, ppfn[np] = m->hp_pfn[0], pnode[np++] = m->hp_node[0];
        memset(m->used, 0, hp_frames);
    }
    layout_span(m->hp_pfn, nh, hp_frames, &base, &span);
    m->f_ok = _mmc_frames_init(&m->f, base, span, hp_frames, np, ppfn, pnode) == 0;
    free(ppfn);
    free(pnode);
    if (!m->f_ok) {
        say("# _mmc_frames_init failed over the span [%#" PRIx64 ", +%#" PRIx64 ")\n", base, span);
        return false;
    }
    if (oracle_init(&m->o, hp_frames, nh, m->hp_pfn, m->hp_node, m->used) < 0) {
        say("# out of memory\n");
        return false;
    }
    int rc = e->create(&m->f, &m->st);
    if (rc < 0) {
        m->st = NULL;
        say("# %s: the engine's create() failed: %d\n", m->where, rc);
        return false;
    }
    bool good = memory_ok(e, m->st, &m->f, m->where);
    {   /* the database refuses a hugepage it has and one outside its span */
        const uint64_t in = m->f.hp_pfn[0], out_pfn = m->f.base_pfn + m->f.nframes;
        const uint8_t n0 = 0;
        good = good && _mmc_frames_reserve(&m->f, 1, &in, &n0) == -EEXIST &&
               _mmc_frames_reserve(&m->f, 1, &out_pfn, &n0) == -EINVAL;
        if (!good)
            say("# %s: _mmc_frames_reserve took a present hugepage or one outside the span, or "
                "the memory rule failed\n", m->where);
    }
    m->free_total = mmc_frames_free(&m->f);
    for (unsigned n = 0; n < MMC_MAX_NODES; n++)
        m->node_free[n] = m->f.node[n].free;
    m->exact_top = ec_engine_top_down(e);
    m->exact_bottom = ec_engine_bottom_up(e);
    m->incomplete = ec_engine_incomplete(e);
    m->recount_every = m->layout_frames <= (1u << 17) ? 1 : 16;
    return good;
}

/* Execute operation k of a run (op); last: the run's last op (the final checks follow it). */
static bool machine_step(struct machine *m, uint64_t k, const struct ec_op *op, bool last)
{
    const struct mmc_engine_ops *e = m->e;
    struct mmc_frames *f = &m->f;
    struct oracle *o = &m->o;
    struct ec_tally *t = m->t;
    uint8_t *used = m->used;
    char *where = m->where;
    bool good = true;
    snprintf(where, sizeof(m->where), "seed %" PRIu64 ", engine %s, layout %zu (%s), op %" PRIu64,
             m->seed, e->name, m->ci, ec_layouts[m->ci].name, k);
    switch (op->kind) {
    case EC_GROW:
        if (!grow_batch(e, m->st, f, o, m->held, op->mark, used, &m->free_total, m->node_free, where))
            return false;
        bool all_in = true;
        for (uint64_t h = 0; h < m->nh && all_in; h++)
            all_in = !m->held[h];
        if (all_in && o->nruns != f->nruns) { /* every hugepage is in: the same runs */
            say("# %s: the oracle sees %" PRIu64 " runs, the frame database %" PRIu64 "\n", where,
                o->nruns, f->nruns);
            return false;
        }
        break;
    case EC_REBUILD: /* rebuild from the database's current state */
        e->destroy(m->st);
        m->st = NULL;
        if (e->create(f, &m->st) < 0) {
            m->st = NULL;
            say("# %s: rebuilding the engine (create() over the current state) failed\n", where);
            return false;
        }
        break;
    case EC_ALLOC: {
        const struct mmc_search rq = op->rq;
        struct oracle_rq orq = to_orq(&rq);
        uint64_t ofirst = 0, first = UINT64_MAX;
        bool exists = m->exact_bottom ? oracle_find_lowest(o, &orq, &ofirst)
                                      : oracle_find_highest(o, &orq, &ofirst);
        const bool exact = m->exact_top || m->exact_bottom;
        t->ops++;
        double t0 = ec_now();
        uint64_t work = 0;
        int rc = e->find(m->st, &rq, &first, &work);
        t->find_s += ec_now() - t0;
        t->allocs++;
        const int64_t kfirst = rc == 0 ? orc_of(f, o, first) : -1; /* the oracle's number */
        /* the bound holds for the work the engine reports, within a few units (an engine
         * checks it once per step of its innermost loops) */
        if (rq.max_work && work > rq.max_work + 2) {
            say("# %s: work %" PRIu64 " past max_work %" PRIu64 " (rule 4)\n", where, work, rq.max_work);
            print_rq("#", &rq);
            return false;
        }
        if (rc == -EAGAIN && rq.max_work && work < rq.max_work) {
            say("# %s: -EAGAIN after %" PRIu64 " units of work, below max_work %" PRIu64
                " (rule 2)\n", where, work, rq.max_work);
            print_rq("#", &rq);
            return false;
        }
        if (rc == 0) {
            t->found++;
            bool fits = first < f->nframes && mmc_search_fits(f, &rq, first),
                 ofits = kfirst >= 0 && oracle_fits(o, &orq, (uint64_t)kfirst);
            if (!fits || !ofits || !exists || (exact && (uint64_t)kfirst != ofirst)) {
                say("# %s: engine returned frame %" PRIu64 " (PFN %#" PRIx64 "); "
                    "mmc_search_fits %d, oracle fits %d; oracle: %s frame %" PRIu64
                    " (PFN %#" PRIx64 ")%s\n", where, first,
                    first < f->nframes ? mmc_frame_pfn(f, first) : 0, fits, ofits,
                    exists ? (m->exact_bottom ? "lowest block at" : "highest block at") : "no block",
                    exists ? eng_of(f, o, ofirst) : 0, exists ? oracle_pfn(o, ofirst) : 0,
                    fits && ofits && exists ? " (rule 3: placement)" : " (rule 1: exact)");
                print_rq("#", &rq);
                return false;
            }
            for (uint64_t i = (uint64_t)kfirst; i < (uint64_t)kfirst + rq.frames; i++) {
                if (used[i]) { /* cannot happen if the oracle holds; checked anyway */
                    say("# %s: frame %" PRIu64 " handed out twice\n", where, eng_of(f, o, i));
                    good = false;
                }
                used[i] = 1;
            }
            _mmc_frames_set(f, first, rq.frames, MMC_FRAME_CONTIG | MMC_FRAME_HEAD);
            e->take(m->st, first, rq.frames);
            m->live[m->nlive++] = (struct live){first, rq.frames, k};
            m->free_total -= rq.frames;
            m->node_free[oracle_node(o, (uint64_t)kfirst)] -= rq.frames;
        } else if (rc == -EAGAIN) {
            t->eagain++;
            if (!rq.max_work) {
                say("# %s: -EAGAIN without max_work (rule 2)\n", where);
                print_rq("#", &rq);
                return false;
            }
        } else if (rc == -ENOMEM) {
            t->none++;
            if (exists) {
                t->false_fail++;
                if (!m->incomplete) {
                    say("# %s: false failure: the engine found nothing, the oracle a block at "
                        "frame %" PRIu64 " (PFN %#" PRIx64 ") (rule 2: complete)\n", where,
                        eng_of(f, o, ofirst), oracle_pfn(o, ofirst));
                    print_rq("#", &rq);
                    return false;
                }
            }
        } else {
            say("# %s: find returned %d (give 0, -ENOMEM or -EAGAIN)\n", where, rc);
            return false;
        }
        break;
    }
    case EC_PIN: {
        const int64_t kp = op->ref < f->nframes && mmc_frame_present(f, op->ref) ? orc_of(f, o, op->ref) : -1;
        bool can = kp >= 0 && op->count >= 1 && op->count <= f->hp_frames - (op->ref & (f->hp_frames - 1));
        for (uint64_t i = 0; can && i < op->count; i++)
            can = used[(uint64_t)kp + i] == 0;
        if (!can)
            break; /* not free here (a shrunken trace) */
        t->ops++;
        for (uint64_t i = 0; i < op->count; i++)
            used[(uint64_t)kp + i] = 1;
        _mmc_frames_set(f, op->ref, op->count, MMC_FRAME_MDL);
        e->take(m->st, op->ref, op->count);
        m->live[m->nlive++] = (struct live){op->ref, op->count, k};
        m->free_total -= op->count;
        m->node_free[oracle_node(o, (uint64_t)kp)] -= op->count;
        break;
    }
    case EC_FREE: {
        uint64_t j = 0;
        while (j < m->nlive && m->live[j].op != op->ref)
            j++;
        if (j == m->nlive)
            break; /* that block was not taken (a shrunken trace) */
        t->ops++;
        struct live b = m->live[j];
        m->live[j] = m->live[--m->nlive];
        const uint64_t kb = (uint64_t)orc_of(f, o, b.first);
        for (uint64_t i = kb; i < kb + b.frames; i++)
            used[i] = 0;
        _mmc_frames_set(f, b.first, b.frames, MMC_FRAME_FREE);
        e->give(m->st, b.first, b.frames);
        m->free_total += b.frames;
        m->node_free[oracle_node(o, kb)] += b.frames;
        t->frees++;
        break;
    }
    default:
        say("# %s: unknown operation %u\n", where, op->kind);
        return false;
    }
    if (mmc_frames_free(f) != m->free_total) {
        say("# %s: free_frames %" PRIu64 ", the test counts %" PRIu64 "\n", where, mmc_frames_free(f),
            m->free_total);
        good = false;
    }
    for (unsigned n = 0; n < MMC_MAX_NODES; n++)
        if (f->node[n].free != m->node_free[n]) {
            say("# %s: node_free[%u] %" PRIu64 ", the test counts %" PRIu64 "\n", where, n,
                f->node[n].free, m->node_free[n]);
            good = false;
        }
    if (good && (k % m->recount_every == 0 || last))
        good = recount(f, o, used, where);
    /* the metadata function works on any state, and the rule holds after growth */
    if (good && last)
        good = memory_ok(e, m->st, f, where);
    return good;
}

static int trace_push(struct ec_trace *tr, const struct ec_op *op)
{
    if (tr->n == tr->cap) {
        uint64_t cap = tr->cap ? tr->cap * 2 : 1024;
        struct ec_op *p = realloc(tr->ops, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        tr->ops = p, tr->cap = cap;
    }
    tr->ops[tr->n++] = *op;
    return 0;
}

void ec_trace_free(struct ec_trace *t)
{
    free(t->ops);
    t->ops = NULL;
    t->n = t->cap = 0;
}

bool ec_run_internal(const struct mmc_engine_ops *e, size_t ci, uint64_t seed, double scale,
                     struct ec_tally *t, struct ec_trace *rec)
{
    struct ec_trace local = {0};
    struct ec_trace *tr = rec ? rec : &local;
    tr->layout = ci, tr->seed = seed, tr->n = 0, tr->fail_op = UINT64_MAX, tr->what[0] = '\0';
    say_first = tr->what, say_first_len = sizeof(tr->what);
    struct machine m;
    bool good = machine_init(&m, e, ci, seed, t);
    const uint64_t ops = (uint64_t)((double)ec_layouts[ci].ops * scale) + 1;
    for (uint64_t step = 0; step < ops && good; step++) {
        struct ec_op op = {0};
        for (int pre = 0; pre < 2 && good; pre++) { /* growth and the rebuild come first */
            if (pre == 0 && (step == ops / 3 || step == 2 * ops / 3))
                op = (struct ec_op){.kind = EC_GROW, .mark = step == ops / 3 ? 1 : 2};
            else if (pre == 1 && step == ops / 2)
                op = (struct ec_op){.kind = EC_REBUILD};
            else
                continue;
            if (trace_push(tr, &op) < 0) {
                say("# out of memory\n");
                good = false;
                break;
            }
            good = machine_step(&m, tr->n - 1, &op, false);
        }
        if (!good)
            break;
        /* phases: fill, churn, drain */
        double fill = 1.0 - (double)m.free_total / (double)m.f.present_frames;
        unsigned p_alloc = fill < 0.5 ? 70 : fill < 0.85 ? 52 : 35;
        if ((step / 3000) % 4 == 3)
            p_alloc = 20;
        if (m.nlive == 0 || below(&m.r, 100) < p_alloc) {
            op = (struct ec_op){.kind = EC_ALLOC, .rq = gen_request(&m.r, &m.o, m.f.nnodes)};
            if (below(&m.r, 100) < 8) { /* scattered frames instead (MDL pages, load) */
                const uint64_t kf = below(&m.r, m.layout_frames), cnt = 1 + below(&m.r, 4);
                if (m.used[kf] == 0 && (kf % m.hp_frames) + cnt <= m.hp_frames)
                    op = (struct ec_op){.kind = EC_PIN, .ref = eng_of(&m.f, &m.o, kf), .count = cnt};
            }
        } else {
            op = (struct ec_op){.kind = EC_FREE, .ref = m.live[below(&m.r, m.nlive)].op};
        }
        if (trace_push(tr, &op) < 0) {
            say("# out of memory\n");
            good = false;
            break;
        }
        good = machine_step(&m, tr->n - 1, &op, step + 1 == ops);
    }
    if (!good)
        tr->fail_op = tr->n ? tr->n - 1 : 0;
    machine_fini(&m);
    say_first = NULL;
    ec_trace_free(&local);
    return good;
}

/* Replay quietly or not; true if it passes, else tr->fail_op / tr->what and the trace cut
 * after the failing op. */
static bool replay(const struct mmc_engine_ops *e, struct ec_trace *tr, struct ec_tally *t, bool cut)
{
    struct ec_tally local = {0};
    struct machine m;
    tr->fail_op = UINT64_MAX;
    tr->what[0] = '\0';
    say_first = tr->what, say_first_len = sizeof(tr->what);
    bool good = tr->layout < ec_nlayouts && machine_init(&m, e, tr->layout, tr->seed, t ? t : &local);
    uint64_t k = 0;
    for (; good && k < tr->n; k++)
        good = machine_step(&m, k, &tr->ops[k], k + 1 == tr->n);
    if (!good) {
        tr->fail_op = k ? k - 1 : 0;
        if (cut && tr->n)
            tr->n = tr->fail_op + 1;
    }
    if (tr->layout < ec_nlayouts)
        machine_fini(&m);
    say_first = NULL;
    return good;
}

bool ec_replay(const struct mmc_engine_ops *e, struct ec_trace *tr, struct ec_tally *t)
{
    return replay(e, tr, t, false);
}

/* Drop ops [a, a + len) (len may be 0) and the frees of the allocations dropped, renumbering
 * the references; into out (ops allocated). */
static int trace_without(const struct ec_trace *in, uint64_t a, uint64_t len, struct ec_trace *out)
{
    *out = *in;
    out->ops = malloc((in->n ? in->n : 1) * sizeof(*out->ops));
    uint64_t *map = malloc((in->n ? in->n : 1) * sizeof(*map));
    if (!out->ops || !map) {
        free(out->ops), free(map);
        out->ops = NULL;
        return -ENOMEM;
    }
    out->n = 0, out->cap = in->n;
    for (uint64_t k = 0; k < in->n; k++) {
        map[k] = UINT64_MAX;
        if (k >= a && k < a + len)
            continue;
        struct ec_op op = in->ops[k];
        if (op.kind == EC_FREE) {
            if (op.ref >= k || map[op.ref] == UINT64_MAX)
                continue;
            op.ref = map[op.ref];
        }
        map[k] = out->n;
        out->ops[out->n++] = op;
    }
    free(map);
    return 0;
}

uint64_t ec_shrink(const struct mmc_engine_ops *e, struct ec_trace *tr, double budget_s)
{
    const double t_end = ec_now() + budget_s;
    const bool was_quiet = ec_quiet;
    uint64_t replays = 0;
    char what[sizeof(tr->what)];
    snprintf(what, sizeof(what), "%s", tr->what);
    ec_quiet = true;
    if (tr->n == 0)
        goto out;
    /* confirm the trace fails as recorded (and cut it after its failing op) */
    replays++;
    if (replay(e, tr, NULL, true))
        goto out; /* it passes on replay: nothing to shrink (an engine that is not deterministic) */
    snprintf(what, sizeof(what), "%s", tr->what);
    for (uint64_t chunk = tr->n / 2 > 0 ? tr->n / 2 : 1;; chunk /= 2) {
        bool removed_any = false;
        for (uint64_t a = 0; a + 1 < tr->n && ec_now() < t_end;) { /* the failing op stays */
            uint64_t len = chunk < tr->n - 1 - a ? chunk : tr->n - 1 - a;
            struct ec_trace cand;
            if (trace_without(tr, a, len, &cand) < 0)
                goto out;
            replays++;
            if (!replay(e, &cand, NULL, true)) { /* still fails: keep the shorter one */
                free(tr->ops);
                *tr = cand;
                snprintf(what, sizeof(what), "%s", tr->what);
                removed_any = true;
            } else {
                free(cand.ops);
                a += len;
            }
        }
        if (ec_now() >= t_end || (chunk == 1 && !removed_any))
            break;
        if (chunk == 1)
            chunk = 2; /* another pass of single ops after a removal */
    }
out:
    snprintf(tr->what, sizeof(tr->what), "%s", what);
    if (tr->n)
        tr->fail_op = tr->n - 1;
    ec_quiet = was_quiet;
    return replays;
}

/* ---- trace files ---- */

static const char *kind_name[] = {"alloc", "free", "grow", "rebuild", "pin"};

int ec_trace_write(const char *path, const struct ec_trace *tr, const char *engine, const char *plugin)
{
    FILE *fp = fopen(path, "w");
    if (!fp)
        return -errno;
    fprintf(fp, "# mmcontig check-engine trace: replay with `mmcontig check-engine --replay %s`\n", path);
    if (tr->what[0])
        fprintf(fp, "# failed: %s\n", tr->what);
    fprintf(fp, "# ops: alloc FRAMES LOWEST_PFN HIGHEST_PFN BOUNDARY_FRAMES NODE_MASK MAX_WORK | "
            "pin FRAME COUNT (MDL frames) | free OP (the alloc or pin op's number, from 0) | "
            "grow BATCH | rebuild\n");
    fprintf(fp, "engine %s\n", engine);
    if (plugin && *plugin)
        fprintf(fp, "plugin %s\n", plugin);
    fprintf(fp, "layout %zu\nseed %" PRIu64 "\n", tr->layout, tr->seed);
    for (uint64_t k = 0; k < tr->n; k++) {
        const struct ec_op *op = &tr->ops[k];
        switch (op->kind) {
        case EC_ALLOC:
            fprintf(fp, "alloc %" PRIu64 " %#" PRIx64 " %#" PRIx64 " %" PRIu64 " %#" PRIx64 " %" PRIu64 "\n",
                    op->rq.frames, op->rq.lowest_pfn, op->rq.highest_pfn, op->rq.boundary_frames,
                    op->rq.node_mask, op->rq.max_work);
            break;
        case EC_FREE: fprintf(fp, "free %" PRIu64 "\n", op->ref); break;
        case EC_GROW: fprintf(fp, "grow %u\n", op->mark); break;
        case EC_PIN: fprintf(fp, "pin %" PRIu64 " %" PRIu64 "\n", op->ref, op->count); break;
        default: fprintf(fp, "rebuild\n"); break;
        }
    }
    return fclose(fp) == 0 ? 0 : -errno;
}

int ec_trace_read(const char *path, struct ec_trace *tr, char *engine, size_t engine_len,
                  char *plugin, size_t plugin_len, char *err, size_t errlen)
{
    memset(tr, 0, sizeof(*tr));
    *engine = *plugin = '\0';
    FILE *fp = fopen(path, "r");
    if (!fp) {
        int rc = -errno;
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        return rc;
    }
    char line[1200], word[16], arg[1024];
    unsigned lineno = 0;
    bool have_layout = false, have_seed = false;
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof(line), fp)) {
        lineno++;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        struct ec_op op = {0};
        unsigned mark = 0;
        if (sscanf(line, "engine %1023s", arg) == 1) {
            snprintf(engine, engine_len, "%s", arg);
        } else if (sscanf(line, "plugin %1023[^\n]", arg) == 1) {
            snprintf(plugin, plugin_len, "%s", arg);
        } else if (sscanf(line, "layout %zu", &tr->layout) == 1) {
            have_layout = true;
            if (tr->layout >= ec_nlayouts) {
                snprintf(err, errlen, "%s:%u: layout %zu: there are %zu layouts (0..%zu)", path,
                         lineno, tr->layout, ec_nlayouts, ec_nlayouts - 1);
                rc = -EINVAL;
            }
        } else if (sscanf(line, "seed %" SCNu64, &tr->seed) == 1) {
            have_seed = true;
        } else if (sscanf(line, "alloc %" SCNu64 " %" SCNx64 " %" SCNx64 " %" SCNu64 " %" SCNx64 " %" SCNu64,
                          &op.rq.frames, &op.rq.lowest_pfn, &op.rq.highest_pfn,
                          &op.rq.boundary_frames, &op.rq.node_mask, &op.rq.max_work) == 6) {
            op.kind = EC_ALLOC;
            rc = trace_push(tr, &op);
        } else if (sscanf(line, "pin %" SCNu64 " %" SCNu64, &op.ref, &op.count) == 2) {
            op.kind = EC_PIN;
            rc = trace_push(tr, &op);
        } else if (sscanf(line, "free %" SCNu64, &op.ref) == 1) {
            op.kind = EC_FREE;
            if (op.ref >= tr->n || (tr->ops[op.ref].kind != EC_ALLOC && tr->ops[op.ref].kind != EC_PIN)) {
                snprintf(err, errlen, "%s:%u: free %" PRIu64 " names no earlier alloc or pin op",
                         path, lineno, op.ref);
                rc = -EINVAL;
            } else {
                rc = trace_push(tr, &op);
            }
        } else if (sscanf(line, "grow %u", &mark) == 1 && (mark == 1 || mark == 2)) {
            op.kind = EC_GROW, op.mark = (uint8_t)mark;
            rc = trace_push(tr, &op);
        } else if (sscanf(line, "%15s", word) == 1 && !strcmp(word, "rebuild")) {
            op.kind = EC_REBUILD;
            rc = trace_push(tr, &op);
        } else {
            snprintf(err, errlen, "%s:%u: not a trace line (engine, plugin, layout, seed, alloc, "
                     "pin, free, grow 1|2, rebuild): %.60s", path, lineno, line);
            rc = -EINVAL;
        }
    }
    fclose(fp);
    if (rc == 0 && (!*engine || !have_layout || !have_seed)) {
        snprintf(err, errlen, "%s: no %s line: a trace names its engine, layout and seed", path,
                 !*engine ? "engine" : !have_layout ? "layout" : "seed");
        rc = -EINVAL;
    }
    if (rc < 0)
        ec_trace_free(tr);
    return rc;
}

void ec_trace_print(const struct ec_trace *tr, uint64_t max)
{
    for (uint64_t k = 0; k < tr->n && k < max; k++) {
        const struct ec_op *op = &tr->ops[k];
        if (op->kind == EC_ALLOC)
            printf("#   %" PRIu64 ": alloc %" PRIu64 " frames, PFN [%#" PRIx64 ", %#" PRIx64 "], "
                   "boundary %" PRIu64 ", node mask %#" PRIx64 ", max_work %" PRIu64 "\n", k,
                   op->rq.frames, op->rq.lowest_pfn, op->rq.highest_pfn, op->rq.boundary_frames,
                   op->rq.node_mask, op->rq.max_work);
        else if (op->kind == EC_FREE)
            printf("#   %" PRIu64 ": free the frames of op %" PRIu64 "\n", k, op->ref);
        else if (op->kind == EC_PIN)
            printf("#   %" PRIu64 ": pin %" PRIu64 " frames from frame %" PRIu64 " (MDL pages: "
                   "one take)\n", k, op->count, op->ref);
        else
            printf("#   %" PRIu64 ": %s%s\n", k, kind_name[op->kind],
                   op->kind == EC_GROW ? (op->mark == 1 ? " (batch 1)" : " (batch 2)") : "");
    }
    if (tr->n > max)
        printf("#   ... %" PRIu64 " more\n", tr->n - max);
}

/* ---- public mode: a simulated partition through the NT routines ---- */

struct ec_pub_case ec_pub_256m(uint64_t seed, double scale)
{
    struct ec_pub_case pc = {.ops = (uint64_t)(3000 * scale) + 1};
    mmc_sim_config_init(&pc.cfg);
    pc.cfg.pool_bytes = 256 * MMC_MIB;
    pc.cfg.mean_run_hugepages = 3;
    pc.cfg.nnodes = 3;
    pc.cfg.seed = ec_case_seed(seed, 100);
    return pc;
}

struct ec_pub_case ec_pub_1tib(uint64_t seed)
{
    struct ec_pub_case pc = {.ops = 300, .range_frames = 1ull << 20};
    mmc_sim_config_init(&pc.cfg);
    pc.cfg.pool_bytes = 1024 * MMC_GIB;
    pc.cfg.mean_run_hugepages = 4;
    pc.cfg.nnodes = 2;
    pc.cfg.seed = ec_case_seed(seed, 200);
    return pc;
}

bool ec_run_public(const struct mmc_engine_ops *e, const struct ec_pub_case *pc, uint64_t seed,
                   const char *label, struct ec_pub_out *out)
{
    mmc_partition_t *h = NULL;
    struct mmc_sim_config cfg = pc->cfg;
    snprintf(cfg.algo, sizeof(cfg.algo), "%s", e->name);
    char where[200];
    double t0 = ec_now();
    int rc = mmc_partition_create_simulated(&cfg, &h);
    out->create_s = ec_now() - t0;
    if (rc < 0) {
        say("# %s, engine %s: mmc_partition_create_simulated: %s\n", label, e->name,
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
    const bool bottom = ec_engine_bottom_up(e), exact = ec_engine_top_down(e) || bottom;
    const bool incomplete = ec_engine_incomplete(e);
    const ULONG tag = 0x74736554; /* 'Test' */

    for (uint64_t step = 0; step < pc->ops && good; step++) {
        snprintf(where, sizeof(where), "seed %" PRIu64 ", engine %s, %s, step %" PRIu64, seed,
                 e->name, label, step);
        if (nlive == 0 || below(&r, 100) < (free_total * 4 > f->present_frames ? 60u : 35u)) {
            struct mmc_search rq = gen_request(&r, &o, f->nnodes);
            if (pc->range_frames && (rq.highest_pfn - rq.lowest_pfn > pc->range_frames ||
                                      rq.lowest_pfn > rq.highest_pfn)) {
                rq.lowest_pfn = gen_pfn(&r, &o);
                rq.highest_pfn = rq.lowest_pfn + below(&r, pc->range_frames);
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
                    exists = bottom ? oracle_find_lowest(&o, &orq, &ofirst)
                                    : oracle_find_highest(&o, &orq, &ofirst);
                }
            PVOID base = NULL;
            SIZE_T nb = bytes;
            double ta = ec_now();
            NTSTATUS s = MmAllocateContiguousMemoryEx(&nb, lo, hi, bnd, pref, PAGE_READWRITE, h, tag,
                                                      0, &base);
            out->alloc_s += ec_now() - ta;
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
                    say("# %s: block at %p, physical %#" PRIx64 " (frame %" PRId64 ") does "
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
                    say("# %s: false failure: the oracle has a block at frame %" PRIu64 "\n",
                           where, ofirst);
                    print_rq("#", &rq);
                    good = false;
                }
            } else {
                say("# %s: status %#x\n", where, (unsigned)s);
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
        if (mmc_frames_free(f) != free_total || _mmc_partition_live_blocks(part) != nlive) {
            say("# %s: partition has %" PRIu64 " free frames and %" PRIu64 " blocks, the test "
                   "counts %" PRIu64 " and %" PRIu64 "\n", where, mmc_frames_free(f),
                   _mmc_partition_live_blocks(part), free_total, nlive);
            good = false;
        }
    }
    if (good && f->present_frames <= (1u << 20)) {
        struct mmc_stats stv;
        good = mmc_partition_stats(h, &stv) == 0 && stv.free_frames == free_total &&
               stv.live_blocks == nlive && !strcmp(stv.algo, e->name) && stv.nnodes == f->nnodes;
        if (!good)
            say("# %s: mmc_partition_stats disagrees\n", label);
        good = good && recount(f, &o, used, label);
    }
    for (uint64_t k = 0; k < nlive; k++)
        MmFreeContiguousMemory(bases[k]);
    good = good && mmc_frames_free(f) == f->present_frames && _mmc_partition_live_blocks(part) == 0;
    mmc_partition_destroy(h);
    oracle_fini(&o);
    free(used);
    free(live);
    free(bases);
    return good;
}