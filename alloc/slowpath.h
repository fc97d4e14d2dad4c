/* alloc/slowpath.h: the slow path of a partition: load and trading (load.c), growth (grow.c). */
#ifndef MMC_SLOWPATH_H
#define MMC_SLOWPATH_H

#include "partition.h"

/* ------------------------------------------------------------------------------------------
 * load.c: placement of scattered frames, trading
 * ---------------------------------------------------------------------------------------- */
/* Room in the load's frame map for the frame database's hp_cap ordinals (the first call
 * creates it). 0 or -ENOMEM (unchanged). Lock held. */
MMC_INTERNAL int _mmc_load_reserve(struct mmc_partition *part);
/* The load's map entry of present frame i (the map must exist). */
#define _mmc_load_slot_of(part, i)                                                                 \
    (&(part)->load.frame_slot[(uint64_t)mmc_frame_ord(&(part)->frames, (i)) * (part)->frames.hp_frames + \
                              ((i) & ((part)->frames.hp_frames - 1))])
/* Take up to `want` free frames of `node` with PFN in [lo_pfn, hi_pfn], outside the frame index
 * range [ex_first, ex_end), by the partition's placement (clustered: already-broken pageblocks
 * first), into state `state`; their frame indices go to out[]. Returns how many. Lock held. */
MMC_INTERNAL uint64_t _mmc_place_frames(struct mmc_partition *part, unsigned node, uint64_t lo_pfn,
                                        uint64_t hi_pfn, uint64_t want, bool clustered,
                                        uint64_t ex_first, uint64_t ex_end, uint8_t state,
                                        uint64_t *out);
/* The slow path: free a trade candidate for rq on one node (a block the request allows) by
 * dropping standby and moving movable frames out of it. 0 and *first (the candidate, now
 * free), -ENOMEM (no candidate without pinned frames), or -E2BIG (the cheapest candidate would
 * move more than max_moves frames: nothing was
 * changed). Lock held. */
MMC_INTERNAL int _mmc_trade_locked(struct mmc_partition *part, const struct mmc_search *rq,
                                   unsigned node, uint64_t max_moves, uint64_t *first);

/* grow.c: nadd hugepages (add_pfn ascending, none in the pool yet, already mapped at their
 * place in the views) enter the frame database, the engine, the blocks and the load, their
 * frames free. Partition lock held. 0, or -ENOMEM / -EEXIST with the partition unchanged. */
MMC_INTERNAL int _mmc_partition_add_hugepages_locked(struct mmc_partition *part, uint64_t nadd,
                                                     const uint64_t *add_pfn, const uint8_t *add_node);
/* The slow path of a contiguous allocation that found no free block on any node of
 * order[0..nnodes): trade load away if that moves fewer frames than growing would cost,
 * else grow the pool from the kernel on the nodes in order (hugepages until one run holds
 * the block, up to a bound), compact each node once and grow again, and at last trade at any
 * price. Partition lock held (released while the kernel works). 0 and *first, or -ENOMEM with
 * the last error saying why. */
MMC_INTERNAL int _mmc_partition_slow_path_locked(struct mmc_partition *part, struct mmc_search *rq,
                                                 const unsigned *order, unsigned nnodes,
                                                 uint64_t *first);
/* Grow the pool by npages hugepages on node number `node` (none of it for a simulated pool or
 * with cfg.grow 0, or past the cap). Partition lock held (released while the kernel works:
 * the frame database may change meanwhile). 0, -EDQUOT (the cap or the reserve), -EOPNOTSUPP,
 * or the kernel's error, with the last error set. */
MMC_INTERNAL int _mmc_partition_grow_locked(struct mmc_partition *part, unsigned node,
                                            uint64_t page_bytes, uint64_t npages);

#endif /* MMC_SLOWPATH_H */
