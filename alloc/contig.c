/* alloc/contig.c: contiguous blocks: the allocation behind every contiguous routine (search
 * node by node under each node's lock, then the slow path under the partition lock), the free
 * (the node found from the address without a lock), and mmc_query.
 *
 * Above the partition (partition.c: the block tables, the locks), the slow path (grow.c,
 * load.c) and the search engines; below the NT routines (nt.c). */
#include <stdlib.h>
#include <string.h>

#include "contig.h"

/* ---- contiguous blocks ---- */

/* Search node n for rq and store the engine's answer in *first: node n's lock (or the
 * partition lock) held. The work bound covers the whole call: *work is what was done so far. */
static int node_find(struct mmc_partition *part, struct mmc_search *rq, unsigned n, uint64_t bound,
                     uint64_t *work, uint64_t *first)
{
    _mmc_check(_mmc_mutex_held(&part->node[n].lock));
    if (part->frames.node[n].free < rq->frames)
        return -ENOMEM;
    uint64_t w = 0;
    rq->node_mask = 1ull << n;
    rq->max_work = bound ? bound - *work : 0;
    int rc = part->engine->find(part->engine_state, rq, first, &w);
    *work += w;
    return rc;
}

/* Every node of the order in turn under the partition lock (an engine that is not node-
 * parallel, or the retry before the slow path). */
static int find_all_locked(struct mmc_partition *part, struct mmc_search *rq, const unsigned *order,
                           unsigned nnodes, uint64_t bound, uint64_t *work, uint64_t *first)
{
    _mmc_check(_mmc_mutex_held(&part->lock));
    int rc = -ENOMEM;
    for (unsigned k = 0; k < nnodes && rc < 0; k++) {
        rc = node_find(part, rq, order[k], bound, work, first);
        if (rc == -EAGAIN || (bound && *work >= bound))
            break;
    }
    return rc;
}

/* The search of a contiguous allocation. A node-parallel engine is searched one node at a time
 * under that node's lock alone, and the lock of the node that answered stays held (*held: the
 * node; -1: the partition lock is held instead). If no node answers and the call may trade or
 * grow, the partition lock is taken, every node searched again (others may have freed
 * meanwhile) and then the slow path runs. */
static int contig_search(struct mmc_partition *part, struct mmc_search *rq, const unsigned *order,
                         unsigned nnodes, uint64_t *bound, uint64_t *work, uint64_t *first, int *held)
{
    /* MMC_WORK_ENGINE_BOUND: the engine's own bound, read under the lock held (set_engine may
     * swap the engine between calls, and frees the old one) */
    const uint64_t asked = *bound;
    int rc = -ENOMEM;
    bool parallel = true;
    for (unsigned k = 0; k < nnodes; k++) {
        const unsigned n = order[k];
        _mmc_mutex_lock(&part->node[n].lock);
        if (!part->node_parallel) { /* read under a node lock: set_engine holds them all */
            _mmc_mutex_unlock(&part->node[n].lock);
            parallel = false;
            break;
        }
        if (asked == MMC_WORK_ENGINE_BOUND)
            *bound = part->engine->fast_only_work;
        rc = node_find(part, rq, n, *bound, work, first);
        if (rc == 0) {
            *held = (int)n;
            return 0;
        }
        _mmc_mutex_unlock(&part->node[n].lock);
        if (rc == -EAGAIN || (*bound && *work >= *bound))
            break;
    }
    if (parallel && !(rc == -ENOMEM && rq->trade))
        return rc; /* no lock held */
    _mmc_partition_lock(part);
    *held = -1;
    *work = 0;
    if (asked == MMC_WORK_ENGINE_BOUND)
        *bound = part->engine->fast_only_work;
    rc = find_all_locked(part, rq, order, nnodes, *bound, work, first);
    /* The slow path (never under FAST_ONLY): trade load away or grow the pool, then search. */
    if (rc == -ENOMEM && rq->trade)
        rc = _mmc_partition_slow_path_locked(part, rq, order, nnodes, first);
    return rc;
}

static void contig_unlock(struct mmc_partition *part, int held)
{
    if (held < 0)
        _mmc_partition_unlock(part);
    else
        _mmc_mutex_unlock(&part->node[held].lock);
}

void *_mmc_partition_alloc_contig(struct mmc_partition *part, struct mmc_search *rq,
                                  const unsigned *node_order, unsigned nnodes, bool exec,
                                  int cache_type, uint32_t protect, uint32_t tag)
{
    uint64_t first = 0, work = 0;
    const uint64_t asked = rq->max_work;
    uint64_t bound = asked;
    int held = -2; /* no lock */

    int rc = contig_search(part, rq, node_order, nnodes, &bound, &work, &first, &held);
    rq->max_work = asked;
    _mmc_set_search_work(work);
    if (rc < 0) {
        if (held == -2) { /* counted on the first node tried, under its lock */
            held = nnodes ? (int)node_order[0] : 0;
            _mmc_mutex_lock(&part->node[held].lock);
        }
        if (held < 0)
            part->st.contiguous_failed++;
        else
            part->node[held].contiguous_failed++;
        if (rc == -EAGAIN)
            _mmc_set_error("FAST_ONLY: no block of %llu frames found within the '%s' engine's work "
                           "bound (%llu %s); the ordinary call searches on", (unsigned long long)rq->frames,
                           part->engine->name, (unsigned long long)work, part->engine->work_unit);
        else if (!rq->trade)
            _mmc_set_error("FAST_ONLY: no free run of %llu frames in the pool satisfies the request "
                           "(FAST_ONLY never trades or grows)", (unsigned long long)rq->frames);
        contig_unlock(part, held);
        return NULL;
    }
    const unsigned nd = mmc_frame_node(&part->frames, first);
    _mmc_check(held < 0 || (unsigned)held == nd);
    struct mmc_node_part *np = &part->node[nd];
    struct mmc_block b = {.first_frame = first, .frames = rq->frames, .cache_type = cache_type,
                          .protect = protect, .tag = tag};
    if (_mmc_block_insert(&np->bt, &b) < 0) {
        np->contiguous_failed++;
        contig_unlock(part, held);
        return NULL;
    }
    _mmc_frames_set(&part->frames, first, rq->frames,
                    MMC_FRAME_CONTIG | MMC_FRAME_HEAD | (exec ? MMC_FRAME_EXEC : 0));
    part->engine->take(part->engine_state, first, rq->frames);
    np->contiguous_ok++;
    void *va = _mmc_pool_va(&part->pool, mmc_frame_pfn(&part->frames, first), exec);
    contig_unlock(part, held);
    return va;
}

/* The head frame of the contiguous block holding frame i, or -1. The lock of i's node held. */
static int64_t block_head_of(const struct mmc_partition *part, uint64_t i)
{
    _mmc_check(_mmc_mutex_held(&part->node[mmc_frame_node(&part->frames, i)].lock));
    if (mmc_frame_state(&part->frames, i) != MMC_FRAME_CONTIG)
        return -1;
    return (int64_t)_mmc_frames_block_head(&part->frames, i);
}

/* Why freeing `base` (frame i, state s, head of its block or -1) is misuse. Node lock held. */
static void free_misuse_why(const struct mmc_partition *part, uint64_t i, uint64_t off, bool exec,
                            int64_t head, char *why, size_t len)
{
    const unsigned s = mmc_frame_state(&part->frames, i);
    if (head >= 0 && ((uint64_t)head != i || (off & 0xfff)))
        snprintf(why, len, "interior address of the block at %p; free the base address",
                 (const void *)_mmc_pool_va(&part->pool, mmc_frame_pfn(&part->frames, (uint64_t)head), exec));
    else if (head >= 0)
        snprintf(why, len, "the block was allocated in the %s view, at %p",
                 exec ? "read-write" : "executable",
                 (const void *)((exec ? part->pool.rw : part->pool.rwx) + off));
    else if (s == MMC_FRAME_MDL)
        snprintf(why, len, "this frame belongs to an MDL: free it with MmFreePagesFromMdl");
    else if (s >= MMC_FRAME_MOVABLE)
        snprintf(why, len, "this frame holds load (movable or standby), not a block");
    else
        snprintf(why, len, "no block starts here: freed already (double free) or never allocated");
}

/* A free or a query takes the lock of the node its address lies on (the pool's lock-free slot
 * map says which), or the partition lock when the engine is not node-parallel or the address is
 * on no present hugepage. Returns the node held or -1 (the partition lock). */
static int address_lock(struct mmc_partition *part, uint64_t pfn)
{
    const int nd = _mmc_pool_node(&part->pool, pfn);
    if (nd >= 0 && (unsigned)nd < part->nlocks) {
        _mmc_mutex_lock(&part->node[nd].lock);
        if (part->node_parallel)
            return nd;
        _mmc_mutex_unlock(&part->node[nd].lock);
    }
    _mmc_partition_lock(part);
    return -1;
}

void _mmc_partition_free_contig(const char *routine, void *base)
{
    bool exec = false;
    /* no _mmc_ensure_init(): a block can only come from a partition already on the list */
    _mmc_read_enter();
    struct mmc_partition *part = _mmc_partition_of_va_locked(base, &exec);
    if (!part) {
        _mmc_read_exit();
        _mmc_misuse(NULL, routine, base, "%s",
                    base ? "not an address mmcontig handed out (outside every partition's pool)"
                         : "NULL is not a block");
        return;
    }
    const char *view = exec ? part->pool.rwx : part->pool.rw;
    const uint64_t off = (uint64_t)((const char *)base - view);
    const uint64_t pfn = part->pool.span_pfn + (off >> MMC_FRAME_SHIFT);
    const int held = address_lock(part, pfn);
    const int64_t fi = _mmc_frames_index_of_pfn(&part->frames, pfn);
    if (fi < 0) {
        contig_unlock(part, held);
        _mmc_read_exit();
        _mmc_misuse(part, routine, base, "not an address mmcontig handed out (between the pool's "
                    "hugepages, in no block)");
        return;
    }
    const uint64_t i = (uint64_t)fi;
    struct mmc_node_part *np = &part->node[mmc_frame_node(&part->frames, i)];
    int64_t head = block_head_of(part, i);
    int64_t slot = -1;
    if (head >= 0 && (uint64_t)head == i && !(off & 0xfff) &&
        mmc_frame_bit(&part->frames, MMC_PLANE_EXEC, i) == exec)
        slot = _mmc_block_find(&np->bt, i);
    if (slot < 0) {
        char why[200];
        free_misuse_why(part, i, off, exec, head, why, sizeof(why));
        contig_unlock(part, held);
        _mmc_read_exit();
        _mmc_misuse(part, routine, base, "%s", why);
        return;
    }
    uint64_t n = np->bt.blocks[slot].frames;
    _mmc_block_remove(&np->bt, (uint64_t)slot);
    _mmc_frames_set(&part->frames, i, n, MMC_FRAME_FREE | MMC_FRAME_HEAD);
    part->engine->give(part->engine_state, i, n);
    np->frees++;
    contig_unlock(part, held);
    _mmc_read_exit();
}

/* ---- queries ---- */

MMC_API int mmc_query(const void *addr, struct mmc_alloc_info *info)
{
    bool exec = false;
    int rc = -ENOENT;
    if (!info) {
        _mmc_set_error("mmc_query: info is NULL; pass a struct mmc_alloc_info to fill");
        return -EINVAL;
    }
    /* simulated partitions exist without init: look at the list anyway */
    _mmc_read_enter();
    struct mmc_partition *part = _mmc_partition_of_va_locked(addr, &exec);
    if (part) {
        const char *view = exec ? part->pool.rwx : part->pool.rw;
        const uint64_t pfn = part->pool.span_pfn + ((uint64_t)((const char *)addr - view) >> MMC_FRAME_SHIFT);
        const int held = address_lock(part, pfn);
        const int64_t i = _mmc_frames_index_of_pfn(&part->frames, pfn);
        int64_t head = i >= 0 ? block_head_of(part, (uint64_t)i) : -1;
        const struct mmc_block_table *bt =
            head >= 0 ? &part->node[mmc_frame_node(&part->frames, (uint64_t)head)].bt : NULL;
        int64_t slot = head >= 0 ? _mmc_block_find(bt, (uint64_t)head) : -1;
        if (slot >= 0 && mmc_frame_bit(&part->frames, MMC_PLANE_EXEC, (uint64_t)head) == exec) {
            const struct mmc_block *b = &bt->blocks[slot];
            *info = (struct mmc_alloc_info){
                .base = _mmc_pool_va(&part->pool, mmc_frame_pfn(&part->frames, (uint64_t)head), exec),
                .bytes = b->frames << MMC_FRAME_SHIFT,
                .base_phys = mmc_frame_pfn(&part->frames, (uint64_t)head) << MMC_FRAME_SHIFT,
                .node = mmc_frame_node(&part->frames, (uint64_t)head),
                .cache_type = b->cache_type,
                .protect = b->protect,
                .tag = b->tag,
                .executable = exec,
                .partition = part,
            };
            rc = 0;
        }
        contig_unlock(part, held);
    }
    _mmc_read_exit();
    if (rc == -ENOENT)
        _mmc_set_error("mmc_query(%p): no live contiguous block contains this address (%s)", addr,
                       part ? "a frame of a pool that no block holds" : "outside every partition's pool");
    return rc;
}

