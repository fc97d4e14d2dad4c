/* alloc/pool.h: a partition's memory (pool.c), over os.h. */
#ifndef MMC_POOL_H
#define MMC_POOL_H

#include "os.h"
#include "topology.h"

/* ------------------------------------------------------------------------------------------
 * pool.c: builds a partition's pool
 * ---------------------------------------------------------------------------------------- */
struct mmc_pool {
    bool simulated;             /* no memory behind the views (a simulated partition): the
                                   views are reserved address space that faults if touched */
    uint64_t page_bytes;        /* hugepage size */
    /* The views are addressed by physical address: the frame of PFN x is at
     * view + ((x - span_pfn) << 12), so a hugepage taken later drops into its own place and
     * nothing handed out moves. Between the pool's hugepages the views are holes (PROT_NONE). */
    uint64_t span_pfn;          /* first PFN of the span (a multiple of 1 GiB of frames) */
    uint64_t span_frames;       /* frames of the span (the machine's; a simulated layout's) */
    char *rw;                   /* read-write view (no execute), view_bytes long */
    char *rwx;                  /* read-write-execute view of the same memory */
    uint64_t view_bytes;        /* each view's length: span_frames * 4096 */
    uint64_t *present;          /* bit k: the hugepage at span_pfn + k * (page_bytes >> 12) is
                                   mapped (set atomically, never cleared while the pool lives:
                                   translation reads it without the partition lock) */
    uint8_t *slot_node;         /* per hugepage slot: its node number, written before its present
                                   bit is set (so a free finds the node lock to take without any
                                   lock: _mmc_pool_node) */
    uint64_t nhugepages;        /* hugepages taken when the pool was built */
    uint64_t *hp_pfn;           /* their PFNs, ascending (the frame database's initial table) */
    uint8_t *hp_node;           /* node number per hugepage */
    uint64_t hugepages_added;   /* hugepages taken since, by growth */
    uint64_t topup[MMC_MAX_NODES]; /* hugepages raised to build and grow it, per node number */
    uint64_t topup_gib[MMC_MAX_NODES]; /* 1 GiB hugepages raised to grow a pool of 2 MiB ones */
    unsigned topup_os[MMC_MAX_NODES]; /* the kernel's index of each of those nodes */
    bool topup_surplus;         /* raised as nr_overcommit_hugepages (2 MiB), else nr_hugepages */
    pid_t owner_pid;            /* the process that raised them: only it gives them back (a
                                   forked child's exit or mmc_fini gives back nothing) */
};

/* The address of PFN pfn in a view (the PFN must lie in the span). */
static inline char *_mmc_pool_va(const struct mmc_pool *p, uint64_t pfn, bool exec)
{
    return (exec ? p->rwx : p->rw) + ((pfn - p->span_pfn) << MMC_FRAME_SHIFT);
}
/* Is the hugepage holding PFN pfn (inside the span) mapped in the views? Lock-free. */
static inline bool _mmc_pool_present(const struct mmc_pool *p, uint64_t pfn)
{
    const uint64_t k = (pfn - p->span_pfn) / (p->page_bytes >> MMC_FRAME_SHIFT);
    return (__atomic_load_n(&p->present[k >> 6], __ATOMIC_ACQUIRE) >> (k & 63)) & 1;
}

/* The node number of the present hugepage holding PFN pfn (inside the span), or -1 if it is
 * not present. Lock-free. */
static inline int _mmc_pool_node(const struct mmc_pool *p, uint64_t pfn)
{
    if (!_mmc_pool_present(p, pfn))
        return -1;
    return p->slot_node[(pfn - p->span_pfn) / (p->page_bytes >> MMC_FRAME_SHIFT)];
}

/* Build a pool of node_pages[n] hugepages on each node n. 0 or -errno with err filled. */
MMC_INTERNAL int _mmc_pool_build(struct mmc_pool *p, const struct mmc_topology *topo,
                                 const uint64_t *node_pages, uint64_t page_bytes, bool allow_topup,
                                 char *err, size_t errlen);
/* A simulated pool: the given layout (hp_pfn ascending, hp_node per hugepage), views reserved
 * but never backed, so the NT routines and engines run unchanged and nothing may touch the
 * memory. Copies the arrays. 0 or -errno with err filled. */
MMC_INTERNAL int _mmc_pool_simulate(struct mmc_pool *p, uint64_t page_bytes, uint64_t nhugepages,
                                    const uint64_t *hp_pfn, const uint8_t *hp_node, char *err,
                                    size_t errlen);
MMC_INTERNAL void _mmc_pool_destroy(struct mmc_pool *p);
/* Take npages more hugepages of page_bytes (the pool's size, or 1 GiB into a pool of 2 MiB
 * pages) on node number `node` (the kernel's os_index) and map them at their place in both
 * views. *pfn (ascending) and *nodes (malloc'd) name them in the pool's own hugepages:
 * npages * page_bytes / pool page entries. Serialised by the caller (one growth at a time per
 * pool). 0 or -errno with err filled; on failure nothing stays mapped, taken or raised. */
MMC_INTERNAL int _mmc_pool_grow(struct mmc_pool *p, unsigned node, unsigned os_index,
                                uint64_t page_bytes, uint64_t npages, bool allow_topup,
                                uint64_t **pfn, uint8_t **nodes, char *err, size_t errlen);
/* Give back the pool's top-up now (and forget it), memory still mapped: the pages in use are
 * (or become) surplus, which the kernel frees when the last mapping goes. Only in the process
 * that built the pool: in a forked child it does nothing. */
MMC_INTERNAL void _mmc_pool_giveback_topup(struct mmc_pool *p);

#endif /* MMC_POOL_H */
