/* tests/plugin_noboundary.c: a deliberately wrong search-engine plugin, for the test of
 * `mmcontig check-engine`: examples/bottomup/bottomup.c with the boundary ignored (a block
 * may cross a multiple of boundary_frames). check-engine must catch it (rule 1, exact) and
 * write a short failing sequence that `check-engine --replay` fails on again.
 */
#include <errno.h>
#include <stdlib.h>

#include <mmcontig/engine.h>

struct noboundary {
    const struct mmc_frames *f;
};

static int bu_create(const struct mmc_frames *f, void **engine)
{
    struct noboundary *b = malloc(sizeof(*b));
    if (!b)
        return -ENOMEM;
    b->f = f;
    *engine = b;
    return 0;
}

static void bu_destroy(void *engine) { free(engine); }

static int bu_find(void *engine, const struct mmc_search *rq, uint64_t *first_frame, uint64_t *work)
{
    const struct mmc_frames *f = ((struct noboundary *)engine)->f;
    const uint64_t n = rq->frames; /* the boundary: ignored, the bug */
    const uint64_t limit = rq->max_work ? rq->max_work : UINT64_MAX;
    uint64_t w = 0;
    int rc = -ENOMEM;

    if (n == 0 || f->nruns == 0 || rq->lowest_pfn > rq->highest_pfn)
        goto out;
    /* the first run that may reach the range: the last one starting at or below lowest_pfn */
    uint64_t r = mmc_runs_upto(f, rq->lowest_pfn);
    for (r = r ? r - 1 : 0; r < f->nruns; r++) {
        const struct mmc_run *run = &f->runs[r];
        if (run->base_pfn > rq->highest_pfn)
            break; /* this run and every one above it start above the range */
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
        uint64_t below = 0; /* free frames up to p: [p - below + 1, p] is free */
        for (uint64_t p = lo; p < hi; p++) {
            if (++w > limit) {
                rc = -EAGAIN;
                goto out;
            }
            const uint64_t i = p - delta;
            if (!fw || (i & hmask) == 0) /* entering a hugepage from its bottom */
                fw = mmc_frames_words(f, MMC_PLANE_FREE, mmc_frame_ord(f, i));
            if (!((fw[(i & hmask) >> 6] >> (i & 63)) & 1)) {
                below = 0;
                if (hi - p - 1 < n)
                    break; /* no block fits above p */
                continue;
            }
            /* the first end met from the bottom closes the lowest block: stop there */
            if (++below >= n) {
                *first_frame = i + 1 - n;
                rc = 0;
                goto out;
            }
        }
    }
out:
    *work = w;
    return rc;
}

/* No index: the frame database is read directly, so there is nothing to update. */
static void bu_take(void *engine, uint64_t first, uint64_t n) { (void)engine, (void)first, (void)n; }
static void bu_give(void *engine, uint64_t first, uint64_t n) { (void)engine, (void)first, (void)n; }
static int bu_reserve(void *engine, uint64_t nadd, const uint64_t *add_pfn)
{
    (void)engine, (void)nadd, (void)add_pfn;
    return 0;
}
static void bu_add(void *engine, uint64_t first) { (void)engine, (void)first; }
static size_t bu_metadata(const void *engine)
{
    (void)engine;
    return sizeof(struct noboundary);
}

static const struct mmc_engine_ops noboundary_ops = {
    .name = "noboundary",
    .summary = "test plugin, wrong on purpose: bottom-up first fit that ignores the boundary",
    .work_unit = "frames and runs examined",
    .fast_only_work = 1ull << 13,
    .create = bu_create,
    .destroy = bu_destroy,
    .find = bu_find,
    .take = bu_take,
    .give = bu_give,
    .reserve = bu_reserve,
    .add = bu_add,
    .metadata_bytes = bu_metadata,
};

MMC_ENGINE_PLUGIN_DEFINE(noboundary_ops)
