/* alloc/pool.c: builds a partition's pool, and grows it.
 *
 * Owns the two views of a partition's memory. The views are addressed by physical address:
 * the machine's physical span (every zone of /proc/zoneinfo, rounded out to 1 GiB) is reserved
 * once as address space (PROT_NONE, nothing behind it), twice, and every hugepage is mapped at
 * view + (its physical address - the span's start). A physical run is therefore virtually
 * contiguous, a hugepage taken while the pool runs (growth, the slow path) drops into its own
 * place, and nothing handed out ever moves. The same memfds are mapped in both views,
 * read-write (no execute) and read-write-execute, so the Protect argument of the NT routines
 * is enforced by the MMU.
 *
 * Address space, not memory: 2 x the span (a 24 GiB machine: 50 GiB; a 4 TiB lab server:
 * 8 TiB of the 128 TiB a process has). A span that cannot be reserved (RLIMIT_AS) fails the
 * build with the size and the limit named.
 *
 * Invariants: hp_pfn[] strictly ascending; rw and rwx map the same memory page for page;
 * present[] has a bit for exactly the hugepages mapped; consecutive hugepages that are
 * consecutive in one memfd share one mapping (few VMAs when the kernel hands pages out in
 * order).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pool.h"

struct hp_ref {
    uint64_t pfn;       /* first PFN of the hugepage */
    uint32_t batch;     /* index into the batches (one per node) */
    uint64_t index;     /* hugepage index inside that batch's memfd */
};

static int cmp_pfn(const void *a, const void *b)
{
    uint64_t x = ((const struct hp_ref *)a)->pfn, y = ((const struct hp_ref *)b)->pfn;
    return x < y ? -1 : x > y;
}

/* Reserve both views over the span (span_pfn, span_frames set) and the present bitmap. */
static int reserve_views(struct mmc_pool *p, char *err, size_t errlen)
{
    p->view_bytes = p->span_frames << MMC_FRAME_SHIFT;
    const uint64_t slots = p->span_frames / (p->page_bytes >> MMC_FRAME_SHIFT);
    p->present = calloc((slots + 63) / 64, sizeof(*p->present));
    p->slot_node = calloc(slots ? slots : 1, 1);
    p->rw = _mmc_os_reserve(p->view_bytes, MMC_GIB);
    p->rwx = _mmc_os_reserve(p->view_bytes, MMC_GIB);
    if (!p->present || !p->slot_node || !p->rw || !p->rwx) {
        snprintf(err, errlen, "cannot reserve 2 x %llu MiB of address space for the pool's views "
                 "(the physical span %#llx-%#llx, addressed by physical address): %s; raise the "
                 "address-space limit (ulimit -v, RLIMIT_AS)",
                 (unsigned long long)(p->view_bytes >> 20),
                 (unsigned long long)(p->span_pfn << MMC_FRAME_SHIFT),
                 (unsigned long long)((p->span_pfn + p->span_frames) << MMC_FRAME_SHIFT),
                 p->present && p->slot_node ? "mmap refused it" : "out of memory");
        _mmc_os_unmap(p->rw, p->view_bytes);
        _mmc_os_unmap(p->rwx, p->view_bytes);
        free(p->present);
        free(p->slot_node);
        p->rw = p->rwx = NULL;
        p->present = NULL;
        p->slot_node = NULL;
        return -ENOMEM;
    }
    return 0;
}

/* The span [lo, hi) PFNs rounded out to 1 GiB (so that a 1 GiB hugepage maps aligned). */
static void set_span(struct mmc_pool *p, uint64_t lo, uint64_t hi)
{
    const uint64_t g = MMC_GIB >> MMC_FRAME_SHIFT;
    p->span_pfn = lo / g * g;
    p->span_frames = (hi + g - 1) / g * g - p->span_pfn;
}

/* A real pool's span: the machine's, widened to hold every hugepage taken (a hugepage outside
 * the zones cannot happen, but costs nothing to allow). */
static int reserve_span(struct mmc_pool *p, char *err, size_t errlen)
{
    uint64_t lo = 0, hi = 0;
    int rc = _mmc_os_phys_span(&lo, &hi);
    if (rc < 0) {
        snprintf(err, errlen, "cannot read the machine's physical span from /proc/zoneinfo: %s",
                 strerror(-rc));
        return rc;
    }
    const uint64_t hpf = p->page_bytes >> MMC_FRAME_SHIFT;
    if (p->nhugepages && p->hp_pfn[0] < lo)
        lo = p->hp_pfn[0];
    if (p->nhugepages && p->hp_pfn[p->nhugepages - 1] + hpf > hi)
        hi = p->hp_pfn[p->nhugepages - 1] + hpf;
    set_span(p, lo, hi);
    return reserve_views(p, err, errlen);
}

/* The present bits of [pfn, pfn + frames) set or cleared (whole pool hugepages); set, their
 * slot_node entries first (published by the bit's release). */
static void mark_present(struct mmc_pool *p, uint64_t pfn, uint64_t frames, bool on, unsigned node)
{
    const uint64_t hpf = p->page_bytes >> MMC_FRAME_SHIFT;
    for (uint64_t k = (pfn - p->span_pfn) / hpf, e = k + frames / hpf; k < e; k++) {
        if (on)
            p->slot_node[k] = (uint8_t)node;
        if (on)
            __atomic_or_fetch(&p->present[k >> 6], 1ull << (k & 63), __ATOMIC_RELEASE);
        else
            __atomic_and_fetch(&p->present[k >> 6], ~(1ull << (k & 63)), __ATOMIC_RELEASE);
    }
}

/* Map npages hugepages of batch c (its page size, which may be larger than the pool's) from
 * memfd index `index` on, physically consecutive from pfn, at their place in both views. */
static int map_pages(struct mmc_pool *p, const struct mmc_os_batch *c, uint64_t index, uint64_t pfn,
                     uint64_t npages, char *err, size_t errlen)
{
    const uint64_t off = index * c->page_bytes, len = npages * c->page_bytes;
    if (pfn < p->span_pfn || pfn + (len >> MMC_FRAME_SHIFT) > p->span_pfn + p->span_frames) {
        snprintf(err, errlen, "hugepage at %#llx lies outside the physical span the pool reserved "
                 "(%#llx-%#llx): memory added since the pool was built; rebuild the pool",
                 (unsigned long long)(pfn << MMC_FRAME_SHIFT),
                 (unsigned long long)(p->span_pfn << MMC_FRAME_SHIFT),
                 (unsigned long long)((p->span_pfn + p->span_frames) << MMC_FRAME_SHIFT));
        return -ERANGE;
    }
    int rc = _mmc_os_map_fixed(_mmc_pool_va(p, pfn, false), len, c->fd, off, PROT_READ | PROT_WRITE);
    if (rc == 0)
        rc = _mmc_os_map_fixed(_mmc_pool_va(p, pfn, true), len, c->fd, off,
                               PROT_READ | PROT_WRITE | PROT_EXEC);
    if (rc < 0) {
        _mmc_os_hole(_mmc_pool_va(p, pfn, false), len);
        _mmc_os_hole(_mmc_pool_va(p, pfn, true), len);
        snprintf(err, errlen, "mapping the pool's views failed: %s (too many mappings? see "
                 "/proc/sys/vm/max_map_count)", strerror(-rc));
        return rc;
    }
    mark_present(p, pfn, len >> MMC_FRAME_SHIFT, true, c->node);
    return 0;
}

/* Map refs[0, n) (ascending PFN, all of batch page size `page_bytes`) at their place, one
 * mapping per stretch that follows on in memory and in one memfd. fault_last: fail the last
 * stretch (MMC_FAULT=grow_map). On failure the stretches mapped so far are holes again and
 * nothing is present of them. */
static int map_sorted(struct mmc_pool *p, const struct mmc_os_batch *batches, const struct hp_ref *refs,
                      uint64_t n, uint64_t page_bytes, bool fault_last, char *err, size_t errlen)
{
    const uint64_t pfpp = page_bytes >> MMC_FRAME_SHIFT;
    for (uint64_t i = 0; i < n;) {
        uint64_t j = i + 1;
        while (j < n && refs[j].batch == refs[i].batch && refs[j].index == refs[i].index + (j - i) &&
               refs[j].pfn == refs[i].pfn + (j - i) * pfpp)
            j++;
        int rc;
        if (fault_last && j == n) {
            snprintf(err, errlen, "mapping the new hugepages in place failed (MMC_FAULT=grow_map)");
            rc = -ENOMEM;
        } else {
            rc = map_pages(p, &batches[refs[i].batch], refs[i].index, refs[i].pfn, j - i, err, errlen);
        }
        if (rc < 0) {
            for (uint64_t k = 0; k < i; k++) { /* back to holes */
                _mmc_os_hole(_mmc_pool_va(p, refs[k].pfn, false), page_bytes);
                _mmc_os_hole(_mmc_pool_va(p, refs[k].pfn, true), page_bytes);
                mark_present(p, refs[k].pfn, pfpp, false, 0);
            }
            return rc;
        }
        i = j;
    }
    return 0;
}

void _mmc_pool_giveback_topup(struct mmc_pool *p)
{
    if (p->owner_pid != getpid())
        return; /* a forked child: the raise is its parent's */
    for (unsigned n = 0; n < MMC_MAX_NODES; n++) {
        /* the surplus count is machine-wide: one write per node's share is still exact */
        _mmc_os_hugepages_giveback(p->topup_os[n], p->page_bytes, p->topup[n], p->topup_surplus);
        p->topup[n] = 0;
        _mmc_os_hugepages_giveback(p->topup_os[n], MMC_GIB, p->topup_gib[n], false);
        p->topup_gib[n] = 0;
    }
}

int _mmc_pool_build(struct mmc_pool *p, const struct mmc_topology *topo, const uint64_t *node_pages,
                    uint64_t page_bytes, bool allow_topup, char *err, size_t errlen)
{
    struct mmc_os_batch batches[MMC_MAX_NODES];
    unsigned nbatches = 0;
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
        rc = _mmc_os_take_hugepages(&batches[nbatches], n, os, page_bytes, node_pages[n],
                                    allow_topup, err, errlen);
        if (rc < 0)
            goto error;
        p->topup[n] = batches[nbatches].topup;
        p->topup_os[n] = os;
        p->topup_surplus = batches[nbatches].surplus;
        nbatches++;
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
    for (unsigned c = 0; c < nbatches; c++)
        for (uint64_t h = 0; h < batches[c].npages; h++)
            refs[k++] = (struct hp_ref){.pfn = batches[c].pfn[h], .batch = c, .index = h};
    qsort(refs, p->nhugepages, sizeof(*refs), cmp_pfn);

    for (uint64_t i = 0; i < p->nhugepages; i++) {
        p->hp_pfn[i] = refs[i].pfn;
        p->hp_node[i] = (uint8_t)batches[refs[i].batch].node;
    }
    rc = reserve_span(p, err, errlen);
    if (rc < 0)
        goto error;
    rc = map_sorted(p, batches, refs, p->nhugepages, page_bytes, false, err, errlen);
    if (rc < 0)
        goto error;
    /* The mappings hold the memfds open. */
    for (unsigned c = 0; c < nbatches; c++)
        _mmc_os_batch_release(&batches[c]);
    free(refs);
    return 0;

error:
    free(refs);
    _mmc_os_unmap(p->rw, p->view_bytes);
    _mmc_os_unmap(p->rwx, p->view_bytes);
    p->rw = p->rwx = NULL;
    free(p->present);
    free(p->slot_node);
    p->present = NULL;
    p->slot_node = NULL;
    for (unsigned c = 0; c < nbatches; c++)
        _mmc_os_batch_release(&batches[c]);
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
    p->hp_pfn = malloc(nhugepages * sizeof(*p->hp_pfn));
    p->hp_node = malloc(nhugepages * sizeof(*p->hp_node));
    if (!p->hp_pfn || !p->hp_node) {
        snprintf(err, errlen, "out of memory for a simulated pool's tables");
        _mmc_pool_destroy(p);
        return -ENOMEM;
    }
    memcpy(p->hp_pfn, hp_pfn, nhugepages * sizeof(*p->hp_pfn));
    memcpy(p->hp_node, hp_node, nhugepages * sizeof(*p->hp_node));
    /* The layout's own span; address space only (PROT_NONE, MAP_NORESERVE): a 1 TiB layout
     * costs no memory. Every hugepage counts as present (nothing is mapped, nothing may be
     * touched). */
    set_span(p, hp_pfn[0], hp_pfn[nhugepages - 1] + (page_bytes >> MMC_FRAME_SHIFT));
    int rc = reserve_views(p, err, errlen);
    if (rc < 0) {
        _mmc_pool_destroy(p);
        return rc;
    }
    for (uint64_t h = 0; h < nhugepages; h++)
        mark_present(p, hp_pfn[h], page_bytes >> MMC_FRAME_SHIFT, true, hp_node[h]);
    return 0;
}

int _mmc_pool_grow(struct mmc_pool *p, unsigned node, unsigned os_index, uint64_t page_bytes,
                   uint64_t npages, bool allow_topup, uint64_t **pfn, uint8_t **nodes, char *err,
                   size_t errlen)
{
    *pfn = NULL;
    *nodes = NULL;
    if (p->simulated) {
        snprintf(err, errlen, "a simulated pool has no kernel to take hugepages from");
        return -EOPNOTSUPP;
    }
    if (page_bytes < p->page_bytes || page_bytes % p->page_bytes) {
        snprintf(err, errlen, "a pool of %llu MiB hugepages cannot take %llu MiB ones",
                 (unsigned long long)(p->page_bytes >> 20), (unsigned long long)(page_bytes >> 20));
        return -EINVAL;
    }
    if (_mmc_os_fault(MMC_FAULT_GROW)) {
        snprintf(err, errlen, "the kernel gave no hugepage (MMC_FAULT=grow_refused)");
        return -ENOMEM;
    }
    struct mmc_os_batch c;
    int rc = _mmc_os_take_hugepages(&c, node, os_index, page_bytes, npages, allow_topup, err, errlen);
    if (rc < 0)
        return rc;
    const uint64_t per = page_bytes / p->page_bytes; /* pool pages per page taken */
    struct hp_ref *refs = malloc(npages * sizeof(*refs));
    *pfn = malloc(npages * per * sizeof(**pfn));
    *nodes = malloc(npages * per * sizeof(**nodes));
    if (!refs || !*pfn || !*nodes) {
        snprintf(err, errlen, "out of memory for the growth's tables");
        rc = -ENOMEM;
        goto fail;
    }
    for (uint64_t h = 0; h < npages; h++)
        refs[h] = (struct hp_ref){.pfn = c.pfn[h], .batch = 0, .index = h};
    qsort(refs, npages, sizeof(*refs), cmp_pfn);
    rc = map_sorted(p, &c, refs, npages, page_bytes, _mmc_os_fault(MMC_FAULT_GROW_MAP), err, errlen);
    if (rc < 0)
        goto fail;
    for (uint64_t h = 0; h < npages; h++) {
        for (uint64_t k = 0; k < per; k++) { /* in the pool's own hugepages */
            (*pfn)[h * per + k] = refs[h].pfn + k * (p->page_bytes >> MMC_FRAME_SHIFT);
            (*nodes)[h * per + k] = (uint8_t)node;
        }
    }
    if (page_bytes == p->page_bytes) {
        p->topup[node] += c.topup;
        if (c.topup)
            p->topup_surplus = c.surplus;
    } else {
        p->topup_gib[node] += c.topup; /* 1 GiB pages: nr_hugepages, never surplus */
    }
    p->topup_os[node] = os_index;
    p->hugepages_added += npages * per;
    free(refs);
    _mmc_os_batch_release(&c); /* the mappings hold the memfd */
    return 0;
fail:
    free(refs);
    free(*pfn);
    free(*nodes);
    *pfn = NULL;
    *nodes = NULL;
    _mmc_os_batch_release(&c); /* the pages go with the memfd, then the raise */
    if (c.topup)
        _mmc_os_hugepages_giveback((int)os_index, page_bytes, c.topup, c.surplus);
    return rc;
}

void _mmc_pool_destroy(struct mmc_pool *p)
{
    /* Unmap first: the hugepages return to the kernel's free pool when the last mapping of the
     * memfd goes; only then can nr_hugepages shrink by what we added. */
    _mmc_os_unmap(p->rw, p->view_bytes);
    _mmc_os_unmap(p->rwx, p->view_bytes);
    _mmc_pool_giveback_topup(p);
    free(p->hp_pfn);
    free(p->hp_node);
    free(p->present);
    free(p->slot_node);
    memset(p, 0, sizeof(*p));
}
