/* alloc/hugepages.c: the public hugepage-count API (mmcontig.h, "the kernel's hugepage
 * counts"), which programs beside the pools use, such as the benchmark's peers.
 *
 * Owns the arguments' checks and the last error; the counts themselves, their file lock and
 * the ledger are os.c's (_mmc_os_hugepages_*), which returns an errno and a message. */
#include <string.h>

#include "os.h"

/* The arguments every mmc_hugepages_* call takes. 0 or -EINVAL with the error set. */
static int hp_args(const char *fn, int os_node, uint64_t page_bytes)
{
    if (page_bytes != 2 * MMC_MIB && page_bytes != MMC_GIB) {
        _mmc_set_error("%s: page_bytes %llu is no hugepage size: give 2097152 (2 MiB) or "
                       "1073741824 (1 GiB)", fn, (unsigned long long)page_bytes);
        return -EINVAL;
    }
    if (os_node < -1) {
        _mmc_set_error("%s: os_node %d is no node: give the kernel's node index (0, 1...: "
                       "/sys/devices/system/node/nodeN) or -1 for the whole machine", fn, os_node);
        return -EINVAL;
    }
    return 0;
}

MMC_API int mmc_hugepages_count(int os_node, uint64_t page_bytes, uint64_t *total,
                                uint64_t *free_pages)
{
    int rc = hp_args("mmc_hugepages_count", os_node, page_bytes);
    if (rc < 0)
        return rc;
    char err[400];
    if ((rc = _mmc_os_hugepages_count(os_node, page_bytes, total, free_pages, err, sizeof(err))) < 0)
        _mmc_set_error("%s", err);
    return rc;
}

MMC_API long mmc_hugepages_reserve(int os_node, uint64_t page_bytes, uint64_t need)
{
    int rc = hp_args("mmc_hugepages_reserve", os_node, page_bytes);
    if (rc < 0)
        return rc;
    char err[768];
    long added = _mmc_os_hugepages_reserve(os_node, page_bytes, need, err, sizeof(err));
    if (added < 0)
        _mmc_set_error("%s", err);
    return added;
}

MMC_API int mmc_hugepages_adjust(int os_node, uint64_t page_bytes, int64_t delta,
                                 uint64_t *write_ns)
{
    if (write_ns)
        *write_ns = 0;
    int rc = hp_args("mmc_hugepages_adjust", os_node, page_bytes);
    if (rc < 0)
        return rc;
    char err[768];
    if ((rc = _mmc_os_hugepages_adjust(os_node, page_bytes, delta, write_ns, err, sizeof(err))) < 0)
        _mmc_set_error("%s", err);
    return rc;
}

MMC_API void mmc_hugepages_giveback(int os_node, uint64_t page_bytes, uint64_t added)
{
    if (added && hp_args("mmc_hugepages_giveback", os_node, page_bytes) == 0)
        _mmc_os_hugepages_giveback(os_node, page_bytes, added, false);
}

MMC_API int mmc_hugepages_lock(void)
{
    char err[512];
    int rc = _mmc_os_hugepages_lock(err, sizeof(err));
    if (rc < 0)
        _mmc_set_error("mmc_hugepages_lock: %s", err);
    return rc;
}

MMC_API void mmc_hugepages_unlock(void) { _mmc_os_hugepages_unlock(); }

MMC_API long mmc_hugepages_reclaim(FILE *report)
{
    char err[512];
    long n = _mmc_os_hugepages_reclaim(report, err, sizeof(err));
    if (n < 0)
        _mmc_set_error("mmc_hugepages_reclaim: %s", err);
    return n;
}
