/* alloc/os.h: the bottom layer: everything that talks to the kernel about memory (os.c). */
#ifndef MMC_OS_H
#define MMC_OS_H

#include "base.h"

/* ------------------------------------------------------------------------------------------
 * os.c: the only code that talks to the kernel for memory
 * ---------------------------------------------------------------------------------------- */

/* A batch: the hugepages taken on one node at once, in one hugetlb memfd, faulted in under MPOL_BIND, locked, each
 * hugepage's node verified and its PFN read from pagemap. */
struct mmc_os_batch {
    int fd;                     /* hugetlb memfd (closed once the pool maps it) */
    unsigned node;              /* node number */
    uint64_t page_bytes;        /* hugepage size */
    uint64_t npages;            /* hugepages in the memfd */
    uint64_t *pfn;              /* PFN of each hugepage, by offset in the memfd */
    uint64_t topup;             /* hugepages raised to take them (given back by the pool) */
    bool surplus;               /* raised as nr_overcommit_hugepages (else nr_hugepages) */
};

/* Take npages hugepages of page_bytes on the node (os_index is the kernel's number), under the
 * hugepage lock from the top-up to the last fault: if the node's free hugepages are short and
 * allow_topup, the shortfall is raised first (2 MiB: nr_overcommit_hugepages, the pages are
 * surplus and the kernel frees them with the last mapping; 1 GiB: nr_hugepages), recorded in
 * c->topup and this process's ledger. On failure nothing stays raised. 0 or a negative errno
 * with err filled (cause and remedy). */
MMC_INTERNAL int _mmc_os_take_hugepages(struct mmc_os_batch *c, unsigned node, unsigned os_index,
                                        uint64_t page_bytes, uint64_t npages, bool allow_topup,
                                        char *err, size_t errlen);
MMC_INTERNAL void _mmc_os_batch_release(struct mmc_os_batch *c);

/* Give back `added` hugepages raised on the node: of nr_overcommit_hugepages (surplus, machine-
 * wide) or nr_hugepages (os_node: the kernel's number; -1: machine-wide). */
MMC_INTERNAL void _mmc_os_hugepages_giveback(int os_node, uint64_t page_bytes, uint64_t added,
                                             bool surplus);
/* The counts behind the public mmc_hugepages_* calls (hugepages.c), as those calls document
 * them; arguments already checked; on failure err names the cause and the remedy. */
MMC_INTERNAL int _mmc_os_hugepages_count(int os_node, uint64_t page_bytes, uint64_t *total,
                                         uint64_t *free_pages, char *err, size_t errlen);
MMC_INTERNAL long _mmc_os_hugepages_reserve(int os_node, uint64_t page_bytes, uint64_t need,
                                            char *err, size_t errlen);
MMC_INTERNAL int _mmc_os_hugepages_adjust(int os_node, uint64_t page_bytes, int64_t delta,
                                          uint64_t *write_ns, char *err, size_t errlen);
MMC_INTERNAL int _mmc_os_hugepages_lock(char *err, size_t errlen);
MMC_INTERNAL void _mmc_os_hugepages_unlock(void);
MMC_INTERNAL long _mmc_os_hugepages_reclaim(FILE *report, char *err, size_t errlen);

/* Bytes of memory the kernel could still turn into hugepages on the node (os_node: the
 * kernel's number; -1: the machine). *one_node: the machine has one node. UINT64_MAX if
 * unknown. */
MMC_INTERNAL uint64_t _mmc_os_available_bytes(int os_node, bool *one_node);
/* The machine's MemTotal in bytes (UINT64_MAX if unknown). */
MMC_INTERNAL uint64_t _mmc_os_mem_total_bytes(void);
/* Fault points of MMC_FAULT that other files test (os.c has the rest). */
#define MMC_FAULT_GROW (1u << 11)       /* grow_refused */
#define MMC_FAULT_GROW_MAP (1u << 12)   /* grow_map */
#define MMC_FAULT_COMPACT (1u << 13)    /* compact_fail */
/* Does fault point f (MMC_FAULT_*) fire? */
MMC_INTERNAL bool _mmc_os_fault(unsigned f);
/* Ask the kernel to compact a node now (/sys/devices/system/node/nodeN/compact). 0 or -errno. */
MMC_INTERNAL int _mmc_os_compact_node(unsigned os_index);
/* The machine's physical span, [*start_pfn, *end_pfn): every zone of every node
 * (/proc/zoneinfo). 0 or -errno. */
MMC_INTERNAL int _mmc_os_phys_span(uint64_t *start_pfn, uint64_t *end_pfn);
/* Reserve size bytes of address space aligned to align (PROT_NONE). NULL on failure. */
MMC_INTERNAL void *_mmc_os_reserve(uint64_t size, uint64_t align);
/* Map [offset, offset + len) of fd at addr (MAP_FIXED, shared), prot PROT_*. 0 or -errno. */
MMC_INTERNAL int _mmc_os_map_fixed(void *addr, uint64_t len, int fd, uint64_t offset, int prot);
MMC_INTERNAL void _mmc_os_unmap(void *addr, uint64_t len);
/* Replace a mapping by reserved address space again (PROT_NONE). */
MMC_INTERNAL void _mmc_os_hole(void *addr, uint64_t len);

/* Physical address of a virtual address through pagemap: 0 if no page is present.
 * -EPERM if pagemap hides frame numbers (no CAP_SYS_ADMIN). */
MMC_INTERNAL int _mmc_os_virt_to_phys(const void *va, uint64_t *phys);
/* PFNs of the n frames from the one holding va, through pagemap (the shared descriptor):
 * pfn[i] = 0 where no page is present. 0, -EPERM if pagemap hides frame numbers, or -errno. */
MMC_INTERNAL int _mmc_os_pagemap_pfns(const void *va, uint64_t n, uint64_t *pfn);
/* Close what os.c keeps open between calls (the pagemap fd). */
MMC_INTERNAL void _mmc_os_fini(void);

#endif /* MMC_OS_H */
