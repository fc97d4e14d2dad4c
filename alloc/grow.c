/* alloc/grow.c: a partition takes in hugepages while it runs.
 *
 * Owns _mmc_partition_add_hugepages_locked(): hugepages already mapped into the pool's views at
 * their physical place (pool.c) enter the frame database and the engine's index. Frame indices
 * are physical (PFN - the span's start), so nothing that holds one changes: not the blocks
 * handed out, not the load, not an MDL. The new hugepages become present in the frame database
 * (their runs extended or joined) and the engine takes each in at the cost of a give of its
 * frames. Everything that may fail (room in the database's tables, the engine's, the load's
 * map) is reserved first, so that a failure (no memory) leaves the partition as it was.
 */
#include <stdlib.h>
#include <string.h>

#include "slowpath.h"

int _mmc_partition_add_hugepages_locked(struct mmc_partition *part, uint64_t nadd,
                                        const uint64_t *add_pfn, const uint8_t *add_node)
{
    _mmc_check(_mmc_mutex_held(&part->lock));
    struct mmc_frames *f = &part->frames;
    int rc = _mmc_frames_reserve(f, nadd, add_pfn, add_node);
    if (rc == 0)
        rc = part->engine->reserve(part->engine_state, nadd, add_pfn);
    if (rc == 0 && part->load.frame_slot_cap)
        rc = _mmc_load_reserve(part);
    if (rc < 0)
        return rc; /* room reserved stays, unused: nothing visible changed */
    _mmc_frames_add(f, nadd, add_pfn, add_node);
    for (uint64_t a = 0; a < nadd; a++)
        part->engine->add(part->engine_state, add_pfn[a] - f->base_pfn);
    return 0;
}

/* ---- growing ---- */

#include <time.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* What growth leaves the machine: MemAvailable must stay above this after a growth when no
 * pool_max_bytes is given: 1/16 of MemTotal, at least 1 GiB. */
static uint64_t reserve_bytes(void)
{
    uint64_t total = _mmc_os_mem_total_bytes();
    uint64_t r = total == UINT64_MAX ? MMC_GIB : total / 16;
    return r < MMC_GIB ? MMC_GIB : r;
}

int _mmc_partition_grow_locked(struct mmc_partition *part, unsigned node, uint64_t page_bytes,
                               uint64_t npages)
{
    _mmc_check(_mmc_mutex_held(&part->lock));
    _mmc_check(!_mmc_mutex_held(&part->grow_lock));
    struct mmc_pool *p = &part->pool;
    const uint64_t hpf = page_bytes >> MMC_FRAME_SHIFT;
    const char *why = _mmc_partition_no_growth(part);
    if (why) {
        _mmc_set_error("the pool may not grow (%s)", why);
        return -EOPNOTSUPP;
    }
    const uint64_t frames = part->frames.present_frames, add = npages * hpf;
    if (part->cfg.pool_max_bytes && frames + add > part->cfg.pool_max_bytes >> MMC_FRAME_SHIFT) {
        _mmc_set_error("the pool's cap is reached: %llu MiB now, %llu MiB more would pass "
                       "MMC_POOL_MAX / pool_max_bytes = %llu MiB (raise it to let the pool grow)",
                       (unsigned long long)(frames >> 8), (unsigned long long)(add >> 8),
                       (unsigned long long)(part->cfg.pool_max_bytes >> 20));
        return -EDQUOT;
    }
    const unsigned os = (unsigned)_mmc_partition_os_node(part, node);
    bool one_node;
    const uint64_t avail = _mmc_os_available_bytes((int)os, &one_node), reserve = reserve_bytes();
    if (!part->cfg.pool_max_bytes && avail != UINT64_MAX && avail < add * 4096 + reserve) {
        _mmc_set_error("the pool's cap is reached: growing by %llu MiB on node %u would leave less "
                       "than the reserve of %llu MiB of the memory available (%llu MiB); set "
                       "MMC_POOL_MAX to decide the cap yourself",
                       (unsigned long long)(add >> 8), node, (unsigned long long)(reserve >> 20),
                       (unsigned long long)(avail >> 20));
        return -EDQUOT;
    }
    /* The kernel's part (faulting, zeroing, pagemap) without the partition lock: other
     * threads, FAST_ONLY ones above all, go on searching what the pool has. */
    _mmc_partition_unlock(part);
    _mmc_mutex_lock(&part->grow_lock);
    const uint64_t t0 = now_ns();
    char err[640] = "";
    uint64_t *pfn = NULL;
    uint8_t *nodes = NULL;
    int rc = _mmc_pool_grow(p, node, os, page_bytes, npages, part->cfg.allow_topup, &pfn, &nodes,
                            err, sizeof(err));
    _mmc_partition_lock(part);
    const uint64_t entries = npages * (page_bytes / p->page_bytes); /* in the pool's hugepages */
    if (rc == 0) {
        rc = _mmc_partition_add_hugepages_locked(part, entries, pfn, nodes);
        if (rc < 0) /* mapped and raised, but not searchable: given back with the pool */
            snprintf(err, sizeof(err), "adding %llu hugepages to the frame database failed: %s",
                     (unsigned long long)npages, strerror(-rc));
    }
    part->st.grow_ns += now_ns() - t0;
    if (rc == 0) {
        part->st.hugepages_added += entries;
        part->st.topup_hugepages = 0; /* the top-up, now including this growth's */
        for (unsigned n = 0; n < MMC_MAX_NODES; n++)
            part->st.topup_hugepages += p->topup[n] + p->topup_gib[n] * (MMC_GIB / p->page_bytes);
    } else {
        _mmc_set_error("growing the pool by %llu hugepages of %llu MiB on node %u failed: %s",
                       (unsigned long long)npages, (unsigned long long)(page_bytes >> 20), node, err);
    }
    _mmc_mutex_unlock(&part->grow_lock);
    free(pfn);
    free(nodes);
    return rc;
}

/* Frames a trade may move before growing is the cheaper way to a block of `frames`: what the
 * hugepages it needs cost to take (the mean so far, or 200 us a hugepage before any) over what
 * a frame costs to move (the mean so far, or 1 us). */
static uint64_t move_budget(const struct mmc_partition *part, uint64_t frames)
{
    const struct mmc_stats *st = &part->st;
    const uint64_t hpf = part->frames.hp_frames;
    const uint64_t hp_ns = st->hugepages_added ? st->grow_ns / st->hugepages_added : 200000;
    const uint64_t move_ns = st->frames_moved ? st->trade_ns / st->frames_moved : 1000;
    const uint64_t need = (frames + hpf - 1) / hpf;
    return need * hp_ns / (move_ns ? move_ns : 1);
}

/* Grow on one node with hugepages of page_bytes until a run holds the block: the hugepages the
 * block needs, then as many again each round, at most 2 x need + 8 hugepages and 2 s in all.
 * 0 and *first, -ENOMEM (the bound, with the last error saying so) or growth's error. */
static int grow_pages_for(struct mmc_partition *part, struct mmc_search *rq, unsigned node,
                          uint64_t page_bytes, uint64_t *first)
{
    _mmc_check(_mmc_mutex_held(&part->lock));
    const uint64_t hpf = page_bytes >> MMC_FRAME_SHIFT;
    const uint64_t need = (rq->frames + hpf - 1) / hpf, bound = 2 * need + 8;
    const uint64_t t0 = now_ns();
    uint64_t taken = 0;
    while (taken < bound && now_ns() - t0 < 2000000000ull) {
        uint64_t batch = need < bound - taken ? need : bound - taken;
        int rc = _mmc_partition_grow_locked(part, node, page_bytes, batch);
        if (rc < 0)
            return rc;
        taken += batch;
        uint64_t w = 0;
        rq->node_mask = 1ull << node;
        rq->max_work = 0;
        if (part->engine->find(part->engine_state, rq, first, &w) == 0)
            return 0;
    }
    _mmc_set_error("growing the pool on node %u did not make a run of %llu frames: %llu hugepages "
                   "of %llu MiB taken (the bound is 2 x %llu + 8 within 2 s), none physically "
                   "adjacent enough or inside the range; they stay in the pool as free frames",
                   node, (unsigned long long)rq->frames, (unsigned long long)taken,
                   (unsigned long long)(page_bytes >> 20), (unsigned long long)need);
    return -ENOMEM;
}

/* Grow on one node for rq. A block longer than the kernel's largest free block (4 MiB: 2 MiB
 * hugepages are rarely adjacent beyond it) asks for 1 GiB hugepages first, which the kernel
 * makes at run time from a contiguous gigabyte (compacting for it) where it can; then, or for
 * smaller blocks, hugepages of the pool's size. */
static int grow_for(struct mmc_partition *part, struct mmc_search *rq, unsigned node, uint64_t *first)
{
    _mmc_check(_mmc_mutex_held(&part->lock));
    const uint64_t pool_page = part->pool.page_bytes;
    bool has_1g = false; /* the node has a 1 GiB hstate (sysfs, as hwloc saw it) */
    for (unsigned k = 0; k < _mmc_g.topo->nodes[node].npagesizes; k++)
        has_1g |= _mmc_g.topo->nodes[node].pagesizes[k].page_bytes == MMC_GIB;
    if (pool_page < MMC_GIB && rq->frames > (4 * MMC_MIB) >> MMC_FRAME_SHIFT && has_1g) {
        char why[768];
        int rc = grow_pages_for(part, rq, node, MMC_GIB, first);
        if (rc == 0)
            return rc;
        snprintf(why, sizeof(why), "%s", mmc_last_error()); /* a gigabyte past the cap: smaller pages may fit */
        rc = grow_pages_for(part, rq, node, pool_page, first);
        if (rc < 0 && rc != -EDQUOT)
            _mmc_set_error("%s; with 1 GiB hugepages: %s", mmc_last_error(), why);
        return rc;
    }
    return grow_pages_for(part, rq, node, pool_page, first);
}

int _mmc_partition_slow_path_locked(struct mmc_partition *part, struct mmc_search *rq,
                                    const unsigned *order, unsigned nnodes, uint64_t *first)
{
    _mmc_check(_mmc_mutex_held(&part->lock));
    const struct mmc_pool *pool = &part->pool;
    const char *no_growth = _mmc_partition_no_growth(part);
    const bool can_grow = !no_growth && rq->highest_pfn >= pool->span_pfn &&
                          rq->lowest_pfn < pool->span_pfn + pool->span_frames; /* memory in range */
    const uint64_t budget = can_grow ? move_budget(part, rq->frames) : UINT64_MAX;
    bool dear = false; /* a trade was possible but dearer than growing */
    for (unsigned k = 0; k < nnodes; k++) {
        rq->node_mask = 1ull << order[k];
        int rc = _mmc_trade_locked(part, rq, order[k], budget, first);
        if (rc == 0)
            return 0;
        dear |= rc == -E2BIG;
    }
    if (!can_grow) {
        _mmc_set_error("no free run of %llu frames in the pool, none to trade for, and the pool may "
                       "not grow (%s)", (unsigned long long)rq->frames,
                       no_growth ? no_growth : "the range holds none of the machine's memory");
        return -ENOMEM;
    }
    int rc = -ENOMEM;
    for (unsigned pass = 0; pass < 2 && rc < 0; pass++) {
        for (unsigned k = 0; k < nnodes && rc < 0; k++) {
            rc = grow_for(part, rq, order[k], first);
            if (rc == -EDQUOT)
                break; /* the cap holds on every node */
        }
        if (rc == 0) {
            part->st.grows++;
            return 0;
        }
        if (pass == 0 && rc != -EDQUOT) { /* compact each node once, then grow again */
            char why[768];
            snprintf(why, sizeof(why), "%s", mmc_last_error());
            for (unsigned k = 0; k < nnodes; k++) {
                _mmc_partition_unlock(part);
                const uint64_t t0 = now_ns();
                int c = _mmc_os_compact_node((unsigned)_mmc_partition_os_node(part, order[k]));
                _mmc_partition_lock(part);
                part->st.grow_ns += now_ns() - t0;
                part->st.compactions += c == 0;
            }
            _mmc_set_error("%s", why);
        } else if (pass == 0) {
            break;
        }
    }
    part->st.grow_failed++;
    if (dear) { /* growing failed: trade at any price */
        char why[768];
        snprintf(why, sizeof(why), "%s", mmc_last_error());
        for (unsigned k = 0; k < nnodes; k++) {
            rq->node_mask = 1ull << order[k];
            if (_mmc_trade_locked(part, rq, order[k], UINT64_MAX, first) == 0)
                return 0;
        }
        _mmc_set_error("%s", why);
    }
    return -ENOMEM;
}
