/* alloc/search/bitmap.c: engine `bitmap`, a free-frame bitmap scanned a 64-bit word at a time,
 * indexed over the pool's physical span.
 *
 * Index: one bit per frame of the pool (1 = free), the hugepage's hp_frames / 64 words at its
 * ordinal (the engine's own copy of the database's free plane, kept by take / give / add), and
 * the engine's own list of runs, sorted by PFN, each with its free-frame count: {base PFN,
 * hugepages, node, free frames}. Frames of the span outside the pool have no bits: never free.
 * Runs are whole hugepages (>= 512 frames), so every run starts on a word boundary and a word
 * never holds frames of two runs or of two hugepages. The run list holds the hugepages the
 * engine has taken in: after each growth (all its add() calls) it equals the database's runs;
 * between two add() calls of one growth, a hugepage not yet added splits a run in two, which
 * is how the engine treats its frames as used.
 *
 * Algorithm (find): runs from the highest PFN down, starting at the last run that begins at or
 * below highest_pfn (binary search) and stopping at the first that ends below lowest_pfn;
 * skipped at once if the node is not in the mask, the run has fewer free frames than asked, or
 * its clip (the run clipped to [lowest, highest]) is shorter than the block. Inside a clip
 * a frontier F holds the highest start not yet ruled out, beginning at the clip's top:
 *   1. s = F, lowered when [s, s + n) crosses a multiple m of the boundary to s = m - n (every
 *      start in (m - n, F] crosses m, since n <= boundary); s below the clip: next run.
 *   2. scan [s, s + n) from its top for a used frame, a word at a time, skipping all-free words
 *      (clz of the inverted word). None: s is the answer.
 *   3. a used frame u: every start in (u - n, s] contains it. Scan down from u for the highest
 *      free frame p, skipping all-used words; every start above p + 1 - n contains a used frame
 *      in (p, u]. F = p + 1 - n, back to 1.
 * A scan finds a hugepage's words (its ordinal, from the database's directory) once when it
 * enters the hugepage, then reads them word by word. Candidate starts are computed
 * arithmetically; frames are never visited one by one. Each step rules out every start above
 * the new frontier, so the answer is the highest satisfying start.
 *
 * Placement: top-down first fit, the highest-PFN satisfying block: exactly linear's choice, so
 * the two can be compared block for block. Complete: fails only when no satisfying block exists
 * (each start is ruled out only with a used frame, a crossed boundary or the clip's edge).
 * Time: find O(log runs + runs in the range + W + S), W the words of the clips scanned (64
 * frames a step, one directory look-up per hugepage entered) and S the free stretches met that
 * are too short (O(1) words each); take / give O(n / 64 + hugepages touched) plus the run's
 * free count, O(1) in the run take / give last touched, else O(log runs). add: O(hp_frames /
 * 64) for its bits, plus O(runs) when it starts a run or joins two (the sorted run list moves)
 * and O(log runs) when it extends one. reserve: room for the new hugepages' bits (made in
 * place, nothing copied) and in the run list for what the growth can need (one more
 * run per hugepage, also made in place).
 * Metadata: 1/8 byte per frame of pool (the bits, for the pool's hugepages, in a table that
 * grows in place: struct mmc_tab) + 24 bytes per run (at
 * most one per hugepage: 3/64 byte per frame of pool) + this struct; nothing per frame of
 * span. Measured by tests/test_engines.c: the 1 TiB simulated pool (2 MiB hugepages, mean run
 * 4 hugepages, a 2 TiB span) 0.137 byte per frame of pool, 0.067 per frame of span; a dense
 * pool in one run 0.125 for both; the sparse layout (128 lone hugepages over a 4 TiB span, a
 * run each) 0.173-0.178 per frame of pool, 0.00001 per frame of span.
 * Limits: a run of at most 2^32 hugepages; none on the span. max_work counts words examined
 * plus runs visited; beyond it find returns -EAGAIN. take / give / add cannot fail.
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* A run: read by every find (of every node), written only when the pool grows. */
struct brun {
    uint64_t base_pfn;          /* PFN of the run's first frame */
    uint32_t hugepages;         /* length in hugepages */
    uint32_t node;              /* node number */
};
/* A run's free frames, written by every take and give in it: a cache line each, apart from the
 * runs (runs of different nodes are neighbours, and a find on one node reads the others' runs:
 * node-parallel, threads on two nodes must not write a line the other reads). */
struct bfree {
    uint64_t n;
} __attribute__((aligned(64)));

struct bitmap {
    const struct mmc_frames *f;
    uint64_t *bits;             /* wph words per ordinal: bit j of word k of ordinal o is frame
                                   64 k + j of that hugepage, set when free */
    uint64_t cap;               /* ordinals bits has room for */
    struct mmc_tab bits_tab;    /* what bits points into (address space for every slot of the
                                   span: room is made in place, nothing copied) */
    struct brun *runs;          /* ascending PFN */
    uint64_t nruns, runs_cap;
    struct mmc_tab runs_tab;    /* what runs points into (room for a run per slot of the span
                                   reserved, made in place) */
    struct bfree *free;         /* per run, at the run's index */
    struct mmc_tab free_tab;    /* what free points into (as runs_tab) */
    struct {
        uint64_t run;
    } __attribute__((aligned(64))) hint[MMC_MAX_NODES]; /* per node, a line each (node-parallel,
                                   partition.c): the run take / give last touched there (a block
                                   is often taken or freed in the run of the previous one):
                                   checked first */
    uint64_t wph;               /* words per hugepage (a power of two) */
    unsigned hp_shift;          /* log2(frames per hugepage) */
};

#define OVER (UINT64_MAX - 1)  /* the work bound was reached (NONE: no such frame) */

/* The words of present hugepage slot s. */
static inline uint64_t *hp_words(const struct bitmap *b, uint64_t s)
{
    return b->bits + (uint64_t)mmc_frames_ord(b->f, s) * b->wph;
}

/* Highest frame index in [a, e) whose bit equals `free` (want free: 1 bits, else 0 bits), or
 * NONE; [a, e) inside one run. Words with no such bit are skipped whole; a hugepage's words are
 * found once, then read in a loop as tight as over a flat bitmap. *work counts words examined;
 * past limit the scan stops with OVER. */
static inline uint64_t highest_with(const struct bitmap *b, uint64_t a, uint64_t e, bool free,
                                    uint64_t *work, uint64_t limit)
{
    if (a >= e)
        return NONE;
    const uint64_t flip = free ? 0 : ~0ull, wmask = b->wph - 1;
    const unsigned ws = b->hp_shift - 6; /* word index >> ws: hugepage slot */
    const uint64_t wa = a >> 6, sa = wa >> ws, w = (e - 1) >> 6;
    uint64_t s = w >> ws, k = w & wmask;
    uint64_t keep = mask_between(0, (unsigned)((e - 1) & 63)); /* of the first word read */
    for (;;) {                                                /* hugepage s, from word k down */
        const uint64_t *hw = hp_words(b, s);
        const bool last = s == sa;
        const uint64_t lo = last ? wa & wmask : 0;
        uint64_t x = (hw[k] ^ flip) & keep;
        for (;;) {
            if (++*work > limit)
                return OVER;
            if (k == lo)
                break;
            if (x)
                return (((s << ws) + k) << 6) + 63 - (uint64_t)__builtin_clzll(x);
            x = hw[--k] ^ flip;
        }
        if (last)
            x &= ~0ull << (a & 63);
        if (x)
            return (((s << ws) + k) << 6) + 63 - (uint64_t)__builtin_clzll(x);
        if (last)
            return NONE;
        s--, k = wmask, keep = ~0ull; /* the hugepage below, from its top word */
    }
}

/* Set (on) or clear the bits of frames [first, first + n), present, hugepage by hugepage. */
static void set_range(struct bitmap *b, uint64_t first, uint64_t n, bool on)
{
    const uint64_t hpf = 1ull << b->hp_shift;
    while (n) {
        const uint64_t off = first & (hpf - 1), k = hpf - off < n ? hpf - off : n;
        _mmc_search_set_bits(hp_words(b, first >> b->hp_shift), off, k, on);
        first += k;
        n -= k;
    }
}

/* How many of the engine's runs start at or below pfn. */
static uint64_t runs_upto(const struct bitmap *b, uint64_t pfn)
{
    uint64_t lo = 0, hi = b->nruns;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (b->runs[mid].base_pfn <= pfn)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The index of the engine's run holding frame i (present and taken in). */
static uint64_t run_of(struct bitmap *b, uint64_t i)
{
    const uint64_t pfn = b->f->base_pfn + i;
    uint64_t *hint = &b->hint[mmc_frame_node(b->f, i)].run; /* per node: node-parallel (partition.c) */
    if (*hint < b->nruns) {
        struct brun *h = &b->runs[*hint];
        if (pfn >= h->base_pfn && pfn - h->base_pfn < (uint64_t)h->hugepages << b->hp_shift)
            return *hint;
    }
    *hint = runs_upto(b, pfn) - 1;
    return *hint;
}

/* Room for cap ordinals of bits and nruns runs. 0 or -ENOMEM (what exists unchanged). */
static int room(struct bitmap *b, uint64_t cap, uint64_t nruns)
{
    if (cap > b->cap) {
        int rc = mmc_tab_room(&b->bits_tab, cap * b->wph * sizeof(uint64_t));
        b->bits = b->bits_tab.p;
        if (rc < 0)
            return rc;
        b->cap = cap;
    }
    if (nruns > b->runs_cap) {
        int rc = mmc_tab_room(&b->runs_tab, nruns * sizeof(*b->runs));
        b->runs = b->runs_tab.p;
        if (rc < 0)
            return rc;
        rc = mmc_tab_room(&b->free_tab, nruns * sizeof(*b->free));
        b->free = b->free_tab.p;
        if (rc < 0)
            return rc;
        b->runs_cap = nruns;
    }
    return 0;
}

static void bitmap_destroy(void *engine)
{
    struct bitmap *b = engine;
    if (!b)
        return;
    mmc_tab_free(&b->bits_tab);
    mmc_tab_free(&b->runs_tab);
    mmc_tab_free(&b->free_tab);
    free(b);
}

static int bitmap_create(const struct mmc_frames *f, void **engine)
{
    struct bitmap *b = aligned_alloc(64, sizeof(*b)); /* its hints are a cache line each */
    if (!b)
        return -ENOMEM;
    memset(b, 0, sizeof(*b));
    b->f = f;
    b->wph = f->wph;
    b->hp_shift = f->hp_shift;
    mmc_tab_init(&b->bits_tab, f->nslots * b->wph * sizeof(uint64_t));
    mmc_tab_init(&b->runs_tab, f->nslots * sizeof(*b->runs));
    mmc_tab_init(&b->free_tab, f->nslots * sizeof(*b->free));
    if (room(b, f->nhugepages ? f->nhugepages : 1, f->nruns ? f->nruns : 1) < 0) {
        bitmap_destroy(b);
        return -ENOMEM;
    }
    /* from the frame database's current state: its free plane, ordinal by ordinal */
    memcpy(b->bits, f->plane[MMC_PLANE_FREE], f->nhugepages * b->wph * sizeof(uint64_t));
    for (uint64_t r = 0; r < f->nruns; r++) {
        const struct mmc_run *run = &f->runs[r];
        struct brun *br = &b->runs[r];
        *br = (struct brun){.base_pfn = run->base_pfn, .hugepages = (uint32_t)(run->frames >> f->hp_shift),
                            .node = run->node};
        b->free[r].n = 0;
        for (uint64_t s = run->first_frame >> f->hp_shift, k = 0; k < br->hugepages; s++, k++) {
            const uint64_t *w = hp_words(b, s);
            for (uint64_t j = 0; j < b->wph; j++)
                b->free[r].n += (uint64_t)__builtin_popcountll(w[j]);
        }
    }
    b->nruns = f->nruns;
    *engine = b;
    return 0;
}

/* Search one run's clip [lo, hi) (PFNs, hi - lo >= n). 0 and *first, -ENOMEM, -EAGAIN. */
static int search_run(const struct bitmap *b, uint64_t lo, uint64_t hi, const struct mmc_search *rq,
                      uint64_t *work, uint64_t *first)
{
    const uint64_t n = rq->frames, bnd = rq->boundary_frames;
    const uint64_t delta = b->f->base_pfn; /* PFN - frame index */
    const uint64_t limit = rq->max_work ? rq->max_work : UINT64_MAX;
    uint64_t F = hi - n;
    for (;;) {
        uint64_t s = F;
        if (bnd) {
            uint64_t m = (s + n - 1) / bnd * bnd; /* highest multiple <= the block's last PFN */
            if (m > s)
                s = m - n; /* m >= bnd >= n: no underflow */
        }
        if (s < lo)
            return -ENOMEM;
        uint64_t u = highest_with(b, s - delta, s - delta + n, false, work, limit);
        if (u == NONE) {
            *first = s - delta;
            return 0;
        }
        uint64_t p = u == OVER ? OVER : highest_with(b, lo - delta, u, true, work, limit);
        if (p == OVER)
            return -EAGAIN;
        if (p == NONE || p + 1 + delta - lo < n)
            return -ENOMEM;
        F = p + 1 + delta - n;
    }
}

static int bitmap_find(void *engine, const struct mmc_search *rq, uint64_t *first_frame, uint64_t *work)
{
    const struct bitmap *b = engine;
    const uint64_t n = rq->frames, bnd = rq->boundary_frames;
    *work = 0;
    if (n == 0 || (bnd && n > bnd) || b->nruns == 0)
        return -ENOMEM;
    /* from the last run starting at or below highest_pfn down */
    for (uint64_t r = runs_upto(b, rq->highest_pfn); r-- > 0;) {
        const struct brun *br = &b->runs[r];
        const struct mmc_run run = {.base_pfn = br->base_pfn,
                                    .frames = (uint64_t)br->hugepages << b->hp_shift};
        if (run.base_pfn + run.frames <= rq->lowest_pfn)
            break; /* this run and every one below it end below the range */
        if (++*work, rq->max_work && *work > rq->max_work)
            return -EAGAIN;
        if (!(rq->node_mask & (1ull << br->node)) || b->free[r].n < n)
            continue;
        uint64_t lo, hi; /* the run clipped to the range */
        if (!mmc_run_clip(&run, rq, &lo, &hi))
            continue;
        int rc = search_run(b, lo, hi, rq, work, first_frame);
        if (rc != -ENOMEM)
            return rc;
    }
    return -ENOMEM;
}

static void bitmap_take(void *engine, uint64_t first, uint64_t n)
{
    struct bitmap *b = engine;
    if (!n)
        return;
    set_range(b, first, n, false);
    b->free[run_of(b, first)].n -= n;
}

static void bitmap_give(void *engine, uint64_t first, uint64_t n)
{
    struct bitmap *b = engine;
    if (!n)
        return;
    set_range(b, first, n, true);
    b->free[run_of(b, first)].n += n;
}

static int bitmap_reserve(void *engine, uint64_t nadd, const uint64_t *add_pfn)
{
    struct bitmap *b = engine;
    (void)add_pfn;
    return room(b, b->f->nhugepages + nadd, b->nruns + nadd); /* a hugepage starts one run at most */
}

static void bitmap_add(void *engine, uint64_t first_frame)
{
    struct bitmap *b = engine;
    const struct mmc_frames *f = b->f;
    const uint64_t hpf = f->hp_frames, pfn = f->base_pfn + first_frame;
    const uint32_t node = mmc_frame_node(f, first_frame);
    memset(hp_words(b, first_frame >> b->hp_shift), 0xff, b->wph * sizeof(uint64_t));
    const uint64_t r = runs_upto(b, pfn); /* runs[r - 1] starts below, runs[r] above */
    struct brun *below = r ? &b->runs[r - 1] : NULL, *above = r < b->nruns ? &b->runs[r] : NULL;
    const bool join_below = below && below->node == node &&
                            below->base_pfn + ((uint64_t)below->hugepages << b->hp_shift) == pfn;
    const bool join_above = above && above->node == node && above->base_pfn == pfn + hpf;
    if (join_below) {
        below->hugepages++;
        b->free[r - 1].n += hpf;
        if (join_above) { /* the hugepage closes the gap between two runs */
            below->hugepages += above->hugepages;
            b->free[r - 1].n += b->free[r].n;
            memmove(above, above + 1, (b->nruns - r - 1) * sizeof(*above));
            memmove(&b->free[r], &b->free[r + 1], (b->nruns - r - 1) * sizeof(*b->free));
            b->nruns--;
        }
    } else if (join_above) {
        above->base_pfn = pfn;
        above->hugepages++;
        b->free[r].n += hpf;
    } else {
        if (b->nruns == b->runs_cap && room(b, 0, b->nruns + 1) < 0)
            abort(); /* add() without reserve(): the interface was broken */
        memmove(&b->runs[r + 1], &b->runs[r], (b->nruns - r) * sizeof(*b->runs));
        memmove(&b->free[r + 1], &b->free[r], (b->nruns - r) * sizeof(*b->free));
        b->runs[r] = (struct brun){.base_pfn = pfn, .hugepages = 1, .node = node};
        b->free[r].n = hpf;
        b->nruns++;
    }
}

static size_t bitmap_metadata(const void *engine)
{
    const struct bitmap *b = engine;
    return sizeof(*b) + b->cap * b->wph * sizeof(uint64_t) + b->runs_cap * (sizeof(*b->runs) + sizeof(*b->free));
}

const struct mmc_engine_ops _mmc_engine_bitmap = {
    .name = "bitmap",
    .summary = "free-frame bitmap scanned 64 frames a step; top-down first fit like linear",
    .work_unit = "runs and 64-bit words examined",
    .fast_only_work = 1ull << 12,
    .create = bitmap_create,
    .destroy = bitmap_destroy,
    .find = bitmap_find,
    .take = bitmap_take,
    .give = bitmap_give,
    .reserve = bitmap_reserve,
    .add = bitmap_add,
    .metadata_bytes = bitmap_metadata,
};
