/* bench/peer_dpdk.h: DPDK's IOVA-contiguous memzones as a peer of mmcontig (meson feature
 * `dpdk`). Only bench/peer_dpdk.c includes DPDK's headers.
 *
 * When DPDK is not built in (MMC_BENCH_HAVE_DPDK 0) every function is an inline stub that says
 * so, and callers need no #ifdef.
 */
#ifndef MMC_BENCH_PEER_DPDK_H
#define MMC_BENCH_PEER_DPDK_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h" /* MMC_BENCH_HAVE_DPDK */

struct dpdk_block {
    void *addr;                 /* the memzone's virtual address */
    uint64_t len_bytes;         /* its length */
    uint64_t iova;              /* the IOVA (physical address in --iova-mode=pa) DPDK claims */
    const void *mz;             /* the rte_memzone */
};

#if MMC_BENCH_HAVE_DPDK
/* rte_eal_init in this process with `-l <this CPU> --no-pci --iova-mode=pa --no-telemetry
 * --in-memory -m MB`; the thread's CPU affinity is restored afterwards. The hugepages must be
 * free already. mem_bytes 0: no -m, so nothing is mapped ahead and each reserve maps the
 * hugepages it needs (dynamic memory). legacy_dir, a hugetlbfs mount (NULL: none): instead of
 * --in-memory, `--legacy-mem --no-shconf --huge-unlink --huge-dir DIR`: EAL maps the
 * hugepages at init, sorts them by physical address and remaps them so that physically
 * adjacent ones are adjacent in virtual memory too (DPDK's way to large IOVA-contiguous
 * blocks; its memory fixed at init; DPDK refuses --legacy-mem with --in-memory). Once per
 * process. 0, or -errno with err set. */
int dpdk_peer_init(uint64_t mem_bytes, const char *legacy_dir, char *err, size_t errlen);
/* rte_memzone_reserve_bounded(name, len, SOCKET_ID_ANY, RTE_MEMZONE_IOVA_CONTIG, align, bound):
 * 0 and *b, or -1 (rte_errno's text in *why). This call is what the benchmark times. */
int dpdk_peer_reserve(uint64_t len_bytes, uint64_t align_bytes, uint64_t bound_bytes,
                      struct dpdk_block *b, const char **why);
void dpdk_peer_free(struct dpdk_block *b);
/* rte_eal_cleanup: its hugepages go back to the kernel's free pool. */
void dpdk_peer_fini(void);
/* The hugepages EAL has mapped now (its memory segments, rte_memseg_walk). */
long dpdk_peer_hugepages(void);
/* The longest virtually contiguous stretch of EAL's segments, bytes (rte_memseg_contig_walk);
 * with --legacy-mem also physically contiguous. */
uint64_t dpdk_peer_largest_chunk(void);
/* "DPDK 22.11.x" */
const char *dpdk_peer_version(void);
/* The EAL arguments used, space separated (context.json). */
const char *dpdk_peer_eal_args(void);
#else
static inline int dpdk_peer_init(uint64_t mem_bytes, const char *legacy_dir, char *err,
                                 size_t errlen)
{
    (void)mem_bytes, (void)legacy_dir;
    snprintf(err, errlen, "DPDK peer not built: install libdpdk-dev and reconfigure "
                          "(meson feature 'dpdk')");
    return -ENOTSUP;
}
static inline int dpdk_peer_reserve(uint64_t l, uint64_t a, uint64_t b, struct dpdk_block *o,
                                    const char **why)
{
    (void)l, (void)a, (void)b, (void)o;
    *why = "not built";
    return -1;
}
static inline void dpdk_peer_free(struct dpdk_block *b) { (void)b; }
static inline void dpdk_peer_fini(void) {}
static inline long dpdk_peer_hugepages(void) { return 0; }
static inline uint64_t dpdk_peer_largest_chunk(void) { return 0; }
static inline const char *dpdk_peer_version(void) { return "not built"; }
static inline const char *dpdk_peer_eal_args(void) { return ""; }
#endif

#endif /* MMC_BENCH_PEER_DPDK_H */
