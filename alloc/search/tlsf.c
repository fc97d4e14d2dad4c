/* alloc/search/tlsf.c: engine `tlsf`, Two-Level Segregated Fit (Masmano, Ripoll, Crespo,
 * Real, ECRTS 2004) over free stretches, indexed over the pool's physical span.
 *
 * Index. Elements: free stretches, the maximal runs of free frames inside one run (never across
 * a run boundary), one record each {start, length, list links}, keyed by the frame index of
 * their first frame (frame index = PFN - the span's base PFN). Per node, the stretches are
 * filed in size classes of two levels: first level fl = floor(log2 length) (lengths below 32
 * are one class each), second level its 32 linear subdivisions (SLI = 5, so a class spans at
 * most 1/32 of its lengths); one doubly linked list per class (LIFO), a bitmap of non-empty
 * first levels and one of non-empty second levels per first level, so the smallest non-empty
 * class at or above a class is two find-first-set operations. A node's class heads exist for
 * the first levels a stretch of the pool can reach (a stretch is never longer than the pool).
 * Neighbours: a span bitmap of stretch starts (struct sbm, common.h, one bit per frame: the
 * bits of a hugepage at its ordinal, a bit per hugepage slot per section ordinal, a dense
 * summary over sections; "the last start at or below frame i" is O(log_64 sections + the words
 * of one section and one hugepage)), and a hash table start -> record (open addressing, linear
 * probing, load <= 1/2), in place of TLSF's boundary tags, which would need words inside the
 * free memory. Frames of the span outside the pool have no bits and no records: they are never
 * free.
 *
 * take(range): the stretch holding the range (last start <= the range's first frame) is split
 * into what is left on either side. give(range): merged with the stretch ending just below it
 * (last start <= first - 1, if it reaches first) and the one starting just above (start bit at
 * first + n), both inside the same run (mmc_frame_run: a binary search over the runs).
 * Growth: reserve() makes room (start bitmap for the new ordinals and sections, one record and
 * two hash slots per new hugepage, class heads for the longer stretches the pool may now hold,
 * class tables for nodes that may appear); add() is a give of the hugepage's frames, which
 * merges it with the stretches ending just below and starting just above in the same run. A
 * hugepage the database has but add() has not yet seen has no start bits, so it reads as used.
 *
 * Algorithm (find), n frames: TLSF's mapping_search rounds n up to the next class boundary, so
 * every stretch of that class or above holds n frames ("good fit"); the request is served from
 * the first stretch of the smallest non-empty such class, O(1), when it carries no range or
 * boundary that stretch misses. With range, boundary or both, a stretch of any class >= n might
 * be the only one that holds the request: the classes are walked upward from the good-fit
 * class, each list from its head, and every stretch is checked exactly (the highest start in
 * the stretch clipped to the range that crosses no boundary multiple, linear.c's rule); then
 * the class holding n itself (its stretches of length >= n). Complete: it fails only when no
 * stretch of length >= n holds a placement, i.e. when no satisfying block exists.
 * Several allowed nodes: each node's answer is found, the shortest stretch wins (ties: the
 * highest frame index).
 * Placement: good fit (the first stretch of the smallest class that surely holds the request,
 * TLSF's policy; constrained, the first stretch in class order that holds it), and inside the
 * stretch its top (the highest placement the range and boundary allow); the rest of the stretch
 * stays free.
 *
 * Time: find O(1) when the good-fit class's first stretch holds the request (always, without
 * range and boundary, per allowed node); constrained O(S), S the stretches of length >= n
 * examined before the first that holds the request (all of them when none does). take / give
 * O(log runs) (the run, for give's bounds) + O(log_64 sections + the start bitmap's words of
 * one section and of one hugepage: 8 + 8 words for 2 MiB hugepages, up to 4096 for a 1 GiB
 * one) + O(1) hash and list operations. add: one give of the hugepage's hp_frames frames, the
 * same cost. reserve: O(nodes * first levels) plus the room made (the start bitmap's tables
 * grow in place, copying nothing; records grow by 1/2 and the hash table doubles, amortised). create: O(runs + frames of the
 * pool / 64) words read.
 *
 * Metadata: the start bitmap, 1/8 byte per frame of pool (at f's hp_cap ordinals: the pool's
 * hugepages, in tables that never move) + 64 bytes per section holding any of the pool + 1/8 byte per section of the span (1/2^21 byte per frame
 * of span); per free stretch a 20-byte record and 4-byte hash slots at load <= 1/2, so 28-36
 * bytes, up to ~50 just after the arrays grew (they never shrink); per node 124 bytes + 128
 * bytes per first level a stretch of the pool can reach (about 1.5-3.3 KiB). Measured by
 * tests/test_engines.c: the 1 TiB simulated pool (2 MiB hugepages, mean run 4 hugepages, a
 * 2 TiB span) 0.14 byte per frame of pool, 0.07 per frame of span, aged; the sparse layout
 * (128 lone hugepages, each in its own section, over a 4 TiB span) 0.39-0.40 byte per frame
 * of pool (the sections' 64 bytes per hugepage weigh there), 0.00002 per frame of span; small
 * layouts (100-250 MiB) 0.22-0.47 per frame of pool, the node class tables weighing. The
 * worst case, every other frame free, costs 14-25 bytes per frame of pool.
 * Limits: the pool below 16 TiB (a stretch's length is 32 bits): create fails -E2BIG above,
 * reserve -ENOMEM; the span as long as the frame database allows (MMC_SPAN_MAX_FRAMES: a
 * record holds a 64-bit start). max_work counts stretches examined; beyond it find returns
 * -EAGAIN. take and give cannot fail: out of memory for a new record or hash slot aborts (add
 * never does: reserve made its room).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define NIL UINT32_MAX
#define SLI 5
#define SL (1u << SLI)          /* second-level classes per first level */
#define FL 29                   /* first levels: lengths below 2^33 */

/* ---- the index ---- */

struct stretch {
    uint32_t start_lo, start_hi; /* first frame (frame index over the span), in two halves so
                                   that a record is 20 bytes with 4-byte alignment */
    uint32_t frames;            /* length */
    uint32_t next, prev;        /* class list links (record ids), NIL at the ends; next also
                                   links unused records */
};

/* One node's size classes: heads for first levels [0, nfl). */
struct classes {
    uint32_t fl_bits;           /* bit fl: some class of first level fl is non-empty */
    uint32_t nfl;               /* first levels with heads */
    uint32_t sl_bits[FL];       /* bit sl: class (fl, sl) is non-empty */
    uint32_t head[][SL];        /* first record of each class, NIL if empty */
};

struct tlsf {
    const struct mmc_frames *f;
    struct classes *cls[MMC_MAX_NODES]; /* NULL for node numbers without frames */
    struct classes **spare;     /* tables reserved for nodes a growth may bring, nspare of them */
    unsigned nspare;
    uint64_t pending;           /* hugepages reserved and not yet added */
    struct stretch *rec;        /* records */
    uint32_t nrec, cap_rec;     /* records used at least once; allocated */
    uint32_t free_rec;          /* first unused record, NIL if none */
    uint32_t *ht;               /* hash slots: a record (keyed by its start), or NIL */
    uint64_t ht_mask;           /* slots - 1 */
    uint64_t ht_used;           /* live slots (= live records) */
    unsigned ht_bits;           /* log2(slots) */
    struct sbm starts;          /* bit i: a free stretch starts at frame i */
};

static inline uint64_t rec_start(const struct stretch *s)
{
    return (uint64_t)s->start_hi << 32 | s->start_lo;
}

static inline unsigned rec_node(const struct tlsf *t, const struct stretch *s)
{
    return mmc_frame_node(t->f, rec_start(s));
}

/* ---- size classes ---- */

static inline void mapping(uint64_t len, unsigned *fl, unsigned *sl)
{
    if (len < SL) {
        *fl = 0;
        *sl = (unsigned)len;
    } else {
        unsigned f = floor_log2(len);
        *fl = f - SLI + 1;
        *sl = (unsigned)(len >> (f - SLI)) - SL;
    }
}

/* The class whose every stretch holds len frames (TLSF's mapping_search); fl may be FL. */
static inline void mapping_search(uint64_t len, unsigned *fl, unsigned *sl)
{
    if (len >= SL)
        len += (1ull << (floor_log2(len) - SLI)) - 1;
    mapping(len, fl, sl);
}

/* First levels needed for stretches of up to len frames. */
static uint32_t levels_for(uint64_t len)
{
    unsigned fl, sl;
    mapping(len, &fl, &sl);
    return fl + 1 < FL ? fl + 1 : FL;
}

static size_t classes_bytes(uint32_t nfl)
{
    return offsetof(struct classes, head) + (size_t)nfl * SL * sizeof(uint32_t);
}

/* c (may be NULL: a new table) with nfl first levels; NULL on failure (c unchanged). */
static struct classes *classes_grow(struct classes *c, uint32_t nfl)
{
    const uint32_t had = c ? c->nfl : 0;
    if (c && had >= nfl)
        return c;
    struct classes *n = realloc(c, classes_bytes(nfl));
    if (!n)
        return NULL;
    if (!c)
        memset(n, 0, offsetof(struct classes, head));
    memset(n->head[had], 0xff, (size_t)(nfl - had) * SL * sizeof(uint32_t));
    n->nfl = nfl;
    return n;
}

/* The smallest non-empty class >= (*fl, *sl): 1, or 0 if none. */
static inline int next_class(const struct classes *c, unsigned *fl, unsigned *sl)
{
    if (*fl >= c->nfl)
        return 0;
    uint32_t m = c->sl_bits[*fl] & (~0u << *sl);
    if (!m) {
        uint32_t fm = *fl + 1 < 32 ? c->fl_bits & (~0u << (*fl + 1)) : 0;
        if (!fm)
            return 0;
        *fl = (unsigned)__builtin_ctz(fm);
        m = c->sl_bits[*fl];
    }
    *sl = (unsigned)__builtin_ctz(m);
    return 1;
}

static void link_rec(struct tlsf *t, uint32_t r)
{
    struct stretch *s = &t->rec[r];
    struct classes *c = t->cls[rec_node(t, s)];
    unsigned fl, sl;
    mapping(s->frames, &fl, &sl);
    s->prev = NIL;
    s->next = c->head[fl][sl];
    if (s->next != NIL)
        t->rec[s->next].prev = r;
    c->head[fl][sl] = r;
    c->fl_bits |= 1u << fl;
    c->sl_bits[fl] |= 1u << sl;
}

static void unlink_rec(struct tlsf *t, uint32_t r)
{
    struct stretch *s = &t->rec[r];
    struct classes *c = t->cls[rec_node(t, s)];
    unsigned fl, sl;
    mapping(s->frames, &fl, &sl);
    if (s->prev != NIL)
        t->rec[s->prev].next = s->next;
    else
        c->head[fl][sl] = s->next;
    if (s->next != NIL)
        t->rec[s->next].prev = s->prev;
    if (c->head[fl][sl] == NIL) {
        c->sl_bits[fl] &= ~(1u << sl);
        if (!c->sl_bits[fl])
            c->fl_bits &= ~(1u << fl);
    }
}

/* ---- records and the start -> record table ---- */

static inline uint64_t ht_home(const struct tlsf *t, uint64_t key)
{
    return (key * 0x9e3779b97f4a7c15ull) >> (64 - t->ht_bits);
}

static int ht_resize(struct tlsf *t, unsigned bits)
{
    uint32_t *old = t->ht;
    const uint64_t old_slots = t->ht ? t->ht_mask + 1 : 0;
    uint32_t *nt = malloc(sizeof(uint32_t) << bits);
    if (!nt)
        return -ENOMEM;
    memset(nt, 0xff, sizeof(uint32_t) << bits);
    t->ht = nt;
    t->ht_bits = bits;
    t->ht_mask = (1ull << bits) - 1;
    for (uint64_t i = 0; i < old_slots; i++) {
        if (old[i] == NIL)
            continue;
        uint64_t j = ht_home(t, rec_start(&t->rec[old[i]]));
        while (t->ht[j] != NIL)
            j = (j + 1) & t->ht_mask;
        t->ht[j] = old[i];
    }
    free(old);
    return 0;
}

/* Room for `more` live entries beyond ht_used at load <= 1/2. 0 or -ENOMEM (unchanged). */
static int ht_room(struct tlsf *t, uint64_t more)
{
    unsigned bits = t->ht_bits;
    while (2 * (t->ht_used + more) > (1ull << bits))
        bits++;
    return bits == t->ht_bits ? 0 : ht_resize(t, bits);
}

static inline uint32_t ht_get(const struct tlsf *t, uint64_t key)
{
    for (uint64_t j = ht_home(t, key);; j = (j + 1) & t->ht_mask) {
        const uint32_t r = t->ht[j];
        if (r == NIL || rec_start(&t->rec[r]) == key)
            return r;
    }
}

static void ht_put(struct tlsf *t, uint64_t key, uint32_t r)
{
    if (2 * (t->ht_used + 1) > t->ht_mask + 1 && ht_resize(t, t->ht_bits + 1) < 0)
        abort(); /* take / give cannot fail: out of memory for the index */
    uint64_t j = ht_home(t, key);
    while (t->ht[j] != NIL)
        j = (j + 1) & t->ht_mask;
    t->ht[j] = r;
    t->ht_used++;
}

/* Remove key, shifting later entries of its cluster back (no tombstones). */
static void ht_del(struct tlsf *t, uint64_t key)
{
    uint64_t i = ht_home(t, key);
    while (t->ht[i] == NIL || rec_start(&t->rec[t->ht[i]]) != key) {
        if (t->ht[i] == NIL)
            return;
        i = (i + 1) & t->ht_mask;
    }
    for (uint64_t j = i;;) {
        j = (j + 1) & t->ht_mask;
        if (t->ht[j] == NIL)
            break;
        uint64_t k = ht_home(t, rec_start(&t->rec[t->ht[j]]));
        /* move j back to i unless its home lies cyclically in (i, j] */
        if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
            continue;
        t->ht[i] = t->ht[j];
        i = j;
    }
    t->ht[i] = NIL;
    t->ht_used--;
}

/* Room for cap records. 0 or -ENOMEM (unchanged). */
static int rec_room(struct tlsf *t, uint64_t cap)
{
    if (cap <= t->cap_rec)
        return 0;
    if (cap >= NIL)
        return -ENOMEM;
    struct stretch *p = realloc(t->rec, (size_t)cap * sizeof(*p));
    if (!p)
        return -ENOMEM;
    t->rec = p;
    t->cap_rec = (uint32_t)cap;
    return 0;
}

static uint32_t new_rec(struct tlsf *t, uint64_t start, uint64_t frames)
{
    uint32_t r = t->free_rec;
    if (r != NIL) {
        t->free_rec = t->rec[r].next;
    } else {
        if (t->nrec == t->cap_rec && rec_room(t, t->cap_rec + t->cap_rec / 2 + 16) < 0)
            abort(); /* take / give cannot fail: out of memory for the index */
        r = t->nrec++;
    }
    t->rec[r].start_lo = (uint32_t)start;
    t->rec[r].start_hi = (uint32_t)(start >> 32);
    t->rec[r].frames = (uint32_t)frames;
    sbm_set(&t->starts, start);
    ht_put(t, start, r);
    return r;
}

static void drop_rec(struct tlsf *t, uint32_t r)
{
    sbm_clear(&t->starts, rec_start(&t->rec[r]));
    ht_del(t, rec_start(&t->rec[r]));
    t->rec[r].next = t->free_rec;
    t->free_rec = r;
}

/* The stretch holding frame i, NIL if i is not free. */
static uint32_t holding(const struct tlsf *t, uint64_t i)
{
    uint64_t s = sbm_prev(&t->starts, i);
    if (s == NONE)
        return NIL;
    uint32_t r = ht_get(t, s);
    if (r == NIL || s + t->rec[r].frames <= i)
        return NIL;
    return r;
}

/* ---- find ---- */

struct query {
    const struct mmc_frames *f;
    uint64_t n;                 /* frames wanted */
    uint64_t b;                 /* boundary in frames, 0 = none */
    uint64_t lowest, highest;   /* PFN range, inclusive */
    uint64_t steps, max_steps;  /* stretches examined; the bound (UINT64_MAX: none) */
};

/* Highest start (frame index) of a satisfying block in stretch s, or NONE. */
static inline uint64_t fit_stretch(const struct query *q, const struct stretch *s)
{
    if (s->frames < q->n)
        return NONE;
    const uint64_t i = rec_start(s);
    const uint64_t P = mmc_frame_pfn(q->f, i); /* the stretch is PFN-contiguous */
    uint64_t a = P, top = P + s->frames;              /* PFNs [a, top) */
    if (a < q->lowest)
        a = q->lowest;
    if (top - 1 > q->highest)
        top = q->highest + 1;
    if (top <= a || top - a < q->n)
        return NONE;
    return fit_top(a, top, q->n, q->b, P, i);
}

/* Walk class (fl, sl)'s list: the first stretch holding the request. 1, 0 or -EAGAIN. */
static int walk_class(const struct tlsf *t, struct query *q, const struct classes *c,
                      unsigned fl, unsigned sl, uint64_t *first, uint32_t *rec)
{
    for (uint32_t r = c->head[fl][sl]; r != NIL; r = t->rec[r].next) {
        if (++q->steps > q->max_steps)
            return -EAGAIN;
        uint64_t x = fit_stretch(q, &t->rec[r]);
        if (x != NONE) {
            *first = x;
            *rec = r;
            return 1;
        }
    }
    return 0;
}

/* One node's answer. */
static int find_node(const struct tlsf *t, struct query *q, const struct classes *c,
                     uint64_t *first, uint32_t *rec)
{
    unsigned gfl, gsl, ofl, osl;
    mapping_search(q->n, &gfl, &gsl);
    mapping(q->n, &ofl, &osl);
    unsigned fl = gfl, sl = gsl;
    while (next_class(c, &fl, &sl)) { /* good fit and above */
        int r = walk_class(t, q, c, fl, sl, first, rec);
        if (r)
            return r;
        if (++sl == SL)
            sl = 0, fl++;
    }
    if (ofl < c->nfl && (ofl != gfl || osl != gsl) && ((c->sl_bits[ofl] >> osl) & 1))
        return walk_class(t, q, c, ofl, osl, first, rec); /* n's own class */
    return 0;
}

static int tlsf_find(void *engine, const struct mmc_search *rq, uint64_t *first_frame, uint64_t *work)
{
    const struct tlsf *t = engine;
    const struct mmc_frames *f = t->f;
    const uint64_t n = rq->frames, b = rq->boundary_frames;
    *work = 0;
    if (n == 0 || (b && n > b) || rq->lowest_pfn > rq->highest_pfn)
        return -ENOMEM;
    struct query q = {.f = f, .n = n, .b = b, .lowest = rq->lowest_pfn,
                      .highest = rq->highest_pfn,
                      .max_steps = rq->max_work ? rq->max_work : UINT64_MAX};
    uint64_t best = NONE, best_len = 0;
    for (unsigned nd = 0; nd < f->nnodes; nd++) {
        const struct classes *c = t->cls[nd];
        if (!c || !(rq->node_mask & (1ull << nd)) || f->node[nd].free < n)
            continue;
        uint64_t x;
        uint32_t r;
        int rc = find_node(t, &q, c, &x, &r);
        *work = q.steps;
        if (rc < 0)
            return -EAGAIN;
        if (rc && (best == NONE || t->rec[r].frames < best_len ||
                   (t->rec[r].frames == best_len && x > best)))
            best = x, best_len = t->rec[r].frames;
    }
    if (best == NONE)
        return -ENOMEM;
    *first_frame = best;
    return 0;
}

/* ---- take / give ---- */

static void tlsf_take(void *engine, uint64_t first, uint64_t n)
{
    struct tlsf *t = engine;
    for (uint64_t x = first, end = first + n; x < end;) {
        uint32_t r = holding(t, x);
        if (r == NIL) {
            x++; /* not free in the index: the caller broke the contract; stay consistent */
            continue;
        }
        const uint64_t s = rec_start(&t->rec[r]), e = s + t->rec[r].frames;
        const uint64_t cut_end = e < end ? e : end;
        unlink_rec(t, r);
        if (s < x) {
            t->rec[r].frames = (uint32_t)(x - s);
            link_rec(t, r);
        } else {
            drop_rec(t, r);
        }
        if (cut_end < e)
            link_rec(t, new_rec(t, cut_end, e - cut_end));
        x = cut_end;
    }
}

static void tlsf_give(void *engine, uint64_t first, uint64_t n)
{
    struct tlsf *t = engine;
    if (!n)
        return;
    const struct mmc_run *run = mmc_frame_run(t->f, first);
    const uint64_t rfirst = run->first_frame, rend = rfirst + run->frames;
    uint32_t left = first > rfirst ? holding(t, first - 1) : NIL;
    if (left != NIL && rec_start(&t->rec[left]) < rfirst)
        left = NIL; /* cannot happen: stretches stay inside runs */
    uint32_t right = NIL;
    if (first + n < rend && sbm_test(&t->starts, first + n))
        right = ht_get(t, first + n);
    uint64_t len = n;
    if (right != NIL) {
        len += t->rec[right].frames;
        unlink_rec(t, right);
        drop_rec(t, right);
    }
    if (left != NIL) {
        unlink_rec(t, left);
        t->rec[left].frames += (uint32_t)len;
        link_rec(t, left);
    } else {
        link_rec(t, new_rec(t, first, len));
    }
}

/* ---- growth ---- */

static void free_spares(struct tlsf *t)
{
    while (t->nspare)
        free(t->spare[--t->nspare]);
    free(t->spare);
    t->spare = NULL;
}

static int tlsf_reserve(void *engine, uint64_t nadd, const uint64_t *add_pfn)
{
    struct tlsf *t = engine;
    const struct mmc_frames *f = t->f;
    (void)add_pfn;
    if (!nadd)
        return 0;
    /* a reserve not followed by its adds (a growth that failed after it) is forgotten: the
     * room it made stays */
    t->pending = 0;
    if ((f->nhugepages + nadd) << f->hp_shift > UINT32_MAX)
        return -ENOMEM; /* lengths are 32 bits: the pool stays below 16 TiB */
    if (sbm_reserve(&t->starts) < 0) /* to f's hp_cap: exactly the grown pool's hugepages */
        return -ENOMEM;
    /* a record and two hash slots per new hugepage: a give creates at most one stretch */
    if (rec_room(t, t->ht_used + nadd) < 0 || ht_room(t, nadd) < 0)
        return -ENOMEM;
    /* class heads for the longest stretch the grown pool can hold */
    const uint64_t most = f->present_frames + nadd * f->hp_frames;
    const uint32_t nfl = levels_for(most);
    for (unsigned nd = 0; nd < MMC_MAX_NODES; nd++) {
        if (t->cls[nd]) {
            struct classes *c = classes_grow(t->cls[nd], nfl);
            if (!c)
                return -ENOMEM;
            t->cls[nd] = c;
        }
    }
    for (unsigned k = 0; k < t->nspare; k++) {
        struct classes *c = classes_grow(t->spare[k], nfl);
        if (!c)
            return -ENOMEM;
        t->spare[k] = c;
    }
    /* class tables for the nodes the new hugepages may be on (one per hugepage at most) */
    unsigned missing = 0;
    for (unsigned nd = 0; nd < MMC_MAX_NODES; nd++)
        missing += !t->cls[nd];
    const uint64_t want = nadd < missing ? nadd : missing;
    if (want && !t->spare && !(t->spare = calloc(MMC_MAX_NODES, sizeof(*t->spare))))
        return -ENOMEM;
    while (t->nspare < want) {
        struct classes *c = classes_grow(NULL, nfl);
        if (!c)
            return -ENOMEM;
        t->spare[t->nspare++] = c;
    }
    t->pending = nadd;
    return 0;
}

static void tlsf_add(void *engine, uint64_t first_frame)
{
    struct tlsf *t = engine;
    const unsigned nd = mmc_frame_node(t->f, first_frame);
    if (!t->cls[nd]) {
        if (!t->nspare)
            abort(); /* add() without reserve(): the interface was broken */
        t->cls[nd] = t->spare[--t->nspare];
    }
    tlsf_give(t, first_frame, t->f->hp_frames);
    if (t->pending && --t->pending == 0)
        free_spares(t);
}

/* ---- create / destroy ---- */

static void tlsf_destroy(void *engine)
{
    struct tlsf *t = engine;
    if (!t)
        return;
    for (unsigned nd = 0; nd < MMC_MAX_NODES; nd++)
        free(t->cls[nd]);
    free_spares(t);
    free(t->rec);
    free(t->ht);
    sbm_destroy(&t->starts);
    free(t);
}

/* Call emit(t, start, frames) for each maximal free stretch of run r, in ascending order, from
 * the database's free plane, a word at a time (a hugepage's words found once). Returns how
 * many. */
static uint64_t run_stretches(struct tlsf *t, const struct mmc_run *run, bool emit)
{
    const struct mmc_frames *f = t->f;
    uint64_t count = 0, cur = NONE;
    const uint64_t s0 = run->first_frame >> f->hp_shift, s1 = (run->first_frame + run->frames) >> f->hp_shift;
    for (uint64_t s = s0; s < s1; s++) {
        const uint64_t *w = mmc_frames_words(f, MMC_PLANE_FREE, mmc_frames_ord(f, s));
        for (uint64_t k = 0; k < f->wph; k++) {
            const uint64_t x = w[k], base = (s << f->hp_shift) + (k << 6);
            if (x == (cur == NONE ? 0 : ~0ull))
                continue; /* no change in this word */
            for (unsigned pos = 0; pos < 64;) {
                uint64_t y = (cur == NONE ? x : ~x) >> pos;
                if (!y)
                    break;
                pos += (unsigned)__builtin_ctzll(y);
                if (cur == NONE) {
                    cur = base + pos;
                } else {
                    if (emit)
                        link_rec(t, new_rec(t, cur, base + pos - cur));
                    count++;
                    cur = NONE;
                }
            }
        }
    }
    if (cur != NONE) {
        if (emit)
            link_rec(t, new_rec(t, cur, run->first_frame + run->frames - cur));
        count++;
    }
    return count;
}

static int tlsf_create(const struct mmc_frames *f, void **engine)
{
    if (f->nhugepages << f->hp_shift > UINT32_MAX)
        return -E2BIG; /* the pool is 16 TiB or more: a stretch's length needs 33 bits */
    struct tlsf *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->f = f;
    t->free_rec = NIL;
    if (sbm_init(&t->starts, f, f->hp_shift) < 0)
        goto nomem;
    uint64_t count = 0;
    for (uint64_t r = 0; r < f->nruns; r++)
        count += run_stretches(t, &f->runs[r], false);
    unsigned bits = 4;
    while ((1ull << bits) < 2 * count)
        bits++;
    if (ht_resize(t, bits) < 0 || rec_room(t, count > 16 ? count : 16) < 0)
        goto nomem;
    const uint32_t nfl = levels_for(f->present_frames ? f->present_frames : 1);
    for (unsigned nd = 0; nd < f->nnodes; nd++) {
        if (!f->node[nd].frames)
            continue;
        if (!(t->cls[nd] = classes_grow(NULL, nfl)))
            goto nomem;
    }
    for (uint64_t r = 0; r < f->nruns; r++) /* the maximal free stretches of each run */
        run_stretches(t, &f->runs[r], true);
    *engine = t;
    return 0;
nomem:
    tlsf_destroy(t);
    return -ENOMEM;
}

static size_t tlsf_metadata(const void *engine)
{
    const struct tlsf *t = engine;
    size_t bytes = sizeof(*t) + (size_t)t->cap_rec * sizeof(*t->rec) +
                   (size_t)(t->ht_mask + 1) * sizeof(*t->ht) + sbm_bytes(&t->starts) +
                   (t->spare ? MMC_MAX_NODES * sizeof(*t->spare) : 0);
    for (unsigned nd = 0; nd < MMC_MAX_NODES; nd++)
        bytes += t->cls[nd] ? classes_bytes(t->cls[nd]->nfl) : 0;
    for (unsigned k = 0; k < t->nspare; k++)
        bytes += classes_bytes(t->spare[k]->nfl);
    return bytes;
}

const struct mmc_engine_ops _mmc_engine_tlsf = {
    .name = "tlsf",
    .summary = "two-level segregated fit over free stretches: good fit, top of the stretch; "
               "O(1) unconstrained, walks the classes under range/boundary constraints",
    .work_unit = "free stretches examined",
    .fast_only_work = 1ull << 10,
    .create = tlsf_create,
    .destroy = tlsf_destroy,
    .find = tlsf_find,
    .take = tlsf_take,
    .give = tlsf_give,
    .reserve = tlsf_reserve,
    .add = tlsf_add,
    .metadata_bytes = tlsf_metadata,
};
