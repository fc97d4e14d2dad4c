/* alloc/nt.c: the NT contiguous-memory routines and address translation.
 *
 * Owns the argument rules of the contiguous family (../docs/ARCHITECTURE.md, "NT semantics"):
 * every routine funnels into contig() with Windows' arguments decoded into a struct mmc_search,
 * a node order and a view; contig() returns an NTSTATUS and the NULL-returning routines map
 * failure to NULL. Argument errors are decided before any lock is taken and never touch the
 * frame database.
 */
#include <string.h>

#include "internal.h"
#include "mmcontig/wdm.h"

#define PROTECT_MODIFIERS (PAGE_NOCACHE | PAGE_WRITECOMBINE)

/* Protect accepted by NodeMemory and Ex: exactly one of PAGE_READWRITE / PAGE_EXECUTE_READWRITE,
 * with at most one of PAGE_NOCACHE / PAGE_WRITECOMBINE, and no modifier with EXECUTE. */
static bool protect_valid(ULONG protect)
{
    ULONG base = protect & ~(ULONG)PROTECT_MODIFIERS, mods = protect & PROTECT_MODIFIERS;
    if (mods == PROTECT_MODIFIERS)
        return false;
    if (base == PAGE_READWRITE)
        return true;
    return base == PAGE_EXECUTE_READWRITE && mods == 0;
}

static int cache_of_protect(ULONG protect)
{
    if (protect & PAGE_NOCACHE)
        return MmNonCached;
    if (protect & PAGE_WRITECOMBINE)
        return MmWriteCombined;
    return MmCached;
}

static bool cache_valid(MEMORY_CACHING_TYPE c)
{
    return (int)c >= MmNonCached && (int)c < MmMaximumCacheType;
}

/* SpecifyCache routines: MmCached -> executable RW; MmWriteCombined -> RW|WRITECOMBINE;
 * anything else -> RW|NOCACHE. */
static ULONG protect_of_cache(MEMORY_CACHING_TYPE c)
{
    if (c == MmCached)
        return PAGE_EXECUTE_READWRITE;
    if (c == MmWriteCombined)
        return PAGE_READWRITE | PAGE_WRITECOMBINE;
    return PAGE_READWRITE | PAGE_NOCACHE;
}

struct contig_args {
    const char *routine;
    SIZE_T bytes;               /* as given */
    uint64_t lowest, highest, boundary; /* as given (unsigned) */
    ULONG node;                 /* node number or MM_ANY_NODE_OK */
    bool node_strict;           /* NodeMemory / SpecifyCacheNode */
    ULONG protect;              /* validated */
    int cache_type;             /* recorded */
    void *partition;            /* PartitionObject (NULL: system) */
    ULONG tag;
    bool fast_only;
};

/* Decode, validate, search. STATUS_SUCCESS and *base, or an error status. */
static NTSTATUS contig(const struct contig_args *a, PVOID *base)
{
    _mmc_clear_error(); /* the last error is this call's */
    *base = NULL;
    if (a->bytes == 0 || a->bytes > SIZE_MAX - (PAGE_SIZE - 1))
        return STATUS_INVALID_PARAMETER;
    if (a->boundary & (PAGE_SIZE - 1))
        return STATUS_INVALID_PARAMETER;
    if (a->boundary & (a->boundary - 1))
        return STATUS_INVALID_PARAMETER;
    if (!protect_valid(a->protect))
        return STATUS_INVALID_PARAMETER;
    if (!a->partition && _mmc_ensure_init() < 0) /* a PartitionObject exists without init */
        return STATUS_INSUFFICIENT_RESOURCES;

    _mmc_read_enter();
    NTSTATUS st = STATUS_INSUFFICIENT_RESOURCES;
    struct mmc_partition *part = _mmc_partition_from_handle_locked(a->partition);
    if (!part || (a->node != MM_ANY_NODE_OK &&
                  a->node >= _mmc_partition_nnodes(part))) {
        st = STATUS_INVALID_PARAMETER;
        goto out;
    }
    const uint64_t frames = (a->bytes + PAGE_SIZE - 1) >> PAGE_SHIFT;
    if (a->boundary && a->boundary < (uint64_t)frames << PAGE_SHIFT)
        goto out; /* no block of this size can avoid crossing: no memory */
    struct mmc_search rq = {
        .frames = frames,
        .lowest_pfn = (a->lowest + PAGE_SIZE - 1) >> PAGE_SHIFT, /* rounded up to a page */
        .highest_pfn = a->highest >> PAGE_SHIFT,                 /* its page is usable in full */
        .boundary_frames = a->boundary >> PAGE_SHIFT,
        .max_work = a->fast_only ? MMC_WORK_ENGINE_BOUND : 0, /* the engine's bound, read under
                                                                   the partition's lock */
        .trade = !a->fast_only, /* FAST_ONLY never trades */
    };
    if (a->lowest > UINT64_MAX - (PAGE_SIZE - 1) || rq.lowest_pfn > rq.highest_pfn ||
        rq.highest_pfn - rq.lowest_pfn < frames - 1)
        goto out; /* empty range, or Lowest + size overflows past Highest */
    unsigned order[MMC_MAX_NODES];
    const bool any = a->node == MM_ANY_NODE_OK;
    unsigned n = _mmc_partition_node_order(part, any ? _mmc_partition_here(part) : a->node,
                                           a->node_strict && !any, order);
    bool exec = (a->protect & ~(ULONG)PROTECT_MODIFIERS) == PAGE_EXECUTE_READWRITE;
    *base = _mmc_partition_alloc_contig(part, &rq, order, n, exec, a->cache_type, a->protect, a->tag);
    st = *base ? STATUS_SUCCESS : STATUS_INSUFFICIENT_RESOURCES;
out:
    _mmc_read_exit();
    return st;
}

MMC_API NTSTATUS MmAllocateContiguousMemoryEx(PSIZE_T NumberOfBytes, PHYSICAL_ADDRESS LowestAcceptableAddress,
                                              PHYSICAL_ADDRESS HighestAcceptableAddress,
                                              PHYSICAL_ADDRESS BoundaryAddressMultiple,
                                              NODE_REQUIREMENT PreferredNode, ULONG Protect,
                                              PVOID PartitionObject, ULONG Tag, ULONG Flags,
                                              PVOID *BaseAddress)
{
    if (!BaseAddress)
        return STATUS_INVALID_PARAMETER;
    *BaseAddress = NULL;
    if (!NumberOfBytes || (Flags & ~(ULONG)MM_ALLOCATE_CONTIGUOUS_MEMORY_FAST_ONLY) || Tag == 0)
        return STATUS_INVALID_PARAMETER;
    if (*NumberOfBytes && *NumberOfBytes <= SIZE_MAX - (PAGE_SIZE - 1))
        *NumberOfBytes = (*NumberOfBytes + PAGE_SIZE - 1) & ~(SIZE_T)(PAGE_SIZE - 1);
    struct contig_args a = {
        .routine = __func__,
        .bytes = *NumberOfBytes,
        .lowest = (uint64_t)LowestAcceptableAddress.QuadPart,
        .highest = (uint64_t)HighestAcceptableAddress.QuadPart,
        .boundary = (uint64_t)BoundaryAddressMultiple.QuadPart,
        .node = PreferredNode,
        .protect = Protect,
        .cache_type = cache_of_protect(Protect),
        .partition = PartitionObject,
        .tag = Tag,
        .fast_only = Flags & MM_ALLOCATE_CONTIGUOUS_MEMORY_FAST_ONLY,
    };
    return contig(&a, BaseAddress);
}

MMC_API PVOID MmAllocateContiguousNodeMemory(SIZE_T NumberOfBytes, PHYSICAL_ADDRESS LowestAcceptableAddress,
                                             PHYSICAL_ADDRESS HighestAcceptableAddress,
                                             PHYSICAL_ADDRESS BoundaryAddressMultiple, ULONG Protect,
                                             NODE_REQUIREMENT PreferredNode)
{
    PVOID base;
    struct contig_args a = {
        .routine = __func__,
        .bytes = NumberOfBytes,
        .lowest = (uint64_t)LowestAcceptableAddress.QuadPart,
        .highest = (uint64_t)HighestAcceptableAddress.QuadPart,
        .boundary = (uint64_t)BoundaryAddressMultiple.QuadPart,
        .node = PreferredNode,
        .node_strict = true,
        .protect = Protect,
        .cache_type = cache_of_protect(Protect),
    };
    return contig(&a, &base) == STATUS_SUCCESS ? base : NULL;
}

MMC_API PVOID MmAllocateContiguousMemorySpecifyCacheNode(SIZE_T NumberOfBytes,
                                                         PHYSICAL_ADDRESS LowestAcceptableAddress,
                                                         PHYSICAL_ADDRESS HighestAcceptableAddress,
                                                         PHYSICAL_ADDRESS BoundaryAddressMultiple,
                                                         MEMORY_CACHING_TYPE CacheType,
                                                         NODE_REQUIREMENT PreferredNode)
{
    PVOID base;
    if (!cache_valid(CacheType))
        return NULL;
    struct contig_args a = {
        .routine = __func__,
        .bytes = NumberOfBytes,
        .lowest = (uint64_t)LowestAcceptableAddress.QuadPart,
        .highest = (uint64_t)HighestAcceptableAddress.QuadPart,
        .boundary = (uint64_t)BoundaryAddressMultiple.QuadPart,
        .node = PreferredNode,
        .node_strict = true,
        .protect = protect_of_cache(CacheType),
        .cache_type = CacheType,
    };
    return contig(&a, &base) == STATUS_SUCCESS ? base : NULL;
}

MMC_API PVOID MmAllocateContiguousMemorySpecifyCache(SIZE_T NumberOfBytes,
                                                     PHYSICAL_ADDRESS LowestAcceptableAddress,
                                                     PHYSICAL_ADDRESS HighestAcceptableAddress,
                                                     PHYSICAL_ADDRESS BoundaryAddressMultiple,
                                                     MEMORY_CACHING_TYPE CacheType)
{
    PVOID base;
    if (!cache_valid(CacheType))
        return NULL;
    /* Not a node routine: the calling thread's node first, then the others nearest first. */
    struct contig_args a = {
        .routine = __func__,
        .bytes = NumberOfBytes,
        .lowest = (uint64_t)LowestAcceptableAddress.QuadPart,
        .highest = (uint64_t)HighestAcceptableAddress.QuadPart,
        .boundary = (uint64_t)BoundaryAddressMultiple.QuadPart,
        .node = MM_ANY_NODE_OK,
        .protect = protect_of_cache(CacheType),
        .cache_type = CacheType,
    };
    return contig(&a, &base) == STATUS_SUCCESS ? base : NULL;
}

MMC_API PVOID MmAllocateContiguousMemory(SIZE_T NumberOfBytes, PHYSICAL_ADDRESS HighestAcceptableAddress)
{
    PHYSICAL_ADDRESS zero = {.QuadPart = 0};
    return MmAllocateContiguousMemorySpecifyCache(NumberOfBytes, zero, HighestAcceptableAddress, zero,
                                                  MmCached);
}

MMC_API VOID MmFreeContiguousMemory(PVOID BaseAddress)
{
    _mmc_partition_free_contig("MmFreeContiguousMemory", BaseAddress);
}

MMC_API VOID MmFreeContiguousMemorySpecifyCache(PVOID BaseAddress, SIZE_T NumberOfBytes,
                                                MEMORY_CACHING_TYPE CacheType)
{
    (void)NumberOfBytes, (void)CacheType; /* ignored, as on Windows */
    _mmc_partition_free_contig("MmFreeContiguousMemorySpecifyCache", BaseAddress);
}

MMC_API PHYSICAL_ADDRESS MmGetPhysicalAddress(PVOID BaseAddress)
{
    PHYSICAL_ADDRESS pa = {.QuadPart = 0};
    bool exec;
    { /* not only after init: simulated partitions exist without it */
        _mmc_read_enter();
        struct mmc_partition *p = _mmc_partition_of_va_locked(BaseAddress, &exec);
        if (p) { /* the views are addressed by physical address: arithmetic, if mapped there */
            uint64_t off = (uint64_t)((char *)BaseAddress - (exec ? p->pool.rwx : p->pool.rw));
            uint64_t pfn = p->pool.span_pfn + (off >> PAGE_SHIFT);
            if (_mmc_pool_present(&p->pool, pfn))
                pa.QuadPart = (LONGLONG)((pfn << PAGE_SHIFT) | (off & (PAGE_SIZE - 1)));
        }
        _mmc_read_exit();
        if (p)
            return pa;
    }
    uint64_t phys = 0;
    if (_mmc_os_virt_to_phys(BaseAddress, &phys) == 0)
        pa.QuadPart = (LONGLONG)phys;
    return pa;
}

MMC_API PVOID MmGetVirtualForPhysical(PHYSICAL_ADDRESS PhysicalAddress)
{
    char *va = NULL;
    if (!__atomic_load_n(&_mmc_g.initialised, __ATOMIC_ACQUIRE))
        return NULL;
    uint64_t pa = (uint64_t)PhysicalAddress.QuadPart;
    _mmc_read_enter();
    for (struct mmc_partition *p = _mmc_g.partitions; p && !va; p = p->next) {
        const uint64_t pfn = pa >> PAGE_SHIFT;
        if (p->pool.simulated || pfn - p->pool.span_pfn >= p->pool.span_frames) /* simulated PFNs
                                                                        are not the machine's */
            continue;
        _mmc_partition_lock(p);
        int64_t i = _mmc_frames_index_of_pfn(&p->frames, pfn);
        /* the view its block was made in (frames of no block: the read-write view) */
        bool exec = i >= 0 && mmc_frame_state(&p->frames, (uint64_t)i) == MMC_FRAME_CONTIG &&
                    mmc_frame_bit(&p->frames, MMC_PLANE_EXEC, _mmc_frames_block_head(&p->frames, (uint64_t)i));
        _mmc_partition_unlock(p);
        if (i >= 0)
            va = _mmc_pool_va(&p->pool, pfn, exec) + (pa & (PAGE_SIZE - 1));
    }
    _mmc_read_exit();
    return va;
}
