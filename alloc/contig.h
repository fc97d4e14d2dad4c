/* alloc/contig.h: contiguous blocks (contig.c), above the slow path. */
#ifndef MMC_CONTIG_H
#define MMC_CONTIG_H

#include "slowpath.h"

/* rq->max_work of a FAST_ONLY call: the engine's own bound (fast_only_work), read by
 * contig.c under the lock it searches under. */
#define MMC_WORK_ENGINE_BOUND UINT64_MAX
/* contig.c: allocate a contiguous block: try each node of node_order[0..nnodes) in turn (one node per
 * search), rq's node_mask ignored. Returns the base address or NULL. */
MMC_INTERNAL void *_mmc_partition_alloc_contig(struct mmc_partition *part, struct mmc_search *rq,
                                               const unsigned *node_order, unsigned nnodes,
                                               bool exec, int cache_type, uint32_t protect,
                                               uint32_t tag);
/* contig.c: free a block by base address: misuse is reported. */
MMC_INTERNAL void _mmc_partition_free_contig(const char *routine, void *base);

#endif /* MMC_CONTIG_H */
