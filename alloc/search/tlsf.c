/* alloc/search/tlsf.c: engine `tlsf`, Two-Level Segregated Fit (Masmano, Ripoll, Crespo,
 * Real, ECRTS 2004) over free stretches, indexed over the pool's physical span.
 *
 * Index. Elements: free stretches, the maximal runs of free frames inside one run (never across
 * a run boundary), one record each {start, length, list links}, keyed by the frame index of
 * their first frame (frame index = PFN - the span's base PFN). A run lies on one node, so a
 * stretch does, and each node has an index of its own (struct tnode): its records, its hash
 * table, its size classes and its summaries of the start bitmap. The stretches are filed in
 * size classes of two levels: first level fl = floor(log2 length) (lengths below 32
 * are one class each), second level its 32 linear subdivisions (SLI = 5, so a class spans at
 * most 1/32 of its lengths); one doubly linked list per class (LIFO), a bitmap of non-empty
 * first levels and one of non-empty second levels per first level, so the smallest non-empty
 * class at or above a class is two find-first-set operations. A node's class heads exist for
 * the first levels a stretch of the pool can reach (a stretch is never longer than the pool).
 * Neighbours: a bitmap of stretch starts, one bit per frame of the pool (a hugepage's bits at
 * its ordinal, written only for that hugepage's node), under per-node summaries (per section
 * ordinal a bit per hugepage slot holding one of the node's starts, and over the sections a
 * dense bitmap with summary levels): "the node's last start at or below frame i" is
 * O(log_64 sections + the words of one section and one hugepage); and per node a hash table
 * start -> record (open addressing, linear probing, load <= 1/2), in place of TLSF's boundary
 * tags, which would need words inside the free memory. A node's summaries see only its own
 * starts, which is all a lookup needs: the stretch holding a frame, or ending just below a
 * range, lies in that range's run. Frames of the span outside the pool have no bits and no
 * records: they are never free.
 * Threads: node-parallel (alloc/partition.c). find, take and give on node n read and write
 * only node n's struct tnode and what it points to (records, hash slots, classes, summaries,
 * each a block of whole cache lines of its own), the start bits of node n's hugepages (a 2 MiB
 * hugepage's are one line, in a table that is line-aligned when mapped) and read-only memory
 * (the engine's struct tlsf, the frame database's directory, runs and node n's counters);
 * what all nodes' calls read is written only by create, reserve and add, under every lock.
 *
 * take(range): the stretch holding the range (last start <= the range's first frame) is split
 * into what is left on either side. give(range): merged with the stretch ending just below it
 * (last start <= first - 1, if it reaches first) and the one starting just above (start bit at
 * first + n), both inside the same run (mmc_frame_run: a binary search over the runs).
 * Growth: reserve() makes room (start bits for the new ordinals, and in every node's index,
 * since the new hugepages' nodes are not known yet: summaries for the new sections, one record
 * and two hash slots per new hugepage, class heads for the longer stretches the pool may now
 * hold; whole indexes for nodes that may appear); add() is a give of the hugepage's frames, which
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
 * O(log runs) (the run, for give's bounds; take's node is one table read) + O(log_64 sections
 * + the start bitmap's words of one section and of one hugepage: 8 + 8 words for 2 MiB
 * hugepages, up to 4096 for a 1 GiB one) + O(1) hash and list operations. add: one give of
 * the hugepage's hp_frames frames, the same cost. reserve: O(nodes * first levels) plus the
 * room made (the start bitmap's tables grow in place, copying nothing; a node's records grow
 * by 1/2 and its hash table doubles, amortised). create: O(runs + frames of the pool / 64)
 * words read.
 *
 * Metadata: the start bits, 1/8 byte per frame of pool (at f's hp_cap ordinals: the pool's
 * hugepages, in tables that never move); per node, its summaries: 64 bytes per section holding
 * any of the pool (room for every such section in every node's table) + 1/8 byte per section
 * of the span (1/2^21 byte per frame of span), at least a line; per free stretch a 20-byte
 * record and 4-byte hash slots at load <= 1/2, so 28-36 bytes, up to ~50 just after the arrays
 * grew (they never shrink); per node 316 bytes + 128 bytes per first level a stretch of the
 * pool can reach (about 1.7-3.5 KiB); each node's blocks rounded up to whole cache lines.
 * Measured by tests/test_engines.c: the 1 TiB simulated pool (2 MiB hugepages, mean run 4
 * hugepages, a 2 TiB span, 1 node) 0.14 byte per frame of pool, 0.07 per frame of span, aged;
 * the sparse layout (128 lone hugepages, each in its own section, over a 4 TiB span, 2 nodes)
 * 0.53-0.56 byte per frame of pool (the sections' 64 bytes per hugepage and node weigh there;
 * 0.39-0.42 with one summary for all nodes), 0.00003 per frame of span; small layouts
 * (96-256 MiB, 1-4 nodes) 0.23-0.56 per frame of pool, the node indexes weighing (0.23-0.47
 * with one record pool, hash table and summary for all nodes); the edges of the longest span
 * (2^36 frames) 33 KiB per node for the summary over its sections. The worst case, every other
 * frame free, costs 14-25 bytes per frame of pool.
 * Limits: the pool below 16 TiB (a stretch's length is 32 bits): create fails -E2BIG above,
 * reserve -ENOMEM; under 2^32 - 1 records per node; the span as long as the frame database
 * allows (MMC_SPAN_MAX_FRAMES: a record holds a 64-bit start). max_work counts stretches examined; beyond it find returns
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
#define LINE 64                 /* cache line: one node's memory never shares one with another's */
#define MID_WORDS (MMC_SECTION_SLOTS / 64) /* a section's bit per hugepage slot: one line */

/* ---- the index ---- */

struct stretch {
    uint32_t start_lo, start_hi; /* first frame (frame index over the span), in two halves so
                                   that a record is 20 bytes with 4-byte alignment */
    uint32_t frames;            /* length */
    uint32_t next, prev;        /* class list links (record ids of the node), NIL at the ends;
                                   next also links unused records */
};

/* One node's size classes: heads for first levels [0, nfl). */
struct classes {
    uint32_t fl_bits;           /* bit fl: some class of first level fl is non-empty */
    uint32_t nfl;               /* first levels with heads */
    uint32_t sl_bits[FL];       /* bit sl: class (fl, sl) is non-empty */
    uint32_t head[][SL];        /* first record of each class, NIL if empty */
};

/* One node's index: everything a call on the node writes (node-parallel: partition.c), in
 * blocks of whole cache lines of its own (line_alloc). */
struct tnode {
    struct classes *cls;        /* the node's size classes */
    struct stretch *rec;        /* the node's records (ids are per node) */
    uint32_t nrec, cap_rec;     /* records used at least once; allocated */
    uint32_t free_rec;          /* first unused record, NIL if none */
    unsigned ht_bits;           /* log2(hash slots) */
    uint32_t *ht;               /* hash slots: a record (keyed by its start), or NIL */
    uint64_t ht_mask;           /* slots - 1 */
    uint64_t ht_used;           /* live slots (= live records) */
    /* The summaries of the start bitmap over the node's own starts (the per-hugepage words are
     * struct tlsf's leaf: a hugepage is on one node): */
    uint64_t *mid;              /* MID_WORDS per section ordinal: bit j, hugepage slot j of the
                                   section (one of this node's) has a start */
    uint64_t sec_cap;           /* section ordinals mid has room for */
    struct mmc_tab mid_tab;     /* what mid points into */
    uint64_t *top_mem;          /* the top's words */
    struct hbm top;             /* bit d: section d holds a start of this node */
};

/* Written only by create, reserve, add and destroy (under every lock); read by every call. */
struct tlsf {
    const struct mmc_frames *f;
    uint64_t bpo;               /* leaf words per ordinal: hp_frames / 64 (a 2 MiB hugepage's:
                                   one line) */
    uint64_t *leaf;             /* the start bitmap, bpo words per ordinal: bit k of a hugepage's
                                   words, a free stretch starts at its frame k */
    uint64_t cap;               /* ordinals leaf has room for */
    struct mmc_tab leaf_tab;    /* what leaf points into */
    uint64_t pending;           /* hugepages reserved and not yet added */
    struct tnode **spare;       /* indexes reserved for nodes a growth may bring, nspare */
    unsigned nspare;
    struct tnode *node[MMC_MAX_NODES]; /* NULL for node numbers without frames */
};

static inline uint64_t rec_start(const struct stretch *s)
{
    return (uint64_t)s->start_hi << 32 | s->start_lo;
}

/* A block of at least `bytes` on cache lines of its own (aligned, rounded up to a line), so
 * that no other node's block shares a line with it. NULL on failure. */
static void *line_alloc(size_t bytes)
{
    return aligned_alloc(LINE, (bytes + LINE - 1) & ~(size_t)(LINE - 1));
}

/* p's first `had` bytes moved into a new line_alloc block of `bytes`; NULL on failure (p
 * unchanged). */
static void *line_grow(void *p, size_t had, size_t bytes)
{
    void *q = line_alloc(bytes);
    if (!q)
        return NULL;
    if (p)
        memcpy(q, p, had);
    free(p);
    return q;
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
    struct classes *n = line_grow(c, c ? classes_bytes(had) : 0, classes_bytes(nfl));
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

static void link_rec(struct tnode *n, uint32_t r)
{
    struct stretch *s = &n->rec[r];
    struct classes *c = n->cls;
    unsigned fl, sl;
    mapping(s->frames, &fl, &sl);
    s->prev = NIL;
    s->next = c->head[fl][sl];
    if (s->next != NIL)
        n->rec[s->next].prev = r;
    c->head[fl][sl] = r;
    c->fl_bits |= 1u << fl;
    c->sl_bits[fl] |= 1u << sl;
}

static void unlink_rec(struct tnode *n, uint32_t r)
{
    struct stretch *s = &n->rec[r];
    struct classes *c = n->cls;
    unsigned fl, sl;
    mapping(s->frames, &fl, &sl);
    if (s->prev != NIL)
        n->rec[s->prev].next = s->next;
    else
        c->head[fl][sl] = s->next;
    if (s->next != NIL)
        n->rec[s->next].prev = s->prev;
    if (c->head[fl][sl] == NIL) {
        c->sl_bits[fl] &= ~(1u << sl);
        if (!c->sl_bits[fl])
            c->fl_bits &= ~(1u << fl);
    }
}

/* ---- the start bitmap ----
 * A bit per frame of the pool: a hugepage's bpo words at its ordinal in struct tlsf's leaf
 * (a hugepage is on one node, so only its node's calls touch them), and per node its own
 * summaries: per section ordinal a bit per hugepage slot whose words hold one of its starts,
 * over the sections a dense bitmap with summary levels (struct tnode's mid and top). A node's
 * summaries see its own starts only, which is all a call needs: the stretch holding a frame,
 * or ending just below a range, lies in the range's run, on its node. */

/* The leaf words of present hugepage slot s. */
static inline uint64_t *st_leaf(const struct tlsf *t, uint64_t s)
{
    return t->leaf + (uint64_t)mmc_frames_ord(t->f, s) * t->bpo;
}

/* Node n's summary words of section d (which has a table). */
static inline uint64_t *st_mid(const struct tlsf *t, const struct tnode *n, uint64_t d)
{
    return n->mid + (uint64_t)t->f->sec_ord[d] * MID_WORDS;
}

/* Does a stretch start at frame i (present or not)? */
static inline bool st_test(const struct tlsf *t, uint64_t i)
{
    const uint64_t s = i >> t->f->hp_shift, k = i & (t->f->hp_frames - 1);
    if (mmc_frames_ord(t->f, s) == MMC_ORD_NONE)
        return false;
    return (st_leaf(t, s)[k >> 6] >> (k & 63)) & 1;
}

/* A stretch of node n starts at frame i. */
static void st_set(struct tlsf *t, struct tnode *n, uint64_t i)
{
    const uint64_t s = i >> t->f->hp_shift, j = s & (MMC_SECTION_SLOTS - 1);
    const uint64_t k = i & (t->f->hp_frames - 1);
    st_leaf(t, s)[k >> 6] |= 1ull << (k & 63);
    uint64_t *mid = st_mid(t, n, s >> MMC_SECTION_SHIFT);
    if (!(mid[j >> 6] & (1ull << (j & 63)))) {
        mid[j >> 6] |= 1ull << (j & 63);
        hbm_set(&n->top, s >> MMC_SECTION_SHIFT);
    }
}

/* No stretch of node n starts at frame i any more. */
static void st_clear(struct tlsf *t, struct tnode *n, uint64_t i)
{
    const uint64_t s = i >> t->f->hp_shift, j = s & (MMC_SECTION_SLOTS - 1);
    const uint64_t k = i & (t->f->hp_frames - 1);
    uint64_t *l = st_leaf(t, s);
    if (l[k >> 6] &= ~(1ull << (k & 63)))
        return;
    for (uint64_t w = 0; w < t->bpo; w++)
        if (l[w])
            return;
    uint64_t *mid = st_mid(t, n, s >> MMC_SECTION_SHIFT);
    mid[j >> 6] &= ~(1ull << (j & 63));
    for (uint64_t w = 0; w < MID_WORDS; w++)
        if (mid[w])
            return;
    hbm_clear(&n->top, s >> MMC_SECTION_SHIFT);
}

/* The last start of node n at or below frame i, or NONE: the words of i's hugepage and of one
 * section, and O(log_64 sections) of the node's top. */
static uint64_t st_prev(const struct tlsf *t, const struct tnode *n, uint64_t i)
{
    const unsigned sh = t->f->hp_shift;
    uint64_t s = i >> sh, d = s >> MMC_SECTION_SHIFT;
    if (hbm_test(&n->top, d)) {
        const uint64_t *mid = st_mid(t, n, d);
        const uint64_t j = s & (MMC_SECTION_SLOTS - 1), k = i & (t->f->hp_frames - 1);
        if ((mid[j >> 6] >> (j & 63)) & 1) { /* in i's own hugepage, at or below i */
            uint64_t r = sbm_highest(st_leaf(t, s), k >> 6, ~0ull >> (63 - (k & 63)));
            if (r != NONE)
                return (s << sh) + r;
        }
        if (j > 0) { /* a lower slot of the section */
            uint64_t r = sbm_highest(mid, (j - 1) >> 6, ~0ull >> (63 - ((j - 1) & 63)));
            if (r != NONE) {
                s = (d << MMC_SECTION_SHIFT) + r;
                return (s << sh) + sbm_highest(st_leaf(t, s), t->bpo - 1, ~0ull);
            }
        }
    }
    if (d == 0 || (d = hbm_prev(&n->top, d - 1)) == NONE)
        return NONE;
    s = (d << MMC_SECTION_SHIFT) + sbm_highest(st_mid(t, n, d), MID_WORDS - 1, ~0ull);
    return (s << sh) + sbm_highest(st_leaf(t, s), t->bpo - 1, ~0ull);
}

/* ---- records and the start -> record table (per node) ---- */

static inline uint64_t ht_home(const struct tnode *n, uint64_t key)
{
    return (key * 0x9e3779b97f4a7c15ull) >> (64 - n->ht_bits);
}

static int ht_resize(struct tnode *n, unsigned bits)
{
    uint32_t *old = n->ht;
    const uint64_t old_slots = n->ht ? n->ht_mask + 1 : 0;
    uint32_t *nt = line_alloc(sizeof(uint32_t) << bits);
    if (!nt)
        return -ENOMEM;
    memset(nt, 0xff, sizeof(uint32_t) << bits);
    n->ht = nt;
    n->ht_bits = bits;
    n->ht_mask = (1ull << bits) - 1;
    for (uint64_t i = 0; i < old_slots; i++) {
        if (old[i] == NIL)
            continue;
        uint64_t j = ht_home(n, rec_start(&n->rec[old[i]]));
        while (n->ht[j] != NIL)
            j = (j + 1) & n->ht_mask;
        n->ht[j] = old[i];
    }
    free(old);
    return 0;
}

/* Room for `more` live entries beyond ht_used at load <= 1/2. 0 or -ENOMEM (unchanged). */
static int ht_room(struct tnode *n, uint64_t more)
{
    unsigned bits = n->ht_bits;
    while (2 * (n->ht_used + more) > (1ull << bits))
        bits++;
    return bits == n->ht_bits ? 0 : ht_resize(n, bits);
}

static inline uint32_t ht_get(const struct tnode *n, uint64_t key)
{
    for (uint64_t j = ht_home(n, key);; j = (j + 1) & n->ht_mask) {
        const uint32_t r = n->ht[j];
        if (r == NIL || rec_start(&n->rec[r]) == key)
            return r;
    }
}

static void ht_put(struct tnode *n, uint64_t key, uint32_t r)
{
    if (2 * (n->ht_used + 1) > n->ht_mask + 1 && ht_resize(n, n->ht_bits + 1) < 0)
        abort(); /* take / give cannot fail: out of memory for the index */
    uint64_t j = ht_home(n, key);
    while (n->ht[j] != NIL)
        j = (j + 1) & n->ht_mask;
    n->ht[j] = r;
    n->ht_used++;
}

/* Remove key, shifting later entries of its cluster back (no tombstones). */
static void ht_del(struct tnode *n, uint64_t key)
{
    uint64_t i = ht_home(n, key);
    while (n->ht[i] == NIL || rec_start(&n->rec[n->ht[i]]) != key) {
        if (n->ht[i] == NIL)
            return;
        i = (i + 1) & n->ht_mask;
    }
    for (uint64_t j = i;;) {
        j = (j + 1) & n->ht_mask;
        if (n->ht[j] == NIL)
            break;
        uint64_t k = ht_home(n, rec_start(&n->rec[n->ht[j]]));
        /* move j back to i unless its home lies cyclically in (i, j] */
        if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
            continue;
        n->ht[i] = n->ht[j];
        i = j;
    }
    n->ht[i] = NIL;
    n->ht_used--;
}

/* Room for cap records. 0 or -ENOMEM (unchanged). */
static int rec_room(struct tnode *n, uint64_t cap)
{
    if (cap <= n->cap_rec)
        return 0;
    if (cap >= NIL)
        return -ENOMEM;
    struct stretch *p = line_grow(n->rec, (size_t)n->cap_rec * sizeof(*p), (size_t)cap * sizeof(*p));
    if (!p)
        return -ENOMEM;
    n->rec = p;
    n->cap_rec = (uint32_t)cap;
    return 0;
}

static uint32_t new_rec(struct tlsf *t, struct tnode *n, uint64_t start, uint64_t frames)
{
    uint32_t r = n->free_rec;
    if (r != NIL) {
        n->free_rec = n->rec[r].next;
    } else {
        if (n->nrec == n->cap_rec && rec_room(n, n->cap_rec + n->cap_rec / 2 + 16) < 0)
            abort(); /* take / give cannot fail: out of memory for the index */
        r = n->nrec++;
    }
    n->rec[r].start_lo = (uint32_t)start;
    n->rec[r].start_hi = (uint32_t)(start >> 32);
    n->rec[r].frames = (uint32_t)frames;
    st_set(t, n, start);
    ht_put(n, start, r);
    return r;
}

static void drop_rec(struct tlsf *t, struct tnode *n, uint32_t r)
{
    st_clear(t, n, rec_start(&n->rec[r]));
    ht_del(n, rec_start(&n->rec[r]));
    n->rec[r].next = n->free_rec;
    n->free_rec = r;
}

/* The stretch of node n holding frame i (on node n), NIL if i is not free. */
static uint32_t holding(const struct tlsf *t, const struct tnode *n, uint64_t i)
{
    uint64_t s = st_prev(t, n, i);
    if (s == NONE)
        return NIL;
    uint32_t r = ht_get(n, s);
    if (r == NIL || s + n->rec[r].frames <= i)
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
static int walk_class(const struct tnode *n, struct query *q, unsigned fl, unsigned sl,
                      uint64_t *first, uint32_t *rec)
{
    for (uint32_t r = n->cls->head[fl][sl]; r != NIL; r = n->rec[r].next) {
        if (++q->steps > q->max_steps)
            return -EAGAIN;
        uint64_t x = fit_stretch(q, &n->rec[r]);
        if (x != NONE) {
            *first = x;
            *rec = r;
            return 1;
        }
    }
    return 0;
}

/* One node's answer. */
static int find_node(const struct tnode *n, struct query *q, uint64_t *first, uint32_t *rec)
{
    const struct classes *c = n->cls;
    unsigned gfl, gsl, ofl, osl;
    mapping_search(q->n, &gfl, &gsl);
    mapping(q->n, &ofl, &osl);
    unsigned fl = gfl, sl = gsl;
    while (next_class(c, &fl, &sl)) { /* good fit and above */
        int r = walk_class(n, q, fl, sl, first, rec);
        if (r)
            return r;
        if (++sl == SL)
            sl = 0, fl++;
    }
    if (ofl < c->nfl && (ofl != gfl || osl != gsl) && ((c->sl_bits[ofl] >> osl) & 1))
        return walk_class(n, q, ofl, osl, first, rec); /* n's own class */
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
        /* only the allowed nodes' memory is read (node-parallel: the others may be changing) */
        if (!(rq->node_mask & (1ull << nd)) || !t->node[nd] || f->node[nd].free < n)
            continue;
        const struct tnode *tn = t->node[nd];
        uint64_t x;
        uint32_t r;
        int rc = find_node(tn, &q, &x, &r);
        *work = q.steps;
        if (rc < 0)
            return -EAGAIN;
        if (rc && (best == NONE || tn->rec[r].frames < best_len ||
                   (tn->rec[r].frames == best_len && x > best)))
            best = x, best_len = tn->rec[r].frames;
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
    const uint32_t o = n ? mmc_frame_ord(t->f, first) : MMC_ORD_NONE;
    if (o == MMC_ORD_NONE)
        return; /* nothing, or not in the pool: the caller broke the contract */
    struct tnode *tn = t->node[t->f->hp_node[o]]; /* the range lies in one run, on one node */
    for (uint64_t x = first, end = first + n; x < end;) {
        uint32_t r = tn ? holding(t, tn, x) : NIL;
        if (r == NIL) {
            x++; /* not free in the index: the caller broke the contract; stay consistent */
            continue;
        }
        const uint64_t s = rec_start(&tn->rec[r]), e = s + tn->rec[r].frames;
        const uint64_t cut_end = e < end ? e : end;
        unlink_rec(tn, r);
        if (s < x) {
            tn->rec[r].frames = (uint32_t)(x - s);
            link_rec(tn, r);
        } else {
            drop_rec(t, tn, r);
        }
        if (cut_end < e)
            link_rec(tn, new_rec(t, tn, cut_end, e - cut_end));
        x = cut_end;
    }
}

static void tlsf_give(void *engine, uint64_t first, uint64_t n)
{
    struct tlsf *t = engine;
    if (!n)
        return;
    const struct mmc_run *run = mmc_frame_run(t->f, first);
    struct tnode *tn = t->node[run->node];
    const uint64_t rfirst = run->first_frame, rend = rfirst + run->frames;
    uint32_t left = first > rfirst ? holding(t, tn, first - 1) : NIL;
    if (left != NIL && rec_start(&tn->rec[left]) < rfirst)
        left = NIL; /* cannot happen: stretches stay inside runs */
    uint32_t right = NIL;
    if (first + n < rend && st_test(t, first + n))
        right = ht_get(tn, first + n);
    uint64_t len = n;
    if (right != NIL) {
        len += tn->rec[right].frames;
        unlink_rec(tn, right);
        drop_rec(t, tn, right);
    }
    if (left != NIL) {
        unlink_rec(tn, left);
        tn->rec[left].frames += (uint32_t)len;
        link_rec(tn, left);
    } else {
        link_rec(tn, new_rec(t, tn, first, len));
    }
}

/* ---- one node's index ---- */

static void node_destroy(struct tnode *n)
{
    if (!n)
        return;
    free(n->cls);
    free(n->rec);
    free(n->ht);
    mmc_tab_free(&n->mid_tab);
    free(n->top_mem);
    free(n);
}

/* Room in n for f's sec_cap sections, for `more` stretches beyond its live ones (records and
 * hash slots) and for stretches of up to `longest` frames (class heads). 0 or -ENOMEM (n
 * perhaps larger, still whole). */
static int node_room(struct tnode *n, const struct mmc_frames *f, uint64_t more, uint64_t longest)
{
    if (f->sec_cap > n->sec_cap) {
        int rc = mmc_tab_room(&n->mid_tab, f->sec_cap * MID_WORDS * sizeof(uint64_t));
        n->mid = n->mid_tab.p;
        if (rc < 0)
            return rc;
        n->sec_cap = f->sec_cap;
    }
    struct classes *c = classes_grow(n->cls, levels_for(longest ? longest : 1));
    if (!c)
        return -ENOMEM;
    n->cls = c;
    const uint64_t live = n->ht_used + more;
    if (rec_room(n, live > 16 ? live : 16) < 0)
        return -ENOMEM;
    if (!n->ht && ht_resize(n, 4) < 0)
        return -ENOMEM;
    return ht_room(n, more);
}

/* An empty node index with node_room(f, more, longest). NULL on failure. */
static struct tnode *node_create(const struct mmc_frames *f, uint64_t more, uint64_t longest)
{
    struct tnode *n = line_alloc(sizeof(*n));
    if (!n)
        return NULL;
    memset(n, 0, sizeof(*n));
    n->free_rec = NIL;
    const size_t top_bytes = hbm_words(f->ndir) * sizeof(uint64_t);
    mmc_tab_init(&n->mid_tab, f->ndir * MID_WORDS * sizeof(uint64_t));
    if (!(n->top_mem = line_alloc(top_bytes)) || node_room(n, f, more, longest) < 0) {
        node_destroy(n);
        return NULL;
    }
    memset(n->top_mem, 0, top_bytes);
    hbm_init(&n->top, f->ndir, n->top_mem);
    return n;
}

static size_t node_bytes(const struct mmc_frames *f, const struct tnode *n)
{
    const size_t line = LINE - 1;
    return ((sizeof(*n) + line) & ~line) + ((classes_bytes(n->cls->nfl) + line) & ~line) +
           (((size_t)n->cap_rec * sizeof(*n->rec) + line) & ~line) +
           (((size_t)(n->ht_mask + 1) * sizeof(*n->ht) + line) & ~line) +
           n->sec_cap * MID_WORDS * sizeof(uint64_t) +
           ((hbm_words(f->ndir) * sizeof(uint64_t) + line) & ~line);
}

/* ---- growth ---- */

static void free_spares(struct tlsf *t)
{
    while (t->nspare)
        node_destroy(t->spare[--t->nspare]);
    free(t->spare);
    t->spare = NULL;
}

/* Room in the leaf for f's hp_cap ordinals. 0 or -ENOMEM. */
static int leaf_room(struct tlsf *t)
{
    const struct mmc_frames *f = t->f;
    if (f->hp_cap <= t->cap)
        return 0;
    int rc = mmc_tab_room(&t->leaf_tab, f->hp_cap * t->bpo * sizeof(uint64_t));
    t->leaf = t->leaf_tab.p;
    if (rc < 0)
        return rc;
    t->cap = f->hp_cap;
    return 0;
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
    if (leaf_room(t) < 0) /* to f's hp_cap: exactly the grown pool's hugepages */
        return -ENOMEM;
    /* per node (the new hugepages' nodes are not known yet): its sections' summaries, a record
     * and two hash slots per new hugepage (a give creates at most one stretch), class heads
     * for the longest stretch the grown pool can hold */
    const uint64_t most = f->present_frames + nadd * f->hp_frames;
    for (unsigned nd = 0; nd < MMC_MAX_NODES; nd++)
        if (t->node[nd] && node_room(t->node[nd], f, nadd, most) < 0)
            return -ENOMEM;
    for (unsigned k = 0; k < t->nspare; k++)
        if (node_room(t->spare[k], f, nadd, most) < 0)
            return -ENOMEM;
    /* indexes for the nodes the new hugepages may be on (one per hugepage at most) */
    unsigned missing = 0;
    for (unsigned nd = 0; nd < MMC_MAX_NODES; nd++)
        missing += !t->node[nd];
    const uint64_t want = nadd < missing ? nadd : missing;
    if (want && !t->spare && !(t->spare = line_alloc(MMC_MAX_NODES * sizeof(*t->spare))))
        return -ENOMEM;
    while (t->nspare < want) {
        struct tnode *n = node_create(f, nadd, most);
        if (!n)
            return -ENOMEM;
        t->spare[t->nspare++] = n;
    }
    t->pending = nadd;
    return 0;
}

static void tlsf_add(void *engine, uint64_t first_frame)
{
    struct tlsf *t = engine;
    const unsigned nd = mmc_frame_node(t->f, first_frame);
    if (!t->node[nd]) {
        if (!t->nspare)
            abort(); /* add() without reserve(): the interface was broken */
        t->node[nd] = t->spare[--t->nspare];
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
        node_destroy(t->node[nd]);
    free_spares(t);
    mmc_tab_free(&t->leaf_tab);
    free(t);
}

/* Index each maximal free stretch of run r, in ascending order, from the database's free
 * plane, a word at a time (a hugepage's words found once); with n NULL only count them.
 * Returns how many. */
static uint64_t run_stretches(struct tlsf *t, struct tnode *n, const struct mmc_run *run)
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
                    if (n)
                        link_rec(n, new_rec(t, n, cur, base + pos - cur));
                    count++;
                    cur = NONE;
                }
            }
        }
    }
    if (cur != NONE) {
        if (n)
            link_rec(n, new_rec(t, n, cur, run->first_frame + run->frames - cur));
        count++;
    }
    return count;
}

static int tlsf_create(const struct mmc_frames *f, void **engine)
{
    if (f->nhugepages << f->hp_shift > UINT32_MAX)
        return -E2BIG; /* the pool is 16 TiB or more: a stretch's length needs 33 bits */
    struct tlsf *t = line_alloc(sizeof(*t));
    if (!t)
        return -ENOMEM;
    memset(t, 0, sizeof(*t));
    t->f = f;
    t->bpo = f->hp_frames / 64;
    mmc_tab_init(&t->leaf_tab, f->nslots * t->bpo * sizeof(uint64_t));
    if (leaf_room(t) < 0)
        goto nomem;
    uint64_t count[MMC_MAX_NODES] = {0};
    for (uint64_t r = 0; r < f->nruns; r++)
        count[f->runs[r].node] += run_stretches(t, NULL, &f->runs[r]);
    for (unsigned nd = 0; nd < f->nnodes; nd++)
        if (f->node[nd].frames && !(t->node[nd] = node_create(f, count[nd], f->present_frames)))
            goto nomem;
    for (uint64_t r = 0; r < f->nruns; r++) /* the maximal free stretches of each run */
        run_stretches(t, t->node[f->runs[r].node], &f->runs[r]);
    *engine = t;
    return 0;
nomem:
    tlsf_destroy(t);
    return -ENOMEM;
}

static size_t tlsf_metadata(const void *engine)
{
    const struct tlsf *t = engine;
    size_t bytes = ((sizeof(*t) + LINE - 1) & ~(size_t)(LINE - 1)) + t->cap * t->bpo * sizeof(uint64_t) +
                   (t->spare ? MMC_MAX_NODES * sizeof(*t->spare) : 0);
    for (unsigned nd = 0; nd < MMC_MAX_NODES; nd++)
        bytes += t->node[nd] ? node_bytes(t->f, t->node[nd]) : 0;
    for (unsigned k = 0; k < t->nspare; k++)
        bytes += node_bytes(t->f, t->spare[k]);
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
