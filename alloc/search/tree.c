/* alloc/search/tree.c: engine `tree`, a segment tree of free stretches per node, searched from
 * the top down.
 *
 * Index: the frames of each node, renumbered 0..frames-1 in PFN order ("positions": a node's
 * runs laid end to end, so the node's tree covers only its own frames); a bitmap of free
 * positions, one 64-bit word per leaf; over the leaves a complete binary tree whose cells hold,
 * for the positions they span, the free prefix, the free suffix and the longest free stretch,
 * none of them crossing a run boundary (runs are physically apart; their positions are not).
 * Positions and PFNs agree modulo the hugepage size, so a leaf lies in one hugepage.
 *
 * Algorithm (find): per allowed node, the PFN range becomes a position range [lo, hi) (binary
 * search over the node's hugepages). The walk starts at the leaf holding hi - 1 and climbs:
 * each left sibling met on the way up is the next stretch of positions below what has been
 * searched (twice as long each level), so the cells meeting [lo, hi) are visited from the top
 * down, a cell entered right child first. The walk carries the length of the free stretch that
 * begins just above the current cell (cut at a run boundary, at a multiple of the boundary, and
 * at hi). A cell that lies inside the range is settled from its three numbers:
 *   - free suffix (cut at the last multiple of the boundary) + carry >= n: the highest start in
 *     the cell is its end + carry - n; that is the answer, nothing above it held one;
 *   - longest < n and no such straddle: no block starts in the cell; skip it, carry becomes its
 *     free prefix (plus the carry when the cell is all free), cut at the first multiple;
 *   - otherwise descend. A leaf is settled by walking its free stretches from the top
 *     (ctz/clz), each checked with the exact rule linear.c uses (highest start in the stretch,
 *     lowered to end on a multiple of the boundary when it crosses one).
 * The leaf holding hi - 1 is masked; cells that straddle lo are always descended (one path).
 * Without a boundary, a cell
 * inside the range whose longest stretch is >= n surely holds a block, so the walk never backs
 * out of a cell it entered; the longest stretch ignores boundary multiples, though (it is kept
 * per cell, not per request), so with a boundary it is a necessary test only: the walk may
 * enter a cell whose long stretches are all cut into pieces < n, finds nothing there and goes
 * on, exactly, to the next cell below.
 * Several allowed nodes: each node's tree is searched, the highest frame index wins.
 *
 * Placement: top-down, first fit: the highest-PFN block satisfying the request, the same block
 * linear.c returns (so the two compare block for block). Complete: it fails only when no
 * satisfying block exists.
 * Time, N positions of a node, H its hugepages: find O(log H + (1 + K) log N) per allowed node,
 * K the free stretches above the answer, inside the range, of at least n frames that a
 * multiple of the boundary cuts into pieces shorter than n (K = 0 without a boundary); the
 * climb makes it O(log H + log D) cells when the answer lies D positions below hi and no such
 * stretch is in the way, which is the usual case. take / give O(n / 64 + log N): the bits
 * are set word by word (memset), the cells by a range assignment that stops at the cells lying
 * inside the range, gives them the uniform value (all used: zeros; all free: the cell's size, or
 * for a cell spanning several hugepages its value from the `full` table, run boundaries
 * included) and a tag, and hands a tag down to the two children only when a later change or
 * search enters the cell (push). A change inside one leaf goes bottom-up instead, and stops at
 * the first cell whose value it does not change.
 * Metadata: per frame 1/8 byte of bitmap + 24 bytes of cells per 64 frames (two cells a leaf,
 * three uint32 each) + a tag byte per leaf = 0.52 byte, up to 1 byte when a node's leaves are
 * padded to a power of two; plus 16 bytes per hugepage and 24 bytes of `full` cells per
 * hugepage. A 1 TiB pool of 2 MiB hugepages: 0.57 byte/frame (engine_metadata_bytes).
 * Limits: a node of at most 2^31 frames (8 TiB; the cells are 32-bit) else create fails -E2BIG;
 * hugepages of at least 64 frames (a leaf lies in one hugepage) else -EINVAL.
 * max_work counts cells visited (a leaf is a cell); beyond it find returns -EAGAIN.
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define LEAF_SHIFT 6
#define LEAF_FRAMES (1ull << LEAF_SHIFT) /* positions per leaf: one bitmap word */
#define MAX_SPACE_FRAMES (1ull << 31)

/* What a cell knows of the positions it spans; no stretch crosses a run boundary. */
struct cell {
    uint32_t pre;               /* free positions from the first one up */
    uint32_t suf;               /* free positions from the last one down */
    uint32_t max;               /* longest free stretch inside */
};

/* One node's frames, renumbered. */
struct space {
    uint64_t frames;            /* positions: the node's frames */
    uint64_t nhp;               /* hugepages of the node */
    uint64_t *hp_pfn;           /* per hugepage of the node, ascending: PFN | 1 if a run starts */
    uint32_t *hp_global;        /* per hugepage of the node: its index in the frame database */
    uint64_t nleaves;           /* leaves, a power of two >= frames / 64 */
    unsigned lg_total;          /* log2(nleaves * 64): cell 1 spans 2^lg_total positions */
    uint64_t *bits;             /* nleaves words: bit j of bits[w] = position 64 w + j is free;
                                   always exact */
    struct cell *cell;          /* 2 nleaves; cell 1 is the root, cell nleaves + w is leaf w */
    uint8_t *tag;               /* nleaves (internal cells): TAG_USED / TAG_FREE: the cell is
                                   right and every position under it used / free, the cells
                                   below it are stale until push() hands the tag down */
    struct cell *full;          /* cells spanning more than a hugepage (c < nfull): their value
                                   when every position under them is free */
    uint64_t nfull;             /* nleaves >> (hp_shift - LEAF_SHIFT): the first cell index of
                                   the hugepage level */
};
#define TAG_USED 1
#define TAG_FREE 2

struct tree {
    const struct mmc_frames *f;
    uint32_t *hp_pos;           /* per hugepage of the database: its index in its node's space */
    size_t bytes;               /* everything allocated */
    struct space sp[MMC_MAX_NODES];
};

/* ---- positions and PFNs ---- */

/* Is there a run boundary between positions p - 1 and p (0 < p)? Past the end counts as one. */
static inline bool run_starts(const struct space *sp, unsigned shift, uint64_t p)
{
    if (p >= sp->frames)
        return true;
    return !(p & ((1ull << shift) - 1)) && (sp->hp_pfn[p >> shift] & 1);
}

/* ---- cells ---- */

static inline unsigned longest_ones(uint64_t w)
{
    if (w == ~0ull)
        return 64;
    unsigned best = 0;
    while (w) {
        w >>= __builtin_ctzll(w);
        unsigned ones = (unsigned)__builtin_ctzll(~w); /* ~w != 0: zeros came in from the top */
        if (ones > best)
            best = ones;
        w >>= ones;
    }
    return best;
}

static inline struct cell leaf_cell(uint64_t w)
{
    if (w == ~0ull)
        return (struct cell){64, 64, 64};
    return (struct cell){(uint32_t)__builtin_ctzll(~w), (uint32_t)__builtin_clzll(~w),
                         longest_ones(w)};
}

/* Recompute internal cell c, the (c - level)-th of its level's cells (level: the level's first
 * cell index, a power of two), spanning 2^lg positions, from its children (which must be
 * right). Shifts only: this runs log N times per take or give. */
static inline struct cell combine(struct cell L, struct cell R, uint64_t h, bool cut)
{
    struct cell x;
    x.pre = (L.pre == h && !cut) ? (uint32_t)(h + R.pre) : L.pre;
    x.suf = (R.suf == h && !cut) ? (uint32_t)(h + L.suf) : R.suf;
    x.max = L.max > R.max ? L.max : R.max;
    if (!cut && L.suf + R.pre > x.max)
        x.max = L.suf + R.pre;
    return x;
}

static inline void pull(struct space *sp, unsigned shift, uint64_t c, uint64_t level, unsigned lg)
{
    const uint64_t h = 1ull << (lg - 1);
    const uint64_t mid = ((c - level) << lg) + h;
    sp->cell[c] = combine(sp->cell[2 * c], sp->cell[2 * c + 1], h, run_starts(sp, shift, mid));
}

/* The value of cell c (spanning 2^lg positions from lo) when every position under it is
 * free or (used) none is. A cell no longer than a hugepage holds no run boundary. */
static inline struct cell uniform(const struct space *sp, unsigned shift, uint64_t c, uint64_t lo,
                                  unsigned lg, bool used)
{
    if (used || lo >= sp->frames)
        return (struct cell){0, 0, 0};
    if (lg <= shift)
        return (struct cell){1u << lg, 1u << lg, 1u << lg};
    return sp->full[c];
}

/* Hand internal cell c's tag (if any) down to its children. */
static inline void push(struct space *sp, unsigned shift, uint64_t c, uint64_t lo, unsigned lg)
{
    const uint8_t tg = sp->tag[c];
    if (!tg)
        return;
    sp->tag[c] = 0;
    const uint64_t half = 1ull << (lg - 1);
    for (unsigned k = 0; k < 2; k++) {
        const uint64_t ch = 2 * c + k;
        if (ch >= sp->nleaves) { /* a leaf: its bits are exact */
            sp->cell[ch] = leaf_cell(sp->bits[ch - sp->nleaves]);
            continue;
        }
        sp->cell[ch] = uniform(sp, shift, ch, lo + k * half, lg - 1, tg == TAG_USED);
        sp->tag[ch] = tg;
    }
}

/* Every tag on the path from the root to leaf w handed down: the cells of the path and their
 * siblings are right. */
static void push_path(struct space *sp, unsigned shift, uint64_t w)
{
    const uint64_t pos = w << LEAF_SHIFT; /* the leaf's first position */
    uint64_t c = 1;
    for (unsigned lg = sp->lg_total; lg > LEAF_SHIFT; lg--) {
        if (sp->tag[c])
            push(sp, shift, c, pos & ~((1ull << lg) - 1), lg);
        c = 2 * c + ((pos >> (lg - 1)) & 1);
    }
}

/* Positions [a, e) all become free or used (their bits already set): cell c spanning 2^lg
 * positions from lo, whose level starts at cell index `level`. A cell inside [a, e) takes the
 * uniform value and a tag, so a range costs O(log N) cells whatever its length. */
static void assign(struct space *sp, unsigned shift, uint64_t c, uint64_t level, uint64_t lo,
                   unsigned lg, uint64_t a, uint64_t e, bool used)
{
    const uint64_t hi = lo + (1ull << lg);
    if (c >= sp->nleaves) {
        sp->cell[c] = leaf_cell(sp->bits[c - sp->nleaves]);
        return;
    }
    if (a <= lo && hi <= e) {
        sp->cell[c] = uniform(sp, shift, c, lo, lg, used);
        sp->tag[c] = used ? TAG_USED : TAG_FREE;
        return;
    }
    push(sp, shift, c, lo, lg);
    const uint64_t mid = lo + (1ull << (lg - 1));
    if (a < mid)
        assign(sp, shift, 2 * c, 2 * level, lo, lg - 1, a, e, used);
    if (e > mid)
        assign(sp, shift, 2 * c + 1, 2 * level, mid, lg - 1, a, e, used);
    pull(sp, shift, c, level, lg);
}

/* Set positions [p, p + n) free or not: the bits word by word, the cells by assign(). */
static void update(struct space *sp, unsigned shift, uint64_t p, uint64_t n, bool free)
{
    const uint64_t last = p + n - 1;
    const uint64_t w0 = p >> LEAF_SHIFT, w1 = last >> LEAF_SHIFT;
    if (w0 == w1) { /* one leaf: its path bottom-up, stopping where a cell does not change */
        uint64_t m = mask_between((unsigned)(p & 63), (unsigned)(last & 63));
        sp->bits[w0] = free ? sp->bits[w0] | m : sp->bits[w0] & ~m;
        push_path(sp, shift, w0);
        uint64_t c = sp->nleaves + w0, level = sp->nleaves;
        sp->cell[c] = leaf_cell(sp->bits[w0]);
        for (unsigned lg = LEAF_SHIFT + 1; c > 1; lg++) {
            c >>= 1, level >>= 1;
            const struct cell old = sp->cell[c];
            pull(sp, shift, c, level, lg);
            if (old.pre == sp->cell[c].pre && old.suf == sp->cell[c].suf && old.max == sp->cell[c].max)
                break;
        }
        return;
    } else {
        uint64_t m0 = mask_between((unsigned)(p & 63), 63), m1 = mask_between(0, (unsigned)(last & 63));
        sp->bits[w0] = free ? sp->bits[w0] | m0 : sp->bits[w0] & ~m0;
        sp->bits[w1] = free ? sp->bits[w1] | m1 : sp->bits[w1] & ~m1;
        if (w1 > w0 + 1)
            memset(sp->bits + w0 + 1, free ? 0xff : 0, (w1 - w0 - 1) * sizeof(uint64_t));
    }
    assign(sp, shift, 1, 1, 0, sp->lg_total, p, p + n, !free);
}

/* ---- search ---- */

struct query {
    struct space *sp;           /* not const: the walk hands tags down (push) */
    unsigned shift;
    uint64_t n;                 /* frames wanted */
    uint64_t b;                 /* boundary in frames, 0 = none */
    uint64_t lo, hi;            /* allowed positions [lo, hi) */
    uint64_t carry;             /* free positions from the walk's current edge up, usable */
    uint64_t steps, max_steps;  /* cells visited; the bound (UINT64_MAX: none) */
    uint64_t found;             /* the answer's position */
};

/* Is the edge between positions p - 1 and p a cut (run boundary or boundary multiple)? */
static inline bool is_cut(const struct query *q, uint64_t p)
{
    if (run_starts(q->sp, q->shift, p))
        return true;
    return q->b && bmod(q->b, pos_pfn(q->sp->hp_pfn, q->shift, p)) == 0;
}

/* Highest start of a block inside the free positions [a, e), all in one run, that crosses no
 * multiple of the boundary; NONE if there is none. */
static inline uint64_t fit_in(const struct query *q, uint64_t a, uint64_t e)
{
    if (e - a < q->n)
        return NONE;
    const uint64_t P = pos_pfn(q->sp->hp_pfn, q->shift, a);
    return fit_top(P, P + (e - a), q->n, q->b, P, a);
}

/* The free run from position lo up, given the carry above a span of `size`, cut at the first
 * multiple of the boundary. */
static inline uint64_t carry_from(const struct query *q, uint64_t lo, uint64_t pre, uint64_t size)
{
    if (pre == size)
        pre += q->carry;
    if (pre && q->b) {
        uint64_t room = q->b - bmod(q->b, pos_pfn(q->sp->hp_pfn, q->shift, lo));
        if (pre > room)
            pre = room;
    }
    return pre;
}

/* Leaf w at position lo: its free stretches from the top, the highest extended by the carry. */
static int visit_leaf(struct query *q, uint64_t w, uint64_t lo)
{
    uint64_t x = q->sp->bits[w];
    if (lo < q->lo)
        x &= ~0ull << (q->lo - lo);
    if (lo + LEAF_FRAMES > q->hi)
        x &= ~0ull >> (lo + LEAF_FRAMES - q->hi);
    const uint64_t word = x;
    while (x) {
        unsigned e = 64 - (unsigned)__builtin_clzll(x); /* stretch [s0, e) of bits */
        uint64_t y = ~(x << (64 - e));
        unsigned s0 = e - (y ? (unsigned)__builtin_clzll(y) : 64);
        uint64_t ext = e == 64 ? q->carry : 0;
        uint64_t s = fit_in(q, lo + s0, lo + e + ext);
        if (s != NONE) {
            q->found = s;
            return 1;
        }
        x &= s0 ? ~0ull >> (64 - s0) : 0;
    }
    q->carry = carry_from(q, lo, ~word ? (uint64_t)__builtin_ctzll(~word) : 64, 64);
    return 0;
}

/* Cell c spanning [lo, lo + size), which meets [q->lo, q->hi): 1 found, 0 not, -EAGAIN. */
static int visit(struct query *q, uint64_t c, uint64_t lo, uint64_t size)
{
    if (++q->steps > q->max_steps)
        return -EAGAIN;
    const uint64_t hi = lo + size;
    if (q->carry && is_cut(q, hi))
        q->carry = 0;
    if (lo >= q->lo && hi <= q->hi) {
        const struct cell x = q->sp->cell[c];
        uint64_t suf = x.suf;
        if (suf && q->b) {
            uint64_t room = bmod(q->b, pos_pfn(q->sp->hp_pfn, q->shift, hi - 1)) + 1;
            if (suf > room)
                suf = room;
        }
        if (suf + q->carry >= q->n) {
            q->found = hi + q->carry - q->n;
            return 1;
        }
        if (x.max < q->n) {
            q->carry = carry_from(q, lo, x.pre, size);
            return 0;
        }
    }
    if (size == LEAF_FRAMES)
        return visit_leaf(q, c - q->sp->nleaves, lo);
    push(q->sp, q->shift, c, lo, (unsigned)__builtin_ctzll(size)); /* the children are right */
    const uint64_t half = size >> 1;
    if (lo + half < q->hi) {
        int r = visit(q, 2 * c + 1, lo + half, half);
        if (r)
            return r;
    }
    if (lo + half > q->lo)
        return visit(q, 2 * c, lo, half);
    return 0;
}

/* The walk from the top of the range: the leaf holding hi - 1, then up the tree, each left
 * sibling met on the way (the cells just below what has been searched, twice as long each
 * step), until the range's bottom is passed. The answer, usually close to hi, costs
 * O(log(hi - answer)) cells instead of a descent from the root. 1, 0 or -EAGAIN. */
static int walk_down_from_top(struct query *q)
{
    uint64_t c = q->sp->nleaves + ((q->hi - 1) >> LEAF_SHIFT), size = LEAF_FRAMES;
    uint64_t clo = (q->hi - 1) & ~(LEAF_FRAMES - 1); /* searched: [clo, hi) */
    push_path(q->sp, q->shift, (q->hi - 1) >> LEAF_SHIFT); /* the path and its siblings are right */
    int r = visit(q, c, clo, size);
    for (; !r && clo > q->lo && c > 1; c >>= 1, size <<= 1) {
        if (c & 1) { /* a right child: its left sibling is next below */
            r = visit(q, c - 1, clo - size, size);
            clo -= size;
        }
    }
    return r;
}

static int tree_find(void *engine, const struct mmc_search *rq, uint64_t *first_frame, uint64_t *work)
{
    struct tree *t = engine;
    const struct mmc_frames *f = t->f;
    const uint64_t n = rq->frames, b = rq->boundary_frames;
    uint64_t best = NONE, steps = 0;

    *work = 0;
    if (n == 0 || (b && n > b) || rq->lowest_pfn > rq->highest_pfn)
        return -ENOMEM;
    for (unsigned nd = 0; nd < f->nnodes; nd++) {
        struct space *sp = &t->sp[nd];
        if (!(rq->node_mask & (1ull << nd)) || sp->frames < n || sp->cell[1].max < n)
            continue;
        struct query q = {.sp = sp, .shift = f->hp_shift, .n = n, .b = b, .steps = steps,
                          .max_steps = rq->max_work ? rq->max_work : UINT64_MAX};
        pfn_range(sp->hp_pfn, sp->nhp, f->hp_shift, rq->lowest_pfn, rq->highest_pfn, &q.lo, &q.hi);
        if (q.hi - q.lo < n)
            continue;
        int r = walk_down_from_top(&q);
        *work = steps = q.steps;
        if (r < 0)
            return -EAGAIN;
        if (r) {
            uint64_t i = ((uint64_t)sp->hp_global[q.found >> f->hp_shift] << f->hp_shift) |
                         (q.found & (f->hp_frames - 1));
            if (best == NONE || i > best)
                best = i;
        }
    }
    if (best == NONE)
        return -ENOMEM;
    *first_frame = best;
    return 0;
}

/* ---- take / give ---- */

static void tree_change(struct tree *t, uint64_t first, uint64_t n, bool free)
{
    const struct mmc_frames *f = t->f;
    if (!n)
        return;
    const uint64_t h = first >> f->hp_shift;
    struct space *sp = &t->sp[f->hp_node[h]];
    uint64_t p = ((uint64_t)t->hp_pos[h] << f->hp_shift) | (first & (f->hp_frames - 1));
    update(sp, f->hp_shift, p, n, free);
}

static void tree_take(void *engine, uint64_t first, uint64_t n) { tree_change(engine, first, n, false); }
static void tree_give(void *engine, uint64_t first, uint64_t n) { tree_change(engine, first, n, true); }

/* ---- create / destroy ---- */

static void tree_destroy(void *engine)
{
    struct tree *t = engine;
    if (!t)
        return;
    for (unsigned nd = 0; nd < MMC_MAX_NODES; nd++) {
        free(t->sp[nd].hp_pfn);
        free(t->sp[nd].hp_global);
        free(t->sp[nd].bits);
        free(t->sp[nd].cell);
        free(t->sp[nd].tag);
        free(t->sp[nd].full);
    }
    free(t->hp_pos);
    free(t);
}

static int tree_create(const struct mmc_frames *f, void **engine)
{
    struct tree *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->f = f;
    t->bytes = sizeof(*t);
    if (f->hp_frames < LEAF_FRAMES) { /* a leaf must not hold two runs */
        free(t);
        return -EINVAL;
    }
    t->hp_pos = malloc(f->nhugepages * sizeof(*t->hp_pos));
    if (!t->hp_pos)
        goto nomem;
    t->bytes += f->nhugepages * sizeof(*t->hp_pos);
    for (uint64_t h = 0; h < f->nhugepages; h++)
        t->hp_pos[h] = (uint32_t)t->sp[f->hp_node[h]].nhp++;
    for (unsigned nd = 0; nd < f->nnodes; nd++) {
        struct space *sp = &t->sp[nd];
        if (!sp->nhp)
            continue;
        sp->frames = sp->nhp << f->hp_shift;
        if (sp->frames > MAX_SPACE_FRAMES) {
            tree_destroy(t);
            return -E2BIG;
        }
        sp->nleaves = 1;
        while (sp->nleaves << LEAF_SHIFT < sp->frames)
            sp->nleaves <<= 1;
        sp->hp_pfn = malloc(sp->nhp * sizeof(*sp->hp_pfn));
        sp->hp_global = malloc(sp->nhp * sizeof(*sp->hp_global));
        sp->lg_total = (unsigned)__builtin_ctzll(sp->nleaves) + LEAF_SHIFT;
        sp->nfull = sp->nleaves >> (f->hp_shift - LEAF_SHIFT);
        sp->bits = calloc(sp->nleaves, sizeof(*sp->bits));
        sp->cell = calloc(2 * sp->nleaves, sizeof(*sp->cell));
        sp->tag = calloc(sp->nleaves, sizeof(*sp->tag));
        sp->full = calloc(sp->nfull, sizeof(*sp->full));
        if (!sp->hp_pfn || !sp->hp_global || !sp->bits || !sp->cell || !sp->tag || !sp->full)
            goto nomem;
        t->bytes += sp->nhp * (sizeof(*sp->hp_pfn) + sizeof(*sp->hp_global)) +
                    sp->nleaves * (sizeof(*sp->bits) + 2 * sizeof(*sp->cell) + sizeof(*sp->tag)) +
                    sp->nfull * sizeof(*sp->full);
        sp->nhp = 0;
    }
    for (uint64_t h = 0; h < f->nhugepages; h++) {
        struct space *sp = &t->sp[f->hp_node[h]];
        pos_add_hugepage(f, h, sp->nhp++, sp->hp_pfn, sp->hp_global, sp->bits);
    }
    for (unsigned nd = 0; nd < f->nnodes; nd++) {
        struct space *sp = &t->sp[nd];
        if (!sp->nhp)
            continue;
        for (uint64_t w = 0; w < sp->nleaves; w++)
            sp->cell[sp->nleaves + w] = leaf_cell(sp->bits[w]);
        for (uint64_t c = sp->nfull; c-- > 1;) { /* all-free values above the hugepage level */
            const unsigned d = (unsigned)(63 - __builtin_clzll(c)), lg = sp->lg_total - d;
            const uint64_t lo = (c - (1ull << d)) << lg, h = 1ull << (lg - 1);
            const struct cell L = 2 * c < sp->nfull ? sp->full[2 * c]
                                                    : uniform(sp, f->hp_shift, 2 * c, lo, lg - 1, false);
            const struct cell R = 2 * c + 1 < sp->nfull
                                      ? sp->full[2 * c + 1]
                                      : uniform(sp, f->hp_shift, 2 * c + 1, lo + h, lg - 1, false);
            sp->full[c] = combine(L, R, h, run_starts(sp, f->hp_shift, lo + h));
        }
        const uint64_t total = sp->nleaves << LEAF_SHIFT;
        for (uint64_t c = sp->nleaves - 1; c >= 1; c--)
        {
            const unsigned d = (unsigned)(63 - __builtin_clzll(c));
            pull(sp, f->hp_shift, c, 1ull << d, (unsigned)__builtin_ctzll(total) - d);
        }
    }
    *engine = t;
    return 0;
nomem:
    tree_destroy(t);
    return -ENOMEM;
}

static size_t tree_metadata(const void *engine) { return ((const struct tree *)engine)->bytes; }

const struct mmc_engine_ops _mmc_engine_tree = {
    .name = "tree",
    .summary = "segment tree of free stretches per node: top-down first fit (linear's block), "
               "O(log N) per search without a boundary",
    .work_unit = "tree cells visited (a leaf is a cell)",
    .fast_only_work = 1ull << 13,
    .create = tree_create,
    .destroy = tree_destroy,
    .find = tree_find,
    .take = tree_take,
    .give = tree_give,
    .metadata_bytes = tree_metadata,
};
