/* alloc/frames.c: the frame database.
 *
 * Owns the state of every frame of the span, the directory from hugepage slots to ordinals,
 * the per-ordinal tables (PFN, node, bit planes, pageblock counters) and the runs. The state
 * is six bit planes (free, scattered, mdl, standby, head, exec; internal.h says how they
 * encode a frame's state), so that changing the state of n frames costs O(n / 64) word
 * operations: whole words are written at once and the counters are adjusted from popcounts of
 * the old words, one pageblock (8 words) at a time, never frame by frame. A contiguous block
 * touches the free plane over its length and the head / exec planes at its first frame only;
 * the scattered planes are only written where scattered frames were or will be. A range lies
 * in one run, so its hugepages are present; it is walked hugepage by hugepage (one directory
 * lookup each), the planes of one hugepage being contiguous words at its ordinal.
 *
 * Memory: per hugepage 6 planes of hp_frames / 64 words, 2 pageblock counters per 2 MiB, its
 * PFN and node (2 MiB hugepages: 0.76 byte per frame of pool); the directory: 12 bytes per
 * section of span (a pointer and a section ordinal) and a table of 2 KiB per section that holds
 * any of the pool (1 GiB of 2 MiB hugepages: 0.008 byte per frame when it is all in the pool,
 * 4 bytes per frame for a lone hugepage in it); the runs, 32 bytes each. The per-ordinal tables
 * are struct mmc_tab, address space for every slot of the span reserved at once, so that a
 * growth makes room without copying: it costs O(its frames / 64) plus the runs' memmove.
 *
 * Invariants: ordinals [0, nhugepages) are present, each in exactly one directory entry;
 * hp_pfn[o] is a multiple of hp_frames inside the span; the runs are the maximal sequences of
 * present hugepages whose PFNs follow one another on one node, ascending;
 * scattered_frames, node[].free (mmc_frames_free sums them), pb_used[] (frames not free per 2 MiB pageblock) and
 * pb_scattered[] (frames held by MDLs and load per pageblock) always equal a recount of the
 * planes; the plane invariants of internal.h hold.
 *
 * A simulated partition uses the same database with no memory behind it, so the search engines
 * see no difference.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "frames.h"

/* ---- tables that grow without moving ---- */

int mmc_tab_init(struct mmc_tab *t, size_t max_bytes)
{
    memset(t, 0, sizeof(*t));
    if (!max_bytes)
        return 0;
    void *p = mmap(NULL, max_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p != MAP_FAILED) {
        t->p = p;
        t->max_bytes = max_bytes;
        t->mapped = true;
    }
    return 0; /* else the heap, from the first mmc_tab_room */
}

int mmc_tab_room(struct mmc_tab *t, size_t bytes)
{
    if (bytes <= t->bytes)
        return 0;
    if (t->mapped) { /* never touched yet: zero pages */
        if (bytes > t->max_bytes)
            return -ENOMEM;
        t->bytes = bytes;
        return 0;
    }
    if (bytes > t->max_bytes) {
        size_t cap = t->max_bytes ? t->max_bytes : bytes;
        while (cap < bytes)
            cap *= 2;
        void *q = realloc(t->p, cap);
        if (!q)
            return -ENOMEM;
        t->p = q;
        t->max_bytes = cap;
    }
    memset((char *)t->p + t->bytes, 0, bytes - t->bytes);
    t->bytes = bytes;
    return 0;
}

void mmc_tab_free(struct mmc_tab *t)
{
    if (t->mapped)
        munmap(t->p, t->max_bytes);
    else
        free(t->p);
    memset(t, 0, sizeof(*t));
}

/* Bytes per ordinal of table k. */
static size_t tab_entry(const struct mmc_frames *f, int k)
{
    switch (k) {
    case MMC_TAB_PFN: return sizeof(*f->hp_pfn);
    case MMC_TAB_NODE: return sizeof(*f->hp_node);
    case MMC_TAB_PB_USED: return f->pbph * sizeof(*f->pb_used);
    case MMC_TAB_PB_SCAT: return f->pbph * sizeof(*f->pb_scattered);
    default: return f->wph * sizeof(uint64_t);
    }
}

/* The tables' pointers (the heap fallback may move them). */
static void tab_point(struct mmc_frames *f)
{
    f->hp_pfn = f->tab[MMC_TAB_PFN].p;
    f->hp_node = f->tab[MMC_TAB_NODE].p;
    f->pb_used = f->tab[MMC_TAB_PB_USED].p;
    f->pb_scattered = f->tab[MMC_TAB_PB_SCAT].p;
    for (int k = 0; k < MMC_NPLANES; k++)
        f->plane[k] = f->tab[MMC_TAB_PLANE0 + k].p;
}

int _mmc_frames_init(struct mmc_frames *f, uint64_t base_pfn, uint64_t span_frames,
                     uint64_t hp_frames, uint64_t nhugepages, const uint64_t *hp_pfn,
                     const uint8_t *hp_node)
{
    memset(f, 0, sizeof(*f));
    if (hp_frames < MMC_PAGEBLOCK_FRAMES || (hp_frames & (hp_frames - 1)) || nhugepages == 0 ||
        (base_pfn & (hp_frames - 1)) || (span_frames & (hp_frames - 1)) || span_frames == 0 ||
        span_frames > MMC_SPAN_MAX_FRAMES)
        return -EINVAL;
    for (uint64_t h = 0; h < nhugepages; h++)
        if (hp_node[h] >= MMC_MAX_NODES)
            return -EINVAL;
    f->base_pfn = base_pfn;
    f->nframes = span_frames;
    f->hp_frames = hp_frames;
    f->hp_shift = (unsigned)__builtin_ctzll(hp_frames);
    f->nslots = span_frames >> f->hp_shift;
    f->wph = hp_frames / 64;
    f->pbph = hp_frames / MMC_PAGEBLOCK_FRAMES;
    f->ndir = (f->nslots + MMC_SECTION_SLOTS - 1) >> MMC_SECTION_SHIFT;
    f->dir = calloc(f->ndir, sizeof(*f->dir));
    f->sec_ord = malloc(f->ndir * sizeof(*f->sec_ord));
    if (!f->dir || !f->sec_ord) {
        _mmc_frames_destroy(f);
        return -ENOMEM;
    }
    memset(f->sec_ord, 0xff, f->ndir * sizeof(*f->sec_ord));
    /* room for every slot of the span, reserved as address space */
    for (int k = 0; k < MMC_FRAMES_NTABS; k++)
        mmc_tab_init(&f->tab[k], f->nslots * tab_entry(f, k));
    int rc = _mmc_frames_reserve(f, nhugepages, hp_pfn, hp_node);
    if (rc < 0) {
        _mmc_frames_destroy(f);
        return rc;
    }
    _mmc_frames_add(f, nhugepages, hp_pfn, hp_node);
    return 0;
}

void _mmc_frames_destroy(struct mmc_frames *f)
{
    if (f->dir)
        for (uint64_t d = 0; d < f->ndir; d++)
            free(f->dir[d]);
    free(f->dir);
    free(f->sec_ord);
    for (int k = 0; k < MMC_FRAMES_NTABS; k++)
        mmc_tab_free(&f->tab[k]);
    free(f->runs);
    memset(f, 0, sizeof(*f));
}

/* realloc *p to n elements of size sz; false (and *p unchanged) on failure. */
static bool grow_array(void *p, uint64_t n, size_t sz)
{
    void *q = realloc(*(void **)p, n * sz);
    if (!q)
        return false;
    *(void **)p = q;
    return true;
}

int _mmc_frames_reserve(struct mmc_frames *f, uint64_t nadd, const uint64_t *add_pfn,
                        const uint8_t *add_node)
{
    for (uint64_t a = 0; a < nadd; a++) {
        const uint64_t pfn = add_pfn[a];
        if ((pfn & (f->hp_frames - 1)) || pfn < f->base_pfn || pfn - f->base_pfn >= f->nframes ||
            (a && pfn <= add_pfn[a - 1]))
            return -EINVAL;
        if (mmc_frame_ord(f, pfn - f->base_pfn) != MMC_ORD_NONE)
            return -EEXIST;
    }
    /* the per-ordinal tables: room for these, nothing moved (tables that grow in place) */
    const uint64_t need = f->nhugepages + nadd;
    if (need > f->hp_cap) {
        bool ok = true;
        for (int k = 0; ok && k < MMC_FRAMES_NTABS; k++)
            ok = mmc_tab_room(&f->tab[k], need * tab_entry(f, k)) == 0;
        tab_point(f);
        if (!ok)
            return -ENOMEM;
        f->hp_cap = need;
    }
    /* at most one new run per group of physically consecutive hugepages added */
    uint64_t groups = 0;
    for (uint64_t a = 0; a < nadd; a++)
        groups += a == 0 || add_pfn[a] != add_pfn[a - 1] + f->hp_frames || add_node[a] != add_node[a - 1];
    if (f->nruns + groups > f->runs_cap) {
        uint64_t cap = f->runs_cap ? f->runs_cap : f->nruns + groups;
        while (cap < f->nruns + groups)
            cap *= 2;
        if (!grow_array(&f->runs, cap, sizeof(*f->runs)))
            return -ENOMEM;
        f->runs_cap = cap;
    }
    /* the sections' tables (all entries absent until _mmc_frames_add), with their ordinals */
    for (uint64_t a = 0; a < nadd; a++) {
        const uint64_t d = (add_pfn[a] - f->base_pfn) >> f->hp_shift >> MMC_SECTION_SHIFT;
        if (f->dir[d])
            continue;
        uint32_t *t = malloc(MMC_SECTION_SLOTS * sizeof(*t));
        if (!t)
            return -ENOMEM;
        memset(t, 0xff, MMC_SECTION_SLOTS * sizeof(*t));
        f->dir[d] = t;
        f->sec_ord[d] = (uint32_t)f->nsections++;
    }
    f->sec_cap = f->nsections;
    return 0;
}

/* Hugepage [pfn, pfn + hp_frames) of node joins the runs. */
static void runs_insert(struct mmc_frames *f, uint64_t pfn, unsigned node)
{
    const uint64_t hpf = f->hp_frames, r = mmc_runs_upto(f, pfn);
    struct mmc_run *left = r > 0 ? &f->runs[r - 1] : NULL, *right = r < f->nruns ? &f->runs[r] : NULL;
    const bool join_left = left && left->node == node && left->base_pfn + left->frames == pfn;
    const bool join_right = right && right->node == node && pfn + hpf == right->base_pfn;
    if (join_left && join_right) {
        left->frames += hpf + right->frames;
        memmove(right, right + 1, (f->nruns - r - 1) * sizeof(*right));
        f->nruns--;
    } else if (join_left) {
        left->frames += hpf;
    } else if (join_right) {
        right->base_pfn = pfn;
        right->first_frame = pfn - f->base_pfn;
        right->frames += hpf;
    } else {
        memmove(&f->runs[r + 1], &f->runs[r], (f->nruns - r) * sizeof(*f->runs));
        f->runs[r] = (struct mmc_run){
            .base_pfn = pfn, .first_frame = pfn - f->base_pfn, .frames = hpf, .node = node};
        f->nruns++;
    }
}

void _mmc_frames_add(struct mmc_frames *f, uint64_t nadd, const uint64_t *add_pfn,
                     const uint8_t *add_node)
{
    for (uint64_t a = 0; a < nadd; a++) {
        const uint64_t pfn = add_pfn[a], s = (pfn - f->base_pfn) >> f->hp_shift;
        const uint32_t o = (uint32_t)f->nhugepages++;
        f->dir[s >> MMC_SECTION_SHIFT][s & (MMC_SECTION_SLOTS - 1)] = o;
        f->hp_pfn[o] = pfn;
        f->hp_node[o] = add_node[a];
        memset(mmc_frames_words(f, MMC_PLANE_FREE, o), 0xff, f->wph * sizeof(uint64_t));
        for (int k = MMC_PLANE_FREE + 1; k < MMC_NPLANES; k++)
            memset(mmc_frames_words(f, (enum mmc_plane)k, o), 0, f->wph * sizeof(uint64_t));
        memset(f->pb_used + (uint64_t)o * f->pbph, 0, f->pbph * sizeof(*f->pb_used));
        memset(f->pb_scattered + (uint64_t)o * f->pbph, 0, f->pbph * sizeof(*f->pb_scattered));
        runs_insert(f, pfn, add_node[a]);
        f->node[add_node[a]].frames += f->hp_frames;
        f->node[add_node[a]].free += f->hp_frames;
        f->present_frames += f->hp_frames;
        if (add_node[a] + 1u > f->nnodes)
            f->nnodes = add_node[a] + 1u;
    }
    _mmc_check_expensive(_mmc_frames_verify(f));
}

int64_t _mmc_frames_index_of_pfn(const struct mmc_frames *f, uint64_t pfn)
{
    if (pfn < f->base_pfn || pfn - f->base_pfn >= f->nframes)
        return -1;
    const uint64_t i = pfn - f->base_pfn;
    return mmc_frame_ord(f, i) == MMC_ORD_NONE ? -1 : (int64_t)i;
}

size_t _mmc_frames_bytes(const struct mmc_frames *f)
{
    return (size_t)(f->ndir * (sizeof(*f->dir) + sizeof(*f->sec_ord)) +
                    f->nsections * MMC_SECTION_SLOTS * sizeof(uint32_t) +
                    f->hp_cap * (sizeof(*f->hp_pfn) + sizeof(*f->hp_node) +
                                 f->pbph * (sizeof(*f->pb_used) + sizeof(*f->pb_scattered)) +
                                 MMC_NPLANES * f->wph * sizeof(uint64_t)) +
                    f->runs_cap * sizeof(*f->runs));
}

/* ---- word operations over a plane ---- */

/* Bits [a, b) of word w's 64 (0 <= a < b <= 64). */
static inline uint64_t bit_mask(unsigned a, unsigned b)
{
    return (b == 64 ? ~0ull : (1ull << b) - 1) & (~0ull << a);
}

/* popcount without relying on the POPCNT instruction for the words that are all ones or all
 * zeros (nearly all of them: a block's, a free stretch's). */
static inline unsigned ones(uint64_t x)
{
    return x == ~0ull ? 64 : x == 0 ? 0 : (unsigned)__builtin_popcountll(x);
}

/* Set bits [a, e) of a plane in one call per word range: partial words masked, whole words
 * written with memset. */
static void plane_fill(uint64_t *p, uint64_t a, uint64_t e, bool set)
{
    if (a >= e)
        return;
    uint64_t wa = a >> 6, we = (e - 1) >> 6;
    if (wa == we) {
        uint64_t m = bit_mask((unsigned)(a & 63), (unsigned)((e - 1) & 63) + 1);
        p[wa] = set ? p[wa] | m : p[wa] & ~m;
        return;
    }
    if (a & 63) {
        uint64_t m = bit_mask((unsigned)(a & 63), 64);
        p[wa] = set ? p[wa] | m : p[wa] & ~m;
        wa++;
    }
    if (e & 63) {
        uint64_t m = bit_mask(0, (unsigned)(e & 63));
        p[we] = set ? p[we] | m : p[we] & ~m;
    } else {
        we++;
    }
    if (we > wa)
        memset(p + wa, set ? 0xff : 0, (we - wa) * sizeof(uint64_t));
}

/* Set bits [a, e) of a sparse plane (heads) to 0, writing only the words that have a 1. */
static void plane_clear_sparse(uint64_t *p, uint64_t a, uint64_t e)
{
    if (a >= e)
        return;
    const uint64_t wa = a >> 6, we = (e - 1) >> 6;
    const uint64_t ma = bit_mask((unsigned)(a & 63), 64), me = bit_mask(0, (unsigned)((e - 1) & 63) + 1);
    if (wa == we) {
        p[wa] &= ~(ma & me);
        return;
    }
    p[wa] &= ~ma;
    for (uint64_t w = wa + 1; w < we; w++)
        if (p[w])
            p[w] = 0;
    p[we] &= ~me;
}

/* Ones of a plane in [a, e). */
static uint64_t plane_count(const uint64_t *p, uint64_t a, uint64_t e)
{
    if (a >= e)
        return 0;
    const uint64_t wa = a >> 6, we = (e - 1) >> 6;
    const uint64_t ma = bit_mask((unsigned)(a & 63), 64), me = bit_mask(0, (unsigned)((e - 1) & 63) + 1);
    if (wa == we)
        return ones(p[wa] & ma & me);
    uint64_t n = ones(p[wa] & ma) + ones(p[we] & me);
    for (uint64_t w = wa + 1; w < we; w++)
        n += ones(p[w]);
    return n;
}


/* The part of [a, e) inside a's hugepage: its ordinal, the offsets [*la, *le) in it, and the
 * end of the part. */
static inline uint64_t hp_part(const struct mmc_frames *f, uint64_t a, uint64_t e, uint32_t *o,
                               uint64_t *la, uint64_t *le)
{
    const uint64_t b = (a | (f->hp_frames - 1)) + 1, end = b < e ? b : e;
    *o = mmc_frame_ord(f, a);
    *la = a & (f->hp_frames - 1);
    *le = *la + (end - a);
    return end;
}

uint64_t _mmc_frames_count_free(const struct mmc_frames *f, uint64_t a, uint64_t e)
{
    uint64_t n = 0;
    for (; a < e;) {
        uint32_t o;
        uint64_t la, le;
        const uint64_t next = hp_part(f, a, e, &o, &la, &le);
        if (o != MMC_ORD_NONE)
            n += plane_count(mmc_frames_words(f, MMC_PLANE_FREE, o), la, le);
        a = next;
    }
    return n;
}

/* ---- state changes ---- */

/* A whole contiguous block [first, first + n) taken (all its frames were free) or given back
 * (all were its own): every count is known without reading a plane. One node (a block lies in
 * one run); n / 512 pageblock counters; the free plane by memset, hugepage by hugepage; the
 * head and exec bits at the head only. */
static void block_set(struct mmc_frames *f, uint64_t first, uint64_t n, bool take, bool exec)
{
#if MMC_DEBUG_CHECKS >= 2
    if (_mmc_frames_count_free(f, first, first + n) != (take ? n : 0)) {
        fprintf(stderr, "mmcontig: frame database: block [%llu, +%llu) %s frames that are not %s\n",
                (unsigned long long)first, (unsigned long long)n, take ? "taken over" : "given back with",
                take ? "free" : "its own");
        abort();
    }
#endif
    const uint64_t end = first + n;
    for (uint64_t a = first; a < end;) {
        uint32_t o;
        uint64_t la, le;
        const uint64_t next = hp_part(f, a, end, &o, &la, &le);
#if MMC_DEBUG_CHECKS >= 2
        if (plane_count(mmc_frames_words(f, MMC_PLANE_SCAT, o), la, le) != 0)
            abort();
#endif
        uint16_t *pb = f->pb_used + (uint64_t)o * f->pbph;
        for (uint64_t x = la; x < le;) {
            uint64_t y = (x | (MMC_PAGEBLOCK_FRAMES - 1)) + 1;
            if (y > le)
                y = le;
            const uint64_t k = x / MMC_PAGEBLOCK_FRAMES;
            pb[k] = (uint16_t)(take ? pb[k] + (y - x) : pb[k] - (y - x));
            x = y;
        }
        plane_fill(mmc_frames_words(f, MMC_PLANE_FREE, o), la, le, !take);
        a = next;
    }
    const uint32_t o = mmc_frame_ord(f, first);
    const unsigned node = f->hp_node[o];
    /* node's own cache line, under node's lock (partition.c): no counter every node writes */
    f->node[node].free = take ? f->node[node].free - n : f->node[node].free + n;
    const uint64_t w = (first & (f->hp_frames - 1)) >> 6, bit = 1ull << (first & 63);
    uint64_t *head = mmc_frames_words(f, MMC_PLANE_HEAD, o), *ex = mmc_frames_words(f, MMC_PLANE_EXEC, o);
    if (take) {
        head[w] |= bit;
        if (exec)
            ex[w] |= bit;
    } else {
        head[w] &= ~bit;
        ex[w] &= ~bit;
    }
}

/* The expensive checks recount the hugepages a change touched after every change, and the
 * whole database after every change of a pool of up to 2 MiB and every (pool / 2 MiB)-th
 * change of a larger one: about 50 word operations per change for the whole recount whatever
 * the pool (the sanitizer build runs 64 GiB simulated pools through 10^5 or 10^6 changes). */
static bool verify_due(const struct mmc_frames *f)
{
    static uint64_t changes;
    const uint64_t every = f->present_frames >> 9 ? f->present_frames >> 9 : 1;
    return __atomic_add_fetch(&changes, 1, __ATOMIC_RELAXED) % every == 0;
}
static bool verify_hugepage(const struct mmc_frames *f, uint32_t o, uint64_t *free_n, uint64_t *scat_n);
static bool verify_range(const struct mmc_frames *f, uint64_t first, uint64_t n)
{
    for (uint64_t i = first & ~(f->hp_frames - 1); i < first + n; i += f->hp_frames) {
        uint64_t fr = 0, sc = 0;
        if (!verify_hugepage(f, mmc_frame_ord(f, i), &fr, &sc))
            return false;
    }
    return true;
}

static void frames_set(struct mmc_frames *f, uint64_t first, uint64_t n, uint8_t state)
{
    const unsigned kind = state & MMC_FRAME_STATE_MASK;
    if ((state & MMC_FRAME_HEAD) && (kind == MMC_FRAME_CONTIG || kind == MMC_FRAME_FREE)) {
        block_set(f, first, n, kind == MMC_FRAME_CONTIG, state & MMC_FRAME_EXEC);
        return;
    }
    const bool to_free = kind == MMC_FRAME_FREE;
    const bool to_scat = kind == MMC_FRAME_MDL || kind == MMC_FRAME_MOVABLE || kind == MMC_FRAME_STANDBY;
    const uint64_t end = first + n;

    for (uint64_t a = first; a < end;) {
        uint32_t o;
        uint64_t la, le;
        const uint64_t next = hp_part(f, a, end, &o, &la, &le);
        uint64_t *fw = mmc_frames_words(f, MMC_PLANE_FREE, o), *sw = mmc_frames_words(f, MMC_PLANE_SCAT, o);
        const unsigned node = f->hp_node[o];
        /* The counters, a pageblock at a time: what was free / scattered there, from
         * popcounts of the old words. */
        uint64_t was_scat_all = 0, was_contig_all = 0;
        for (uint64_t x = la; x < le;) {
            uint64_t y = (x | (MMC_PAGEBLOCK_FRAMES - 1)) + 1;
            if (y > le)
                y = le;
            const uint64_t len = y - x, pb = (uint64_t)o * f->pbph + x / MMC_PAGEBLOCK_FRAMES;
            const uint64_t was_free = plane_count(fw, x, y);
            const uint64_t was_scat = f->scattered_frames ? plane_count(sw, x, y) : 0;
            const uint64_t now_free = to_free ? len : 0, now_scat = to_scat ? len : 0;
            f->pb_used[pb] = (uint16_t)(f->pb_used[pb] + was_free - now_free);
            f->pb_scattered[pb] = (uint16_t)(f->pb_scattered[pb] + now_scat - was_scat);
            f->node[node].free += now_free - was_free;
            f->scattered_frames += now_scat - was_scat;
            was_scat_all += was_scat;
            was_contig_all += len - was_free - was_scat;
            x = y;
        }
        /* The planes. */
        plane_fill(fw, la, le, to_free);
        if (to_scat || was_scat_all) {
            plane_fill(sw, la, le, to_scat);
            plane_fill(mmc_frames_words(f, MMC_PLANE_MDL, o), la, le, kind == MMC_FRAME_MDL);
            plane_fill(mmc_frames_words(f, MMC_PLANE_STANDBY, o), la, le, kind == MMC_FRAME_STANDBY);
        }
        if (was_contig_all) { /* heads (and their exec bits) of the blocks that were here */
            plane_clear_sparse(mmc_frames_words(f, MMC_PLANE_HEAD, o), la, le);
            plane_clear_sparse(mmc_frames_words(f, MMC_PLANE_EXEC, o), la, le);
        }
        a = next;
    }
}

void _mmc_frames_set(struct mmc_frames *f, uint64_t first, uint64_t n, uint8_t state)
{
    if (!n)
        return;
    _mmc_check(first < f->nframes && n <= f->nframes - first);
    _mmc_check(mmc_frame_present(f, first) && mmc_frame_present(f, first + n - 1));
    frames_set(f, first, n, state);
    _mmc_check(mmc_frames_free(f) <= f->present_frames && f->scattered_frames <= f->present_frames);
    _mmc_check(_mmc_frames_count_free(f, first, first + n) ==
               ((state & MMC_FRAME_STATE_MASK) == MMC_FRAME_FREE ? n : 0));
    _mmc_check_expensive(verify_range(f, first, n));
    _mmc_check_expensive(!verify_due(f) || _mmc_frames_verify(f));
}

/* ---- the invariants, recounted ---- */

static bool verify_fail(const char *what, uint64_t a, uint64_t b)
{
    fprintf(stderr, "mmcontig: frame database: %s (%llu, %llu)\n", what, (unsigned long long)a,
            (unsigned long long)b);
    return false;
}

/* One hugepage's planes against its counters and the plane invariants; adds its free and
 * scattered frames to the totals. */
static bool verify_hugepage(const struct mmc_frames *f, uint32_t o, uint64_t *free_n,
                            uint64_t *scat_n)
{
    const uint64_t *fw = mmc_frames_words(f, MMC_PLANE_FREE, o), *sw = mmc_frames_words(f, MMC_PLANE_SCAT, o);
    const uint64_t *mw = mmc_frames_words(f, MMC_PLANE_MDL, o), *tw = mmc_frames_words(f, MMC_PLANE_STANDBY, o);
    const uint64_t *hw = mmc_frames_words(f, MMC_PLANE_HEAD, o), *xw = mmc_frames_words(f, MMC_PLANE_EXEC, o);
    const uint64_t wpb = MMC_PAGEBLOCK_FRAMES / 64;
    for (uint64_t k = 0; k < f->pbph; k++) {
        uint64_t fr = 0, sc = 0;
        for (uint64_t w = k * wpb; w < (k + 1) * wpb; w++) {
            if ((fw[w] & (sw[w] | mw[w] | tw[w] | hw[w] | xw[w])) || ((mw[w] | tw[w]) & ~sw[w]) ||
                (hw[w] & sw[w]) || (xw[w] & ~hw[w]))
                return verify_fail("plane invariant broken at hugepage, word", o, w);
            fr += (uint64_t)__builtin_popcountll(fw[w]);
            sc += (uint64_t)__builtin_popcountll(sw[w]);
        }
        const uint64_t pb = (uint64_t)o * f->pbph + k;
        if (f->pb_used[pb] != MMC_PAGEBLOCK_FRAMES - fr || f->pb_scattered[pb] != sc)
            return verify_fail("pageblock counters differ from a recount (pageblock, free)", pb, fr);
        *free_n += fr;
        *scat_n += sc;
    }
    return true;
}

bool _mmc_frames_verify(const struct mmc_frames *f)
{
    uint64_t free_n = 0, scat_n = 0, node_free[MMC_MAX_NODES] = {0}, node_frames[MMC_MAX_NODES] = {0};
    for (uint32_t o = 0; o < f->nhugepages; o++) {
        const uint64_t i = f->hp_pfn[o] - f->base_pfn;
        if (f->hp_pfn[o] < f->base_pfn || (i & (f->hp_frames - 1)) || i >= f->nframes ||
            mmc_frame_ord(f, i) != o)
            return verify_fail("hugepage (ordinal, PFN) not at its slot of the directory", o, f->hp_pfn[o]);
        uint64_t fr = 0, sc = 0;
        if (!verify_hugepage(f, o, &fr, &sc))
            return false;
        free_n += fr;
        scat_n += sc;
        node_free[f->hp_node[o]] += fr;
        node_frames[f->hp_node[o]] += f->hp_frames;
    }
    if (mmc_frames_free(f) != free_n || f->scattered_frames != scat_n)
        return verify_fail("free or scattered frames differ from a recount (free, recount)",
                           mmc_frames_free(f), free_n);
    for (unsigned n = 0; n < MMC_MAX_NODES; n++)
        if (f->node[n].free != node_free[n] || f->node[n].frames != node_frames[n])
            return verify_fail("a node's counters differ from a recount (node, free)", n, node_free[n]);
    /* The runs: ascending, maximal, present, one node each, covering the pool. */
    uint64_t covered = 0;
    for (uint64_t r = 0; r < f->nruns; r++) {
        const struct mmc_run *u = &f->runs[r];
        if (u->first_frame != u->base_pfn - f->base_pfn || !u->frames || (u->frames & (f->hp_frames - 1)))
            return verify_fail("run malformed (run, frames)", r, u->frames);
        if (r && (u->first_frame < f->runs[r - 1].first_frame + f->runs[r - 1].frames ||
                  (u->first_frame == f->runs[r - 1].first_frame + f->runs[r - 1].frames &&
                   u->node == f->runs[r - 1].node)))
            return verify_fail("runs not ascending or not maximal (run, frame)", r, u->first_frame);
        for (uint64_t i = u->first_frame; i < u->first_frame + u->frames; i += f->hp_frames) {
            const uint32_t o = mmc_frame_ord(f, i);
            if (o == MMC_ORD_NONE || f->hp_node[o] != u->node)
                return verify_fail("run holds an absent hugepage or one of another node (run, frame)", r, i);
        }
        covered += u->frames;
    }
    if (covered != f->present_frames || f->present_frames != f->nhugepages * f->hp_frames)
        return verify_fail("runs do not cover the pool (run frames, present frames)", covered,
                           f->present_frames);
    return true;
}

uint64_t _mmc_frames_block_head(const struct mmc_frames *f, uint64_t i)
{
    /* a block lies in one run and has a head: the scan ends at it, hugepage by hugepage */
    uint64_t hp = i & ~(f->hp_frames - 1);
    uint64_t w = (i & (f->hp_frames - 1)) >> 6;
    const uint64_t *head = mmc_frames_words(f, MMC_PLANE_HEAD, mmc_frame_ord(f, i));
    uint64_t x = head[w] & bit_mask(0, (unsigned)(i & 63) + 1);
    for (;;) {
        if (x)
            return hp + (w << 6) + 63 - (uint64_t)__builtin_clzll(x);
        if (w == 0) {
            if (hp == 0)
                return 0;
            hp -= f->hp_frames;
            const uint32_t o = mmc_frame_ord(f, hp);
            if (o == MMC_ORD_NONE)
                return 0;
            head = mmc_frames_words(f, MMC_PLANE_HEAD, o);
            w = f->wph;
        }
        x = head[--w];
    }
}

uint64_t _mmc_frames_run_free(const struct mmc_frames *f, uint64_t r)
{
    const struct mmc_run *run = &f->runs[r];
    return _mmc_frames_count_free(f, run->first_frame, run->first_frame + run->frames);
}

uint64_t _mmc_frames_largest_free(const struct mmc_frames *f)
{
    uint64_t best = 0;
    for (uint64_t r = 0; r < f->nruns; r++) {
        const struct mmc_run *run = &f->runs[r];
        uint64_t streak = 0; /* runs start and end on hugepage boundaries */
        for (uint64_t hp = run->first_frame; hp < run->first_frame + run->frames; hp += f->hp_frames) {
            const uint64_t *fw = mmc_frames_words(f, MMC_PLANE_FREE, mmc_frame_ord(f, hp));
            for (uint64_t w = 0; w < f->wph; w++) {
                uint64_t x = fw[w];
                if (x == ~0ull) {
                    streak += 64;
                } else {
                    uint64_t low = x == 0 ? 0 : (uint64_t)__builtin_ctzll(~x); /* free from bit 0 up */
                    if (streak + low > best)
                        best = streak + low;
                    streak = 0;
                    for (unsigned j = (unsigned)low; j < 64; j++) { /* inside the word */
                        streak = (x >> j) & 1 ? streak + 1 : 0;
                        if (streak > best)
                            best = streak;
                    }
                }
                if (streak > best)
                    best = streak;
            }
        }
    }
    return best;
}
