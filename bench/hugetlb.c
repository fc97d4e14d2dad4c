/* bench/hugetlb.c: the benchmark's own dealings with the kernel's NUMA nodes and pagemap, for
 * the peers (node numbers to kernel indexes) and the violation checks, over the library's
 * public calls: mmc_node_map (mmcontig.h) for the node numbers, mmc_pagemap_read (testing.h)
 * for the kernel's PFNs, read now and never from the frame database.
 *
 * The kernel's hugepage counts (nr_hugepages / free_hugepages, the lock around changing them,
 * top-up and give-back) are the library's: the peers use mmc_hugepages_count / _reserve /
 * _adjust / _giveback / _lock of mmcontig.h, the only code that changes them.
 */
#include <errno.h>

#include "bench.h"

int hugetlb_os_node(unsigned n)
{
    int os[MMC_MAX_NODES];
    int k = mmc_node_map(os, MMC_MAX_NODES);
    return (int)n < k ? os[n] : (int)n;
}

unsigned hugetlb_node_count(void)
{
    int k = mmc_node_map(NULL, 0);
    return k > 0 ? (unsigned)k : 1;
}

int pagemap_check(const void *va, uint64_t bytes, uint64_t align_bytes, uint64_t boundary_bytes,
                  uint64_t *phys, const char **why)
{
    static uint64_t pfn[4096];              /* 16 MiB of frames per read */
    const uint64_t first_page = (uintptr_t)va / MMC_FRAME_BYTES;
    const uint64_t pages = ((uintptr_t)va + bytes - 1) / MMC_FRAME_BYTES - first_page + 1;
    uint64_t first_pfn = 0;
    *why = NULL;
    for (uint64_t done = 0; done < pages;) {
        uint64_t n = pages - done < 4096 ? pages - done : 4096;
        int rc = mmc_pagemap_read((const char *)va + done * MMC_FRAME_BYTES, n, pfn);
        if (rc == -EPERM)
            *why = "pagemap hides frame numbers (needs CAP_SYS_ADMIN)";
        if (rc < 0)
            return rc;
        for (uint64_t i = 0; i < n; i++) {
            if (!pfn[i]) {
                *why = "page not present";
                return 1;
            }
            if (done + i == 0)
                first_pfn = pfn[i];
            else if (pfn[i] != first_pfn + done + i) {
                *why = "not physically contiguous";
                return 1;
            }
        }
        done += n;
    }
    uint64_t s = first_pfn * MMC_FRAME_BYTES + (uintptr_t)va % MMC_FRAME_BYTES;
    uint64_t e = s + bytes - 1;
    *phys = s;
    if (align_bytes && s % align_bytes) {
        *why = "misaligned";
        return 1;
    }
    if (boundary_bytes && s / boundary_bytes != e / boundary_bytes) {
        *why = "crosses the boundary";
        return 1;
    }
    return 0;
}
