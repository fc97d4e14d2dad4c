/* alloc/mdl.c: MmAllocatePagesForMdl(Ex), MmFreePagesFromMdl, ExFreePool.
 *
 * Owns the MDLs: each is allocated with a hidden header in front of the Windows-layout MDL
 * (magic, owning partition, capacity of the PFN array), so that a foreign pointer, an MDL freed
 * twice or an MDL whose partition is gone are recognised. The PFN array always has room for one
 * MM_EMPTY_LIST terminator after the pages found.
 *
 * Placement: in each window [Low + k*Skip, High + k*Skip], the nodes in order (the calling
 * thread's first), by the partition's policy (load.c): plain takes the lowest free frames,
 * leaving high memory to the top-down contiguous search; clustered (the partition's policy, or
 * MM_ALLOCATE_PREFER_CONTIGUOUS) packs them into already-broken pageblocks.
 * REQUIRE_CONTIGUOUS_CHUNKS asks the search engine for each chunk instead. MDLs never trade.
 * Pages are zeroed after the partition lock is dropped: they are already ours.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mmcontig/wdm.h"

#define MDL_MAGIC 0x4d4d434d444c2121ull /* "MMCMDL!!" */
#define MDL_DEAD 0x4d4d434d444c4445ull  /* after ExFreePool */
#define MDL_MAX_BYTES (4ull * MMC_GIB - PAGE_SIZE) /* ByteCount is a ULONG */
#define KNOWN_FLAGS 0x1ffu /* MM_DONT_ZERO_ALLOCATION .. MM_ALLOCATE_AND_HOT_REMOVE */

struct mdl_hdr {
    uint64_t magic;                 /* MDL_MAGIC while alive */
    struct mmc_partition *part;     /* the partition its pages come from */
    uint64_t capacity;              /* PFN entries allocated, terminator included */
    uint64_t pages;                 /* pages it was given; keeps the MDL 16-byte aligned */
    /* behind the MDL's PFN array (capacity entries): a private copy of the PFNs it was given,
     * so that MmFreePagesFromMdl frees exactly those (a PFN repeated, or of another MDL, in
     * the array the caller can write is misuse) */
};

static struct mdl_hdr *hdr_of(PMDL mdl) { return (struct mdl_hdr *)mdl - 1; }

/* ---- the live MDLs ----
 * ExFreePool and MmFreePagesFromMdl look a pointer up here before they touch the memory behind
 * it, so a foreign pointer, or an MDL freed already, is recognised without reading memory that
 * is not ours (freed, or not even mapped). The last REG_DEAD freed ones are remembered to name
 * a double free as such. reg_lock is never held while taking another lock. */
#define REG_DEAD 256
static struct mmc_mutex reg_lock = {.m = PTHREAD_MUTEX_INITIALIZER};
static uintptr_t *reg;                  /* open addressing, 0 = empty */
static size_t reg_cap, reg_n;
static uintptr_t reg_dead[REG_DEAD];
static unsigned reg_dead_next;

static size_t reg_home(uintptr_t p, size_t cap)
{
    uint64_t k = p;
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return (size_t)k & (cap - 1);
}

/* Slot of p, or -1. reg_lock held. */
static long reg_find(uintptr_t p)
{
    _mmc_check(_mmc_mutex_held(&reg_lock));
    if (!reg_cap)
        return -1;
    for (size_t i = reg_home(p, reg_cap);; i = (i + 1) & (reg_cap - 1)) {
        if (!reg[i])
            return -1;
        if (reg[i] == p)
            return (long)i;
    }
}

static int reg_add(uintptr_t p)
{
    _mmc_mutex_lock(&reg_lock);
    if ((reg_n + 1) * 2 > reg_cap) { /* load <= 50% */
        size_t ncap = reg_cap ? reg_cap * 2 : 256;
        uintptr_t *nr = calloc(ncap, sizeof(*nr));
        if (!nr) {
            _mmc_mutex_unlock(&reg_lock);
            return -ENOMEM;
        }
        for (size_t i = 0; i < reg_cap; i++) {
            if (!reg[i])
                continue;
            size_t j = reg_home(reg[i], ncap);
            while (nr[j])
                j = (j + 1) & (ncap - 1);
            nr[j] = reg[i];
        }
        free(reg);
        reg = nr;
        reg_cap = ncap;
    }
    size_t j = reg_home(p, reg_cap);
    while (reg[j])
        j = (j + 1) & (reg_cap - 1);
    reg[j] = p;
    reg_n++;
    for (unsigned k = 0; k < REG_DEAD; k++) /* its address is live again */
        if (reg_dead[k] == p)
            reg_dead[k] = 0;
    _mmc_mutex_unlock(&reg_lock);
    return 0;
}

/* Remove slot i (backward shift, no tombstones). reg_lock held. */
static void reg_remove(size_t i, bool freed)
{
    _mmc_check(_mmc_mutex_held(&reg_lock));
    if (freed) {
        reg_dead[reg_dead_next] = reg[i];
        reg_dead_next = (reg_dead_next + 1) % REG_DEAD;
    }
    const size_t mask = reg_cap - 1;
    reg[i] = 0;
    for (size_t j = i;;) {
        j = (j + 1) & mask;
        if (!reg[j])
            break;
        size_t home = reg_home(reg[j], reg_cap);
        if (((j - home) & mask) >= ((j - i) & mask)) {
            reg[i] = reg[j];
            reg[j] = 0;
            i = j;
        }
    }
    reg_n--;
}

static void reg_del(uintptr_t p)
{
    _mmc_mutex_lock(&reg_lock);
    long i = reg_find(p);
    if (i >= 0)
        reg_remove((size_t)i, false);
    _mmc_mutex_unlock(&reg_lock);
}

/* Why p is not a live MDL. reg_lock held. */
static const char *reg_why_not(uintptr_t p)
{
    _mmc_check(_mmc_mutex_held(&reg_lock));
    for (unsigned k = 0; k < REG_DEAD; k++)
        if (reg_dead[k] == p)
            return "this MDL was freed with ExFreePool already";
    return "not an MDL from MmAllocatePagesForMdl(Ex) (or freed with ExFreePool already)";
}

/* Take up to want free frames of `node` with PFN in [lo, hi] by the placement policy, as MDL
 * pages; their PFNs go to pfns[]. Returns how many. Partition lock held. */
static uint64_t take_scattered(struct mmc_partition *part, unsigned node, uint64_t lo, uint64_t hi,
                               uint64_t want, bool clustered, PPFN_NUMBER pfns)
{
    _mmc_check(_mmc_mutex_held(&part->lock));
    /* the frame indices are written into pfns[] first, then turned into PFNs in place */
    uint64_t got = _mmc_place_frames(part, node, lo, hi, want, clustered, 0, 0, MMC_FRAME_MDL,
                                     (uint64_t *)pfns);
    for (uint64_t k = 0; k < got; k++)
        pfns[k] = mmc_frame_pfn(&part->frames, pfns[k]);
    return got;
}

/* Give back frames listed in pfns[0..n) (all MDL-held, validated). Partition lock held. */
static void give_frames(struct mmc_partition *part, const PFN_NUMBER *pfns, uint64_t n)
{
    _mmc_check(_mmc_mutex_held(&part->lock));
    struct mmc_frames *f = &part->frames;
    for (uint64_t k = 0; k < n;) {
        int64_t i = _mmc_frames_index_of_pfn(f, pfns[k]);
        uint64_t len = 1; /* extend over consecutive PFNs in one run */
        const struct mmc_run *run = mmc_frame_run(f, (uint64_t)i);
        while (k + len < n && pfns[k + len] == pfns[k] + len &&
               (uint64_t)i + len < run->first_frame + run->frames)
            len++;
        _mmc_frames_set(f, (uint64_t)i, len, MMC_FRAME_FREE);
        part->engine->give(part->engine_state, (uint64_t)i, len);
        k += len;
    }
}

/* An MDL request, its arguments decoded and checked. */
struct mdl_req {
    uint64_t lo_pfn, hi_pfn;    /* the first window's pages, [lo_pfn, hi_pfn] */
    uint64_t skip_frames;       /* SkipBytes in frames (0: one window) */
    uint64_t want;              /* pages asked for */
    uint64_t chunk_frames;      /* REQUIRE_CONTIGUOUS_CHUNKS: each chunk's length, else 0 */
    bool fully, chunks;
};

/* Check the arguments of mmc_allocate_pages_for_mdl and decode them into *r. 0, or -EINVAL
 * with the last error naming the argument. */
static int mdl_args(int64_t low_address, int64_t high_address, int64_t skip_bytes,
                    uint64_t total_bytes, int cache_type, uint32_t flags, struct mdl_req *r)
{
    const uint64_t low = (uint64_t)low_address, high = (uint64_t)high_address;
    const uint64_t skip = (uint64_t)skip_bytes;
    r->fully = flags & MM_ALLOCATE_FULLY_REQUIRED;
    r->chunks = flags & MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS;
#define REJECT(...) return (_mmc_set_error("mmc_allocate_pages_for_mdl: " __VA_ARGS__), -EINVAL)
    if (flags & ~KNOWN_FLAGS)
        REJECT("flags %#x has unknown bits %#x", flags, flags & ~KNOWN_FLAGS);
    if (flags & MM_ALLOCATE_AND_HOT_REMOVE)
        REJECT("flags: MM_ALLOCATE_AND_HOT_REMOVE is not possible from user space");
    if (cache_type < MmNonCached || cache_type >= MmMaximumCacheType)
        REJECT("cache type %d is not a MEMORY_CACHING_TYPE (0..%d)", cache_type, MmMaximumCacheType - 1);
    if (total_bytes == 0 || skip_bytes < 0 || (skip & (PAGE_SIZE - 1)))
        REJECT("%s", total_bytes == 0 ? "TotalBytes is 0"
                                      : "SkipBytes is not a non-negative multiple of the page size");
    if (total_bytes > MDL_MAX_BYTES) {
        if (r->fully)
            REJECT("TotalBytes above 4 GiB - PAGE_SIZE with MM_ALLOCATE_FULLY_REQUIRED");
        total_bytes = MDL_MAX_BYTES;
    }
    r->want = (total_bytes + PAGE_SIZE - 1) >> PAGE_SHIFT;
    r->chunk_frames = 0;
    if (r->chunks) {
        if (skip == 0) {
            r->chunk_frames = r->want; /* one block */
        } else {
            if (skip & (skip - 1) || ((uint64_t)r->want << PAGE_SHIFT) % skip)
                REJECT("MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS: SkipBytes must be a power of two "
                       "dividing TotalBytes");
            r->chunk_frames = skip >> PAGE_SHIFT;
        }
    }
    if (low > UINT64_MAX - (PAGE_SIZE - 1))
        REJECT("LowAddress %#llx holds no whole page", (unsigned long long)low);
    r->lo_pfn = (low + PAGE_SIZE - 1) >> PAGE_SHIFT;
    r->hi_pfn = high >> PAGE_SHIFT;
    r->skip_frames = skip >> PAGE_SHIFT;
    if (r->lo_pfn > r->hi_pfn)
        REJECT("LowAddress %#llx is above HighAddress %#llx", (unsigned long long)low,
               (unsigned long long)high);
#undef REJECT
    return 0;
}

/* Take the request's pages once, into pfns[got..): chunks by the engine, single pages window
 * by window and node by node. Returns the new count. Partition lock held. */
static uint64_t take_once(struct mmc_partition *part, const struct mdl_req *r, const unsigned *order,
                          unsigned nnodes, bool clustered, uint64_t got, PPFN_NUMBER pfns)
{
    _mmc_check(_mmc_mutex_held(&part->lock));
    const struct mmc_frames *f = &part->frames;
    const uint64_t top_pfn = f->runs[f->nruns - 1].base_pfn + f->runs[f->nruns - 1].frames - 1;
    if (r->chunks) {
        /* Each chunk chunk_frames long; with Skip it is Skip-aligned: a block as long as the
         * boundary that does not cross it starts on it. */
        struct mmc_search rq = {.frames = r->chunk_frames, .lowest_pfn = r->lo_pfn, .highest_pfn = r->hi_pfn,
                                .boundary_frames = r->skip_frames ? r->chunk_frames : 0};
        while (got < r->want) {
            uint64_t first = 0, work;
            int rc = -ENOMEM;
            for (unsigned k = 0; k < nnodes && rc < 0; k++) {
                rq.node_mask = 1ull << order[k];
                rc = part->engine->find(part->engine_state, &rq, &first, &work);
            }
            if (rc < 0)
                break;
            _mmc_frames_set(&part->frames, first, r->chunk_frames, MMC_FRAME_MDL);
            part->engine->take(part->engine_state, first, r->chunk_frames);
            for (uint64_t j = 0; j < r->chunk_frames; j++)
                pfns[got++] = mmc_frame_pfn(f, first + j);
        }
        return got;
    }
    for (uint64_t k = 0; got < r->want; k++) {
        /* window k: [lo + k*skip, hi + k*skip], while it starts inside the pool */
        const uint64_t step = k * r->skip_frames;
        if (k && (r->skip_frames == 0 || r->lo_pfn + step > top_pfn || step > UINT64_MAX - r->hi_pfn))
            break;
        for (unsigned j = 0; j < nnodes && got < r->want; j++)
            got += take_scattered(part, order[j], r->lo_pfn + step, r->hi_pfn + step, r->want - got,
                                  clustered, pfns + got);
    }
    return got;
}

/* Zero the pages, a physically contiguous stretch at a time, through the read-write view (by
 * physical address: the views never move, the frame database may grow). */
static void zero_pages(const struct mmc_partition *part, const PFN_NUMBER *pfns, uint64_t got)
{
    for (uint64_t k = 0; k < got;) {
        uint64_t len = 1;
        while (k + len < got && pfns[k + len] == pfns[k] + len)
            len++;
        memset(_mmc_pool_va(&part->pool, pfns[k], false), 0, len << PAGE_SHIFT);
        k += len;
    }
}

MMC_API struct _MDL *mmc_allocate_pages_for_mdl(mmc_partition_t *handle, int64_t low_address,
                                                int64_t high_address, int64_t skip_bytes,
                                                uint64_t total_bytes, int cache_type, uint32_t flags)
{
    _mmc_clear_error(); /* the last error is this call's */
    struct mdl_req r;
    if (mdl_args(low_address, high_address, skip_bytes, total_bytes, cache_type, flags, &r) < 0)
        return NULL;
    if (!handle && _mmc_ensure_init() < 0) /* a PartitionObject exists without init */
        return NULL;
    const uint64_t want = r.want;
    struct mdl_hdr *h = malloc(sizeof(*h) + sizeof(MDL) + (2 * want + 1) * sizeof(PFN_NUMBER));
    if (!h)
        return NULL;
    PMDL mdl = (PMDL)(h + 1);
    if (reg_add((uintptr_t)mdl) < 0) {
        free(h);
        return NULL;
    }
    PPFN_NUMBER pfns = MmGetMdlPfnArray(mdl);
    uint64_t got = 0;

    _mmc_read_enter();
    struct mmc_partition *part = _mmc_partition_from_handle_locked(handle);
    if (!part) {
        _mmc_read_exit();
        reg_del((uintptr_t)mdl);
        free(h);
        _mmc_set_error("mmc_allocate_pages_for_mdl: %p is not a live partition", (void *)handle);
        return NULL;
    }
    unsigned order[MMC_MAX_NODES];
    const unsigned nnodes = _mmc_partition_node_order(part, _mmc_partition_here(part),
                                                      flags & MM_ALLOCATE_FROM_LOCAL_NODE_ONLY, order);
    _mmc_partition_lock(part);
    part->st.mdl_calls++;
    const bool clustered = (flags & MM_ALLOCATE_PREFER_CONTIGUOUS) || part->placement == MMC_PLACE_CLUSTERED;
    /* Short: grow the pool once (MM_ALLOCATE_NO_WAIT must not block: never) and take again. */
    const bool may_grow = !(flags & MM_ALLOCATE_NO_WAIT) && !_mmc_partition_no_growth(part);
    for (unsigned attempt = 0;; attempt++) {
        got = take_once(part, &r, order, nnodes, clustered, got, pfns);
        if (got >= want || attempt == 1 || !may_grow)
            break;
        const uint64_t hpf = part->frames.hp_frames;
        const uint64_t npages = (want - got + hpf - 1) / hpf + (r.chunks ? 1 : 0);
        bool grown = false;
        for (unsigned k = 0; k < nnodes && !grown; k++)
            grown = _mmc_partition_grow_locked(part, order[k], part->pool.page_bytes, npages) == 0;
        if (!grown)
            break;
    }
    if (got == 0 || (r.fully && got < want)) {
        give_frames(part, pfns, got);
        _mmc_partition_unlock(part);
        _mmc_read_exit();
        reg_del((uintptr_t)mdl);
        free(h);
        return NULL;
    }
    const bool zero = !(flags & MM_DONT_ZERO_ALLOCATION) && !part->pool.simulated; /* no memory */
    _mmc_partition_unlock(part);
    if (zero)
        zero_pages(part, pfns, got);
    _mmc_read_exit();

    pfns[got] = MM_EMPTY_LIST;
    h->magic = MDL_MAGIC;
    h->part = part;
    h->capacity = want + 1;
    h->pages = got;
    memcpy(pfns + h->capacity, pfns, got * sizeof(*pfns));
    memset(mdl, 0, sizeof(*mdl));
    mdl->Size = (CSHORT)(sizeof(MDL) + got * sizeof(PFN_NUMBER)); /* wraps for large MDLs */
    mdl->MdlFlags = MDL_PAGES_LOCKED;
    mdl->ByteCount = (ULONG)(got << PAGE_SHIFT);
    return mdl;
}

MMC_API PMDL MmAllocatePagesForMdlEx(PHYSICAL_ADDRESS LowAddress, PHYSICAL_ADDRESS HighAddress,
                                     PHYSICAL_ADDRESS SkipBytes, SIZE_T TotalBytes,
                                     MEMORY_CACHING_TYPE CacheType, ULONG Flags)
{
    return mmc_allocate_pages_for_mdl(NULL, LowAddress.QuadPart, HighAddress.QuadPart,
                                      SkipBytes.QuadPart, TotalBytes, CacheType, Flags);
}

MMC_API PMDL MmAllocatePagesForMdl(PHYSICAL_ADDRESS LowAddress, PHYSICAL_ADDRESS HighAddress,
                                   PHYSICAL_ADDRESS SkipBytes, SIZE_T TotalBytes)
{
    return MmAllocatePagesForMdlEx(LowAddress, HighAddress, SkipBytes, TotalBytes, MmCached, 0);
}

/* Is mdl a live MDL of ours? Misuse reported if not. Reads nothing behind a pointer that is
 * not registered. */
static bool mdl_check(const char *routine, PMDL mdl)
{
    if (!mdl) {
        _mmc_misuse(NULL, routine, mdl, "NULL is not an MDL");
        return false;
    }
    _mmc_mutex_lock(&reg_lock);
    bool live = reg_find((uintptr_t)mdl) >= 0;
    const char *why = live ? NULL : reg_why_not((uintptr_t)mdl);
    _mmc_mutex_unlock(&reg_lock);
    if (live && hdr_of(mdl)->magic != MDL_MAGIC)
        why = "its hidden header was overwritten (a write before the MDL)";
    if (!why)
        return true;
    _mmc_misuse(NULL, routine, mdl, "%s", why);
    return false;
}

MMC_API VOID MmFreePagesFromMdl(PMDL MemoryDescriptorList)
{
    static const char routine[] = "MmFreePagesFromMdl";
    PMDL mdl = MemoryDescriptorList;
    if (!mdl_check(routine, mdl))
        return;
    if (!(mdl->MdlFlags & MDL_PAGES_LOCKED)) {
        _mmc_misuse(NULL, routine, mdl, "its pages were freed already (MDL_PAGES_LOCKED is clear)");
        return;
    }
    struct mdl_hdr *h = hdr_of(mdl);
    PPFN_NUMBER pfns = MmGetMdlPfnArray(mdl);
    uint64_t n = 0, limit = mdl->ByteCount >> PAGE_SHIFT;
    if (limit > h->capacity)
        limit = h->capacity;
    while (n < limit && pfns[n] != MM_EMPTY_LIST)
        n++;

    _mmc_read_enter();
    struct mmc_partition *part = _mmc_partition_from_handle_locked(h->part);
    if (!part || part != h->part) {
        _mmc_read_exit();
        _mmc_misuse(NULL, routine, mdl, "the partition its pages came from was destroyed");
        return;
    }
    _mmc_partition_lock(part);
    const PFN_NUMBER *given = pfns + h->capacity; /* the PFNs this MDL was given */
    for (uint64_t k = 0; k < n; k++) { /* validate all before freeing any */
        if (k < h->pages && pfns[k] == given[k])
            continue; /* its own frame, held since (an MDL frame is freed only through it) */
        int64_t i = _mmc_frames_index_of_pfn(&part->frames, pfns[k]);
        uint64_t j = 0; /* an earlier entry with the same PFN */
        while (j < k && pfns[j] != pfns[k])
            j++;
        char why[96];
        if (i < 0)
            snprintf(why, sizeof(why), "not in the MDL's partition");
        else if (mmc_frame_state(&part->frames, (uint64_t)i) != MMC_FRAME_MDL)
            snprintf(why, sizeof(why), "not held by an MDL (freed twice?)");
        else if (j < k)
            snprintf(why, sizeof(why), "a repeat of entry %llu (each page is freed once)",
                     (unsigned long long)j);
        else
            snprintf(why, sizeof(why), "held by another MDL, not this one (the entry was %#llx)",
                     (unsigned long long)(k < h->pages ? given[k] : 0));
        _mmc_partition_unlock(part);
        _mmc_read_exit();
        _mmc_misuse(part, routine, mdl, "PFN %#llx (entry %llu) is %s",
                    (unsigned long long)pfns[k], (unsigned long long)k, why);
        return;
    }
    give_frames(part, pfns, n);
    /* under the lock: a second free racing this one sees the pages gone, not someone's new */
    for (uint64_t k = 0; k < n; k++)
        pfns[k] = MM_EMPTY_LIST;
    mdl->MdlFlags &= (CSHORT)~MDL_PAGES_LOCKED;
    _mmc_partition_unlock(part);
    _mmc_read_exit();
}

MMC_API VOID ExFreePool(PVOID P)
{
    PMDL mdl = P;
    if (!mdl_check("ExFreePool", mdl))
        return;
    struct mdl_hdr *h = hdr_of(mdl);
    if (mdl->MdlFlags & MDL_PAGES_LOCKED) {
        /* still holding pages, unless its partition was destroyed (the pages went with it) */
        _mmc_read_enter();
        bool alive = _mmc_partition_from_handle_locked(h->part) == h->part;
        _mmc_read_exit();
        if (alive) {
            _mmc_misuse(NULL, "ExFreePool", mdl, "the MDL still holds its pages: call MmFreePagesFromMdl first");
            return;
        }
    }
    _mmc_mutex_lock(&reg_lock);
    long i = reg_find((uintptr_t)mdl);
    if (i >= 0)
        reg_remove((size_t)i, true);
    _mmc_mutex_unlock(&reg_lock);
    if (i < 0) { /* another thread freed it meanwhile */
        _mmc_misuse(NULL, "ExFreePool", mdl, "this MDL was freed with ExFreePool already");
        return;
    }
    h->magic = MDL_DEAD;
    free(h);
}
