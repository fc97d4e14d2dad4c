/* alloc/search/bitmap.c: engine `bitmap`, a free-frame bitmap scanned a 64-bit word at a time.
 *
 * Index: one bit per frame in frame-index order (1 = free), and a free-frame count per run.
 * Runs are whole hugepages (>= 512 frames), so every run starts on a word boundary and a word
 * never holds frames of two runs.
 *
 * Algorithm (find): runs from the highest PFN down, starting at the last run that begins at or
 * below highest_pfn (binary search) and stopping at the first that ends below lowest_pfn;
 * skipped at once if the node is not in the mask, the run has fewer free frames than asked, or
 * its window (the run clipped to [lowest, highest]) is shorter than the block. Inside a window
 * a frontier F holds the highest start not yet ruled out, beginning at the window's top:
 *   1. s = F, lowered when [s, s + n) crosses a multiple m of the boundary to s = m - n (every
 *      start in (m - n, F] crosses m, since n <= boundary); s below the window: next run.
 *   2. scan [s, s + n) from its top for a used frame, a word at a time, skipping all-free words
 *      (clz of the inverted word). None: s is the answer.
 *   3. a used frame u: every start in (u - n, s] contains it. Scan down from u for the highest
 *      free frame p, skipping all-used words; every start above p + 1 - n contains a used frame
 *      in (p, u]. F = p + 1 - n, back to 1.
 * Candidate starts are computed arithmetically; frames are never visited one by one. Each step
 * rules out every start above the new frontier, so the answer is the highest satisfying start.
 *
 * Placement: top-down first fit, the highest-PFN satisfying block: exactly linear's choice, so
 * the two can be compared block for block. Complete: fails only when no satisfying block exists
 * (each start is ruled out only with a used frame, a crossed boundary or the window's edge).
 * Time: find O(log runs + runs in the range + W + S), W the words of the windows scanned (64
 * frames a step) and S the free stretches met that are too short (O(1) words each); take /
 * give O(1 + n / 64).
 * Metadata: 1/8 byte per frame, plus 8 bytes per run (run_free), plus this struct: at 1 TiB of
 * 2 MiB hugepages 32 MiB of bitmap, 0.125 bytes per frame + 8 bytes per run.
 * max_work counts words examined plus runs visited; beyond it find returns -EAGAIN.
 */
#include <stdlib.h>

#include "common.h"

struct bitmap {
    const struct mmc_frames *f;
    uint64_t *bits;             /* bit (i & 63) of bits[i >> 6]: frame i is free */
    uint64_t nwords;            /* ceil(nframes / 64) */
    uint64_t *run_free;         /* free frames per run (nruns entries) */
};

#define OVER (UINT64_MAX - 1)  /* the work bound was reached (NONE: no such frame) */

/* Highest frame index in [a, e) whose bit equals `free` (want free: 1 bits, else 0 bits), or
 * NONE. Words with no such bit are skipped whole. *work counts words examined; past limit the
 * scan stops with OVER. */
static inline uint64_t highest_with(const uint64_t *bits, uint64_t a, uint64_t e, bool free,
                                    uint64_t *work, uint64_t limit)
{
    if (a >= e)
        return NONE;
    const uint64_t wa = a >> 6, flip = free ? 0 : ~0ull;
    uint64_t w = (e - 1) >> 6;
    uint64_t x = (bits[w] ^ flip) & mask_between(0, (unsigned)((e - 1) & 63));
    for (;;) {
        if (++*work > limit)
            return OVER;
        if (w == wa)
            x &= ~0ull << (a & 63);
        if (x)
            return (w << 6) + 63 - (uint64_t)__builtin_clzll(x);
        if (w == wa)
            return NONE;
        w--;
        x = bits[w] ^ flip;
    }
}

static int bitmap_create(const struct mmc_frames *f, void **engine)
{
    struct bitmap *b = calloc(1, sizeof(*b));
    if (!b)
        return -ENOMEM;
    b->f = f;
    b->nwords = (f->nframes + 63) / 64;
    b->bits = calloc(b->nwords, sizeof(*b->bits));
    b->run_free = calloc(f->nruns ? f->nruns : 1, sizeof(*b->run_free));
    if (!b->bits || !b->run_free) {
        free(b->bits);
        free(b->run_free);
        free(b);
        return -ENOMEM;
    }
    /* from the frame database's current state, a word at a time where a run is all free */
    for (uint64_t r = 0; r < f->nruns; r++) {
        const struct mmc_run *run = &f->runs[r];
        for (uint64_t i = run->first_frame; i < run->first_frame + run->frames; i++) {
            if (mmc_frame_is_free(f, i)) {
                b->bits[i >> 6] |= 1ull << (i & 63);
                b->run_free[r]++;
            }
        }
    }
    *engine = b;
    return 0;
}

static void bitmap_destroy(void *engine)
{
    struct bitmap *b = engine;
    if (!b)
        return;
    free(b->bits);
    free(b->run_free);
    free(b);
}

/* Search one run's window [lo, hi) (PFNs, hi - lo >= n). 0 and *first, -ENOMEM, -EAGAIN. */
static int search_run(const struct bitmap *b, const struct mmc_run *run, uint64_t lo, uint64_t hi,
                      const struct mmc_search *rq, uint64_t *work, uint64_t *first)
{
    const uint64_t n = rq->frames, bnd = rq->boundary_frames;
    const uint64_t delta = run->base_pfn - run->first_frame; /* PFN - frame index, >= 0 */
    const uint64_t limit = rq->max_work ? rq->max_work : UINT64_MAX;
    uint64_t F = hi - n;
    for (;;) {
        uint64_t s = F;
        if (bnd) {
            uint64_t m = (s + n - 1) / bnd * bnd; /* highest multiple <= the block's last PFN */
            if (m > s)
                s = m - n; /* m >= bnd >= n: no underflow */
        }
        if (s < lo)
            return -ENOMEM;
        uint64_t u = highest_with(b->bits, s - delta, s - delta + n, false, work, limit);
        if (u == NONE) {
            *first = s - delta;
            return 0;
        }
        uint64_t p = u == OVER ? OVER : highest_with(b->bits, lo - delta, u, true, work, limit);
        if (p == OVER)
            return -EAGAIN;
        if (p == NONE || p + 1 + delta - lo < n)
            return -ENOMEM;
        F = p + 1 + delta - n;
    }
}

/* *work starts at 0 */
static int search(const struct bitmap *b, const struct mmc_search *rq, uint64_t *first_frame,
                  uint64_t *work)
{
    const struct mmc_frames *f = b->f;
    const uint64_t n = rq->frames, bnd = rq->boundary_frames;

    if (n == 0 || (bnd && n > bnd) || f->nruns == 0)
        return -ENOMEM;
    /* from the last run starting at or below highest_pfn down */
    for (uint64_t r = mmc_runs_upto(f, rq->highest_pfn); r-- > 0;) {
        const struct mmc_run *run = &f->runs[r];
        const uint64_t end = run->base_pfn + run->frames; /* exclusive */
        if (end <= rq->lowest_pfn)
            break; /* this run and every one below it end below the range */
        if (++*work, rq->max_work && *work > rq->max_work)
            return -EAGAIN;
        if (!(rq->node_mask & (1ull << run->node)) || b->run_free[r] < n)
            continue;
        uint64_t lo, hi; /* the run clipped to the range */
        if (!mmc_run_window(run, rq, &lo, &hi))
            continue;
        int rc = search_run(b, run, lo, hi, rq, work, first_frame);
        if (rc != -ENOMEM)
            return rc;
    }
    return -ENOMEM;
}

static int bitmap_find(void *engine, const struct mmc_search *rq, uint64_t *first_frame, uint64_t *work)
{
    *work = 0;
    return search(engine, rq, first_frame, work);
}

static void bitmap_take(void *engine, uint64_t first, uint64_t n)
{
    struct bitmap *b = engine;
    if (!n)
        return;
    _mmc_search_set_bits(b->bits, first, n, false);
    b->run_free[b->f->hp_run[first >> b->f->hp_shift]] -= n;
}

static void bitmap_give(void *engine, uint64_t first, uint64_t n)
{
    struct bitmap *b = engine;
    if (!n)
        return;
    _mmc_search_set_bits(b->bits, first, n, true);
    b->run_free[b->f->hp_run[first >> b->f->hp_shift]] += n;
}

static size_t bitmap_metadata(const void *engine)
{
    const struct bitmap *b = engine;
    return sizeof(*b) + b->nwords * sizeof(*b->bits) + b->f->nruns * sizeof(*b->run_free);
}

const struct mmc_engine_ops _mmc_engine_bitmap = {
    .name = "bitmap",
    .summary = "free-frame bitmap scanned 64 frames a step; top-down first fit like linear",
    .work_unit = "runs and 64-bit words examined",
    .fast_only_work = 1ull << 12,
    .create = bitmap_create,
    .destroy = bitmap_destroy,
    .find = bitmap_find,
    .take = bitmap_take,
    .give = bitmap_give,
    .metadata_bytes = bitmap_metadata,
};
