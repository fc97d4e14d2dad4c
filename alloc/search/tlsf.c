/* alloc/search/tlsf.c: engine `tlsf`, Two-Level Segregated Fit (Masmano, Ripoll, Crespo,
 * Real, ECRTS 2004) over free stretches.
 *
 * Elements: free stretches, the maximal runs of free frames inside one run (never across a run
 * boundary), one record each {start, length, list links}. Per node, the stretches are filed
 * in size classes of two levels: first level fl = floor(log2 length) (lengths below 32 are one
 * class each), second level its 32 linear subdivisions (SLI = 5, so a class spans at most
 * 1/32 of its lengths); one doubly linked list per class (LIFO), a bitmap of non-empty first
 * levels and one of non-empty second levels per first level, so the smallest non-empty class
 * at or above a class is two find-first-set operations.
 * Neighbours: a bitmap of stretch starts (one bit per frame, 64-ary summary levels: "the last
 * start at or below frame i" in O(log_64 N) word reads) and a hash table start -> record
 * (open addressing, linear probing, load <= 1/2), in place of TLSF's boundary tags, which would
 * need words inside the free memory.
 *
 * take(range): the stretch holding the range (last start <= the range's first frame) is split
 * into what is left on either side. give(range): merged with the stretch ending just below it
 * (last start <= first - 1, if it reaches first) and the one starting just above (start bit at
 * first + n), both inside the same run.
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
 * Time: find O(1) when the good-fit class's first stretch holds the request (always, without
 * range and boundary, per allowed node); constrained O(S), S the
 * stretches of length >= n examined before the first that holds the request (all of them when
 * none does). take / give O(log_64 N) (one predecessor query, O(1) hash and list operations).
 * Metadata: 1/8 byte per frame (start bitmap) + 1/504 (its summaries) + per free stretch a
 * 16-byte record and 8-byte hash slots at load <= 1/2, so 32 bytes, up to 64 just after the
 * arrays doubled (they never shrink) + 4 KiB per node of class heads. A 1 TiB pool of 2 MiB
 * hugepages: 33 MiB + 32 bytes per stretch (0.16-0.19 byte/frame aged to 70%); the worst
 * case, every other frame free, costs 16-32 bytes per frame.
 * Limits: frame indices fit 32 bits (a pool below 16 TiB), else create fails -E2BIG.
 * max_work counts stretches examined; beyond it find returns -EAGAIN.
 */
#include <stdlib.h>
#include <string.h>

/* struct hbm (common.h), plus the memory it owns */
#define HBM_FIELDS                                                                                 \
    uint64_t *mem;              /* all levels */                                                   \
    uint64_t words;             /* words in mem */
#include "common.h"

#define NIL UINT32_MAX
#define SLI 5
#define SL (1u << SLI)          /* second-level classes per first level */
#define FL 29                   /* first levels: lengths below 2^33 */

/* ---- the index ---- */

struct stretch {
    uint32_t start;             /* first frame (frame index) */
    uint32_t frames;            /* length */
    uint32_t next, prev;        /* class list links (record ids), NIL at the ends; next also
                                   links unused records */
};

/* One node's size classes. */
struct classes {
    uint32_t fl_bits;           /* bit fl: some class of first level fl is non-empty */
    uint32_t sl_bits[FL];       /* bit sl: class (fl, sl) is non-empty */
    uint32_t head[FL][SL];      /* first record of each class, NIL if empty */
};

struct tlsf {
    const struct mmc_frames *f;
    struct classes *cls[MMC_MAX_NODES]; /* NULL for node numbers without frames */
    struct stretch *rec;        /* records */
    uint32_t nrec, cap_rec;     /* records used at least once; allocated */
    uint32_t free_rec;          /* first unused record, NIL if none */
    uint64_t *ht;               /* hash slots: start << 32 | record, or EMPTY */
    uint64_t ht_mask;           /* slots - 1 */
    uint64_t ht_used;           /* live slots */
    unsigned ht_bits;           /* log2(slots) */
    struct hbm starts;          /* bit i: a free stretch starts at frame i */
};

#define EMPTY UINT64_MAX

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

/* The smallest non-empty class >= (*fl, *sl): 1, or 0 if none. */
static inline int next_class(const struct classes *c, unsigned *fl, unsigned *sl)
{
    if (*fl >= FL)
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
    struct classes *c = t->cls[mmc_frame_node(t->f, s->start)];
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
    struct classes *c = t->cls[mmc_frame_node(t->f, s->start)];
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

static inline uint64_t ht_home(const struct tlsf *t, uint32_t key)
{
    return (key * 0x9e3779b97f4a7c15ull) >> (64 - t->ht_bits);
}

static int ht_resize(struct tlsf *t, unsigned bits)
{
    uint64_t *old = t->ht, old_slots = t->ht ? t->ht_mask + 1 : 0;
    t->ht = malloc(sizeof(uint64_t) << bits);
    if (!t->ht) {
        t->ht = old;
        return -ENOMEM;
    }
    memset(t->ht, 0xff, sizeof(uint64_t) << bits);
    t->ht_bits = bits;
    t->ht_mask = (1ull << bits) - 1;
    for (uint64_t i = 0; i < old_slots; i++) {
        if (old[i] == EMPTY)
            continue;
        uint64_t j = ht_home(t, (uint32_t)(old[i] >> 32));
        while (t->ht[j] != EMPTY)
            j = (j + 1) & t->ht_mask;
        t->ht[j] = old[i];
    }
    free(old);
    return 0;
}

static inline uint32_t ht_get(const struct tlsf *t, uint32_t key)
{
    for (uint64_t j = ht_home(t, key);; j = (j + 1) & t->ht_mask) {
        if (t->ht[j] == EMPTY)
            return NIL;
        if ((uint32_t)(t->ht[j] >> 32) == key)
            return (uint32_t)t->ht[j];
    }
}

static void ht_put(struct tlsf *t, uint32_t key, uint32_t r)
{
    if (2 * (t->ht_used + 1) > t->ht_mask + 1 && ht_resize(t, t->ht_bits + 1) < 0)
        abort(); /* take / give cannot fail: out of memory for the index */
    uint64_t j = ht_home(t, key);
    while (t->ht[j] != EMPTY)
        j = (j + 1) & t->ht_mask;
    t->ht[j] = (uint64_t)key << 32 | r;
    t->ht_used++;
}

/* Remove key, shifting later entries of its cluster back (no tombstones). */
static void ht_del(struct tlsf *t, uint32_t key)
{
    uint64_t i = ht_home(t, key);
    while ((uint32_t)(t->ht[i] >> 32) != key || t->ht[i] == EMPTY) {
        if (t->ht[i] == EMPTY)
            return;
        i = (i + 1) & t->ht_mask;
    }
    for (uint64_t j = i;;) {
        j = (j + 1) & t->ht_mask;
        if (t->ht[j] == EMPTY)
            break;
        uint64_t k = ht_home(t, (uint32_t)(t->ht[j] >> 32));
        /* move j back to i unless its home lies cyclically in (i, j] */
        if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
            continue;
        t->ht[i] = t->ht[j];
        i = j;
    }
    t->ht[i] = EMPTY;
    t->ht_used--;
}

static uint32_t new_rec(struct tlsf *t, uint64_t start, uint64_t frames)
{
    uint32_t r = t->free_rec;
    if (r != NIL) {
        t->free_rec = t->rec[r].next;
    } else {
        if (t->nrec == t->cap_rec) {
            uint32_t cap = t->cap_rec ? 2 * t->cap_rec : 1024;
            struct stretch *p = realloc(t->rec, (size_t)cap * sizeof(*p));
            if (!p)
                abort(); /* take / give cannot fail: out of memory for the index */
            t->rec = p;
            t->cap_rec = cap;
        }
        r = t->nrec++;
    }
    t->rec[r].start = (uint32_t)start;
    t->rec[r].frames = (uint32_t)frames;
    hbm_set(&t->starts, start);
    ht_put(t, (uint32_t)start, r);
    return r;
}

static void drop_rec(struct tlsf *t, uint32_t r)
{
    hbm_clear(&t->starts, t->rec[r].start);
    ht_del(t, t->rec[r].start);
    t->rec[r].next = t->free_rec;
    t->free_rec = r;
}

/* The stretch holding frame i, NIL if i is not free. */
static uint32_t holding(const struct tlsf *t, uint64_t i)
{
    uint64_t s = hbm_prev(&t->starts, i);
    if (s == NONE)
        return NIL;
    uint32_t r = ht_get(t, (uint32_t)s);
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
    const uint64_t P = mmc_frame_pfn(q->f, s->start); /* the stretch is PFN-contiguous */
    uint64_t a = P, top = P + s->frames;              /* PFNs [a, top) */
    if (a < q->lowest)
        a = q->lowest;
    if (top - 1 > q->highest)
        top = q->highest + 1;
    if (top <= a || top - a < q->n)
        return NONE;
    return fit_top(a, top, q->n, q->b, P, s->start);
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
    if (ofl < FL && (ofl != gfl || osl != gsl) && ((c->sl_bits[ofl] >> osl) & 1))
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
        if (!c || !(rq->node_mask & (1ull << nd)) || f->node_free[nd] < n)
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
        const uint64_t s = t->rec[r].start, e = s + t->rec[r].frames;
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
    if (left != NIL && t->rec[left].start < rfirst)
        left = NIL; /* cannot happen: stretches stay inside runs */
    uint32_t right = NIL;
    if (first + n < rend && hbm_test(&t->starts, first + n))
        right = ht_get(t, (uint32_t)(first + n));
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

/* ---- create / destroy ---- */

static void tlsf_destroy(void *engine)
{
    struct tlsf *t = engine;
    if (!t)
        return;
    for (unsigned nd = 0; nd < MMC_MAX_NODES; nd++)
        free(t->cls[nd]);
    free(t->rec);
    free(t->ht);
    free(t->starts.mem);
    free(t);
}

static int tlsf_create(const struct mmc_frames *f, void **engine)
{
    if (f->nframes >= NIL)
        return -E2BIG;
    struct tlsf *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->f = f;
    t->free_rec = NIL;
    t->starts.words = hbm_words(f->nframes);
    t->starts.mem = calloc(t->starts.words, sizeof(uint64_t));
    if (!t->starts.mem || ht_resize(t, 10) < 0)
        goto nomem;
    hbm_init(&t->starts, f->nframes, t->starts.mem);
    for (unsigned nd = 0; nd < f->nnodes; nd++) {
        if (!f->node_frames[nd])
            continue;
        t->cls[nd] = calloc(1, sizeof(struct classes));
        if (!t->cls[nd])
            goto nomem;
        memset(t->cls[nd]->head, 0xff, sizeof(t->cls[nd]->head));
    }
    for (uint64_t r = 0; r < f->nruns; r++) { /* maximal free stretches of each run */
        const struct mmc_run *run = &f->runs[r];
        const uint64_t *fb = f->free_bits;
        uint64_t i = run->first_frame;
        const uint64_t end = i + run->frames;
        while (i < end) {
            while (i < end && !mmc_frame_is_free(f, i))
                i++;
            uint64_t s = i;
            while (i < end) {
                if (!(i & 63) && i + 64 <= end && fb[i >> 6] == ~0ull) { /* 64 frames a step */
                    i += 64;
                    continue;
                }
                if (!mmc_frame_is_free(f, i))
                    break;
                i++;
            }
            if (i > s)
                link_rec(t, new_rec(t, s, i - s));
        }
    }
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
                   (size_t)(t->ht_mask + 1) * sizeof(uint64_t) + t->starts.words * sizeof(uint64_t);
    for (unsigned nd = 0; nd < MMC_MAX_NODES; nd++)
        bytes += t->cls[nd] ? sizeof(struct classes) : 0;
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
    .metadata_bytes = tlsf_metadata,
};
