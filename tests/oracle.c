/* tests/oracle.c: see oracle.h. Deliberately plain: one frame at a time, no cleverness. */
#include <stdlib.h>

#include "oracle.h"

int oracle_init(struct oracle *o, uint64_t hp_frames, uint64_t nhugepages, const uint64_t *hp_pfn,
                const uint8_t *hp_node, const uint8_t *used)
{
    o->nframes = nhugepages * hp_frames;
    o->hp_frames = hp_frames;
    o->hp_pfn = hp_pfn;
    o->hp_node = hp_node;
    o->used = used;
    o->nruns = 0;
    o->runs = malloc(nhugepages * sizeof(*o->runs));
    if (!o->runs)
        return -1;
    for (uint64_t h = 0; h < nhugepages; h++) {
        struct oracle_run *last = o->nruns ? &o->runs[o->nruns - 1] : NULL;
        /* the same run: this hugepage begins where the last one ends, on the same node */
        if (last && last->node == hp_node[h] && last->base_pfn + last->frames == hp_pfn[h])
            last->frames += hp_frames;
        else
            o->runs[o->nruns++] = (struct oracle_run){hp_pfn[h], h * hp_frames, hp_frames, hp_node[h]};
    }
    return 0;
}

void oracle_fini(struct oracle *o)
{
    free(o->runs);
    o->runs = NULL;
}

uint64_t oracle_pfn(const struct oracle *o, uint64_t i)
{
    return o->hp_pfn[i / o->hp_frames] + i % o->hp_frames;
}

unsigned oracle_node(const struct oracle *o, uint64_t i)
{
    return o->hp_node[i / o->hp_frames];
}

static bool crosses(uint64_t start_pfn, uint64_t frames, uint64_t boundary)
{
    return boundary && start_pfn / boundary != (start_pfn + frames - 1) / boundary;
}

bool oracle_fits(const struct oracle *o, const struct oracle_rq *rq, uint64_t first)
{
    const uint64_t n = rq->frames;
    if (n == 0 || first >= o->nframes || n > o->nframes - first)
        return false;
    /* one run: each next frame is the PFN after the one before, on the same node */
    for (uint64_t i = first + 1; i < first + n; i++)
        if (oracle_pfn(o, i) != oracle_pfn(o, i - 1) + 1 || oracle_node(o, i) != oracle_node(o, first))
            return false;
    for (uint64_t i = first; i < first + n; i++)
        if (o->used[i])
            return false;
    unsigned node = oracle_node(o, first);
    if (node >= 64 || !(rq->node_mask >> node & 1))
        return false;
    uint64_t s = oracle_pfn(o, first);
    if (s < rq->lowest_pfn || s + n - 1 > rq->highest_pfn)
        return false;
    return !crosses(s, n, rq->boundary_frames);
}

bool oracle_find_highest(const struct oracle *o, const struct oracle_rq *rq, uint64_t *first)
{
    const uint64_t n = rq->frames;
    if (n == 0)
        return false;
    for (uint64_t r = o->nruns; r-- > 0;) {
        const struct oracle_run *run = &o->runs[r];
        if (run->node >= 64 || !(rq->node_mask >> run->node & 1))
            continue;
        /* the run's PFNs inside [lowest, highest], inclusive: [wlo, whi] */
        uint64_t wlo = run->base_pfn, whi = run->base_pfn + run->frames - 1;
        if (wlo < rq->lowest_pfn)
            wlo = rq->lowest_pfn;
        if (whi > rq->highest_pfn)
            whi = rq->highest_pfn;
        if (wlo > whi)
            continue;
        /* every start p from the top down; free_above = free frames from p up to whi */
        uint64_t free_above = 0;
        for (uint64_t p = whi + 1; p-- > wlo;) {
            uint64_t i = run->first + (p - run->base_pfn);
            free_above = o->used[i] ? 0 : free_above + 1;
            if (free_above >= n && !crosses(p, n, rq->boundary_frames)) {
                *first = i;
                return true;
            }
        }
    }
    return false;
}

bool oracle_find_lowest(const struct oracle *o, const struct oracle_rq *rq, uint64_t *first)
{
    const uint64_t n = rq->frames;
    if (n == 0)
        return false;
    for (uint64_t r = 0; r < o->nruns; r++) {
        const struct oracle_run *run = &o->runs[r];
        if (run->node >= 64 || !(rq->node_mask >> run->node & 1))
            continue;
        uint64_t wlo = run->base_pfn, whi = run->base_pfn + run->frames - 1;
        if (wlo < rq->lowest_pfn)
            wlo = rq->lowest_pfn;
        if (whi > rq->highest_pfn)
            whi = rq->highest_pfn;
        if (wlo > whi)
            continue;
        /* every end e from the bottom up; free_below = free frames from wlo up to e */
        uint64_t free_below = 0;
        for (uint64_t e = wlo; e <= whi; e++) {
            uint64_t i = run->first + (e - run->base_pfn);
            free_below = o->used[i] ? 0 : free_below + 1;
            if (free_below >= n && !crosses(e + 1 - n, n, rq->boundary_frames)) {
                *first = i + 1 - n;
                return true;
            }
        }
    }
    return false;
}
