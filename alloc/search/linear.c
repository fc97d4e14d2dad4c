/* alloc/search/linear.c: the reference engine, a top-down first fit over the frame database.
 *
 * Algorithm: runs from the highest PFN at or below the range's top (binary search) down; inside
 * each run, clipped to [lowest, highest], frames from the top down, counting the free frames
 * just above the one examined; the first frame at which a block of n free frames starts that
 * crosses no multiple of the boundary is the answer, and the scan stops there (first fit: it
 * never reads below the block it returns). A used frame with fewer than n frames of the run's clip
 * below it ends the run. This is how Windows searches: high memory first, low memory left for
 * devices with addressing limits.
 *
 * Placement: top-down, first fit. Complete: it fails only when no satisfying block exists.
 * Time: O(frames between the range's top and the block's start) per find, one bit read per
 * frame (the hugepage's words looked up once per hugepage); take / give / add: O(1) (it keeps
 * no index).
 * Metadata: 0 bytes per frame beyond the frame database.
 * Work: one unit per frame and per run examined (both counted in their own loops), so max_work
 * bounds a find at any pool size.
 */
#include <errno.h>
#include <stdlib.h>

#include "mmcontig/engine.h" /* the public engine interface, and nothing else */

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

static int linear_find(void *engine, const struct mmc_search *rq, uint64_t *first_frame, uint64_t *work)
{
    const struct mmc_frames *f = ((struct linear *)engine)->f;
    const uint64_t n = rq->frames, b = rq->boundary_frames;
    const uint64_t limit = rq->max_work ? rq->max_work : UINT64_MAX;
    uint64_t w = 0;
    int rc = -ENOMEM;

    if (n == 0 || (b && n > b) || f->nruns == 0)
        goto out;
    /* the runs from the last one starting at or below highest_pfn down */
    for (uint64_t r = mmc_runs_upto(f, rq->highest_pfn); r-- > 0;) {
        const struct mmc_run *run = &f->runs[r];
        if (run->base_pfn + run->frames <= rq->lowest_pfn)
            break; /* this run and every one below it end below the range */
        if (++w > limit) {
            rc = -EAGAIN;
            goto out;
        }
        uint64_t lo, hi; /* the run's clip: its PFNs inside the range, [lo, hi) */
        if (!(rq->node_mask & (1ull << run->node)) || !mmc_run_clip(run, rq, &lo, &hi))
            continue;
        const uint64_t delta = run->base_pfn - run->first_frame; /* PFN - frame index */
        const uint64_t hmask = f->hp_frames - 1;
        const uint64_t *fw = NULL; /* the free plane of the hugepage holding p */
        uint64_t above = 0; /* free frames from p up: [p, p + above) is free */
        for (uint64_t p = hi; p-- > lo;) {
            if (++w > limit) {
                rc = -EAGAIN;
                goto out;
            }
            const uint64_t i = p - delta;
            if (!fw || (i & hmask) == hmask) /* entering a hugepage from its top */
                fw = mmc_frames_words(f, MMC_PLANE_FREE, mmc_frame_ord(f, i));
            if (!((fw[(i & hmask) >> 6] >> (i & 63)) & 1)) {
                above = 0;
                if (p - lo < n)
                    break; /* no block fits below p */
                continue;
            }
            /* the first start met from the top is the highest: stop at the first fit */
            if (++above >= n && (!b || p / b == (p + n - 1) / b)) {
                *first_frame = i;
                rc = 0;
                goto out;
            }
        }
    }
out:
    *work = w;
    return rc;
}

static void linear_take(void *engine, uint64_t first, uint64_t n) { (void)engine, (void)first, (void)n; }
static void linear_give(void *engine, uint64_t first, uint64_t n) { (void)engine, (void)first, (void)n; }
static int linear_reserve(void *engine, uint64_t nadd, const uint64_t *add_pfn)
{
    (void)engine, (void)nadd, (void)add_pfn;
    return 0;
}
static void linear_add(void *engine, uint64_t first) { (void)engine, (void)first; }
static size_t linear_metadata(const void *engine)
{
    (void)engine;
    return sizeof(struct linear);
}

const struct mmc_engine_ops _mmc_engine_linear = {
    .name = "linear",
    .summary = "reference: top-down first fit over the frame database, O(frames) per search",
    .work_unit = "frames and runs examined",
    .fast_only_work = 1ull << 13,
    .create = linear_create,
    .destroy = linear_destroy,
    .find = linear_find,
    .take = linear_take,
    .give = linear_give,
    .reserve = linear_reserve,
    .add = linear_add,
    .metadata_bytes = linear_metadata,
};
