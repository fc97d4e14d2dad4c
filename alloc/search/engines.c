/* alloc/search/engines.c: the registry of search engines and the reference predicate.
 *
 * Every engine is listed here once; _mmc_search_fits() is the one definition of "this block
 * satisfies this request" that engines, the NT layer's checks and the tests share.
 */
#include <string.h>

#include "internal.h"

const struct mmc_engine_ops *const _mmc_engines[] = {
    &_mmc_engine_linear,
    &_mmc_engine_bitmap,
    &_mmc_engine_buddy,
    &_mmc_engine_tlsf,
    &_mmc_engine_tree,
    NULL,
};

const struct mmc_engine_ops *_mmc_engine_lookup(const char *name)
{
    for (size_t i = 0; _mmc_engines[i]; i++)
        if (strcmp(_mmc_engines[i]->name, name) == 0)
            return _mmc_engines[i];
    return NULL;
}

MMC_API const char *mmc_engine_name(size_t i)
{
    size_t n = 0;
    while (_mmc_engines[n])
        n++;
    return i < n ? _mmc_engines[i]->name : NULL;
}

MMC_API const char *mmc_engine_work_unit(const char *name)
{
    const struct mmc_engine_ops *e = name ? _mmc_engine_lookup(name) : NULL;
    return e ? e->work_unit : NULL;
}

MMC_API uint64_t mmc_engine_fast_only_work(const char *name)
{
    const struct mmc_engine_ops *e = name ? _mmc_engine_lookup(name) : NULL;
    return e ? e->fast_only_work : 0;
}

bool _mmc_search_fits(const struct mmc_frames *f, const struct mmc_search *rq, uint64_t first)
{
    if (rq->frames == 0 || first >= f->nframes || rq->frames > f->nframes - first)
        return false;
    const struct mmc_run *run = mmc_frame_run(f, first);
    if (!run)
        return false; /* absent */
    if (first + rq->frames > run->first_frame + run->frames)
        return false; /* leaves the run: not physically contiguous */
    if (!(rq->node_mask & (1ull << run->node)))
        return false;
    uint64_t s = mmc_frame_pfn(f, first), e = s + rq->frames - 1;
    if (s < rq->lowest_pfn || e > rq->highest_pfn)
        return false;
    if (rq->boundary_frames && s / rq->boundary_frames != e / rq->boundary_frames)
        return false;
    return _mmc_frames_count_free(f, first, first + rq->frames) == rq->frames;
}
