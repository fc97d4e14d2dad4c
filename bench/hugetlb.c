/* bench/hugetlb.c: the benchmark's own dealings with the kernel's NUMA nodes and pagemap, for
 * the peers (node numbers to kernel indexes) and the violation checks.
 *
 * The kernel's hugepage counts (nr_hugepages / free_hugepages, the lock around changing them,
 * top-up and give-back) are the library's: the peers use mmc_hugepages_count / _reserve /
 * _adjust / _giveback / _lock of mmcontig.h, implemented by alloc/os.c, the only code that
 * changes them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

/* Nodes with memory, ascending kernel index: mmcontig numbers them 0..n-1 the same way. */
static int mem_nodes(int *out, int max)
{
    DIR *d = opendir("/sys/devices/system/node");
    int n = 0;
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        int idx;
        char rest;
        if (sscanf(e->d_name, "node%d%c", &idx, &rest) != 1)
            continue;
        char path[96], line[128];
        snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/meminfo", idx);
        FILE *f = fopen(path, "r");
        unsigned long long kb = 0;
        while (f && fgets(line, sizeof(line), f))
            if (strstr(line, "MemTotal:"))
                sscanf(strstr(line, "MemTotal:") + 9, "%llu", &kb);
        if (f)
            fclose(f);
        if (kb)
            out[n++] = idx;
    }
    closedir(d);
    for (int i = 1; i < n; i++) /* insertion sort: a handful of nodes */
        for (int j = i; j > 0 && out[j - 1] > out[j]; j--) {
            int t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return n;
}

int hugetlb_os_node(unsigned n)
{
    int nodes[MMC_MAX_NODES];
    int k = mem_nodes(nodes, MMC_MAX_NODES);
    return (int)n < k ? nodes[n] : (int)n;
}

unsigned hugetlb_node_count(void)
{
    int nodes[MMC_MAX_NODES];
    int k = mem_nodes(nodes, MMC_MAX_NODES);
    return k > 0 ? (unsigned)k : 1;
}

int pagemap_check(const void *va, uint64_t bytes, uint64_t align_bytes, uint64_t boundary_bytes,
                  uint64_t *phys, const char **why)
{
    static int fd = -1;
    static uint64_t buf[4096];              /* 16 MiB of frames per read */
    if (fd < 0)
        fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    const uint64_t first_page = (uintptr_t)va / MMC_FRAME_BYTES;
    const uint64_t pages = ((uintptr_t)va + bytes - 1) / MMC_FRAME_BYTES - first_page + 1;
    uint64_t first_pfn = 0;
    *why = NULL;
    for (uint64_t done = 0; done < pages;) {
        uint64_t n = pages - done < 4096 ? pages - done : 4096;
        ssize_t got = pread(fd, buf, n * 8, (off_t)((first_page + done) * 8));
        if (got != (ssize_t)(n * 8))
            return got < 0 ? -errno : -EIO;
        for (uint64_t i = 0; i < n; i++) {
            uint64_t e = buf[i];
            uint64_t pfn = e & ((1ull << 55) - 1);
            if (!(e >> 63)) {
                *why = "page not present";
                return 1;
            }
            if (!pfn) {
                *why = "pagemap hides frame numbers (needs CAP_SYS_ADMIN)";
                return -EPERM;
            }
            if (done + i == 0)
                first_pfn = pfn;
            else if (pfn != first_pfn + done + i) {
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
