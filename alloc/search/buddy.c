/* alloc/search/buddy.c: engine `buddy`, a binary buddy system as in Linux (mm/page_alloc.c),
 * extended to ranges, boundaries, sizes that are not powers of two, and made complete.
 *
 * Index, over the span (frame index i = PFN base_pfn + i; base_pfn is a multiple of the
 * hugepage's frames, so up to the hugepage's order index alignment is PFN alignment). A free
 * block of order k is 2^k free frames inside one run whose first PFN is a multiple of 2^k
 * (aligned in PFN space, exactly Linux's buddies, so a block no larger than a power-of-two
 * boundary never crosses it). The free lists are head bitmaps per order, a set per node (a
 * block's node is its hugepage's, and it is in its node's bitmaps only):
 *   - order k < hugepage order: a bit per 2^k-frame place, 2^(hp_shift - k) bits per hugepage
 *     in its ordinal's leaf record (the leaves of all these orders of one hugepage together,
 *     in whole cache lines); per node, a bit per slot per section (at the section's ordinal:
 *     the slot's leaf has a bit set) and a bit per section of the span (the section has one);
 *   - order k >= hugepage order: a block is 2^(k - hp_shift) whole hugepages and its head is a
 *     hugepage slot, so per node a bit per slot per section at the section's ordinal (these
 *     words are the head bits themselves) and a bit per section of the span. Orders exist up
 *     to floor(log2) of a bound on the longest run (raised by reserve()).
 * Per node, a word says which orders have a free block (empty orders are skipped). "The
 * highest free block of order k of node n at or below frame x" is O(log_64 sections + the
 * words of one section and one hugepage) word reads. A search on node n is clipped to n's
 * frame range (its lowest to its highest frame) and reads n's bitmaps only: it never meets
 * another node's block.
 * Node-parallel (alloc/partition.c): find, take and give on node n (a range given or taken
 * lies in one run, so on one node) write only node n's part (struct bnode: its order flags,
 * on cache lines of its own), its section words and summaries (tables of its own) and the
 * leaf records of its hugepages (whole lines each), and read besides those only its
 * hugepages' free-plane words (the fallback) and what growth writes under every lock (the
 * frame database's directory and runs, the tables' places, kmax, the added bits): no cache
 * line is written by one node's calls and touched by another's (in address-space tables,
 * page-aligned; the heap blocks of the fallback below are not line-aligned, so there
 * neighbouring records may share a line). (The bitmaps were once shared by all nodes: a summary word held bits of several
 * nodes' slots and sections, and clearing one read its neighbours; ThreadSanitizer showed it.)
 * The free frames the fallback widens through are read from the frame database's free plane
 * (the truth, updated before take/give), as used in hugepages add() has not taken in yet (a
 * bit per ordinal says which).
 * Invariant (Linux's): the free frames are exactly the disjoint union of the free blocks, and
 * no two free blocks of one order are buddies (merging is eager), so the blocks of a free
 * stretch are its canonical decomposition into maximal aligned blocks.
 *
 * take(range): every free block the range meets is removed and what it keeps on either side is
 * put back as aligned blocks (splitting; those pieces have their buddies inside the old block,
 * so no merge is due). give(range): the range is cut into aligned blocks, each merged with its
 * buddy (same order, same run) while it is free, as Linux's __free_one_page does.
 * add(hugepage): a give of its frames (one block of the hugepage's order, merged upwards with
 * buddies free in the index and in its run).
 *
 * Algorithm (find), n frames, k0 = ceil(log2 n):
 *   1. main pass, per allowed node: orders k0, k0 + 1, ... up; in each, free blocks from the
 *      highest below the range's top down, each checked exactly (highest start in the block
 *      clipped to the range that crosses no boundary multiple, linear.c's rule). With a
 *      power-of-two boundary >= n (any boundary is one), every block of order >= k0 inside the
 *      range holds the request, so at most the two blocks that straddle the range's ends can
 *      fail: O(1) blocks per order. The smallest order that holds the request wins (ties: the
 *      highest frame index).
 *   2. fallback, only when 1 found nothing: a block made of several buddy blocks (3 frames at
 *      PFN 1..3 are blocks {1} and {2,3}). Any satisfying block P contains an aligned block C
 *      of at least 2^(floor(log2 n) - 1) frames (the canonical decomposition of P has one), and
 *      C lies inside one free block (by the invariant). So, per allowed node: for orders
 *      floor(log2 n) - 1 up, every free block meeting the range (top down), widened through
 *      free frames up to n - 1 on each side (the free plane, a word at a time, inside run and
 *      range), checked exactly. Complete: fails only when no satisfying block exists. Skipped
 *      when the request is an aligned power of two (boundary == n: it is a buddy block, step 1
 *      was complete) or longer than every run of the node.
 * Placement: best fit by order (the smallest order holding the request), within that order
 * the highest-addressed block, inside it the highest placement (the block's top, as far as
 * range and boundary allow); what is left of the block goes back to the free lists. Fallback:
 * the first block found, nodes in ascending number, orders upward, each order top down.
 * Time, S sections of the span, O orders (log2 of the longest run), R runs: find, main pass
 * O(O (log_64 S + 8 + hp_frames / 2^(k + 6))) per node (the bitmaps' words: at most a
 * section's 8 and one hugepage's leaf per order k, which is scanned a word at a time: up to 8
 * words for 2 MiB hugepages, 4096 for order 0 of a 1 GiB one); fallback
 * O(C (n / 64 + log R + log_64 S)), C the free blocks of the node of orders
 * floor(log2 n) - 1 .. k0 - 1 meeting the range (+ 2 per higher order, those straddling the
 * range's ends): the buddy's blind spot, paid only when no single block holds the request,
 * and bounded by max_work. take / give O(log R + (log n + O) O log_64 S): the run, the blocks
 * met (found by testing each order's head bit), the pieces put back, the merges. add: a give
 * of hp_frames frames, O(log R + O log_64 S). reserve: O(nadd log R) (the bound on the longest
 * run: each group of consecutive new hugepages joined with the runs beside it) + O(nodes).
 * Metadata: per hugepage (2 MiB, 512 frames) a leaf record with the head bits of orders
 * 0..8, 8 + 4 + 2 + 1 words for orders 0..3 and a word each for orders 4..8, rounded up to
 * whole lines: 24 words (192 bytes, 0.375 byte per frame; 1 GiB hugepages 8200 words, 0.25
 * byte) + 1 bit (taken in). Per node, per section ordinal up to the highest one of its
 * sections: a line per order up to the hugepage's (640 bytes for 2 MiB hugepages) and, once
 * runs outgrow a hugepage, a line per order above it up to log2 of the span's frames (K - 10
 * lines: 12 for an 8 GiB span, 21 for 4 TiB; 1.4-2 KiB in all): up to 0.008 byte per frame
 * of a full section per node. Per node holding any of the pool, 1/8 byte per order per section of the
 * span (+1/63), ~2.5 bytes. ~13 KiB fixed (a part of 3 lines per node number). The free
 * frames cost nothing (the database's plane). Measured (test_engines): a dense 1 TiB pool of
 * 2 nodes 0.398 byte per frame of pool (0.196 per frame of its ~2 TiB span); 128 lone 2 MiB
 * hugepages over a 4 TiB span, 2 nodes, 210 KB, 3.2 bytes per frame of pool but 0.0002 per
 * frame of span (section lines dominate: one section per hugepage, and each node makes room
 * up to its highest section ordinal); pools of 96-256 MiB 0.65-1.17 once a quarter has
 * entered (0.69-1.47 as built: the fixed part). The rule: 0.5 per frame of pool + 1/1024 per
 * frame of span + 64 KiB. Address space (reserved, touched only where room is made): per node
 * with tables, the section tables for every section of the span and the summaries of every
 * order, up to 2.4 KiB per section. The new hugepages' nodes are only known at add(), which
 * cannot fail (and making room in a reservation cannot): so reserve() makes spare tables for
 * up to nadd nodes without tables, and add() hands one to a node it meets for the first time;
 * where the kernel refuses reservations (vm.overcommit_memory 2, ulimit -v) the tables are
 * heap blocks and reserve() makes room in each (every node's with tables, every spare) for
 * every section ordinal.
 * Limits: 64 orders. max_work counts blocks examined plus free-plane words read by the
 * fallback; beyond it find returns -EAGAIN.
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define MAX_ORDERS 64

/* ---- the index: per node, its own head bitmaps ---- */

/* A node's index, on cache lines of its own: only calls on this node write it (and growth,
 * under every lock). Per order k and section ordinal so, SBM_MID_WORDS words (a line): bit
 * (s & 511) says slot s of the section has a bit set in its leaf (k < shift) or heads a free
 * block of order k of this node (k >= shift); orders <= shift in mid, at
 * (so * (shift + 1) + k) * SBM_MID_WORDS, orders above in hmid, at
 * (so * (K - shift - 1) + k - shift - 1) * SBM_MID_WORDS; per
 * order, a bitmap with summary levels over the sections of the span at top + k * topw: bit d
 * says section d has a bit set in this node's words of that order. */
struct bnode {
    uint64_t nonempty;          /* bit k: the node has a free block of order k */
    uint64_t *mid, *hmid;       /* the section words of orders <= shift and > shift */
    uint64_t *top;              /* topw words per order, for top_orders */
    uint64_t sec_room, hsec_room; /* section ordinals mid, hmid have room for */
    unsigned top_orders;        /* orders top has room for (0: the node has no room yet) */
    bool tabs;                  /* the tables are made (mmc_tab_init) */
    uint64_t lo, hi;            /* frames [lo, hi) hold all its hugepages taken in (lo == hi: none) */
    uint64_t longest;           /* >= the frames of its longest run */
    struct mmc_tab mid_tab, hmid_tab, top_tab; /* what mid, hmid and top point into */
} __attribute__((aligned(64)));

struct buddy {
    const struct mmc_frames *f;
    unsigned shift;             /* log2(frames per hugepage) */
    unsigned kmax;              /* highest order indexed: >= floor(log2(longest run)), < K */
    unsigned K;                 /* orders the per-node tables have room for: floor(log2 of the
                                   span's frames) + 1 (no run is longer than the span) */
    uint64_t topw;              /* words of one order's top: hbm_words(sections of the span) */
    /* per ordinal, one record of lstride words (a multiple of 8: records on lines of their
     * own, since neighbouring ordinals may be two nodes' hugepages): order k < shift's head
     * bits at loff[k], lw[k] words, a bit per 2^k-frame place of the hugepage */
    uint64_t *leaf;
    uint64_t lstride, leaf_cap; /* words per record; records leaf has room for */
    uint64_t loff[MAX_ORDERS], lw[MAX_ORDERS];
    struct mmc_tab leaf_tab;    /* what leaf points into */
    uint64_t *added;            /* bit per ordinal: add() has taken the hugepage in */
    uint64_t added_words;       /* words of added */
    struct mmc_tab added_tab;   /* what added points into */
    struct bnode *spare;        /* tables made by reserve() for nodes that have none yet: add()
                                   gives one to a node it meets for the first time */
    unsigned nspare, spare_cap;
    struct bnode node[MMC_MAX_NODES];
};

/* Order k's leaf words of ordinal o (k < shift). */
static inline uint64_t *leaf_of(const struct buddy *bd, uint32_t o, unsigned k)
{
    return bd->leaf + (uint64_t)o * bd->lstride + bd->loff[k];
}

/* Order k's section words of node bn at section ordinal so (with room). */
static inline uint64_t *mid_of(const struct buddy *bd, const struct bnode *bn, uint64_t so, unsigned k)
{
    if (k <= bd->shift)
        return bn->mid + (so * (bd->shift + 1) + k) * SBM_MID_WORDS;
    return bn->hmid + (so * (bd->K - bd->shift - 1) + (k - bd->shift - 1)) * SBM_MID_WORDS;
}

/* Order k's summary over the sections, of node bn (k < top_orders). */
static inline struct hbm top_of(const struct buddy *bd, const struct bnode *bn, unsigned k)
{
    struct hbm h;
    hbm_init(&h, bd->f->ndir, bn->top + (uint64_t)k * bd->topw);
    return h;
}

/* Does a free block of order k of node nd start at frame x? */
static inline bool head_test(const struct buddy *bd, unsigned nd, unsigned k, uint64_t x)
{
    const struct mmc_frames *f = bd->f;
    const struct bnode *bn = &bd->node[nd];
    if (!((bn->nonempty >> k) & 1))
        return false;
    const uint64_t s = x >> bd->shift;
    const uint32_t o = mmc_frames_ord(f, s);
    if (o == MMC_ORD_NONE)
        return false;
    if (k < bd->shift) {
        const uint64_t po = (x & (f->hp_frames - 1)) >> k;
        return (leaf_of(bd, o, k)[po >> 6] >> (po & 63)) & 1;
    }
    const uint64_t so = f->sec_ord[s >> MMC_SECTION_SHIFT], j = s & (MMC_SECTION_SLOTS - 1);
    return so < (k <= bd->shift ? bn->sec_room : bn->hsec_room) &&
           ((mid_of(bd, bn, so, k)[j >> 6] >> (j & 63)) & 1);
}

static inline void head_set(struct buddy *bd, unsigned nd, unsigned k, uint64_t x)
{
    const struct mmc_frames *f = bd->f;
    struct bnode *bn = &bd->node[nd];
    const uint64_t s = x >> bd->shift, d = s >> MMC_SECTION_SHIFT, j = s & (MMC_SECTION_SLOTS - 1);
    if (k < bd->shift) {
        const uint64_t po = (x & (f->hp_frames - 1)) >> k;
        leaf_of(bd, mmc_frames_ord(f, s), k)[po >> 6] |= 1ull << (po & 63);
    }
    uint64_t *mid = mid_of(bd, bn, f->sec_ord[d], k);
    if (!(mid[j >> 6] & (1ull << (j & 63)))) {
        mid[j >> 6] |= 1ull << (j & 63);
        struct hbm t = top_of(bd, bn, k);
        hbm_set(&t, d);
    }
    bn->nonempty |= 1ull << k;
}

static inline void head_clear(struct buddy *bd, unsigned nd, unsigned k, uint64_t x)
{
    const struct mmc_frames *f = bd->f;
    struct bnode *bn = &bd->node[nd];
    const uint64_t s = x >> bd->shift, d = s >> MMC_SECTION_SHIFT, j = s & (MMC_SECTION_SLOTS - 1);
    if (k < bd->shift) {
        const uint64_t po = (x & (f->hp_frames - 1)) >> k;
        uint64_t *l = leaf_of(bd, mmc_frames_ord(f, s), k);
        if ((l[po >> 6] &= ~(1ull << (po & 63))))
            return;
        for (uint64_t w = 0; w < bd->lw[k]; w++)
            if (l[w])
                return;
    }
    uint64_t *mid = mid_of(bd, bn, f->sec_ord[d], k);
    if ((mid[j >> 6] &= ~(1ull << (j & 63))))
        return;
    for (unsigned w = 0; w < SBM_MID_WORDS; w++)
        if (mid[w])
            return;
    struct hbm t = top_of(bd, bn, k);
    hbm_clear(&t, d);
    if (!t.lv[t.nlv - 1][0])
        bn->nonempty &= ~(1ull << k);
}

/* The first frame of slot s's highest block of order k at or below place po of the slot
 * (slot s has one: its bit is set in the section's words). */
static inline uint64_t slot_highest(const struct buddy *bd, unsigned k, uint64_t s, uint64_t po)
{
    if (k >= bd->shift)
        return s << bd->shift;
    const uint64_t r = sbm_highest(leaf_of(bd, mmc_frames_ord(bd->f, s), k), po >> 6,
                                   ~0ull >> (63 - (po & 63)));
    return r == NONE ? NONE : (s << bd->shift) + (r << k);
}

/* First frame of node nd's highest free block of order k starting at or below frame x, or
 * NONE. */
static inline uint64_t head_prev(const struct buddy *bd, unsigned nd, unsigned k, uint64_t x)
{
    const struct mmc_frames *f = bd->f;
    const struct bnode *bn = &bd->node[nd];
    if (!((bn->nonempty >> k) & 1))
        return NONE;
    const uint64_t last = k < bd->shift ? (f->hp_frames >> k) - 1 : 0; /* last place of a slot */
    const struct hbm t = top_of(bd, bn, k);
    const uint64_t s = x >> bd->shift, j = s & (MMC_SECTION_SLOTS - 1);
    uint64_t d = s >> MMC_SECTION_SHIFT;
    if (hbm_test(&t, d)) {
        const uint64_t *mid = mid_of(bd, bn, f->sec_ord[d], k);
        if ((mid[j >> 6] >> (j & 63)) & 1) { /* in x's own slot, at or below x */
            uint64_t r = slot_highest(bd, k, s, k < bd->shift ? (x & (f->hp_frames - 1)) >> k : 0);
            if (r != NONE)
                return r;
        }
        if (j > 0) { /* a lower slot of the section */
            uint64_t r = sbm_highest(mid, (j - 1) >> 6, ~0ull >> (63 - ((j - 1) & 63)));
            if (r != NONE)
                return slot_highest(bd, k, (d << MMC_SECTION_SHIFT) + r, last);
        }
    }
    if (d == 0 || (d = hbm_prev(&t, d - 1)) == NONE)
        return NONE;
    const uint64_t *mid = mid_of(bd, bn, f->sec_ord[d], k);
    return slot_highest(bd, k, (d << MMC_SECTION_SHIFT) + sbm_highest(mid, SBM_MID_WORDS - 1, ~0ull), last);
}

static inline bool is_added(const struct buddy *bd, uint32_t o)
{
    return (bd->added[o >> 6] >> (o & 63)) & 1;
}

/* The order of the largest aligned block at frame a inside [a, e). */
static inline unsigned block_order(const struct buddy *bd, uint64_t a, uint64_t e)
{
    const uint64_t P = bd->f->base_pfn + a;
    unsigned k = P ? (unsigned)__builtin_ctzll(P) : 63, kl = floor_log2(e - a);
    if (k > kl)
        k = kl;
    return k < bd->kmax ? k : bd->kmax;
}

/* Put the free frames [a, e) of one run of node nd in as aligned blocks, no merging. */
static void insert_plain(struct buddy *bd, unsigned nd, uint64_t a, uint64_t e)
{
    while (a < e) {
        unsigned k = block_order(bd, a, e);
        head_set(bd, nd, k, a);
        a += 1ull << k;
    }
}

/* The free block holding frame x (rlo: its run's first frame, nd its node): 1 and *k, *hx,
 * or 0. */
static int containing(const struct buddy *bd, unsigned nd, uint64_t x, uint64_t rlo, unsigned *k,
                      uint64_t *hx)
{
    const uint64_t P = bd->f->base_pfn + x;
    for (unsigned o = 0; o <= bd->kmax; o++) {
        uint64_t d = P & ((1ull << o) - 1); /* x's offset in the aligned 2^o frames */
        if (d > x - rlo)
            break;
        if (head_test(bd, nd, o, x - d)) {
            *k = o;
            *hx = x - d;
            return 1;
        }
    }
    return 0;
}

/* The engine's free word of the 64 frames holding frame i (present): the free plane's, 0 in a
 * hugepage not taken in yet. */
static inline uint64_t free_word(const struct buddy *bd, uint64_t i)
{
    const struct mmc_frames *f = bd->f;
    const uint32_t o = mmc_frame_ord(f, i);
    if (o == MMC_ORD_NONE || !is_added(bd, o))
        return 0;
    return mmc_frames_words(f, MMC_PLANE_FREE, o)[(i & (f->hp_frames - 1)) >> 6];
}

/* Lowest a' in [lim, a] with [a', a) all free (inside one run). *steps: words read; past max
 * the answer is meaningless (the caller gives up). */
static uint64_t free_down(const struct buddy *bd, uint64_t a, uint64_t lim, uint64_t *steps,
                          uint64_t max)
{
    while (a > lim) {
        if (*steps >= max) {
            (*steps)++;
            return a;
        }
        uint64_t i = a - 1, base = i & ~63ull;
        uint64_t used = ~free_word(bd, i) & (~0ull >> (63 - (i & 63)));
        (*steps)++;
        if (used) {
            uint64_t u = base + 63 - (uint64_t)__builtin_clzll(used) + 1;
            return u > lim ? u : lim;
        }
        a = base;
    }
    return lim;
}

/* Highest e' in [e, lim] with [e, e') all free (inside one run). */
static uint64_t free_up(const struct buddy *bd, uint64_t e, uint64_t lim, uint64_t *steps,
                        uint64_t max)
{
    while (e < lim) {
        if (*steps >= max) {
            (*steps)++;
            return e;
        }
        uint64_t base = e & ~63ull;
        uint64_t used = ~free_word(bd, e) & (~0ull << (e & 63));
        (*steps)++;
        if (used) {
            uint64_t u = base + (uint64_t)__builtin_ctzll(used);
            return u < lim ? u : lim;
        }
        e = base + 64;
    }
    return lim;
}

/* ---- find ---- */

struct query {
    const struct buddy *bd;
    unsigned node;              /* the node searched */
    uint64_t n;                 /* frames wanted */
    uint64_t b;                 /* boundary in frames, 0 = none */
    uint64_t lo, hi;            /* allowed frames [lo, hi), inside the node's frame range */
    uint64_t steps, max_steps;  /* blocks examined + words read; the bound (UINT64_MAX: none) */
};

/* Highest start of a block inside the free frames [a, e) of one run that crosses no multiple
 * of the boundary; NONE if there is none. */
static inline uint64_t fit_in(const struct query *q, uint64_t a, uint64_t e)
{
    if (e <= a || e - a < q->n)
        return NONE;
    const uint64_t P = q->bd->f->base_pfn + a;
    return fit_top(P, P + (e - a), q->n, q->b, P, a);
}

/* Walk the free blocks of order k of the query's node meeting [lo, hi) from the top down (its
 * own head bitmaps: no other node's block is met), each checked (widened first in the
 * fallback). 1 and *pos, 0, or -EAGAIN. */
static int walk_order(struct query *q, unsigned k, bool widen, uint64_t *pos)
{
    const struct buddy *bd = q->bd;
    const struct mmc_frames *f = bd->f;
    const uint64_t sz = 1ull << k;
    uint64_t x = q->hi - 1;
    for (;;) {
        const uint64_t hx = head_prev(bd, q->node, k, x);
        if (hx == NONE)
            return 0;
        if (++q->steps > q->max_steps)
            return -EAGAIN;
        if (hx + sz <= q->lo)
            return 0;
        uint64_t a = hx > q->lo ? hx : q->lo, e = hx + sz < q->hi ? hx + sz : q->hi;
        if (widen) { /* through free frames, up to n - 1 each side, inside run and range */
            const struct mmc_run *run = mmc_frame_run(f, hx);
            const uint64_t rlo = run->first_frame, rhi = rlo + run->frames;
            const uint64_t floor = q->lo > rlo ? q->lo : rlo, ceil = q->hi < rhi ? q->hi : rhi;
            a = free_down(bd, a, a - floor > q->n - 1 ? a - (q->n - 1) : floor, &q->steps,
                          q->max_steps);
            if (q->steps > q->max_steps)
                return -EAGAIN;
            e = free_up(bd, e, ceil - e > q->n - 1 ? e + (q->n - 1) : ceil, &q->steps,
                        q->max_steps);
            if (q->steps > q->max_steps)
                return -EAGAIN;
        }
        uint64_t s = fit_in(q, a, e);
        if (s != NONE) {
            *pos = s;
            return 1;
        }
        if (hx <= q->lo)
            return 0;
        x = hx - 1;
    }
}

static int find_steps(const struct buddy *bd, const struct mmc_search *rq, uint64_t *first_frame,
                      uint64_t *steps_out)
{
    const struct mmc_frames *f = bd->f;
    const uint64_t n = rq->frames, b = rq->boundary_frames;
    *steps_out = 0;
    if (n == 0 || (b && n > b) || rq->lowest_pfn > rq->highest_pfn || f->nframes == 0)
        return -ENOMEM;
    if (rq->highest_pfn < f->base_pfn ||
        (rq->lowest_pfn >= f->base_pfn && rq->lowest_pfn - f->base_pfn >= f->nframes))
        return -ENOMEM;
    const uint64_t glo = rq->lowest_pfn > f->base_pfn ? rq->lowest_pfn - f->base_pfn : 0;
    const uint64_t ghi = (rq->highest_pfn - f->base_pfn < f->nframes - 1 ? rq->highest_pfn - f->base_pfn
                                                                          : f->nframes - 1) + 1;
    const unsigned k0 = n == 1 ? 0 : 64 - (unsigned)__builtin_clzll(n - 1);
    const unsigned j0 = floor_log2(n) ? floor_log2(n) - 1 : 0;
    struct query qs[MMC_MAX_NODES];
    unsigned kn[MMC_MAX_NODES];
    unsigned nq = 0;
    uint64_t steps = 0, best = NONE;
    unsigned best_k = MAX_ORDERS;

    for (unsigned nd = 0; nd < f->nnodes && nd < MMC_MAX_NODES; nd++) {
        if (!(rq->node_mask & (1ull << nd)) || bd->node[nd].longest < n)
            continue;
        struct query q = {.bd = bd, .node = nd, .n = n, .b = b,
                          .max_steps = rq->max_work ? rq->max_work : UINT64_MAX};
        q.lo = glo > bd->node[nd].lo ? glo : bd->node[nd].lo;
        q.hi = ghi < bd->node[nd].hi ? ghi : bd->node[nd].hi;
        if (q.hi <= q.lo || q.hi - q.lo < n)
            continue;
        kn[nq] = floor_log2(bd->node[nd].longest);
        if (kn[nq] > bd->kmax)
            kn[nq] = bd->kmax;
        qs[nq++] = q;
    }
    for (unsigned i = 0; i < nq; i++) { /* 1. main pass */
        struct query *q = &qs[i];
        q->steps = steps;
        for (unsigned k = k0; k <= kn[i] && k <= best_k; k++) {
            if (!((bd->node[q->node].nonempty >> k) & 1))
                continue;
            uint64_t p;
            int r = walk_order(q, k, false, &p);
            if (r < 0) {
                *steps_out = q->steps;
                return -EAGAIN;
            }
            if (r) {
                if (k < best_k || p > best)
                    best = p, best_k = k;
                break;
            }
        }
        steps = q->steps;
    }
    *steps_out = steps;
    if (best != NONE) {
        *first_frame = best;
        return 0;
    }
    if (b == n && !(n & (n - 1)))
        return -ENOMEM; /* an aligned power of two is a buddy block: the main pass was complete */
    for (unsigned i = 0; i < nq; i++) { /* 2. fallback: blocks spanning several buddy blocks */
        struct query *q = &qs[i];
        q->steps = steps;
        for (unsigned k = j0; k <= kn[i]; k++) {
            if (!((bd->node[q->node].nonempty >> k) & 1))
                continue;
            uint64_t p;
            int r = walk_order(q, k, true, &p);
            if (r < 0) {
                *steps_out = q->steps;
                return -EAGAIN;
            }
            if (r) {
                *steps_out = q->steps;
                *first_frame = p;
                return 0;
            }
        }
        steps = q->steps;
    }
    *steps_out = steps;
    return -ENOMEM;
}

static int buddy_find(void *engine, const struct mmc_search *rq, uint64_t *first_frame, uint64_t *work)
{
    *work = 0;
    return find_steps(engine, rq, first_frame, work);
}

/* ---- take / give ---- */

static void buddy_take(void *engine, uint64_t first, uint64_t n)
{
    struct buddy *bd = engine;
    if (!n)
        return;
    const struct mmc_run *run = mmc_frame_run(bd->f, first);
    if (!run)
        return; /* absent: the caller broke the contract */
    const uint64_t rlo = run->first_frame;
    const unsigned nd = run->node;
    for (uint64_t x = first, end = first + n; x < end;) {
        unsigned k;
        uint64_t hx;
        if (!containing(bd, nd, x, rlo, &k, &hx)) {
            x++; /* not free in the index: the caller broke the contract; stay consistent */
            continue;
        }
        head_clear(bd, nd, k, hx);
        const uint64_t he = hx + (1ull << k);
        if (hx < x)
            insert_plain(bd, nd, hx, x);
        if (end < he)
            insert_plain(bd, nd, end, he);
        x = he;
    }
}

/* Put the free block (a, k) in, merged with its buddy while that is free (Linux's
 * __free_one_page). [rlo, rhi): the run, of node nd. */
static void merge_insert(struct buddy *bd, unsigned nd, uint64_t a, unsigned k, uint64_t rlo,
                         uint64_t rhi)
{
    while (k < bd->kmax) {
        const uint64_t sz = 1ull << k;
        uint64_t bud;
        if ((bd->f->base_pfn + a) & sz) { /* upper half: buddy below */
            if (a - rlo < sz)
                break;
            bud = a - sz;
        } else {
            if (rhi - a < 2 * sz)
                break;
            bud = a + sz;
        }
        if (!head_test(bd, nd, k, bud))
            break;
        head_clear(bd, nd, k, bud);
        if (bud < a)
            a = bud;
        k++;
    }
    head_set(bd, nd, k, a);
}

static void buddy_give(void *engine, uint64_t first, uint64_t n)
{
    struct buddy *bd = engine;
    if (!n)
        return;
    const struct mmc_run *run = mmc_frame_run(bd->f, first);
    if (!run)
        return;
    const uint64_t rlo = run->first_frame, rhi = rlo + run->frames;
    for (uint64_t a = first, e = first + n; a < e;) {
        unsigned k = block_order(bd, a, e);
        merge_insert(bd, run->node, a, k, rlo, rhi);
        a += 1ull << k;
    }
}

/* ---- create / growth / destroy ---- */

/* The i-th set of tables, i < MMC_MAX_NODES + nspare: node i's, then the spares. */
static inline struct bnode *tables_at(const struct buddy *bd, unsigned i)
{
    return i < MMC_MAX_NODES ? (struct bnode *)&bd->node[i] : &bd->spare[i - MMC_MAX_NODES];
}

static void buddy_destroy(void *engine)
{
    struct buddy *bd = engine;
    if (!bd)
        return;
    for (unsigned i = 0; i < MMC_MAX_NODES + bd->nspare; i++) {
        struct bnode *bn = tables_at(bd, i);
        mmc_tab_free(&bn->mid_tab);
        mmc_tab_free(&bn->hmid_tab);
        mmc_tab_free(&bn->top_tab);
    }
    free(bd->spare);
    mmc_tab_free(&bd->leaf_tab);
    mmc_tab_free(&bd->added_tab);
    free(bd);
}

/* bn's tables made: address space for every section of the span and every order, no room
 * yet. */
static void tabs_init(const struct buddy *bd, struct bnode *bn)
{
    const uint64_t sec = SBM_MID_WORDS * sizeof(uint64_t);
    mmc_tab_init(&bn->mid_tab, bd->f->ndir * (bd->shift + 1) * sec);
    if (bd->K > bd->shift + 1)
        mmc_tab_init(&bn->hmid_tab, bd->f->ndir * (bd->K - bd->shift - 1) * sec);
    mmc_tab_init(&bn->top_tab, bd->K * bd->topw * sizeof(uint64_t));
    bn->tabs = true;
}

static bool tabs_mapped(const struct buddy *bd, const struct bnode *bn)
{
    return bn->mid_tab.mapped && bn->top_tab.mapped && (bd->K == bd->shift + 1 || bn->hmid_tab.mapped);
}

/* Room in bn's tables (made) for orders 0 .. kmax and sec_ords section ordinals. 0 or
 * -ENOMEM (only where the kernel refused the reservations: heap blocks). */
static int bnode_room(const struct buddy *bd, struct bnode *bn, uint64_t sec_ords, unsigned kmax)
{
    const uint64_t sec = SBM_MID_WORDS * sizeof(uint64_t);
    if (kmax + 1 > bn->top_orders) {
        int rc = mmc_tab_room(&bn->top_tab, (kmax + 1) * bd->topw * sizeof(uint64_t));
        bn->top = bn->top_tab.p;
        if (rc < 0)
            return rc;
        bn->top_orders = kmax + 1;
    }
    if (sec_ords > bn->sec_room) {
        int rc = mmc_tab_room(&bn->mid_tab, sec_ords * (bd->shift + 1) * sec);
        bn->mid = bn->mid_tab.p;
        if (rc < 0)
            return rc;
        bn->sec_room = sec_ords;
    }
    if (kmax > bd->shift && sec_ords > bn->hsec_room) { /* only once runs outgrow a hugepage */
        int rc = mmc_tab_room(&bn->hmid_tab, sec_ords * (bd->K - bd->shift - 1) * sec);
        bn->hmid = bn->hmid_tab.p;
        if (rc < 0)
            return rc;
        bn->hsec_room = sec_ords;
    }
    return 0;
}

/* Room in node nd's tables for orders 0 .. kmax and sec_ords section ordinals; a node without
 * tables takes a spare (reserve made it, with room where it is heap blocks) or makes its own.
 * 0 or -ENOMEM (never after a reserve: room in a reservation is always made). */
static int node_room(struct buddy *bd, unsigned nd, uint64_t sec_ords, unsigned kmax)
{
    struct bnode *bn = &bd->node[nd];
    if (!bn->tabs) {
        if (bd->nspare)
            *bn = bd->spare[--bd->nspare];
        else
            tabs_init(bd, bn);
    }
    return bnode_room(bd, bn, sec_ords, kmax);
}

/* Orders up to floor(log2(frames)) indexed (frames >= hp_frames; no run is longer than the
 * span, so below K), room made for them in every node's tables that has any. 0 or -ENOMEM
 * (kmax unchanged). */
static int raise_kmax(struct buddy *bd, uint64_t frames)
{
    unsigned want = floor_log2(frames);
    if (want > bd->K - 1)
        want = bd->K - 1;
    if (want <= bd->kmax)
        return 0;
    for (unsigned i = 0; i < MMC_MAX_NODES + bd->nspare; i++) {
        struct bnode *bn = tables_at(bd, i);
        if (bn->top_orders && bnode_room(bd, bn, bn->sec_room, want) < 0)
            return -ENOMEM;
    }
    bd->kmax = want;
    return 0;
}

/* The leaf records and the added bitmap with room for f's hp_cap ordinals. */
static int reserve_ordinals(struct buddy *bd)
{
    const struct mmc_frames *f = bd->f;
    if (f->hp_cap > bd->leaf_cap) {
        int rc = mmc_tab_room(&bd->leaf_tab, f->hp_cap * bd->lstride * sizeof(uint64_t));
        bd->leaf = bd->leaf_tab.p;
        if (rc < 0)
            return rc;
        bd->leaf_cap = f->hp_cap;
    }
    const uint64_t words = (f->hp_cap + 63) / 64;
    if (words <= bd->added_words)
        return 0;
    int rc = mmc_tab_room(&bd->added_tab, words * sizeof(uint64_t));
    bd->added = bd->added_tab.p;
    if (rc < 0)
        return rc;
    bd->added_words = words;
    return 0;
}

static uint64_t longest_run(const struct mmc_frames *f)
{
    uint64_t l = 0;
    for (uint64_t r = 0; r < f->nruns; r++)
        if (f->runs[r].frames > l)
            l = f->runs[r].frames;
    return l;
}

/* The hugepage of ordinal o (present in f) becomes part of its node's frame range and longest
 * run, with room in the node's tables for its section. 0 or -ENOMEM (never after a reserve). */
static int note_hugepage(struct buddy *bd, uint32_t o, uint64_t first)
{
    const struct mmc_frames *f = bd->f;
    const unsigned nd = f->hp_node[o];
    struct bnode *bn = &bd->node[nd];
    if (node_room(bd, nd, (uint64_t)f->sec_ord[(first >> bd->shift) >> MMC_SECTION_SHIFT] + 1, bd->kmax) < 0)
        return -ENOMEM;
    const uint64_t end = first + f->hp_frames;
    if (bn->lo == bn->hi) {
        bn->lo = first;
        bn->hi = end;
    } else {
        if (first < bn->lo)
            bn->lo = first;
        if (end > bn->hi)
            bn->hi = end;
    }
    const struct mmc_run *run = mmc_frame_run(f, first);
    if (run && run->frames > bn->longest)
        bn->longest = run->frames;
    bd->added[o >> 6] |= 1ull << (o & 63);
    return 0;
}

/* Index the free stretches of run r (its hugepages noted): each maximal one as aligned blocks. */
static int index_run(struct buddy *bd, const struct mmc_run *run)
{
    const struct mmc_frames *f = bd->f;
    const uint64_t end = run->first_frame + run->frames;
    uint64_t start = NONE; /* of the free stretch being read */
    for (uint64_t h = run->first_frame; h < end; h += f->hp_frames) {
        const uint32_t o = mmc_frame_ord(f, h);
        if (note_hugepage(bd, o, h) < 0)
            return -ENOMEM;
        const uint64_t *w = mmc_frames_words(f, MMC_PLANE_FREE, o);
        for (uint64_t j = 0; j < f->wph; j++) {
            uint64_t x = w[j], base = h + 64 * j, pos = 0;
            while (pos < 64) { /* alternate used and free stretches inside the word */
                if (start == NONE) {
                    uint64_t fr = pos ? x & (~0ull << pos) : x;
                    if (!fr)
                        break;
                    pos = (uint64_t)__builtin_ctzll(fr);
                    start = base + pos;
                } else {
                    uint64_t used = ~x & (pos ? ~0ull << pos : ~0ull);
                    if (!used)
                        break;
                    pos = (uint64_t)__builtin_ctzll(used);
                    insert_plain(bd, run->node, start, base + pos);
                    start = NONE;
                }
            }
        }
    }
    if (start != NONE)
        insert_plain(bd, run->node, start, end);
    return 0;
}

static int buddy_create(const struct mmc_frames *f, void **engine)
{
    struct buddy *bd = aligned_alloc(64, sizeof(*bd)); /* the nodes' parts a line apart */
    if (!bd)
        return -ENOMEM;
    memset(bd, 0, sizeof(*bd));
    bd->f = f;
    bd->shift = f->hp_shift;
    bd->kmax = f->hp_shift;
    bd->K = f->nframes > 1 ? floor_log2(f->nframes) + 1 : 1;
    if (bd->K < bd->shift + 1)
        bd->K = bd->shift + 1;
    if (bd->K > MAX_ORDERS)
        bd->K = MAX_ORDERS;
    bd->topw = hbm_words(f->ndir);
    for (unsigned k = 0; k < bd->shift; k++) {
        bd->loff[k] = bd->lstride;
        bd->lw[k] = bd->shift - k > 6 ? 1ull << (bd->shift - k - 6) : 1;
        bd->lstride += bd->lw[k];
    }
    bd->lstride = (bd->lstride + 7) & ~7ull;
    mmc_tab_init(&bd->leaf_tab, f->nslots * bd->lstride * sizeof(uint64_t));
    mmc_tab_init(&bd->added_tab, (f->nslots + 63) / 64 * sizeof(uint64_t));
    const uint64_t l = longest_run(f);
    if (raise_kmax(bd, l > f->hp_frames ? l : f->hp_frames) < 0 || reserve_ordinals(bd) < 0)
        goto nomem;
    for (uint64_t r = 0; r < f->nruns; r++)
        if (index_run(bd, &f->runs[r]) < 0)
            goto nomem;
    *engine = bd;
    return 0;
nomem:
    buddy_destroy(bd);
    return -ENOMEM;
}

/* A bound on the longest run once the hugepages at add_pfn (ascending, absent) are in: each
 * group of consecutive ones with the runs right below and above it, chained where a run lies
 * between two groups (the nodes are not known yet, so as if all joined). O(nadd log runs). */
static uint64_t longest_after(const struct mmc_frames *f, uint64_t nadd, const uint64_t *add_pfn)
{
    uint64_t bound = longest_run(f), lo = 0, hi = 0; /* the chain: frames [lo, hi) */
    for (uint64_t a = 0, b; a < nadd; a = b) {
        for (b = a + 1; b < nadd && add_pfn[b] == add_pfn[b - 1] + f->hp_frames; b++)
            ;
        uint64_t s = add_pfn[a] - f->base_pfn, e = add_pfn[b - 1] - f->base_pfn + f->hp_frames;
        const struct mmc_run *below = s ? mmc_frame_run(f, s - 1) : NULL;
        const struct mmc_run *above = e < f->nframes ? mmc_frame_run(f, e) : NULL;
        if (below)
            s = below->first_frame;
        if (above)
            e = above->first_frame + above->frames;
        if (a && s < hi) /* the run below is the one above the previous group */
            s = lo;
        lo = s, hi = e;
        if (e - s > bound)
            bound = e - s;
    }
    return bound > f->hp_frames ? bound : f->hp_frames;
}

static int buddy_reserve(void *engine, uint64_t nadd, const uint64_t *add_pfn)
{
    struct buddy *bd = engine;
    const struct mmc_frames *f = bd->f;
    if (reserve_ordinals(bd) < 0)
        return -ENOMEM;
    if (raise_kmax(bd, longest_after(f, nadd, add_pfn)) < 0)
        return -ENOMEM;
    /* The new hugepages' nodes are not known yet. add() makes room in its node's tables,
     * which cannot fail in a reservation: so a node without tables must find a spare (one
     * per new hugepage at most, one per node number without tables at most), and where the
     * kernel refused the reservations (heap blocks) room is made now, for every section
     * ordinal. */
    unsigned bare = 0;
    for (unsigned nd = 0; nd < MMC_MAX_NODES; nd++)
        bare += !bd->node[nd].tabs;
    const unsigned want = nadd < bare ? (unsigned)nadd : bare;
    if (want > bd->spare_cap) { /* struct bnode is line-aligned: no realloc */
        struct bnode *sp = aligned_alloc(64, want * sizeof(*sp));
        if (!sp)
            return -ENOMEM;
        if (bd->nspare)
            memcpy(sp, bd->spare, bd->nspare * sizeof(*sp));
        free(bd->spare);
        bd->spare = sp;
        bd->spare_cap = want;
    }
    for (; bd->nspare < want; bd->nspare++) {
        memset(&bd->spare[bd->nspare], 0, sizeof(*bd->spare));
        tabs_init(bd, &bd->spare[bd->nspare]);
    }
    for (unsigned i = 0; i < MMC_MAX_NODES + bd->nspare; i++) {
        struct bnode *bn = tables_at(bd, i);
        if (bn->tabs && !tabs_mapped(bd, bn) && bnode_room(bd, bn, f->sec_cap, bd->kmax) < 0)
            return -ENOMEM;
    }
    return 0;
}

static void buddy_add(void *engine, uint64_t first_frame)
{
    struct buddy *bd = engine;
    const uint32_t o = mmc_frame_ord(bd->f, first_frame);
    if (o == MMC_ORD_NONE || is_added(bd, o))
        return;
    (void)note_hugepage(bd, o, first_frame); /* room made by reserve, or infallible */
    buddy_give(bd, first_frame, bd->f->hp_frames);
}

static size_t buddy_metadata(const void *engine)
{
    const struct buddy *bd = engine;
    size_t bytes = sizeof(*bd) + bd->leaf_tab.bytes + bd->added_tab.bytes +
                   bd->spare_cap * sizeof(*bd->spare);
    for (unsigned i = 0; i < MMC_MAX_NODES + bd->nspare; i++) {
        const struct bnode *bn = tables_at(bd, i);
        bytes += bn->mid_tab.bytes + bn->hmid_tab.bytes + bn->top_tab.bytes;
    }
    return bytes;
}

const struct mmc_engine_ops _mmc_engine_buddy = {
    .name = "buddy",
    .summary = "binary buddy (PFN-aligned blocks, eager merging), best fit by order, top of the "
               "highest block; complete through a neighbour-widening fallback",
    .work_unit = "free blocks and bitmap words examined",
    .fast_only_work = 1ull << 13,
    .create = buddy_create,
    .destroy = buddy_destroy,
    .find = buddy_find,
    .take = buddy_take,
    .give = buddy_give,
    .reserve = buddy_reserve,
    .add = buddy_add,
    .metadata_bytes = buddy_metadata,
};
