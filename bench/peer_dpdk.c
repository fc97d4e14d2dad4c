/* bench/peer_dpdk.c: DPDK's EAL in this process and its IOVA-contiguous memzones; the only file
 * that includes DPDK headers (compiled with libdpdk's flags into its own static library).
 *
 * What DPDK promises and what it does not (see /work/shared/reference/peers-and-metrics.md):
 * `align` and `bound` of rte_memzone_reserve_bounded apply to VIRTUAL addresses; in
 * --iova-mode=pa the physical block can be misaligned or cross the boundary once they exceed
 * the hugepage size. The suite therefore checks every returned block against pagemap.
 */
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_memory.h>
#include <rte_memzone.h>
#include <rte_version.h>

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "peer_dpdk.h"

static char eal_args_text[256];

int dpdk_peer_init(uint64_t mem_bytes, const char *legacy_dir, char *err, size_t errlen)
{
    cpu_set_t saved;
    int have_saved = sched_getaffinity(0, sizeof(saved), &saved) == 0;
    int cpu = sched_getcpu();
    if (cpu < 0)
        cpu = 0;
    char lcore[16], mb[24];
    snprintf(lcore, sizeof(lcore), "%d", cpu);
    snprintf(mb, sizeof(mb), "%" PRIu64, mem_bytes >> 20);
    char *argv[20] = {"mmcontig-bench-dpdk", "-l", lcore, "--no-pci", "--iova-mode=pa",
                      "--no-telemetry", "--log-level=*:warning"};
    int argc = 7;
    if (legacy_dir) { /* --in-memory excludes --legacy-mem: its parts, on a hugetlbfs mount */
        argv[argc++] = "--legacy-mem";
        argv[argc++] = "--no-shconf";
        argv[argc++] = "--huge-unlink";
        argv[argc++] = "--huge-dir";
        argv[argc++] = (char *)legacy_dir;
    } else {
        argv[argc++] = "--in-memory";
    }
    if (mem_bytes) {
        argv[argc++] = "-m";
        argv[argc++] = mb;
    }
    argv[argc] = NULL;
    size_t off = 0;
    for (int i = 1; i < argc && off < sizeof(eal_args_text); i++)
        off += (size_t)snprintf(eal_args_text + off, sizeof(eal_args_text) - off, "%s%s",
                                i > 1 ? " " : "", argv[i]);
    int rc = rte_eal_init(argc, argv);
    if (have_saved) /* EAL pinned this thread to its lcore: give the rest of the run its CPUs */
        sched_setaffinity(0, sizeof(saved), &saved);
    if (rc < 0) {
        snprintf(err, errlen, "rte_eal_init(%s) failed: %s", eal_args_text, rte_strerror(rte_errno));
        return -(rte_errno ? rte_errno : EIO);
    }
    return 0;
}

int dpdk_peer_reserve(uint64_t len_bytes, uint64_t align_bytes, uint64_t bound_bytes,
                      struct dpdk_block *b, const char **why)
{
    static unsigned seq; /* the scale suite's threads reserve at once: names stay unique */
    char name[RTE_MEMZONE_NAMESIZE];
    snprintf(name, sizeof(name), "mmcb%u", __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED));
    const struct rte_memzone *mz =
        rte_memzone_reserve_bounded(name, len_bytes, SOCKET_ID_ANY, RTE_MEMZONE_IOVA_CONTIG,
                                    (unsigned)align_bytes, (unsigned)bound_bytes);
    if (!mz) {
        *why = rte_strerror(rte_errno);
        return -1;
    }
    b->addr = mz->addr;
    b->len_bytes = mz->len;
    b->iova = mz->iova;
    b->mz = mz;
    return 0;
}

void dpdk_peer_free(struct dpdk_block *b)
{
    if (b->mz)
        rte_memzone_free(b->mz);
    b->mz = NULL;
}

void dpdk_peer_fini(void) { rte_eal_cleanup(); }

static int count_seg(const struct rte_memseg_list *msl, const struct rte_memseg *ms, void *arg)
{
    (void)msl, (void)ms;
    ++*(long *)arg;
    return 0;
}

long dpdk_peer_hugepages(void)
{
    long n = 0;
    rte_memseg_walk(count_seg, &n);
    return n;
}

static int largest_chunk(const struct rte_memseg_list *msl, const struct rte_memseg *ms,
                         size_t len, void *arg)
{
    (void)msl, (void)ms;
    uint64_t *max = arg;
    if (len > *max)
        *max = len;
    return 0;
}

uint64_t dpdk_peer_largest_chunk(void)
{
    uint64_t max = 0;
    rte_memseg_contig_walk(largest_chunk, &max);
    return max;
}

const char *dpdk_peer_version(void) { return rte_version(); }

const char *dpdk_peer_eal_args(void) { return eal_args_text; }
