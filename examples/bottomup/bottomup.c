/* examples/bottomup/bottomup.c: a search engine as a plugin, written against the public
 * <mmcontig/engine.h> only: bottom-up first fit, the placement of Windows' older contiguous
 * allocator (lowest physical address first), beside the built-in engines' top-down first fit.
 *
 * Build:   cc -std=c11 -O2 -shared -fPIC $(pkg-config --cflags mmcontig) -o bottomup.so bottomup.c
 * Check:   mmcontig check-engine ./bottomup.so
 * Measure: mmcontig bench --plugin ./bottomup.so --sim-pools 1G,16G --suite search,fastonly
 * Use:     MMC_ENGINE_PLUGIN=./bottomup.so MMC_ALGO=bottomup ./your-program
 *
 * Algorithm: the runs from the first one that ends above the range's bottom (binary search)
 * upwards; inside each run of an allowed node, clipped to [lowest, highest], the frames from
 * the bottom up, counting the free frames just below the one examined; the first frame at
 * which a block of n free frames ends that crosses no multiple of the boundary closes the
 * answer (first fit: nothing above it is read). Like the built-in linear engine it keeps no
 * index: it reads the frame database's free plane, a hugepage's words looked up once per
 * hugepage.
 * Placement: bottom-up first fit (the lowest satisfying block). Complete.
 * Time: O(frames between the range's bottom and the block's end) per find; take, give,
 * reserve, add: O(1). Metadata: a few bytes whatever the pool.
 * Work: one unit per frame and per run examined ("frames and runs examined"), so max_work
 * bounds a find at any pool size.
 */
#include <errno.h>
#include <stdlib.h>

#include <mmcontig/engine.h>

struct bottomup {
    const struct mmc_frames *f;
};

static int bu_create(const struct mmc_frames *f, void **engine)
{
    struct bottomup *b = malloc(sizeof(*b));
    if (!b)
        return -ENOMEM;
    b->f = f;
    *engine = b;
    return 0;
}

static void bu_destroy(void *engine) { free(engine); }

static int bu_find(void *engine, const struct mmc_search *rq, uint64_t *first_frame, uint64_t *work)
{
    const struct mmc_frames *f = ((struct bottomup *)engine)->f;
    const uint64_t n = rq->frames, b = rq->boundary_frames;
    const uint64_t limit = rq->max_work ? rq->max_work : UINT64_MAX;
    uint64_t w = 0;
    int rc = -ENOMEM;

    if (n == 0 || (b && n > b) || f->nruns == 0 || rq->lowest_pfn > rq->highest_pfn)
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
        uint64_t lo, hi; /* the run's PFN window clipped to the range, [lo, hi) */
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
            if (++below >= n && (!b || (p + 1 - n) / b == p / b)) {
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
    return sizeof(struct bottomup);
}

static const struct mmc_engine_ops bottomup_ops = {
    .name = "bottomup",
    .summary = "example plugin: bottom-up first fit over the frame database (Windows' older "
               "placement), O(frames) per search",
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

MMC_ENGINE_PLUGIN_DEFINE(bottomup_ops)
