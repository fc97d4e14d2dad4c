/* tests/common.h: TAP output, and independent checks of what the library returns.
 *
 * The checks read /proc/self/pagemap and move_pages() here, never through the library, so a
 * test of contiguity or placement cannot pass because the library agrees with itself.
 */
#ifndef MMC_TESTS_COMMON_H
#define MMC_TESTS_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <numaif.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mmcontig/mmcontig.h"

static int t_count, t_failed;

static inline void t_ok(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void t_ok(bool cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%sok %d - ", cond ? "" : "not ", ++t_count);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
    if (!cond)
        t_failed++;
}

static inline int t_done(void)
{
    printf("1..%d\n", t_count);
    if (t_failed)
        printf("# %d of %d checks failed\n", t_failed, t_count);
    return t_failed ? 1 : 0;
}

/* Initialise with a pool of pool_bytes per node (or the string spec). A test that needs
 * hugepages never skips in CI (CI=true) or as root: it fails, saying why. */
static inline void t_init_pool(const char *pool)
{
    setenv("MMC_POOL", pool, 1);
    int rc = mmc_init(NULL);
    if (rc == 0)
        return;
    const char *ci = getenv("CI");
    if ((ci && !strcmp(ci, "true")) || geteuid() == 0) {
        printf("Bail out! mmc_init failed: %s\n", mmc_last_error());
        exit(1);
    }
    printf("1..0 # SKIP needs hugepages and root: %s\n", mmc_last_error());
    exit(77);
}

/* PFN of va from pagemap (0: not present or hidden). */
static inline uint64_t t_pfn(const void *va)
{
    static int shared_fd = -1; /* opened once, published atomically: threads call this at once */
    int fd = __atomic_load_n(&shared_fd, __ATOMIC_ACQUIRE);
    if (fd < 0) {
        int mine = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC), expected = -1;
        if (__atomic_compare_exchange_n(&shared_fd, &expected, mine, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            fd = mine;
        else {
            close(mine);
            fd = expected;
        }
    }
    uint64_t e = 0;
    if (pread(fd, &e, sizeof(e), (off_t)((uintptr_t)va / 4096 * 8)) != sizeof(e))
        return 0;
    return (e >> 63) ? (e & ((1ull << 55) - 1)) : 0;
}

/* Is [p, p + bytes) physically contiguous? Touches each frame first (read). *base_pa gets the
 * physical address of p. */
static inline bool t_contiguous(const void *p, uint64_t bytes, uint64_t *base_pa)
{
    uint64_t first = 0;
    for (uint64_t off = 0; off < bytes; off += 4096) {
        (void)*(volatile const char *)((const char *)p + off);
        uint64_t pfn = t_pfn((const char *)p + off);
        if (off == 0)
            first = pfn;
        if (!pfn || pfn != first + off / 4096)
            return false;
    }
    if (base_pa)
        *base_pa = first * 4096;
    return true;
}

/* Kernel node (OS index) of the page at va, by move_pages; -1 on error. */
static inline int t_node_of(const void *va)
{
    void *pages[1] = {(void *)((uintptr_t)va & ~(uintptr_t)4095)};
    int status[1] = {-1};
    if (move_pages(0, 1, pages, NULL, status, 0) < 0)
        return -1;
    return status[0];
}

static inline uint64_t t_sysfs_u64(const char *path)
{
    FILE *f = fopen(path, "r");
    unsigned long long v = 0;
    if (f) {
        if (fscanf(f, "%llu", &v) != 1)
            v = 0;
        fclose(f);
    }
    return v;
}

/* Read fd until EOF (or len - 1 bytes) into buf, NUL-terminated: a child's stderr or report. */
static inline size_t t_read_all(int fd, char *buf, size_t len)
{
    size_t n = 0;
    ssize_t k;
    while (n < len - 1 && (k = read(fd, buf + n, len - 1 - n)) > 0)
        n += (size_t)k;
    buf[n] = 0;
    return n;
}

#define T_NR_2M "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"

#endif
