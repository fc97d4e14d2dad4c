/* alloc/internal.h: every internal declaration of libmmcontig, for the files at the top (the
 * routines: nt.c, mdl.c, frag.c, aging.c, sim.c) and for the white-box tests and tools.
 *
 * The layers below include only what they stand on (docs/ARCHITECTURE.md, "Layers"):
 *   base.h (error.h, check.h, lock.h, rand.h) <- os.h <- pool.h <- partition.h
 *   base.h <- frames.h <- search.h <- partition.h <- slowpath.h <- contig.h <- internal.h
 * tests/layers.py checks that the include graph of alloc/ is that one and has no cycle.
 */
#ifndef MMC_INTERNAL_H
#define MMC_INTERNAL_H

#include "contig.h"

/* frag.c: U(j) and FI(j) for j = 0..MMC_FRAG_MAX_ORDER from block counts n_k. */
MMC_INTERNAL void _mmc_frag_indices(const uint64_t *blocks, double *unusable, double *fragmentation);

/* ------------------------------------------------------------------------------------------
 * sim.c: simulated layouts (synthetic or replayed) and simulated partitions
 * ---------------------------------------------------------------------------------------- */

/* A synthetic layout (the fields of struct mmc_sim_config that describe one). */
struct mmc_sim_spec {
    uint64_t pool_bytes;        /* rounded up to whole hugepages */
    uint64_t page_bytes;        /* 2 MiB or 1 GiB */
    double mean_run_hugepages;  /* geometric run lengths of this mean; 0 = one run per node */
    unsigned nnodes;            /* 1..64, <= hugepages */
    int node_split;             /* enum mmc_sim_node_split */
    uint64_t seed;              /* splitmix64 seed */
};
/* Build a synthetic layout: *hp_pfn ascending (malloc'd), *hp_node per hugepage (malloc'd).
 * 0 or -EINVAL / -ENOMEM with the error set. */
MMC_TOOL int _mmc_sim_synthetic(const struct mmc_sim_spec *spec, uint64_t **hp_pfn,
                                uint8_t **hp_node, uint64_t *nhugepages);
/* Read a layout CSV (mmcontig layout --record). 0, or a negative errno with the error set to
 * "file:line: what is wrong". */
MMC_INTERNAL int _mmc_sim_replay(const char *path, uint64_t *page_bytes, uint64_t **hp_pfn,
                                 uint8_t **hp_node, uint64_t *nhugepages);

#endif /* MMC_INTERNAL_H */
