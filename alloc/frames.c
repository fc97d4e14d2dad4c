/* alloc/frames.c: the frame database.
 *
 * Owns the state of every frame, the hugepage -> PFN / node tables, and the runs derived from
 * them. The state is six bit planes (free, scattered, mdl, standby, head, exec; internal.h says
 * how they encode a frame's state), so that changing the state of n frames costs O(n / 64)
 * word operations: whole words are written at once and the counters are adjusted from
 * popcounts of the old words, one pageblock (8 words) at a time, never frame by frame. A
 * contiguous block touches the free plane over its length and the head / exec planes at its
 * first frame only; the scattered planes are only written where scattered frames were or
 * will be.
 *
 * Invariants: hp_pfn[] strictly ascending and each entry a multiple of hp_frames; a run is a
 * maximal sequence of hugepages whose PFNs follow one another on one node; free_frames,
 * scattered_frames, node_free[], pb_used[] (frames not free per 2 MiB pageblock) and
 * pb_scattered[] (frames held by MDLs and load per pageblock) always equal a recount of the
 * planes; the plane invariants of internal.h hold.
 *
 * A simulated partition uses the same database with no memory behind it, so the search engines
 * see no difference.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int _mmc_frames_init(struct mmc_frames *f, uint64_t hp_frames, uint64_t nhugepages,
                     const uint64_t *hp_pfn, const uint8_t *hp_node)
{
    memset(f, 0, sizeof(*f));
    if (hp_frames < MMC_PAGEBLOCK_FRAMES || (hp_frames & (hp_frames - 1)) || nhugepages == 0)
        return -EINVAL;
    for (uint64_t h = 0; h < nhugepages; h++) {
        if (hp_pfn[h] & (hp_frames - 1))
            return -EINVAL;
        if (h && hp_pfn[h] <= hp_pfn[h - 1])
            return -EINVAL;
        if (hp_node[h] >= MMC_MAX_NODES)
            return -EINVAL;
    }
    f->hp_frames = hp_frames;
    f->hp_shift = (unsigned)__builtin_ctzll(hp_frames);
    f->nhugepages = nhugepages;
    f->nframes = nhugepages * hp_frames;
    f->nwords = f->nframes / 64;
    f->hp_pfn = malloc(nhugepages * sizeof(*f->hp_pfn));
    f->hp_node = malloc(nhugepages * sizeof(*f->hp_node));
    f->hp_run = malloc(nhugepages * sizeof(*f->hp_run));
    uint64_t **planes[] = {&f->free_bits, &f->scat_bits, &f->mdl_bits,
                           &f->standby_bits, &f->head_bits, &f->exec_bits};
    bool planes_ok = true;
    for (size_t k = 0; k < sizeof(planes) / sizeof(planes[0]); k++)
        planes_ok &= (*planes[k] = calloc(f->nwords, sizeof(uint64_t))) != NULL;
    const uint64_t npb = (f->nframes + MMC_PAGEBLOCK_FRAMES - 1) / MMC_PAGEBLOCK_FRAMES;
    f->pb_used = calloc(npb, sizeof(*f->pb_used));
    f->pb_scattered = calloc(npb, sizeof(*f->pb_scattered));
    /* at most one run per hugepage */
    f->runs = malloc(nhugepages * sizeof(*f->runs));
    if (!f->hp_pfn || !f->hp_node || !f->hp_run || !planes_ok || !f->pb_used || !f->pb_scattered ||
        !f->runs) {
        _mmc_frames_destroy(f);
        return -ENOMEM;
    }
    memcpy(f->hp_pfn, hp_pfn, nhugepages * sizeof(*f->hp_pfn));
    memcpy(f->hp_node, hp_node, nhugepages * sizeof(*f->hp_node));
    memset(f->free_bits, 0xff, f->nwords * sizeof(uint64_t));

    for (uint64_t h = 0; h < nhugepages; h++) {
        struct mmc_run *last = f->nruns ? &f->runs[f->nruns - 1] : NULL;
        if (last && last->node == hp_node[h] && last->base_pfn + last->frames == hp_pfn[h]) {
            last->frames += hp_frames;
        } else {
            f->runs[f->nruns++] = (struct mmc_run){
                .base_pfn = hp_pfn[h],
                .first_frame = h * hp_frames,
                .frames = hp_frames,
                .node = hp_node[h],
            };
        }
        f->hp_run[h] = (uint32_t)(f->nruns - 1);
        f->node_frames[hp_node[h]] += hp_frames;
        f->node_free[hp_node[h]] += hp_frames;
        if (hp_node[h] + 1u > f->nnodes)
            f->nnodes = hp_node[h] + 1u;
    }
    f->free_frames = f->nframes;
    return 0;
}

void _mmc_frames_destroy(struct mmc_frames *f)
{
    free(f->hp_pfn);
    free(f->hp_node);
    free(f->hp_run);
    free(f->free_bits);
    free(f->scat_bits);
    free(f->mdl_bits);
    free(f->standby_bits);
    free(f->head_bits);
    free(f->exec_bits);
    free(f->pb_used);
    free(f->pb_scattered);
    free(f->runs);
    memset(f, 0, sizeof(*f));
}

/* Recount every counter from the planes: O(frames / 64). */
static void recount(struct mmc_frames *f)
{
    f->free_frames = f->scattered_frames = 0;
    memset(f->node_free, 0, sizeof(f->node_free));
    for (uint64_t pb = 0; pb < f->nframes / MMC_PAGEBLOCK_FRAMES; pb++) {
        uint64_t free_n = 0, scat_n = 0;
        for (uint64_t w = pb * (MMC_PAGEBLOCK_FRAMES / 64); w < (pb + 1) * (MMC_PAGEBLOCK_FRAMES / 64); w++) {
            free_n += (uint64_t)__builtin_popcountll(f->free_bits[w]);
            scat_n += (uint64_t)__builtin_popcountll(f->scat_bits[w]);
        }
        f->pb_used[pb] = (uint16_t)(MMC_PAGEBLOCK_FRAMES - free_n);
        f->pb_scattered[pb] = (uint16_t)scat_n;
        f->node_free[mmc_frame_node(f, pb * MMC_PAGEBLOCK_FRAMES)] += free_n;
        f->free_frames += free_n;
        f->scattered_frames += scat_n;
    }
}

int _mmc_frames_grow(struct mmc_frames *nf, const struct mmc_frames *f, uint64_t nadd,
                     const uint64_t *add_pfn, const uint8_t *add_node, uint64_t *map)
{
    const uint64_t nh = f->nhugepages + nadd;
    uint64_t *pfn = malloc(nh * sizeof(*pfn));
    uint8_t *node = malloc(nh * sizeof(*node));
    int rc = pfn && node ? 0 : -ENOMEM;
    for (uint64_t i = 0, a = 0, k = 0; rc == 0 && k < nh; k++) { /* merge, both ascending */
        if (a < nadd && (i == f->nhugepages || add_pfn[a] < f->hp_pfn[i])) {
            pfn[k] = add_pfn[a], node[k] = add_node[a++];
        } else if (a < nadd && add_pfn[a] == f->hp_pfn[i]) {
            rc = -EEXIST; /* a hugepage the database has already */
        } else {
            map[i] = k;
            pfn[k] = f->hp_pfn[i], node[k] = f->hp_node[i++];
        }
    }
    if (rc == 0)
        rc = _mmc_frames_init(nf, f->hp_frames, nh, pfn, node);
    free(pfn);
    free(node);
    if (rc < 0)
        return rc;
    const uint64_t words = f->hp_frames / 64; /* per hugepage and plane */
    const uint64_t *src[] = {f->free_bits, f->scat_bits, f->mdl_bits, f->standby_bits, f->head_bits, f->exec_bits};
    uint64_t *dst[] = {nf->free_bits, nf->scat_bits, nf->mdl_bits, nf->standby_bits, nf->head_bits, nf->exec_bits};
    for (uint64_t h = 0; h < f->nhugepages; h++)
        for (size_t k = 0; k < sizeof(src) / sizeof(src[0]); k++)
            memcpy(dst[k] + map[h] * words, src[k] + h * words, words * sizeof(uint64_t));
    recount(nf);
    return 0;
}

int64_t _mmc_frames_index_of_pfn(const struct mmc_frames *f, uint64_t pfn)
{
    uint64_t lo = 0, hi = f->nhugepages;
    while (lo < hi) { /* first hugepage with hp_pfn > pfn */
        uint64_t mid = lo + (hi - lo) / 2;
        if (f->hp_pfn[mid] <= pfn)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return -1;
    uint64_t h = lo - 1;
    if (pfn - f->hp_pfn[h] >= f->hp_frames)
        return -1;
    return (int64_t)((h << f->hp_shift) + (pfn - f->hp_pfn[h]));
}

/* ---- word operations over a plane ---- */

/* Bits [a, b) of word w's 64 (0 <= a < b <= 64). */
static inline uint64_t span_mask(unsigned a, unsigned b)
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
        uint64_t m = span_mask((unsigned)(a & 63), (unsigned)((e - 1) & 63) + 1);
        p[wa] = set ? p[wa] | m : p[wa] & ~m;
        return;
    }
    if (a & 63) {
        uint64_t m = span_mask((unsigned)(a & 63), 64);
        p[wa] = set ? p[wa] | m : p[wa] & ~m;
        wa++;
    }
    if (e & 63) {
        uint64_t m = span_mask(0, (unsigned)(e & 63));
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
    const uint64_t ma = span_mask((unsigned)(a & 63), 64), me = span_mask(0, (unsigned)((e - 1) & 63) + 1);
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
    const uint64_t ma = span_mask((unsigned)(a & 63), 64), me = span_mask(0, (unsigned)((e - 1) & 63) + 1);
    if (wa == we)
        return ones(p[wa] & ma & me);
    uint64_t n = ones(p[wa] & ma) + ones(p[we] & me);
    for (uint64_t w = wa + 1; w < we; w++)
        n += ones(p[w]);
    return n;
}

uint64_t _mmc_frames_count_free(const struct mmc_frames *f, uint64_t a, uint64_t e)
{
    return plane_count(f->free_bits, a, e);
}

/* ---- state changes ---- */

/* A whole contiguous block [first, first + n) taken (all its frames were free) or given back
 * (all were its own): every count is known without reading a plane. One node (a block lies in
 * one run); n / 512 pageblock counters; the free plane by memset; the head and exec bits at
 * the head only. */
static void block_set(struct mmc_frames *f, uint64_t first, uint64_t n, bool take, bool exec)
{
#ifdef MMC_EXPENSIVE_CHECKS
    if (plane_count(f->free_bits, first, first + n) != (take ? n : 0) ||
        plane_count(f->scat_bits, first, first + n) != 0) {
        fprintf(stderr, "mmcontig: frame database: block [%llu, +%llu) %s frames that are not %s\n",
                (unsigned long long)first, (unsigned long long)n, take ? "taken over" : "given back with",
                take ? "free" : "its own");
        abort();
    }
#endif
    const uint64_t end = first + n;
    for (uint64_t a = first; a < end;) {
        uint64_t b = (a | (MMC_PAGEBLOCK_FRAMES - 1)) + 1;
        if (b > end)
            b = end;
        const uint64_t pb = a / MMC_PAGEBLOCK_FRAMES;
        f->pb_used[pb] = (uint16_t)(take ? f->pb_used[pb] + (b - a) : f->pb_used[pb] - (b - a));
        a = b;
    }
    const unsigned node = mmc_frame_node(f, first);
    f->node_free[node] = take ? f->node_free[node] - n : f->node_free[node] + n;
    f->free_frames = take ? f->free_frames - n : f->free_frames + n;
    plane_fill(f->free_bits, first, end, !take);
    const uint64_t bit = 1ull << (first & 63);
    if (take) {
        f->head_bits[first >> 6] |= bit;
        if (exec)
            f->exec_bits[first >> 6] |= bit;
    } else {
        f->head_bits[first >> 6] &= ~bit;
        f->exec_bits[first >> 6] &= ~bit;
    }
}

void _mmc_frames_set(struct mmc_frames *f, uint64_t first, uint64_t n, uint8_t state)
{
    if (!n)
        return;
    const unsigned kind = state & MMC_FRAME_STATE_MASK;
    if ((state & MMC_FRAME_HEAD) && (kind == MMC_FRAME_CONTIG || kind == MMC_FRAME_FREE)) {
        block_set(f, first, n, kind == MMC_FRAME_CONTIG, state & MMC_FRAME_EXEC);
        return;
    }
    const bool to_free = kind == MMC_FRAME_FREE;
    const bool to_scat = kind == MMC_FRAME_MDL || kind == MMC_FRAME_MOVABLE || kind == MMC_FRAME_STANDBY;
    const uint64_t end = first + n;

    /* The counters, a pageblock at a time (a pageblock lies inside one hugepage, so on one
     * node): what was free / scattered there, from popcounts of the old words. */
    uint64_t was_scat_all = 0, was_contig_all = 0;
    for (uint64_t a = first; a < end;) {
        uint64_t b = (a | (MMC_PAGEBLOCK_FRAMES - 1)) + 1;
        if (b > end)
            b = end;
        const uint64_t len = b - a, pb = a / MMC_PAGEBLOCK_FRAMES;
        const uint64_t was_free = plane_count(f->free_bits, a, b);
        const uint64_t was_scat = f->scattered_frames ? plane_count(f->scat_bits, a, b) : 0;
        const uint64_t now_free = to_free ? len : 0, now_scat = to_scat ? len : 0;
        const unsigned node = mmc_frame_node(f, a);
        f->pb_used[pb] = (uint16_t)(f->pb_used[pb] + was_free - now_free);
        f->pb_scattered[pb] = (uint16_t)(f->pb_scattered[pb] + now_scat - was_scat);
        f->node_free[node] += now_free - was_free;
        f->free_frames += now_free - was_free;
        f->scattered_frames += now_scat - was_scat;
        was_scat_all += was_scat;
        was_contig_all += len - was_free - was_scat;
        a = b;
    }

    /* The planes. */
    plane_fill(f->free_bits, first, end, to_free);
    if (to_scat || was_scat_all) {
        plane_fill(f->scat_bits, first, end, to_scat);
        plane_fill(f->mdl_bits, first, end, kind == MMC_FRAME_MDL);
        plane_fill(f->standby_bits, first, end, kind == MMC_FRAME_STANDBY);
    }
    if (was_contig_all) { /* heads (and their exec bits) of the blocks that were here */
        plane_clear_sparse(f->head_bits, first, end);
        plane_clear_sparse(f->exec_bits, first, end);
    }
}

uint64_t _mmc_frames_block_head(const struct mmc_frames *f, uint64_t i)
{
    uint64_t w = i >> 6;
    uint64_t x = f->head_bits[w] & span_mask(0, (unsigned)(i & 63) + 1);
    while (!x && w > 0) /* a block has a head: the scan ends at it */
        x = f->head_bits[--w];
    return x ? (w << 6) + 63 - (uint64_t)__builtin_clzll(x) : 0;
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
        uint64_t streak = 0; /* runs start and end on word boundaries (hugepages >= 64 frames) */
        for (uint64_t w = run->first_frame >> 6; w < (run->first_frame + run->frames) >> 6; w++) {
            uint64_t x = f->free_bits[w];
            if (x == ~0ull) {
                streak += 64;
            } else {
                uint64_t low = x == 0 ? 0 : (uint64_t)__builtin_ctzll(~x); /* free from bit 0 up */
                if (streak + low > best)
                    best = streak + low;
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
    return best;
}
