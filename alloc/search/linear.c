/* alloc/search/linear.c: the reference engine, a top-down first fit over the frame database.
 *
 * Algorithm: runs from the highest PFN down; inside each run, clipped to [lowest, highest],
 * free segments from the top down; in a segment the highest start whose block stays inside it
 * and does not cross a multiple of the boundary (if the topmost start crosses one, the block
 * ending exactly at that multiple is the highest that does not, since frames <= boundary).
 * This is how Windows searches: high memory first, low memory left for devices with
 * addressing limits.
 *
 * Placement: top-down, first fit. Complete: it fails only when no satisfying block exists.
 * Time: O(frames in the allowed range) per find, one byte of state read per frame;
 * take / give: O(1) (it keeps no index).
 * Metadata: 0 bytes per frame beyond the frame database's own byte.
 * max_work counts frames examined.
 */
#include <stdlib.h>

#include "internal.h"

struct linear {
    const struct mmc_frames *f;
};

static int linear_create(const struct mmc_frames *f, void **engine)
{
    struct linear *l = malloc(sizeof(*l));
    if (!l)
        return -ENOMEM;
    l->f = f;
    *engine = l;
    return 0;
}

static void linear_destroy(void *engine) { free(engine); }

static int linear_find(void *engine, const struct mmc_search *rq, uint64_t *first_frame)
{
    const struct mmc_frames *f = ((struct linear *)engine)->f;
    const uint64_t n = rq->frames, b = rq->boundary_frames;
    uint64_t work = 0;

    if (n == 0 || (b && n > b))
        return -ENOMEM;
    for (uint64_t r = f->nruns; r-- > 0;) {
        const struct mmc_run *run = &f->runs[r];
        if (!(rq->node_mask & (1ull << run->node)))
            continue;
        uint64_t lo, hi; /* the run's PFN window clipped to the range, [lo, hi) */
        if (!mmc_run_window(run, rq, &lo, &hi))
            continue;
        const uint8_t *state = f->state + run->first_frame; /* state[pfn - base] */
        const uint64_t base = run->base_pfn;
        uint64_t p = hi;
        while (p - lo >= n) {
            while (p > lo && (state[p - 1 - base] & MMC_FRAME_STATE_MASK) != MMC_FRAME_FREE)
                p--, work++;
            uint64_t top = p;
            while (p > lo && (state[p - 1 - base] & MMC_FRAME_STATE_MASK) == MMC_FRAME_FREE)
                p--, work++;
            if (top - p >= n) {
                uint64_t s = top - n;
                if (b && s / b != (s + n - 1) / b)
                    s = (s + n - 1) / b * b - n;
                if (s >= p) {
                    *first_frame = run->first_frame + (s - run->base_pfn);
                    return 0;
                }
            }
            if (rq->max_work && work > rq->max_work)
                return -EAGAIN;
        }
    }
    return -ENOMEM;
}

static void linear_take(void *engine, uint64_t first, uint64_t n) { (void)engine, (void)first, (void)n; }
static void linear_give(void *engine, uint64_t first, uint64_t n) { (void)engine, (void)first, (void)n; }
static size_t linear_metadata(const void *engine)
{
    (void)engine;
    return sizeof(struct linear);
}

const struct mmc_engine_ops _mmc_engine_linear = {
    .name = "linear",
    .summary = "reference: top-down first fit over the frame database, O(frames) per search",
    .create = linear_create,
    .destroy = linear_destroy,
    .find = linear_find,
    .take = linear_take,
    .give = linear_give,
    .metadata_bytes = linear_metadata,
};
