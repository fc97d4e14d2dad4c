/* alloc/pool.c: builds a partition's pool.
 *
 * Owns the two views of a partition's memory. The hugepages of every node are taken through
 * os.c, sorted by PFN and mapped into ONE virtual window in that order, so a physical run is
 * also virtually contiguous (frame i of the frame database is at window + i * 4096). The same
 * memfds are mapped twice, read-write (no execute) and read-write-execute, so the Protect
 * argument of the NT routines is enforced by the MMU.
 *
 * Invariants: hp_pfn[] strictly ascending; rw and rwx map the same memory page for page;
 * consecutive hugepages that are consecutive in one memfd share one mapping (few VMAs when the
 * kernel hands pages out in order).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

struct hp_ref {
    uint64_t pfn;       /* first PFN of the hugepage */
    uint32_t chunk;     /* index into the chunks (one per node) */
    uint64_t index;     /* hugepage index inside that chunk's memfd */
};

static int cmp_pfn(const void *a, const void *b)
{
    uint64_t x = ((const struct hp_ref *)a)->pfn, y = ((const struct hp_ref *)b)->pfn;
    return x < y ? -1 : x > y;
}

void _mmc_pool_giveback_topup(struct mmc_pool *p)
{
    if (p->owner_pid != getpid())
        return; /* a forked child: the raise is its parent's */
    for (unsigned n = 0; n < MMC_MAX_NODES; n++) {
        /* the surplus count is machine-wide: one write per node's share is still exact */
        _mmc_os_hugepages_giveback(p->topup_os[n], p->page_bytes, p->topup[n], p->topup_surplus);
        p->topup[n] = 0;
    }
}

int _mmc_pool_build(struct mmc_pool *p, const struct mmc_topology *topo, const uint64_t *node_pages,
                    uint64_t page_bytes, bool allow_topup, char *err, size_t errlen)
{
    struct mmc_os_chunk chunks[MMC_MAX_NODES];
    unsigned nchunks = 0;
    struct hp_ref *refs = NULL;
    int rc = 0;

    memset(p, 0, sizeof(*p));
    p->page_bytes = page_bytes;
    p->owner_pid = getpid();
    for (unsigned n = 0; n < topo->nnodes && n < MMC_MAX_NODES; n++)
        p->nhugepages += node_pages[n];
    if (p->nhugepages == 0) {
        snprintf(err, errlen, "the pool would hold no hugepage: give MMC_POOL a size above zero");
        return -EINVAL;
    }

    for (unsigned n = 0; n < topo->nnodes && n < MMC_MAX_NODES; n++) {
        if (!node_pages[n])
            continue;
        unsigned os = topo->nodes[n].os_index;
        rc = _mmc_os_take_hugepages(&chunks[nchunks], n, os, page_bytes, node_pages[n],
                                    allow_topup, err, errlen);
        if (rc < 0)
            goto error;
        p->topup[n] = chunks[nchunks].topup;
        p->topup_os[n] = os;
        p->topup_surplus = chunks[nchunks].surplus;
        nchunks++;
    }

    refs = malloc(p->nhugepages * sizeof(*refs));
    p->hp_pfn = malloc(p->nhugepages * sizeof(*p->hp_pfn));
    p->hp_node = malloc(p->nhugepages * sizeof(*p->hp_node));
    if (!refs || !p->hp_pfn || !p->hp_node) {
        rc = -ENOMEM;
        snprintf(err, errlen, "out of memory for the pool's tables");
        goto error;
    }
    uint64_t k = 0;
    for (unsigned c = 0; c < nchunks; c++)
        for (uint64_t h = 0; h < chunks[c].npages; h++)
            refs[k++] = (struct hp_ref){.pfn = chunks[c].pfn[h], .chunk = c, .index = h};
    qsort(refs, p->nhugepages, sizeof(*refs), cmp_pfn);

    p->window_bytes = p->nhugepages * page_bytes;
    p->rw = _mmc_os_reserve(p->window_bytes, page_bytes);
    p->rwx = _mmc_os_reserve(p->window_bytes, page_bytes);
    if (!p->rw || !p->rwx) {
        rc = -ENOMEM;
        snprintf(err, errlen, "cannot reserve %llu bytes of address space for the pool's views",
                 (unsigned long long)p->window_bytes);
        goto error;
    }
    for (uint64_t i = 0; i < p->nhugepages;) {
        uint64_t j = i + 1; /* extend while the next hugepage follows in the same memfd */
        while (j < p->nhugepages && refs[j].chunk == refs[i].chunk &&
               refs[j].index == refs[i].index + (j - i))
            j++;
        const struct mmc_os_chunk *c = &chunks[refs[i].chunk];
        uint64_t off = refs[i].index * page_bytes, len = (j - i) * page_bytes;
        rc = _mmc_os_map_fixed(p->rw + i * page_bytes, len, c->fd, off, PROT_READ | PROT_WRITE);
        if (rc == 0)
            rc = _mmc_os_map_fixed(p->rwx + i * page_bytes, len, c->fd, off,
                                   PROT_READ | PROT_WRITE | PROT_EXEC);
        if (rc < 0) {
            snprintf(err, errlen,
                     "mapping the pool's views failed: %s (too many mappings? see "
                     "/proc/sys/vm/max_map_count)", strerror(-rc));
            goto error;
        }
        for (uint64_t h = i; h < j; h++) {
            p->hp_pfn[h] = refs[h].pfn;
            p->hp_node[h] = (uint8_t)chunks[refs[h].chunk].node;
        }
        i = j;
    }
    /* The mappings hold the memfds open. */
    for (unsigned c = 0; c < nchunks; c++)
        _mmc_os_chunk_release(&chunks[c]);
    free(refs);
    return 0;

error:
    free(refs);
    _mmc_os_unmap(p->rw, p->window_bytes);
    _mmc_os_unmap(p->rwx, p->window_bytes);
    p->rw = p->rwx = NULL;
    for (unsigned c = 0; c < nchunks; c++)
        _mmc_os_chunk_release(&chunks[c]);
    _mmc_pool_giveback_topup(p);
    free(p->hp_pfn);
    free(p->hp_node);
    p->hp_pfn = NULL;
    p->hp_node = NULL;
    return rc;
}

int _mmc_pool_simulate(struct mmc_pool *p, uint64_t page_bytes, uint64_t nhugepages,
                       const uint64_t *hp_pfn, const uint8_t *hp_node, char *err, size_t errlen)
{
    memset(p, 0, sizeof(*p));
    p->simulated = true;
    p->page_bytes = page_bytes;
    p->nhugepages = nhugepages;
    p->window_bytes = nhugepages * page_bytes;
    p->hp_pfn = malloc(nhugepages * sizeof(*p->hp_pfn));
    p->hp_node = malloc(nhugepages * sizeof(*p->hp_node));
    /* Address space only (PROT_NONE, MAP_NORESERVE): a 1 TiB layout costs no memory. */
    p->rw = _mmc_os_reserve(p->window_bytes, page_bytes);
    p->rwx = _mmc_os_reserve(p->window_bytes, page_bytes);
    if (!p->hp_pfn || !p->hp_node || !p->rw || !p->rwx) {
        snprintf(err, errlen, "cannot reserve the tables or %llu bytes of address space for a "
                 "simulated pool", (unsigned long long)p->window_bytes);
        _mmc_pool_destroy(p);
        return -ENOMEM;
    }
    memcpy(p->hp_pfn, hp_pfn, nhugepages * sizeof(*p->hp_pfn));
    memcpy(p->hp_node, hp_node, nhugepages * sizeof(*p->hp_node));
    return 0;
}

void _mmc_pool_destroy(struct mmc_pool *p)
{
    /* Unmap first: the hugepages return to the kernel's free pool when the last mapping of the
     * memfd goes; only then can nr_hugepages shrink by what we added. */
    _mmc_os_unmap(p->rw, p->window_bytes);
    _mmc_os_unmap(p->rwx, p->window_bytes);
    _mmc_pool_giveback_topup(p);
    free(p->hp_pfn);
    free(p->hp_node);
    memset(p, 0, sizeof(*p));
}
