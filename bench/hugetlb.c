/* bench/hugetlb.c: the benchmark's own dealings with the kernel's hugepages and pagemap, for
 * the peers (DPDK's hugepages, the kernel allocating a fresh hugepage) and the violation checks.
 *
 * The library's alloc/os.c is the only code of libmmcontig that talks to the kernel; the
 * benchmark may not call it (public headers only), so the few sysfs and pagemap accesses the
 * peers need are here. nr_hugepages is changed only by read-modify-write under the same flock
 * the library takes (/run/lock/mmcontig-hugepages.lock), so concurrent mmcontig processes
 * never give back each other's hugepages; every raise is given back exactly.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "bench.h"

static void path_of(char *buf, size_t len, int os_node, uint64_t page_bytes, const char *file)
{
    if (os_node < 0)
        snprintf(buf, len, "/sys/kernel/mm/hugepages/hugepages-%" PRIu64 "kB/%s", page_bytes / 1024,
                 file);
    else
        snprintf(buf, len, "/sys/devices/system/node/node%d/hugepages/hugepages-%" PRIu64 "kB/%s",
                 os_node, page_bytes / 1024, file);
}

int hugetlb_read(int os_node, uint64_t page_bytes, const char *file, uint64_t *val)
{
    char path[192], buf[32];
    path_of(path, sizeof(path), os_node, page_bytes, file);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    int e = errno;
    close(fd);
    if (n <= 0)
        return n < 0 ? -e : -EIO;
    buf[n] = 0;
    *val = strtoull(buf, NULL, 10);
    return 0;
}

int hugetlb_write(int os_node, uint64_t page_bytes, const char *file, uint64_t val)
{
    char path[192], buf[32];
    path_of(path, sizeof(path), os_node, page_bytes, file);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int len = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", val);
    ssize_t n = write(fd, buf, (size_t)len);
    int e = errno;
    close(fd);
    return n == len ? 0 : (n < 0 ? -e : -EIO);
}

int hugetlb_lock(void)
{
    int fd = open("/run/lock/mmcontig-hugepages.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        fd = open("/tmp/mmcontig-hugepages.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd >= 0)
        while (flock(fd, LOCK_EX) < 0 && errno == EINTR)
            ;
    return fd;
}

void hugetlb_unlock(int fd)
{
    if (fd >= 0)
        close(fd);
}

long hugetlb_topup_locked(uint64_t page_bytes, uint64_t need, char *err, size_t errlen)
{
    uint64_t nr = 0, free_pages = 0, nr_after = 0;
    int rc = hugetlb_read(-1, page_bytes, "free_hugepages", &free_pages);
    if (rc == 0)
        rc = hugetlb_read(-1, page_bytes, "nr_hugepages", &nr);
    if (rc < 0) {
        snprintf(err, errlen, "cannot read the %" PRIu64 " kB hugepage counts: %s",
                 page_bytes / 1024, strerror(-rc));
        return rc;
    }
    if (free_pages >= need)
        return 0;
    uint64_t shortfall = need - free_pages;
    rc = hugetlb_write(-1, page_bytes, "nr_hugepages", nr + shortfall);
    hugetlb_read(-1, page_bytes, "nr_hugepages", &nr_after);
    long added = nr_after > nr ? (long)(nr_after - nr) : 0;
    if (rc < 0 || (uint64_t)added < shortfall) {
        if (added)
            hugetlb_write(-1, page_bytes, "nr_hugepages", nr_after - (uint64_t)added);
        snprintf(err, errlen, "%" PRIu64 " free %" PRIu64 " kB hugepages, %" PRIu64 " needed; "
                 "raising nr_hugepages %s (as root: echo %" PRIu64 " > "
                 "/sys/kernel/mm/hugepages/hugepages-%" PRIu64 "kB/nr_hugepages)",
                 free_pages, page_bytes / 1024, need,
                 rc < 0 ? strerror(-rc) : "found too few (memory fragmented or short)",
                 nr + shortfall, page_bytes / 1024);
        return rc < 0 ? rc : -ENOMEM;
    }
    return added;
}

void hugetlb_giveback(uint64_t page_bytes, uint64_t added)
{
    if (!added)
        return;
    int lk = hugetlb_lock();
    uint64_t nr = 0;
    if (hugetlb_read(-1, page_bytes, "nr_hugepages", &nr) == 0)
        hugetlb_write(-1, page_bytes, "nr_hugepages", nr > added ? nr - added : 0);
    hugetlb_unlock(lk);
}

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
