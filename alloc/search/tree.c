/* alloc/search/tree.c: engine `tree`, a segment tree of free stretches per node over the span,
 * searched from the top down.
 *
 * Index: over the frame database's span indices (frame i = PFN base_pfn + i), one tree per
 * node, in two parts:
 *   - per hugepage, at its ordinal, one record: a bitmap of its free frames (one 64-bit word
 *     per leaf, always exact), and over its leaves a complete binary tree of cells, each
 *     holding for the frames it spans the free prefix, the free suffix and the longest free
 *     stretch (pre, suf, max; uint8 at the leaves, uint32 above), up to the cell spanning the
 *     whole hugepage; plus the hugepage's slot and its parent in the trie;
 *   - above the hugepages, per node, a compressed binary trie (PATRICIA) over hugepage slot
 *     numbers: a trie node spans an aligned block of 2^lg slots and has exactly two children,
 *     one in each half, each a trie node or a hugepage (so a node of H hugepages has H - 1 trie
 *     nodes, wherever they lie in the span). Its cell holds pre, suf and max (uint64) over its
 *     whole block, frames not in this node's tree counting as used.
 * Absent frames, and frames of other nodes, read as used, so a stretch never crosses a gap
 * of the span; and two present frames of one node that are adjacent in the span are
 * physically adjacent on one node, so in one run: a node's tree needs no run boundaries at
 * all, and a hugepage that joins two runs simply makes its neighbours' stretches meet.
 *
 * Algorithm (find): per allowed node, the PFN range becomes a frame index range [lo, hi),
 * clipped to the node's highest hugepage. The walk starts at the hugepage holding hi - 1 (the
 * database's directory; if that slot is not this node's, the nearest of the 4 slots below it
 * that is, else the trie's predecessor, and hi drops to that hugepage's end), at the leaf
 * holding hi - 1, and climbs: the leaf's cells up
 * to the hugepage, then the trie nodes via parent links; each left sibling met on the way up
 * is the next stretch of frames below what has been searched, so the cells meeting [lo, hi)
 * are visited from the top down, a cell entered right child first. The walk carries the
 * length of the free stretch that begins just above the current cell (cut at a multiple of
 * the boundary, at hi, and at any gap: a cell that does not end where the carry begins drops
 * it). A cell that lies inside the range is settled from its three numbers:
 *   - free suffix (cut at the last multiple of the boundary) + carry >= n: the highest start in
 *     the cell is its end + carry - n; that is the answer, nothing above it held one;
 *   - longest < n: no block starts in the cell; skip it, carry becomes its free prefix (plus
 *     the carry when the cell is all free), cut at the first multiple;
 *   - otherwise descend. A leaf is settled by walking its free stretches from the top
 *     (ctz/clz), each checked with the exact rule linear.c uses (highest start in the stretch,
 *     lowered to end on a multiple of the boundary when it crosses one).
 * The leaf holding hi - 1 is masked; cells that straddle lo are always descended (one path).
 * Without a boundary a cell inside the range whose longest stretch is >= n surely holds a
 * block, so the walk never backs out of a cell it entered; the longest stretch ignores
 * boundary multiples, though, so with a boundary it is a necessary test only: the walk may
 * enter a cell whose long stretches are all cut into pieces < n, finds nothing there and goes
 * on, exactly, to the next cell below.
 * Several allowed nodes: each node's tree is searched (a node whose top is too low to beat
 * the best start found is skipped), the highest frame index wins.
 *
 * Placement: top-down, first fit: the highest-PFN block satisfying the request, the same block
 * linear.c returns (so the two compare block for block). Complete: it fails only when no
 * satisfying block exists.
 * Time, for a node of H hugepages of F frames, D the depth of its trie (<= min(H, log2 of the
 * span's hugepage slots), log2 H for a dense pool): find O((1 + K)(D + log F)) cells per
 * allowed node, K the free stretches above the answer, inside the range, of at least n frames
 * that a multiple of the boundary cuts into pieces shorter than n (K = 0 without a boundary);
 * the climb makes it O(log(hi - answer)) cells when no such stretch is in the way, which is the
 * usual case, plus O(D) for the predecessor when neither hi - 1's slot nor the 4 below are
 * this node's.
 * take / give of n frames O(n / 64 + D + log F), eager, no lazy tags: the bits word by word
 * (memset), the cells of the leaves touched and their ancestors inside each hugepage (a whole
 * hugepage is filled with its uniform values), then the trie nodes above the hugepages
 * touched, each recomputed once, by the last hugepage of the range inside its block, stopping
 * early where a cell that holds the whole range does not change.
 * create O(pool frames / 64): the records from the database's free plane, each node's trie
 * built by appending its hugepages in ascending slot order along its right spine, its cells in
 * one pass. The two tables (records, trie nodes) are struct mmc_tab with address space for
 * every slot of the span, so reserve makes room in place, copying nothing (a heap block that
 * doubles where the kernel refuses the reservation); room follows f->hp_cap. add O(F / 64 + D): the hugepage's record from the free
 * plane, one trie node spliced in where its slot parts from the trie, and the cells on its
 * path recomputed (new neighbours' stretches meet there): the cost of a give of its frames.
 * Metadata: per hugepage (2 MiB hugepages) a record of 192 bytes (16 head, 7 cells of 12, 64
 * of bits, 8 leaf cells of 3) and one trie node of 48 bytes: 240 bytes per 512 frames, 0.469
 * byte per frame of pool (1 GiB hugepages: 0.36), plus ~1.6 KiB
 * fixed (a trie root per node number). Nothing per frame, slot or section of the span: a dense
 * 1 TiB pool costs 0.469 byte per frame of pool (0.23 per frame of span in test_engines' 1 TiB
 * partition, whose span is ~2x its pool); the sparse layout (128 lone hugepages over a 4 TiB
 * span) 32 KiB: 0.50 byte per frame of pool, 0.00003 per frame of span (test_engines). Address
 * space (reserved, never touched beyond the room made): 240 bytes per hugepage slot of the span.
 * Limits: hugepages of 64 frames at least (a leaf lies in one hugepage) and 2^31 at most (the
 * cells inside a hugepage are 32-bit), else create fails -EINVAL; fewer than 2^31 - 2
 * hugepages (the trie's references), else -E2BIG (create) or -ENOMEM (reserve).
 * max_work counts cells visited (a leaf is a cell; a slot probed below hi - 1's and a trie node
 * read by the predecessor search count as one each); beyond it find returns -EAGAIN.
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define LEAF_SHIFT 6
#define LEAF_FRAMES (1ull << LEAF_SHIFT) /* frames per leaf: one bitmap word */
#define REF_HP 0x80000000u      /* a trie reference with this bit: the hugepage of that ordinal */
#define NIL UINT32_MAX          /* no reference (the root's parent, an empty trie) */
#define NOT_IN (UINT32_MAX - 1) /* a hugepage's parent before add(): not in any trie */
#define MAX_HUGEPAGES (REF_HP - 2)
#define PROBE_SLOTS 4           /* slots below hi - 1 looked up in the directory before the
                                   trie's predecessor search */

/* A cell inside a hugepage (above the leaves). */
struct cell {
    uint32_t pre;               /* free frames from the first one up */
    uint32_t suf;               /* free frames from the last one down */
    uint32_t max;               /* longest free stretch inside */
};
/* A leaf's cell: its word's pre, suf, max. */
struct lcell {
    uint8_t pre, suf, max;
};
/* A trie node: the aligned block of slots [lo, lo + 2^lg), one child in each half. */
struct tnode {
    uint64_t pre, suf, max;     /* over the block's frames, absent ones used */
    uint64_t lo;                /* the block's first slot */
    uint32_t child[2];          /* references: lower half, upper half */
    uint32_t parent;            /* trie node index, or NIL (the root) */
    uint32_t lg;                /* log2 of the block's slots, >= 1 */
};
/* The head of a hugepage's record. */
struct head {
    uint64_t slot;              /* its hugepage slot (frame index >> hp_shift) */
    uint32_t parent;            /* trie node index, NIL (the trie's root) or NOT_IN */
    uint32_t pad;
};
/* One node's trie. */
struct trie {
    uint32_t root;              /* reference, or NIL */
    uint32_t top;               /* ordinal of its highest hugepage (root != NIL) */
    uint64_t top_slot;          /* and its slot */
    uint32_t last;              /* create: the hugepage appended last */
};

struct tree {
    const struct mmc_frames *f;
    unsigned shift;             /* hp_shift */
    uint64_t hpf;               /* frames per hugepage */
    uint64_t wph;               /* leaves (words) per hugepage */
    /* Per ordinal, rec_bytes: struct head; cells 1 .. wph - 1 (cell 1 spans the hugepage, c's
     * children are 2c, 2c + 1; c >= wph is leaf c - wph); the bits, wph words; the leaf cells. */
    size_t rec_bytes, off_bits, off_leaf;
    uint8_t *rec;
    uint64_t rec_cap;           /* ordinals rec has room for */
    struct tnode *node;
    uint64_t nnodes, node_cap;  /* trie nodes in use, room */
    struct mmc_tab rec_tab, node_tab; /* what rec and node point into: room for f->nslots
                                   entries reserved, so a growth moves nothing */
    struct trie tr[MMC_MAX_NODES];
};

/* ---- records ---- */

static inline uint8_t *rec_of(const struct tree *t, uint32_t o) { return t->rec + (size_t)o * t->rec_bytes; }
static inline struct head *head_of(uint8_t *r) { return (struct head *)r; }
/* cells_of(r)[c] for 1 <= c < wph */
static inline struct cell *cells_of(uint8_t *r) { return (struct cell *)(r + sizeof(struct head)) - 1; }
static inline uint64_t *bits_of(const struct tree *t, uint8_t *r) { return (uint64_t *)(r + t->off_bits); }
static inline struct lcell *leaves_of(const struct tree *t, uint8_t *r) { return (struct lcell *)(r + t->off_leaf); }

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

static inline struct lcell leaf_cell(uint64_t w)
{
    if (w == ~0ull)
        return (struct lcell){64, 64, 64};
    return (struct lcell){(uint8_t)__builtin_ctzll(~w), (uint8_t)__builtin_clzll(~w), (uint8_t)longest_ones(w)};
}

/* Cell c of a record (1 <= c < 2 wph), widened. */
static inline struct cell hp_cell(const struct tree *t, uint8_t *r, uint64_t c)
{
    if (c >= t->wph) {
        const struct lcell l = leaves_of(t, r)[c - t->wph];
        return (struct cell){l.pre, l.suf, l.max};
    }
    return cells_of(r)[c];
}

/* Two halves of 2h frames each, inside one hugepage (no gap, one run). */
static inline struct cell combine(struct cell L, struct cell R, uint32_t h)
{
    struct cell x;
    x.pre = L.pre == h ? h + R.pre : L.pre;
    x.suf = R.suf == h ? h + L.suf : R.suf;
    x.max = L.max > R.max ? L.max : R.max;
    if (L.suf + R.pre > x.max)
        x.max = L.suf + R.pre;
    return x;
}

static inline bool cell_eq(struct cell a, struct cell b) { return a.pre == b.pre && a.suf == b.suf && a.max == b.max; }

/* Every cell of record r from its bits. O(wph). */
static void hp_build(const struct tree *t, uint8_t *r)
{
    const uint64_t *bits = bits_of(t, r);
    struct lcell *lf = leaves_of(t, r);
    struct cell *cl = cells_of(r);
    for (uint64_t w = 0; w < t->wph; w++)
        lf[w] = leaf_cell(bits[w]);
    for (uint64_t c = t->wph; c-- > 1;) {
        const unsigned lg = t->shift - floor_log2(c);
        cl[c] = combine(hp_cell(t, r, 2 * c), hp_cell(t, r, 2 * c + 1), 1u << (lg - 1));
    }
}

/* Frames [a, e) of record r (offsets in the hugepage, a < e) become free or used. Returns
 * whether the hugepage's cell changed. O((e - a) / 64 + log wph). */
static bool hp_update(const struct tree *t, uint8_t *r, uint64_t a, uint64_t e, bool free)
{
    uint64_t *bits = bits_of(t, r);
    struct lcell *lf = leaves_of(t, r);
    struct cell *cl = cells_of(r);
    const struct cell old = hp_cell(t, r, 1);
    if (a == 0 && e == t->hpf) { /* the whole hugepage: uniform values */
        memset(bits, free ? 0xff : 0, t->wph * sizeof(uint64_t));
        memset(lf, free ? 64 : 0, t->wph * sizeof(struct lcell));
        for (uint64_t c = 1; c < t->wph; c++) {
            const uint32_t v = free ? 1u << (t->shift - floor_log2(c)) : 0;
            cl[c] = (struct cell){v, v, v};
        }
        return !cell_eq(old, hp_cell(t, r, 1));
    }
    _mmc_search_set_bits(bits, a, e - a, free);
    const uint64_t w0 = a >> LEAF_SHIFT, w1 = (e - 1) >> LEAF_SHIFT;
    for (uint64_t w = w0; w <= w1; w++)
        lf[w] = leaf_cell(bits[w]);
    uint64_t lo = (t->wph + w0) >> 1, hi = (t->wph + w1) >> 1;
    for (unsigned lg = LEAF_SHIFT + 1; lo >= 1; lo >>= 1, hi >>= 1, lg++) {
        const struct cell was = cl[lo];
        for (uint64_t c = lo; c <= hi; c++)
            cl[c] = combine(hp_cell(t, r, 2 * c), hp_cell(t, r, 2 * c + 1), 1u << (lg - 1));
        if (lo == hi && cell_eq(was, cl[lo]))
            return false; /* one cell holds every leaf touched and did not change */
    }
    return !cell_eq(old, hp_cell(t, r, 1));
}

/* ---- the trie ---- */

/* What the trie needs of a reference: its block of slots and its cell. */
struct kid {
    uint64_t lo, end;           /* slots [lo, end) */
    uint64_t pre, suf, max;
};

static inline struct kid kid_of(const struct tree *t, uint32_t ref)
{
    if (ref & REF_HP) {
        uint8_t *r = rec_of(t, ref & ~REF_HP);
        const struct cell c = hp_cell(t, r, 1);
        const uint64_t s = head_of(r)->slot;
        return (struct kid){s, s + 1, c.pre, c.suf, c.max};
    }
    const struct tnode *N = &t->node[ref];
    return (struct kid){N->lo, N->lo + (1ull << N->lg), N->pre, N->suf, N->max};
}

static inline uint64_t ref_max(const struct tree *t, uint32_t ref)
{
    return ref & REF_HP ? hp_cell(t, rec_of(t, ref & ~REF_HP), 1).max : t->node[ref].max;
}

static inline void set_parent(struct tree *t, uint32_t ref, uint32_t p)
{
    if (ref & REF_HP)
        head_of(rec_of(t, ref & ~REF_HP))->parent = p;
    else
        t->node[ref].parent = p;
}

/* Recompute trie node i from its children; returns whether it changed. A stretch crosses the
 * block's middle only if both children touch it (absent slots are used). */
static bool pull_node(struct tree *t, uint32_t i)
{
    struct tnode *N = &t->node[i];
    const struct kid L = kid_of(t, N->child[0]), R = kid_of(t, N->child[1]);
    const uint64_t mid = N->lo + (1ull << (N->lg - 1)), end = N->lo + (1ull << N->lg);
    const uint64_t h = t->hpf << (N->lg - 1); /* frames per half */
    const uint64_t Lp = L.lo == N->lo ? L.pre : 0, Ls = L.end == mid ? L.suf : 0;
    const uint64_t Rp = R.lo == mid ? R.pre : 0, Rs = R.end == end ? R.suf : 0;
    /* pre == h only for a child that is the whole half, all free */
    const uint64_t pre = L.pre == h ? h + Rp : Lp, suf = R.suf == h ? h + Ls : Rs;
    uint64_t max = L.max > R.max ? L.max : R.max;
    if (Ls + Rp > max)
        max = Ls + Rp;
    const bool changed = pre != N->pre || suf != N->suf || max != N->max;
    N->pre = pre, N->suf = suf, N->max = max;
    return changed;
}

/* Cells of every trie node under ref, children first. */
static void pull_all(struct tree *t, uint32_t ref)
{
    if (ref & REF_HP)
        return;
    pull_all(t, t->node[ref].child[0]);
    pull_all(t, t->node[ref].child[1]);
    pull_node(t, ref);
}

/* A new trie node over reference x (whose block does not hold slot s) and hugepage o at slot s,
 * in x's place under parent p (NIL: the root). Returns its index. */
static uint32_t splice(struct tree *t, struct trie *T, uint32_t x, uint64_t xlo, uint32_t p, uint32_t o,
                       uint64_t s)
{
    const uint32_t i = (uint32_t)t->nnodes++;
    struct tnode *M = &t->node[i];
    const unsigned lg = floor_log2(s ^ xlo) + 1;
    const unsigned k = (unsigned)(s >> (lg - 1)) & 1; /* the new hugepage's half */
    *M = (struct tnode){.lo = s & ~((1ull << lg) - 1), .parent = p, .lg = lg};
    M->child[k] = REF_HP | o;
    M->child[1 - k] = x;
    set_parent(t, x, i);
    set_parent(t, REF_HP | o, i);
    if (p == NIL)
        T->root = i;
    else
        t->node[p].child[t->node[p].child[1] == x] = i;
    return i;
}

/* Hugepage o (slot s, record built) enters trie T, anywhere. Returns its parent (NIL if it is
 * the root). O(depth). */
static uint32_t trie_insert(struct tree *t, struct trie *T, uint32_t o, uint64_t s)
{
    if (s > T->top_slot || T->root == NIL)
        T->top = o, T->top_slot = s;
    if (T->root == NIL) {
        T->root = REF_HP | o;
        head_of(rec_of(t, o))->parent = NIL;
        return NIL;
    }
    uint32_t x = T->root, p = NIL;
    for (;;) {
        const struct kid k = kid_of(t, x);
        const unsigned lg = x & REF_HP ? 0 : t->node[x].lg;
        if ((s >> lg) != (k.lo >> lg))
            return splice(t, T, x, k.lo, p, o, s);
        p = x; /* s inside x's block: x is a trie node (s is not present yet) */
        x = t->node[x].child[(s >> (lg - 1)) & 1];
    }
}

/* Hugepage o (slot s, above every hugepage of T) appended along T's right spine: amortised
 * O(1). Cells are left for pull_all. */
static void trie_append(struct tree *t, struct trie *T, uint32_t o, uint64_t s)
{
    if (T->root == NIL) {
        T->root = REF_HP | o;
        head_of(rec_of(t, o))->parent = NIL;
    } else {
        uint32_t x = REF_HP | T->last;
        for (;;) {
            const uint32_t p = x & REF_HP ? head_of(rec_of(t, x & ~REF_HP))->parent : t->node[x].parent;
            if (p == NIL || (s >> t->node[p].lg) == (t->node[p].lo >> t->node[p].lg))
                break;
            x = p;
        }
        const uint32_t p = x & REF_HP ? head_of(rec_of(t, x & ~REF_HP))->parent : t->node[x].parent;
        splice(t, T, x, kid_of(t, x).lo, p, o, s);
    }
    T->last = o;
    T->top = o, T->top_slot = s;
}

/* ---- search ---- */

struct query {
    const struct tree *t;
    uint64_t base_pfn;          /* PFN of frame index 0 */
    uint64_t n;                 /* frames wanted */
    uint64_t b;                 /* boundary in frames, 0 = none */
    uint64_t lo, hi;            /* allowed frame indices [lo, hi) */
    uint64_t carry;             /* free frames from edge up, usable */
    uint64_t edge;              /* where the carry begins (the bottom of what was searched) */
    uint64_t steps, max_steps;  /* cells visited; the bound (UINT64_MAX: none) */
    uint64_t found;             /* the answer's frame index */
};

/* Highest start of a block inside the free frames [a, e), all in one run, that crosses no
 * multiple of the boundary; NONE if there is none. */
static inline uint64_t fit_in(const struct query *q, uint64_t a, uint64_t e)
{
    if (e - a < q->n)
        return NONE;
    const uint64_t P = q->base_pfn + a;
    return fit_top(P, P + (e - a), q->n, q->b, P, a);
}

/* The free stretch from frame lo up, given the carry above a span of `size` with free prefix
 * pre, cut at the first multiple of the boundary. */
static inline uint64_t carry_from(const struct query *q, uint64_t lo, uint64_t pre, uint64_t size)
{
    if (pre == size)
        pre += q->carry;
    if (pre && q->b) {
        uint64_t room = q->b - bmod(q->b, q->base_pfn + lo);
        if (pre > room)
            pre = room;
    }
    return pre;
}

/* Entering the cell [clo, chi): the carry survives only if it begins at chi and no multiple of
 * the boundary lies there. Then a cell inside the range is settled from its numbers: 1 found,
 * 0 skipped (the carry and edge moved below it), 2 descend. */
static inline int settle(struct query *q, uint64_t clo, uint64_t chi, uint64_t pre, uint64_t suf, uint64_t max)
{
    if (q->carry && (chi != q->edge || (q->b && bmod(q->b, q->base_pfn + chi) == 0)))
        q->carry = 0;
    if (clo < q->lo || chi > q->hi)
        return 2;
    if (suf && q->b) {
        uint64_t room = bmod(q->b, q->base_pfn + chi - 1) + 1;
        if (suf > room)
            suf = room;
    }
    if (suf + q->carry >= q->n) {
        q->found = chi + q->carry - q->n;
        return 1;
    }
    if (max < q->n) {
        q->carry = carry_from(q, clo, pre, chi - clo);
        q->edge = clo;
        return 0;
    }
    return 2;
}

/* Leaf word x at frame lo: its free stretches from the top, the highest extended by the carry. */
static int visit_leaf(struct query *q, uint64_t x, uint64_t lo)
{
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
    q->edge = lo;
    return 0;
}

/* Cell c (level lg: it spans 2^lg frames from clo) of record r, meeting [q->lo, q->hi):
 * 1 found, 0 not, -EAGAIN. */
static int visit_hp(struct query *q, uint8_t *r, uint64_t c, uint64_t clo, unsigned lg)
{
    if (++q->steps > q->max_steps)
        return -EAGAIN;
    const struct tree *t = q->t;
    const struct cell x = hp_cell(t, r, c);
    const int s = settle(q, clo, clo + (1ull << lg), x.pre, x.suf, x.max);
    if (s != 2)
        return s;
    if (lg == LEAF_SHIFT)
        return visit_leaf(q, bits_of(t, r)[c - t->wph], clo);
    const uint64_t half = 1ull << (lg - 1);
    if (clo + half < q->hi) {
        int res = visit_hp(q, r, 2 * c + 1, clo + half, lg - 1);
        if (res)
            return res;
    }
    if (clo + half > q->lo)
        return visit_hp(q, r, 2 * c, clo, lg - 1);
    return 0;
}

/* Trie reference ref (a node or a hugepage): 1 found, 0 not, -EAGAIN. */
static int visit_ref(struct query *q, uint32_t ref)
{
    const struct tree *t = q->t;
    if (ref & REF_HP) {
        uint8_t *r = rec_of(t, ref & ~REF_HP);
        const uint64_t clo = head_of(r)->slot << t->shift;
        if (clo >= q->hi || clo + t->hpf <= q->lo)
            return 0;
        return visit_hp(q, r, 1, clo, t->shift);
    }
    const struct tnode *N = &t->node[ref];
    const uint64_t clo = N->lo << t->shift, chi = clo + (t->hpf << N->lg);
    if (clo >= q->hi || chi <= q->lo)
        return 0;
    if (++q->steps > q->max_steps)
        return -EAGAIN;
    const int s = settle(q, clo, chi, N->pre, N->suf, N->max);
    if (s != 2)
        return s;
    const int res = visit_ref(q, N->child[1]);
    return res ? res : visit_ref(q, N->child[0]);
}

/* The walk from the top of the range: the leaf holding hi - 1 (in hugepage o), then up its
 * hugepage's cells and up the trie, each left sibling met on the way (the cells just below
 * what has been searched), until the range's bottom is passed. 1, 0 or -EAGAIN. */
static int walk_down_from_top(struct query *q, uint32_t o)
{
    const struct tree *t = q->t;
    uint8_t *r = rec_of(t, o);
    const uint64_t hlo = head_of(r)->slot << t->shift;
    uint64_t c = t->wph + ((q->hi - 1 - hlo) >> LEAF_SHIFT);
    uint64_t clo = (q->hi - 1) & ~(LEAF_FRAMES - 1); /* searched: [clo, hi) */
    unsigned lg = LEAF_SHIFT;
    int res = visit_hp(q, r, c, clo, lg);
    for (; !res && clo > q->lo && c > 1; c >>= 1, lg++) {
        if (c & 1) { /* a right child: its left sibling is next below */
            clo -= 1ull << lg;
            res = visit_hp(q, r, c - 1, clo, lg);
        }
    }
    if (res || clo <= q->lo)
        return res;
    uint32_t x = REF_HP | o, p = head_of(r)->parent;
    while (p != NIL && clo > q->lo) {
        const struct tnode *P = &t->node[p];
        if (P->child[1] == x && (res = visit_ref(q, P->child[0])))
            return res;
        clo = P->lo << t->shift;
        x = p;
        p = P->parent;
    }
    return 0;
}

/* The highest hugepage of trie T at or below slot s, NIL if none, or NOT_IN if the work bound
 * was reached first (each trie node read is a step). */
static uint32_t trie_pred(const struct tree *t, const struct trie *T, uint64_t s, uint64_t *steps,
                          uint64_t max_steps)
{
    uint32_t x = T->root, alt = NIL; /* alt: the last lower half passed by */
    while (!(x & REF_HP)) {
        if (++*steps > max_steps)
            return NOT_IN;
        const struct tnode *N = &t->node[x];
        if (s < N->lo) {
            x = alt;
            goto rightmost;
        }
        if (s >= N->lo + (1ull << N->lg) - 1)
            goto rightmost;
        if ((s >> (N->lg - 1)) & 1) {
            alt = N->child[0];
            x = N->child[1];
        } else {
            x = N->child[0];
        }
    }
    if (head_of(rec_of(t, x & ~REF_HP))->slot <= s)
        return x & ~REF_HP;
    x = alt;
rightmost:
    if (x == NIL)
        return NIL;
    while (!(x & REF_HP)) {
        if (++*steps > max_steps)
            return NOT_IN;
        x = t->node[x].child[1];
    }
    return x & ~REF_HP;
}

static int tree_find(void *engine, const struct mmc_search *rq, uint64_t *first_frame, uint64_t *work)
{
    const struct tree *t = engine;
    const struct mmc_frames *f = t->f;
    const uint64_t n = rq->frames, b = rq->boundary_frames;
    uint64_t best = NONE, steps = 0;

    *work = 0;
    const uint64_t end_pfn = f->base_pfn + f->nframes; /* the span, PFNs [base_pfn, end_pfn) */
    if (n == 0 || (b && n > b) || rq->lowest_pfn > rq->highest_pfn || rq->highest_pfn < f->base_pfn ||
        rq->lowest_pfn >= end_pfn)
        return -ENOMEM;
    const uint64_t lo = (rq->lowest_pfn > f->base_pfn ? rq->lowest_pfn : f->base_pfn) - f->base_pfn;
    const uint64_t hi = (rq->highest_pfn < end_pfn - 1 ? rq->highest_pfn : end_pfn - 1) - f->base_pfn + 1;
    if (hi - lo < n)
        return -ENOMEM;
    const uint64_t max_steps = rq->max_work ? rq->max_work : UINT64_MAX;
    for (unsigned nd = 0; nd < f->nnodes; nd++) {
        const struct trie *T = &t->tr[nd];
        if (!(rq->node_mask & (1ull << nd)) || T->root == NIL || ref_max(t, T->root) < n)
            continue;
        uint64_t top = (T->top_slot + 1) << t->shift;
        uint32_t o = T->top;
        if (hi < top) { /* the hugepage holding hi - 1, or the trie's highest below it */
            const uint64_t s = (hi - 1) >> t->shift;
            o = MMC_ORD_NONE;
            for (uint64_t k = 0; k < PROBE_SLOTS && k <= s && o == MMC_ORD_NONE; k++) {
                if (k && ++steps > max_steps) { /* a probe below hi - 1's slot is a step */
                    *work = steps;
                    return -EAGAIN;
                }
                o = mmc_frames_ord(f, s - k); /* the directory first: gaps are short */
                if (o != MMC_ORD_NONE && (o >= t->rec_cap || head_of(rec_of(t, o))->parent == NOT_IN ||
                                          f->hp_node[o] != nd))
                    o = MMC_ORD_NONE;
            }
            if (o != MMC_ORD_NONE && head_of(rec_of(t, o))->slot != s) {
                top = (head_of(rec_of(t, o))->slot + 1) << t->shift;
            } else if (o == MMC_ORD_NONE) {
                o = trie_pred(t, T, s, &steps, max_steps);
                if (o == NOT_IN) {
                    *work = steps;
                    return -EAGAIN;
                }
                if (o == NIL)
                    continue;
                top = (head_of(rec_of(t, o))->slot + 1) << t->shift;
            } else {
                top = hi;
            }
        }
        if (top <= lo || top - lo < n || (best != NONE && top - n <= best))
            continue; /* too low to hold the block, or to beat the best so far */
        struct query q = {.t = t, .base_pfn = f->base_pfn, .n = n, .b = b, .lo = lo, .hi = top,
                          .edge = top, .steps = steps, .max_steps = max_steps};
        const int res = walk_down_from_top(&q, o);
        steps = q.steps;
        if (res < 0) {
            *work = steps;
            return -EAGAIN;
        }
        if (res && (best == NONE || q.found > best))
            best = q.found;
    }
    *work = steps;
    if (best == NONE)
        return -ENOMEM;
    *first_frame = best;
    return 0;
}

/* ---- take / give ---- */

/* Frames [first, first + n), inside one run (so present, on one node), become free or used:
 * each hugepage's record, then each trie node above them once, by the last hugepage of the
 * range inside its block; a node holding the whole range that does not change stops it. */
static void tree_change(struct tree *t, uint64_t first, uint64_t n, bool free)
{
    const struct mmc_frames *f = t->f;
    if (!n)
        return;
    const uint64_t last = first + n - 1, s0 = first >> t->shift, s1 = last >> t->shift;
    const uint64_t m = t->hpf - 1;
    for (uint64_t s = s0; s <= s1; s++) {
        uint8_t *r = rec_of(t, mmc_frames_ord(f, s));
        const bool changed = hp_update(t, r, s == s0 ? first & m : 0, s == s1 ? (last & m) + 1 : t->hpf, free);
        if (s == s0 && !changed)
            continue; /* nothing changed below anything holding s (later ones climb alone) */
        for (uint32_t p = head_of(r)->parent; p != NIL;) {
            struct tnode *P = &t->node[p];
            const uint64_t pend = P->lo + (1ull << P->lg);
            if (s != (s1 < pend - 1 ? s1 : pend - 1))
                break; /* a later hugepage of the range recomputes P */
            if (!pull_node(t, p) && P->lo <= s0)
                break;
            p = P->parent;
        }
    }
}

static void tree_take(void *engine, uint64_t first, uint64_t n) { tree_change(engine, first, n, false); }
static void tree_give(void *engine, uint64_t first, uint64_t n) { tree_change(engine, first, n, true); }

/* ---- create / growth / destroy ---- */

/* Room for cap ordinals (records not in a trie yet) and cap trie nodes, in place (nothing
 * copied, unless the tables fell back to the heap). 0 or -ENOMEM (find sees no change). */
static int tree_room(struct tree *t, uint64_t cap)
{
    if (cap > t->rec_cap) {
        const int rc = mmc_tab_room(&t->rec_tab, cap * t->rec_bytes);
        t->rec = t->rec_tab.p;
        if (rc < 0)
            return rc;
        for (uint64_t o = t->rec_cap; o < cap; o++)
            head_of(rec_of(t, (uint32_t)o))->parent = NOT_IN;
        t->rec_cap = cap;
    }
    if (cap > t->node_cap) {
        const int rc = mmc_tab_room(&t->node_tab, cap * sizeof(struct tnode));
        t->node = t->node_tab.p;
        if (rc < 0)
            return rc;
        t->node_cap = cap;
    }
    return 0;
}

/* Record of hugepage o at slot s from the database's free plane. */
static void hp_load(struct tree *t, uint32_t o, uint64_t s)
{
    uint8_t *r = rec_of(t, o);
    head_of(r)->slot = s;
    head_of(r)->pad = 0;
    memcpy(bits_of(t, r), mmc_frames_words(t->f, MMC_PLANE_FREE, o), t->wph * sizeof(uint64_t));
    hp_build(t, r);
}

static void tree_destroy(void *engine)
{
    struct tree *t = engine;
    if (!t)
        return;
    mmc_tab_free(&t->rec_tab);
    mmc_tab_free(&t->node_tab);
    free(t);
}

static int tree_create(const struct mmc_frames *f, void **engine)
{
    if (f->hp_frames < LEAF_FRAMES || f->hp_shift > 31) /* a leaf in one hugepage; 32-bit cells */
        return -EINVAL;
    if (f->nhugepages > MAX_HUGEPAGES)
        return -E2BIG;
    struct tree *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->f = f;
    t->shift = f->hp_shift;
    t->hpf = f->hp_frames;
    t->wph = f->wph;
    const size_t cells_end = sizeof(struct head) + (t->wph - 1) * sizeof(struct cell);
    t->off_bits = (cells_end + 7) & ~(size_t)7;
    t->off_leaf = t->off_bits + t->wph * sizeof(uint64_t);
    t->rec_bytes = (t->off_leaf + t->wph * sizeof(struct lcell) + 7) & ~(size_t)7;
    for (unsigned nd = 0; nd < MMC_MAX_NODES; nd++)
        t->tr[nd].root = NIL;
    const uint64_t slots = f->nslots < MAX_HUGEPAGES ? f->nslots : MAX_HUGEPAGES;
    mmc_tab_init(&t->rec_tab, slots * t->rec_bytes);
    mmc_tab_init(&t->node_tab, slots * sizeof(struct tnode));
    if (tree_room(t, f->hp_cap > f->nhugepages ? f->hp_cap : f->nhugepages ? f->nhugepages : 1) < 0) {
        tree_destroy(t);
        return -ENOMEM;
    }
    /* hugepages in ascending slot order, run by run: each appended to its node's trie */
    for (uint64_t ri = 0; ri < f->nruns; ri++) {
        const struct mmc_run *run = &f->runs[ri];
        const uint64_t s0 = run->first_frame >> t->shift, s1 = s0 + (run->frames >> t->shift);
        for (uint64_t s = s0; s < s1; s++) {
            const uint32_t o = mmc_frames_ord(f, s);
            hp_load(t, o, s);
            trie_append(t, &t->tr[f->hp_node[o]], o, s);
        }
    }
    for (unsigned nd = 0; nd < MMC_MAX_NODES; nd++)
        if (t->tr[nd].root != NIL)
            pull_all(t, t->tr[nd].root);
    *engine = t;
    return 0;
}

static int tree_reserve(void *engine, uint64_t nadd, const uint64_t *add_pfn)
{
    struct tree *t = engine;
    (void)add_pfn;
    uint64_t need = t->f->nhugepages + nadd;
    if (need > MAX_HUGEPAGES)
        return -ENOMEM;
    if (t->f->hp_cap > need) /* as large as the database's tables */
        need = t->f->hp_cap < MAX_HUGEPAGES ? t->f->hp_cap : MAX_HUGEPAGES;
    return tree_room(t, need);
}

static void tree_add(void *engine, uint64_t first_frame)
{
    struct tree *t = engine;
    const uint64_t s = first_frame >> t->shift;
    const uint32_t o = mmc_frames_ord(t->f, s);
    hp_load(t, o, s);
    for (uint32_t p = trie_insert(t, &t->tr[t->f->hp_node[o]], o, s); p != NIL; p = t->node[p].parent)
        pull_node(t, p);
}

static size_t tree_metadata(const void *engine)
{
    const struct tree *t = engine;
    /* mapped: the room made (pages beyond it are never touched); heap: the block */
    const struct mmc_tab *r = &t->rec_tab, *n = &t->node_tab;
    return sizeof(*t) + (r->mapped ? r->bytes : r->max_bytes) + (n->mapped ? n->bytes : n->max_bytes);
}

const struct mmc_engine_ops _mmc_engine_tree = {
    .name = "tree",
    .summary = "segment tree of free stretches per node over the span (per-hugepage cells, a "
               "trie above): top-down first fit (linear's block), O(log N) per search without "
               "a boundary",
    .work_unit = "tree cells visited (a leaf is a cell)",
    .fast_only_work = 1ull << 13,
    .create = tree_create,
    .destroy = tree_destroy,
    .find = tree_find,
    .take = tree_take,
    .give = tree_give,
    .reserve = tree_reserve,
    .add = tree_add,
    .metadata_bytes = tree_metadata,
};
