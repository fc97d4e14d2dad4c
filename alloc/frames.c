/* alloc/frames.c: the frame database.
 *
 * Owns the per-frame state (one byte a frame), the hugepage -> PFN / node tables, and the runs
 * derived from them. Invariants: hp_pfn[] strictly ascending and each entry a multiple of
 * hp_frames; a run is a maximal sequence of hugepages whose PFNs follow one another on one node;
 * free_frames, node_free[], pb_used[] (frames not free per 2 MiB pageblock) and pb_scattered[]
 * (frames held by MDLs and load per pageblock) always equal a recount of state[].
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
    if (hp_frames == 0 || (hp_frames & (hp_frames - 1)) || nhugepages == 0)
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
    f->hp_pfn = malloc(nhugepages * sizeof(*f->hp_pfn));
    f->hp_node = malloc(nhugepages * sizeof(*f->hp_node));
    f->hp_run = malloc(nhugepages * sizeof(*f->hp_run));
    f->state = calloc(f->nframes, 1);
    f->pb_used = calloc(f->nframes / MMC_PAGEBLOCK_FRAMES, sizeof(*f->pb_used));
    f->pb_scattered = calloc(f->nframes / MMC_PAGEBLOCK_FRAMES, sizeof(*f->pb_scattered));
    /* at most one run per hugepage */
    f->runs = malloc(nhugepages * sizeof(*f->runs));
    if (!f->hp_pfn || !f->hp_node || !f->hp_run || !f->state || !f->pb_used || !f->pb_scattered || !f->runs) {
        _mmc_frames_destroy(f);
        return -ENOMEM;
    }
    memcpy(f->hp_pfn, hp_pfn, nhugepages * sizeof(*f->hp_pfn));
    memcpy(f->hp_node, hp_node, nhugepages * sizeof(*f->hp_node));

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
    free(f->state);
    free(f->pb_used);
    free(f->pb_scattered);
    free(f->runs);
    memset(f, 0, sizeof(*f));
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

static bool scattered_kind(uint8_t state)
{
    uint8_t k = state & MMC_FRAME_STATE_MASK;
    return k == MMC_FRAME_MDL || k == MMC_FRAME_MOVABLE || k == MMC_FRAME_STANDBY;
}

void _mmc_frames_set(struct mmc_frames *f, uint64_t first, uint64_t n, uint8_t state)
{
    bool to_free = (state & MMC_FRAME_STATE_MASK) == MMC_FRAME_FREE;
    bool to_scattered = scattered_kind(state);
    for (uint64_t i = first; i < first + n; i++) {
        bool was_scattered = scattered_kind(f->state[i]);
        if (was_scattered != to_scattered) {
            if (to_scattered)
                f->pb_scattered[i / MMC_PAGEBLOCK_FRAMES]++;
            else
                f->pb_scattered[i / MMC_PAGEBLOCK_FRAMES]--;
        }
        bool was_free = mmc_frame_is_free(f, i);
        if (was_free != to_free) {
            unsigned node = mmc_frame_node(f, i);
            if (to_free) {
                f->free_frames++;
                f->node_free[node]++;
                f->pb_used[i / MMC_PAGEBLOCK_FRAMES]--;
            } else {
                f->free_frames--;
                f->node_free[node]--;
                f->pb_used[i / MMC_PAGEBLOCK_FRAMES]++;
            }
        }
        f->state[i] = state;
    }
}

uint64_t _mmc_frames_run_free(const struct mmc_frames *f, uint64_t r)
{
    const struct mmc_run *run = &f->runs[r];
    uint64_t n = 0;
    for (uint64_t i = run->first_frame; i < run->first_frame + run->frames; i++)
        n += mmc_frame_is_free(f, i);
    return n;
}

uint64_t _mmc_frames_largest_free(const struct mmc_frames *f)
{
    uint64_t best = 0;
    for (uint64_t r = 0; r < f->nruns; r++) {
        const struct mmc_run *run = &f->runs[r];
        uint64_t streak = 0;
        for (uint64_t i = run->first_frame; i < run->first_frame + run->frames; i++) {
            streak = mmc_frame_is_free(f, i) ? streak + 1 : 0;
            if (streak > best)
                best = streak;
        }
    }
    return best;
}
