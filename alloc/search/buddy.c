/* alloc/search/buddy.c: engine `buddy`, a binary buddy system as in Linux (mm/page_alloc.c),
 * extended to ranges, boundaries, sizes that are not powers of two, and made complete.
 *
 * Index, per node: the node's frames renumbered 0..frames-1 in PFN order ("positions": the
 * node's runs end to end; positions and PFNs agree modulo the hugepage size). A free block of
 * order k is 2^k free frames inside one run whose first PFN is a multiple of 2^k (aligned in
 * PFN space, so a block no larger than a power-of-two boundary never crosses it). The free
 * lists are bitmaps: per order, one bit per place a block of that order can start (per 2^k
 * positions up to the hugepage's order, per hugepage above it), a set bit is a free block; each
 * bitmap carries 64-ary summary levels (a bit per word of the level below) so that "the highest
 * free block of order k below position x" is O(log_64 N) word reads, and a per-order count
 * skips empty orders. A bitmap of free positions serves the fallback below.
 * Invariant (Linux's): the free frames are exactly the disjoint union of the free blocks, and
 * no two free blocks of one order are buddies (merging is eager), so the blocks of a free
 * stretch are its canonical decomposition into maximal aligned blocks.
 *
 * take(range): every free block the range meets is removed and what it keeps on either side is
 * put back as aligned blocks (splitting; those pieces have their buddies inside the old block,
 * so no merge is due). give(range): the range is cut into aligned blocks, each merged with its
 * buddy (same order, same run) while it is free, as Linux's __free_one_page does.
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
 *      C lies inside one free block (by the invariant). So: for orders floor(log2 n) - 1 up,
 *      every free block meeting the range (top down), widened through free frames up to n - 1
 *      on each side (free-frame bitmap, a word at a time, inside run and range), checked
 *      exactly. Complete: fails only when no satisfying block exists. Skipped when the request
 *      is an aligned power of two (boundary == n: it is a buddy block, step 1 was complete) or
 *      longer than every run of the node.
 * Placement: best fit by order (the smallest order holding the request), within that order
 * the highest-addressed block, inside it the highest placement (the block's top, as far as
 * range and boundary allow); what is left of the block goes back to the free lists. Fallback:
 * the first block found, orders upward, each order top down.
 * Time, N positions of a node, O orders (log2 of its longest run): find, main pass
 * O(O log_64 N); fallback O(C (n / 64 + log_64 N)), C the free blocks of orders
 * floor(log2 n) - 1 .. k0 - 1 meeting the range (+ 2 per higher order, those straddling the
 * range's ends): the buddy's blind spot, paid only when no single block holds the request,
 * and bounded by max_work. take / give O((log n + O) O log_64 N): the blocks met,
 * found by testing each order's head bit, the pieces put back, the merges.
 * Metadata: per frame 1/8 byte (free-frame bitmap) + 1/4 byte (head bitmaps of orders up to the
 * hugepage's, N/2^k bits each) + 1/8 byte per hugepage per higher order + summaries (1/63 of
 * all) + 16 bytes per hugepage: 0.41 byte per frame; a 1 TiB pool of 2 MiB hugepages 106 MiB.
 * Limits: hugepages of at least 64 frames, else create fails -EINVAL.
 * max_work counts blocks examined plus bitmap words read by the fallback; beyond it find
 * returns -EAGAIN.
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define MAX_ORDERS 64

/* ---- the index ---- */

struct space {
    uint64_t frames;            /* positions: the node's frames */
    uint64_t nhp;               /* hugepages of the node */
    uint64_t *hp_pfn;           /* per hugepage of the node, ascending: PFN | 1 if a run starts */
    uint32_t *hp_global;        /* per hugepage of the node: its index in the frame database */
    uint64_t longest_run;       /* frames of the node's longest run */
    unsigned max_order;         /* floor(log2(longest_run)): no larger block fits a run */
    uint64_t *free_bits;        /* bit p: position p is free (the fallback's view) */
    uint64_t *mem;              /* all the head bitmaps' words */
    struct hbm heads[MAX_ORDERS]; /* order k: bit (p >> min(k, hugepage order)) = block at p */
    uint64_t nfree[MAX_ORDERS]; /* free blocks per order */
};

struct buddy {
    const struct mmc_frames *f;
    unsigned shift;             /* log2(frames per hugepage) */
    uint32_t *hp_pos;           /* per hugepage of the database: its index in its node's space */
    size_t bytes;               /* everything allocated */
    struct space *sp[MMC_MAX_NODES]; /* per node number; NULL if the node has no frames */
};

static inline uint64_t slot_of(unsigned shift, unsigned k, uint64_t p)
{
    return p >> (k < shift ? k : shift);
}

/* The run holding position p: positions [*rlo, *rhi). */
static void run_of(const struct buddy *bd, const struct space *sp, uint64_t p, uint64_t *rlo,
                   uint64_t *rhi)
{
    const struct mmc_run *run = &bd->f->runs[bd->f->hp_run[sp->hp_global[p >> bd->shift]]];
    *rlo = p - (pos_pfn(sp->hp_pfn, bd->shift, p) - run->base_pfn);
    *rhi = *rlo + run->frames;
}

/* Put the free positions [a, e) of one run in as aligned blocks, no merging. */
static void insert_plain(struct space *sp, unsigned shift, uint64_t a, uint64_t e)
{
    while (a < e) {
        uint64_t P = pos_pfn(sp->hp_pfn, shift, a);
        unsigned k = P ? (unsigned)__builtin_ctzll(P) : 63, kl = floor_log2(e - a);
        if (k > kl)
            k = kl;
        if (k > sp->max_order)
            k = sp->max_order;
        hbm_set(&sp->heads[k], slot_of(shift, k, a));
        sp->nfree[k]++;
        a += 1ull << k;
    }
}

/* The free block holding position x (rlo: its run's first position): 1 and *k, *hx, or 0. */
static int containing(const struct space *sp, unsigned shift, uint64_t x, uint64_t rlo,
                      unsigned *k, uint64_t *hx)
{
    const uint64_t P = pos_pfn(sp->hp_pfn, shift, x);
    for (unsigned o = 0; o <= sp->max_order; o++) {
        uint64_t d = P & ((1ull << o) - 1); /* x's offset in the aligned 2^o frames */
        if (d > x - rlo)
            break;
        if (sp->nfree[o] && hbm_test(&sp->heads[o], slot_of(shift, o, x - d))) {
            *k = o;
            *hx = x - d;
            return 1;
        }
    }
    return 0;
}

/* Lowest a' in [lim, a] with [a', a) all free. *steps: words read. */
static uint64_t free_down(const uint64_t *bits, uint64_t a, uint64_t lim, uint64_t *steps)
{
    while (a > lim) {
        uint64_t i = a - 1, base = i & ~63ull;
        uint64_t used = ~bits[i >> 6] & (~0ull >> (63 - (i & 63)));
        (*steps)++;
        if (used) {
            uint64_t u = base + 63 - (uint64_t)__builtin_clzll(used) + 1;
            return u > lim ? u : lim;
        }
        a = base;
    }
    return lim;
}

/* Highest e' in [e, lim] with [e, e') all free. */
static uint64_t free_up(const uint64_t *bits, uint64_t e, uint64_t lim, uint64_t *steps)
{
    while (e < lim) {
        uint64_t base = e & ~63ull;
        uint64_t used = ~bits[e >> 6] & (~0ull << (e & 63));
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
    const struct space *sp;
    unsigned shift;
    uint64_t n;                 /* frames wanted */
    uint64_t b;                 /* boundary in frames, 0 = none */
    uint64_t lo, hi;            /* allowed positions [lo, hi) */
    uint64_t steps, max_steps;  /* blocks examined + words read; the bound (UINT64_MAX: none) */
};

/* Highest start of a block inside the free positions [a, e) of one run that crosses no
 * multiple of the boundary; NONE if there is none. */
static inline uint64_t fit_in(const struct query *q, uint64_t a, uint64_t e)
{
    if (e <= a || e - a < q->n)
        return NONE;
    const uint64_t P = pos_pfn(q->sp->hp_pfn, q->shift, a);
    return fit_top(P, P + (e - a), q->n, q->b, P, a);
}

/* Walk the free blocks of order k meeting [lo, hi) from the top down; for each, fit(q, block)
 * returns a position or NONE. 1 and *pos, 0, or -EAGAIN. */
static int walk_order(struct query *q, unsigned k, bool widen, uint64_t *pos)
{
    const struct space *sp = q->sp;
    const unsigned g = k < q->shift ? k : q->shift;
    const uint64_t sz = 1ull << k;
    uint64_t slot = (q->hi - 1) >> g;
    for (;;) {
        slot = hbm_prev(&sp->heads[k], slot);
        if (slot == NONE)
            return 0;
        if (++q->steps > q->max_steps)
            return -EAGAIN;
        const uint64_t hx = slot << g;
        if (hx + sz <= q->lo)
            return 0;
        uint64_t a = hx > q->lo ? hx : q->lo, e = hx + sz < q->hi ? hx + sz : q->hi;
        if (widen) { /* through free frames, up to n - 1 each side, inside run and range */
            uint64_t rlo, rhi;
            run_of(q->bd, sp, hx, &rlo, &rhi);
            const uint64_t floor = q->lo > rlo ? q->lo : rlo, ceil = q->hi < rhi ? q->hi : rhi;
            a = free_down(sp->free_bits, a, a - floor > q->n - 1 ? a - (q->n - 1) : floor, &q->steps);
            e = free_up(sp->free_bits, e, ceil - e > q->n - 1 ? e + (q->n - 1) : ceil, &q->steps);
            if (q->steps > q->max_steps)
                return -EAGAIN;
        }
        uint64_t s = fit_in(q, a, e);
        if (s != NONE) {
            *pos = s;
            return 1;
        }
        if (hx <= q->lo || slot == 0)
            return 0;
        slot--;
    }
}

static uint64_t to_global(const struct buddy *bd, const struct space *sp, uint64_t p)
{
    return ((uint64_t)sp->hp_global[p >> bd->shift] << bd->shift) |
           (p & ((1ull << bd->shift) - 1));
}

static int find_steps(const struct buddy *bd, const struct mmc_search *rq, uint64_t *first_frame,
                      uint64_t *steps_out)
{
    const struct mmc_frames *f = bd->f;
    const uint64_t n = rq->frames, b = rq->boundary_frames;
    if (n == 0 || (b && n > b) || rq->lowest_pfn > rq->highest_pfn)
        return -ENOMEM;
    const unsigned k0 = n == 1 ? 0 : 64 - (unsigned)__builtin_clzll(n - 1);
    const unsigned j0 = floor_log2(n) ? floor_log2(n) - 1 : 0;
    struct query qs[MMC_MAX_NODES];
    unsigned nq = 0;
    uint64_t steps = 0, best = NONE;
    unsigned best_k = MAX_ORDERS;

    for (unsigned nd = 0; nd < f->nnodes; nd++) {
        const struct space *sp = bd->sp[nd];
        if (!sp || !(rq->node_mask & (1ull << nd)) || sp->longest_run < n)
            continue;
        struct query q = {.bd = bd, .sp = sp, .shift = bd->shift, .n = n, .b = b,
                          .max_steps = rq->max_work ? rq->max_work : UINT64_MAX};
        pfn_range(sp->hp_pfn, sp->nhp, bd->shift, rq->lowest_pfn, rq->highest_pfn, &q.lo, &q.hi);
        if (q.hi - q.lo < n)
            continue;
        qs[nq++] = q;
    }
    for (unsigned i = 0; i < nq; i++) { /* 1. main pass */
        struct query *q = &qs[i];
        q->steps = steps;
        for (unsigned k = k0; k <= q->sp->max_order && k <= best_k; k++) {
            if (!q->sp->nfree[k])
                continue;
            uint64_t p;
            int r = walk_order(q, k, false, &p);
            if (r < 0) {
                *steps_out = q->steps;
                return -EAGAIN;
            }
            if (r) {
                uint64_t g = to_global(bd, q->sp, p);
                if (k < best_k || g > best)
                    best = g, best_k = k;
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
        for (unsigned k = j0; k <= q->sp->max_order; k++) {
            if (!q->sp->nfree[k])
                continue;
            uint64_t p;
            int r = walk_order(q, k, true, &p);
            if (r < 0) {
                *steps_out = q->steps;
                return -EAGAIN;
            }
            if (r) {
                *steps_out = q->steps;
                *first_frame = to_global(bd, q->sp, p);
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

static struct space *locate(struct buddy *bd, uint64_t first, uint64_t *p)
{
    const struct mmc_frames *f = bd->f;
    const uint64_t h = first >> bd->shift;
    *p = ((uint64_t)bd->hp_pos[h] << bd->shift) | (first & (f->hp_frames - 1));
    return bd->sp[f->hp_node[h]];
}

static void buddy_take(void *engine, uint64_t first, uint64_t n)
{
    struct buddy *bd = engine;
    uint64_t p, rlo, rhi;
    if (!n)
        return;
    struct space *sp = locate(bd, first, &p);
    run_of(bd, sp, p, &rlo, &rhi);
    _mmc_search_set_bits(sp->free_bits, p, n, false);
    for (uint64_t x = p, end = p + n; x < end;) {
        unsigned k;
        uint64_t hx;
        if (!containing(sp, bd->shift, x, rlo, &k, &hx)) {
            x++; /* not free in the index: the caller broke the contract; stay consistent */
            continue;
        }
        hbm_clear(&sp->heads[k], slot_of(bd->shift, k, hx));
        sp->nfree[k]--;
        const uint64_t he = hx + (1ull << k);
        if (hx < x)
            insert_plain(sp, bd->shift, hx, x);
        if (end < he)
            insert_plain(sp, bd->shift, end, he);
        x = he;
    }
}

/* Put the free block (a, k) in, merged with its buddy while that is free (Linux's
 * __free_one_page). [rlo, rhi): the run. */
static void merge_insert(struct space *sp, unsigned shift, uint64_t a, unsigned k, uint64_t rlo,
                         uint64_t rhi)
{
    while (k < sp->max_order) {
        const uint64_t sz = 1ull << k;
        uint64_t bud;
        if (pos_pfn(sp->hp_pfn, shift, a) & sz) { /* upper half: buddy below */
            if (a - rlo < sz)
                break;
            bud = a - sz;
        } else {
            if (rhi - a < 2 * sz)
                break;
            bud = a + sz;
        }
        if (!sp->nfree[k] || !hbm_test(&sp->heads[k], slot_of(shift, k, bud)))
            break;
        hbm_clear(&sp->heads[k], slot_of(shift, k, bud));
        sp->nfree[k]--;
        if (bud < a)
            a = bud;
        k++;
    }
    hbm_set(&sp->heads[k], slot_of(shift, k, a));
    sp->nfree[k]++;
}

static void buddy_give(void *engine, uint64_t first, uint64_t n)
{
    struct buddy *bd = engine;
    uint64_t p, rlo, rhi;
    if (!n)
        return;
    struct space *sp = locate(bd, first, &p);
    run_of(bd, sp, p, &rlo, &rhi);
    _mmc_search_set_bits(sp->free_bits, p, n, true);
    for (uint64_t a = p, e = p + n; a < e;) {
        uint64_t P = pos_pfn(sp->hp_pfn, bd->shift, a);
        unsigned k = P ? (unsigned)__builtin_ctzll(P) : 63, kl = floor_log2(e - a);
        if (k > kl)
            k = kl;
        if (k > sp->max_order)
            k = sp->max_order;
        merge_insert(sp, bd->shift, a, k, rlo, rhi);
        a += 1ull << k;
    }
}

/* ---- create / destroy ---- */

static void buddy_destroy(void *engine)
{
    struct buddy *bd = engine;
    if (!bd)
        return;
    for (unsigned nd = 0; nd < MMC_MAX_NODES; nd++) {
        struct space *sp = bd->sp[nd];
        if (!sp)
            continue;
        free(sp->hp_pfn);
        free(sp->hp_global);
        free(sp->free_bits);
        free(sp->mem);
        free(sp);
    }
    free(bd->hp_pos);
    free(bd);
}

static int buddy_create(const struct mmc_frames *f, void **engine)
{
    if (f->hp_frames < 64)
        return -EINVAL; /* a bitmap word must not hold two runs */
    struct buddy *bd = calloc(1, sizeof(*bd));
    if (!bd)
        return -ENOMEM;
    bd->f = f;
    bd->shift = f->hp_shift;
    bd->bytes = sizeof(*bd);
    bd->hp_pos = malloc(f->nhugepages * sizeof(*bd->hp_pos));
    if (!bd->hp_pos)
        goto nomem;
    bd->bytes += f->nhugepages * sizeof(*bd->hp_pos);
    for (unsigned nd = 0; nd < f->nnodes; nd++) {
        if (!f->node_frames[nd])
            continue;
        if (!(bd->sp[nd] = calloc(1, sizeof(struct space))))
            goto nomem;
        bd->bytes += sizeof(struct space);
    }
    for (uint64_t h = 0; h < f->nhugepages; h++)
        bd->hp_pos[h] = (uint32_t)bd->sp[f->hp_node[h]]->nhp++;
    for (uint64_t r = 0; r < f->nruns; r++) {
        struct space *sp = bd->sp[f->runs[r].node];
        if (f->runs[r].frames > sp->longest_run)
            sp->longest_run = f->runs[r].frames;
        sp->max_order = floor_log2(sp->longest_run);
    }
    for (unsigned nd = 0; nd < f->nnodes; nd++) {
        struct space *sp = bd->sp[nd];
        if (!sp)
            continue;
        sp->frames = sp->nhp << bd->shift;
        sp->hp_pfn = malloc(sp->nhp * sizeof(*sp->hp_pfn));
        sp->hp_global = malloc(sp->nhp * sizeof(*sp->hp_global));
        sp->free_bits = calloc(sp->frames >> 6, sizeof(uint64_t));
        uint64_t words = 0;
        for (unsigned k = 0; k <= sp->max_order; k++)
            words += hbm_words(slot_of(bd->shift, k, sp->frames - 1) + 1);
        sp->mem = calloc(words, sizeof(uint64_t));
        if (!sp->hp_pfn || !sp->hp_global || !sp->free_bits || !sp->mem)
            goto nomem;
        uint64_t *m = sp->mem;
        for (unsigned k = 0; k <= sp->max_order; k++) {
            uint64_t nbits = slot_of(bd->shift, k, sp->frames - 1) + 1;
            hbm_init(&sp->heads[k], nbits, m);
            m += hbm_words(nbits);
        }
        bd->bytes += sp->nhp * (sizeof(*sp->hp_pfn) + sizeof(*sp->hp_global)) +
                     (sp->frames >> 6) * sizeof(uint64_t) + words * sizeof(uint64_t);
        sp->nhp = 0;
    }
    for (uint64_t h = 0; h < f->nhugepages; h++) { /* tables and free bits */
        struct space *sp = bd->sp[f->hp_node[h]];
        pos_add_hugepage(f, h, sp->nhp++, sp->hp_pfn, sp->hp_global, sp->free_bits);
    }
    for (uint64_t r = 0; r < f->nruns; r++) { /* blocks: each maximal free stretch, aligned */
        const struct mmc_run *run = &f->runs[r];
        struct space *sp = bd->sp[run->node];
        uint64_t x = (uint64_t)bd->hp_pos[run->first_frame >> bd->shift] << bd->shift;
        const uint64_t end = x + run->frames;
        uint64_t dummy = 0;
        while (x < end) {
            uint64_t used_end = x; /* skip used positions */
            while (used_end < end) {
                uint64_t fr = sp->free_bits[used_end >> 6] & (~0ull << (used_end & 63));
                if (fr) {
                    used_end = (used_end & ~63ull) + (uint64_t)__builtin_ctzll(fr);
                    break;
                }
                used_end = (used_end & ~63ull) + 64;
            }
            if (used_end >= end)
                break;
            uint64_t e = free_up(sp->free_bits, used_end, end, &dummy);
            insert_plain(sp, bd->shift, used_end, e);
            x = e;
        }
    }
    *engine = bd;
    return 0;
nomem:
    buddy_destroy(bd);
    return -ENOMEM;
}

static size_t buddy_metadata(const void *engine) { return ((const struct buddy *)engine)->bytes; }

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
    .metadata_bytes = buddy_metadata,
};
