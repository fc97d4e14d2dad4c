/* alloc/search/common.h: the pieces the indexed engines share. All static inline, so that each
 * engine compiles as it did with its own copy, except _mmc_search_set_bits (common.c), which
 * no engine inlined.
 *
 *   - word masks and bit ranges of a free-frame bitmap (bitmap.c, buddy.c, tree.c);
 *   - a bitmap with 64-ary summary levels: bit i of level l + 1 says word i of level l is
 *     non-zero, so "the highest set bit <= i" is O(log_64 N) word reads (buddy.c, tlsf.c);
 *   - span bitmaps: one bit per place of the physical span, kept per hugepage at its ordinal
 *     under per-section and top summaries, so that their memory follows the pool (tlsf.c;
 *     buddy.c keeps the same tiers per node and uses sbm_highest);
 *   - the fit check: the highest start of a block inside a free stretch that crosses no
 *     multiple of the boundary, linear.c's rule (buddy.c, tlsf.c, tree.c).
 */
#ifndef MMC_SEARCH_COMMON_H
#define MMC_SEARCH_COMMON_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The engines are written against the public interface alone, as a plugin is
 * (docs/engines.md): nothing of alloc/internal.h. */
#include "mmcontig/engine.h"

#ifndef MMC_INTERNAL
#define MMC_INTERNAL __attribute__((visibility("hidden")))
#endif

#define NONE UINT64_MAX         /* no such bit, position or frame */
#define HBM_MAX_LEVELS 8        /* 64^8 bits: more than any bitmap here */

static inline unsigned floor_log2(uint64_t x) { return 63 - (unsigned)__builtin_clzll(x); }

/* ---- free-frame bitmaps ---- */

/* Bits [lo, hi] of a word set (0 <= lo <= hi <= 63). */
static inline uint64_t mask_between(unsigned lo, unsigned hi)
{
    return (~0ull << lo) & (~0ull >> (63 - hi));
}

/* Bits [first, first + n) set (on) or cleared, n >= 1 (common.c). */
MMC_INTERNAL void _mmc_search_set_bits(uint64_t *bits, uint64_t first, uint64_t n, bool on);

/* ---- bitmaps with summary levels ---- */

/* An engine may define HBM_FIELDS before including this header to keep more fields in its
 * bitmaps (tlsf.c: the memory they own). They also keep lv from being the last member, which
 * GCC would take for a possibly flexible array, losing hbm_prev's loop bound. */
struct hbm {
    unsigned nlv;               /* levels; lv[nlv - 1] is a single word */
    uint64_t *lv[HBM_MAX_LEVELS]; /* lv[0]: the bits; bit i of lv[l + 1]: word i of lv[l] != 0 */
#ifdef HBM_FIELDS
    HBM_FIELDS
#endif
};

/* Words for nbits bits at every level. */
static inline uint64_t hbm_words(uint64_t nbits)
{
    uint64_t total = 0, w;
    do {
        w = (nbits + 63) >> 6;
        total += w;
        nbits = w;
    } while (w > 1);
    return total;
}

/* Lay out the levels over mem (hbm_words(nbits) zeroed words). */
static inline void hbm_init(struct hbm *h, uint64_t nbits, uint64_t *mem)
{
    uint64_t w;
    h->nlv = 0;
    do {
        w = (nbits + 63) >> 6;
        h->lv[h->nlv++] = mem;
        mem += w;
        nbits = w;
    } while (w > 1);
}

static inline bool hbm_test(const struct hbm *h, uint64_t i)
{
    return (h->lv[0][i >> 6] >> (i & 63)) & 1;
}

static inline void hbm_set(struct hbm *h, uint64_t i)
{
    for (unsigned l = 0; l < h->nlv; l++, i >>= 6) {
        uint64_t was = h->lv[l][i >> 6];
        h->lv[l][i >> 6] = was | (1ull << (i & 63));
        if (was)
            break;
    }
}

static inline void hbm_clear(struct hbm *h, uint64_t i)
{
    for (unsigned l = 0; l < h->nlv; l++, i >>= 6)
        if ((h->lv[l][i >> 6] &= ~(1ull << (i & 63))))
            break;
}

/* Highest set bit <= i, or NONE. */
static inline uint64_t hbm_prev(const struct hbm *h, uint64_t i)
{
    unsigned l = 0;
    for (;;) {
        uint64_t w = h->lv[l][i >> 6] & (~0ull >> (63 - (i & 63)));
        if (w) {
            i = (i & ~63ull) | (63 - (uint64_t)__builtin_clzll(w));
            break;
        }
        if (i < 64 || l + 1 == h->nlv)
            return NONE;
        i = (i >> 6) - 1;
        l++;
    }
    while (l-- > 0)
        i = (i << 6) | (63 - (uint64_t)__builtin_clzll(h->lv[l][i]));
    return i;
}

/* ---- span bitmaps ----
 * One bit per place of the span, a place being 2^(hp_shift - pshift) frames (pshift =
 * hp_shift: a frame), stored in three tiers that follow the frame database's directory: the
 * 2^pshift bits of the places inside hugepage slot s at the slot's ordinal (bpo words per
 * ordinal); per section with a table (at its section ordinal), a bit per slot saying the
 * slot has a bit set (MMC_SECTION_SLOTS / 64 words); over the sections, a dense bitmap with
 * summary levels saying which have a bit set. "The highest set bit <= p" is O(log_64 sections
 * + the words of one section and one hugepage) word reads. Memory: bpo words per hugepage of
 * the pool, 64 bytes per section holding any of it, 1/8 byte per section of the span (+1/63);
 * grown with the pool by sbm_reserve, in tables that never move (struct mmc_tab: a growth
 * copies nothing). Bits may only be set in present slots. */
#define SBM_MID_WORDS (MMC_SECTION_SLOTS / 64)
struct sbm {
    const struct mmc_frames *f;
    unsigned pshift;            /* log2(places per hugepage), <= hp_shift */
    uint64_t bpo;               /* words per ordinal: max(1, 2^pshift / 64) */
    uint64_t *leaf;             /* bpo words per ordinal, for cap ordinals */
    uint64_t cap;               /* ordinals leaf has room for */
    uint64_t *mid;              /* SBM_MID_WORDS words per section ordinal, for sec_cap */
    uint64_t sec_cap;           /* section ordinals mid has room for */
    struct mmc_tab leaf_tab, mid_tab; /* what leaf and mid point into */
    uint64_t *top_mem;          /* the top's words */
    struct hbm top;             /* bit d: section d has a bit set */
};

/* Room for f's hp_cap ordinals and sec_cap sections (new words zeroed). 0 or -ENOMEM (the
 * bitmap unchanged but perhaps larger). */
static inline int sbm_reserve(struct sbm *m)
{
    const struct mmc_frames *f = m->f;
    if (f->hp_cap > m->cap) {
        int rc = mmc_tab_room(&m->leaf_tab, f->hp_cap * m->bpo * sizeof(uint64_t));
        m->leaf = m->leaf_tab.p;
        if (rc < 0)
            return rc;
        m->cap = f->hp_cap;
    }
    if (f->sec_cap > m->sec_cap) {
        int rc = mmc_tab_room(&m->mid_tab, f->sec_cap * SBM_MID_WORDS * sizeof(uint64_t));
        m->mid = m->mid_tab.p;
        if (rc < 0)
            return rc;
        m->sec_cap = f->sec_cap;
    }
    return 0;
}

/* An empty bitmap over f's span with room for f's ordinals. 0 or -ENOMEM. */
static inline int sbm_init(struct sbm *m, const struct mmc_frames *f, unsigned pshift)
{
    memset(m, 0, sizeof(*m));
    m->f = f;
    m->pshift = pshift;
    m->bpo = pshift > 6 ? 1ull << (pshift - 6) : 1;
    if (!(m->top_mem = calloc(hbm_words(f->ndir), sizeof(uint64_t))))
        return -ENOMEM;
    hbm_init(&m->top, f->ndir, m->top_mem);
    mmc_tab_init(&m->leaf_tab, f->nslots * m->bpo * sizeof(uint64_t));
    mmc_tab_init(&m->mid_tab, f->ndir * SBM_MID_WORDS * sizeof(uint64_t));
    return sbm_reserve(m);
}

static inline void sbm_destroy(struct sbm *m)
{
    mmc_tab_free(&m->leaf_tab);
    mmc_tab_free(&m->mid_tab);
    free(m->top_mem);
    memset(m, 0, sizeof(*m));
}

static inline size_t sbm_bytes(const struct sbm *m)
{
    return (m->cap * m->bpo + m->sec_cap * SBM_MID_WORDS + hbm_words(m->f->ndir)) * sizeof(uint64_t);
}

/* The bpo words of present slot s. */
static inline uint64_t *sbm_leaf(const struct sbm *m, uint64_t s)
{
    return m->leaf + (uint64_t)mmc_frames_ord(m->f, s) * m->bpo;
}

/* The SBM_MID_WORDS words of the section holding slot s (which has a table). */
static inline uint64_t *sbm_mid(const struct sbm *m, uint64_t s)
{
    return m->mid + (uint64_t)m->f->sec_ord[s >> MMC_SECTION_SHIFT] * SBM_MID_WORDS;
}

static inline bool sbm_test(const struct sbm *m, uint64_t p)
{
    const uint64_t s = p >> m->pshift;
    if (mmc_frames_ord(m->f, s) == MMC_ORD_NONE)
        return false;
    const uint64_t o = p & ((1ull << m->pshift) - 1); /* the place's offset in its slot */
    return (sbm_leaf(m, s)[o >> 6] >> (o & 63)) & 1;
}

static inline void sbm_set(struct sbm *m, uint64_t p)
{
    const uint64_t s = p >> m->pshift, j = s & (MMC_SECTION_SLOTS - 1);
    const uint64_t o = p & ((1ull << m->pshift) - 1);
    sbm_leaf(m, s)[o >> 6] |= 1ull << (o & 63);
    uint64_t *mid = sbm_mid(m, s);
    if (!(mid[j >> 6] & (1ull << (j & 63)))) {
        mid[j >> 6] |= 1ull << (j & 63);
        hbm_set(&m->top, s >> MMC_SECTION_SHIFT);
    }
}

static inline void sbm_clear(struct sbm *m, uint64_t p)
{
    const uint64_t s = p >> m->pshift, j = s & (MMC_SECTION_SLOTS - 1);
    uint64_t *l = sbm_leaf(m, s);
    const uint64_t o = p & ((1ull << m->pshift) - 1);
    uint64_t *w = &l[o >> 6];
    if (*w &= ~(1ull << (o & 63)))
        return;
    for (uint64_t k = 0; k < m->bpo; k++)
        if (l[k])
            return;
    uint64_t *mid = sbm_mid(m, s);
    mid[j >> 6] &= ~(1ull << (j & 63));
    for (uint64_t k = 0; k < SBM_MID_WORDS; k++)
        if (mid[k])
            return;
    hbm_clear(&m->top, s >> MMC_SECTION_SHIFT);
}

/* Highest set bit of the words l[0, j] (j's word masked by mask), as an offset in bits, or
 * NONE. */
static inline uint64_t sbm_highest(const uint64_t *l, uint64_t j, uint64_t mask)
{
    uint64_t x = l[j] & mask;
    for (;;) {
        if (x)
            return (j << 6) + 63 - (uint64_t)__builtin_clzll(x);
        if (j == 0)
            return NONE;
        x = l[--j];
    }
}

/* Highest set bit <= p, or NONE. */
static inline uint64_t sbm_prev(const struct sbm *m, uint64_t p)
{
    const uint64_t pmask = (1ull << m->pshift) - 1;
    uint64_t s = p >> m->pshift;
    uint64_t d = s >> MMC_SECTION_SHIFT;
    if (hbm_test(&m->top, d)) {
        const uint64_t *mid = sbm_mid(m, s);
        const uint64_t j = s & (MMC_SECTION_SLOTS - 1);
        if ((mid[j >> 6] >> (j & 63)) & 1) { /* in p's own slot, at or below p */
            uint64_t r = sbm_highest(sbm_leaf(m, s), (p & pmask) >> 6, ~0ull >> (63 - (p & pmask & 63)));
            if (r != NONE)
                return (s << m->pshift) + r;
        }
        if (j > 0) { /* a lower slot of the section */
            uint64_t r = sbm_highest(mid, (j - 1) >> 6, ~0ull >> (63 - ((j - 1) & 63)));
            if (r != NONE) {
                s = (d << MMC_SECTION_SHIFT) + r;
                return (s << m->pshift) +
                       sbm_highest(sbm_leaf(m, s), m->bpo - 1, ~0ull);
            }
        }
    }
    if (d == 0 || (d = hbm_prev(&m->top, d - 1)) == NONE)
        return NONE;
    const uint64_t *mid = m->mid + (uint64_t)m->f->sec_ord[d] * SBM_MID_WORDS;
    s = (d << MMC_SECTION_SHIFT) + sbm_highest(mid, SBM_MID_WORDS - 1, ~0ull);
    return (s << m->pshift) + sbm_highest(sbm_leaf(m, s), m->bpo - 1, ~0ull);
}

/* ---- the fit check ---- */

/* pfn modulo the boundary b (b != 0). */
static inline uint64_t bmod(uint64_t b, uint64_t pfn)
{
    return (b & (b - 1)) ? pfn % b : pfn & (b - 1);
}

/* Highest start of a block of n frames inside the free PFNs [lo, top), top - lo >= n, that
 * crosses no multiple of the boundary b (0 = none), in the caller's numbering: base + (its PFN
 * - P), base being the caller's index of PFN P. NONE if there is none. Always inlined, so
 * that each engine's search compiles as it did with its own copy. */
static inline __attribute__((always_inline)) uint64_t
fit_top(uint64_t lo, uint64_t top, uint64_t n, uint64_t b, uint64_t P, uint64_t base)
{
    uint64_t s = top - n;
    if (b) {
        uint64_t m = (top - 1) - bmod(b, top - 1); /* highest multiple <= the last PFN */
        if (s < m) {                               /* [s, top) crosses m */
            if (m < lo + n)
                return NONE;
            s = m - n;
        }
    }
    return base + (s - P);
}

#endif
