/* tests/test_args.c: every argument rule of the NT routines, table-driven.
 *
 * Each row is one call with its expected outcome; after every rejected call the partition's
 * counts (free frames, live blocks, largest free stretch) must be unchanged, and every accepted
 * call's block is checked against pagemap for the property the row is about (range, boundary,
 * rounding, view).
 */
#include "common.h"
#include "mmcontig/wdm.h"

#include <setjmp.h>

enum kind { EX, NODE, CACHE, CACHE_NODE, PLAIN };
static const char *kind_name[] = {"Ex", "NodeMemory", "SpecifyCache", "SpecifyCacheNode", "Plain"};

#define OK STATUS_SUCCESS
#define INVAL STATUS_INVALID_PARAMETER
#define NOMEM STATUS_INSUFFICIENT_RESOURCES
#define ANY MM_ANY_NODE_OK
#define RW PAGE_READWRITE
#define RWX PAGE_EXECUTE_READWRITE
#define TOP (-1ll)

struct row {
    const char *what;
    enum kind kind;
    uint64_t bytes;
    int64_t lowest, highest, boundary; /* as passed; see fix-ups below for pool-relative */
    uint32_t node, protect;
    int cache;
    uint32_t tag, flags;
    int bogus_partition;
    NTSTATUS expect;                   /* non-Ex: OK means non-NULL, else NULL */
};

/* Pool-relative addresses: filled in main from the layout. */
static int64_t POOL_LO, POOL_HI; /* first byte of the pool's lowest frame, last byte of its highest */

static struct mmc_stats snap(void)
{
    struct mmc_stats s;
    mmc_partition_stats(NULL, &s);
    return s;
}

static bool same_state(const struct mmc_stats *a, const struct mmc_stats *b)
{
    return a->free_frames == b->free_frames && a->live_blocks == b->live_blocks &&
           a->largest_free_frames == b->largest_free_frames;
}

static NTSTATUS call(const struct row *r, void **out, SIZE_T *bytes_io)
{
    PHYSICAL_ADDRESS lo = {.QuadPart = r->lowest}, hi = {.QuadPart = r->highest},
                     b = {.QuadPart = r->boundary};
    static int bogus;
    *out = NULL;
    switch (r->kind) {
    case EX: {
        *bytes_io = r->bytes;
        void *base = (void *)0x1; /* must be set to NULL on entry */
        NTSTATUS s = MmAllocateContiguousMemoryEx(bytes_io, lo, hi, b, r->node, r->protect,
                                                  r->bogus_partition ? (void *)&bogus : NULL, r->tag,
                                                  r->flags, &base);
        *out = base;
        return s;
    }
    case NODE:
        *out = MmAllocateContiguousNodeMemory(r->bytes, lo, hi, b, r->protect, r->node);
        break;
    case CACHE:
        *out = MmAllocateContiguousMemorySpecifyCache(r->bytes, lo, hi, b, (MEMORY_CACHING_TYPE)r->cache);
        break;
    case CACHE_NODE:
        *out = MmAllocateContiguousMemorySpecifyCacheNode(r->bytes, lo, hi, b,
                                                          (MEMORY_CACHING_TYPE)r->cache, r->node);
        break;
    case PLAIN:
        *out = MmAllocateContiguousMemory(r->bytes, hi);
        break;
    }
    return *out ? OK : NOMEM;
}

int main(void)
{
    t_init_pool("64M");
    long nruns = mmc_partition_runs(NULL, NULL, 0);
    struct mmc_run_info *runs = calloc((size_t)nruns, sizeof(*runs));
    mmc_partition_runs(NULL, runs, (size_t)nruns);
    POOL_LO = (int64_t)(runs[0].base_pfn << 12);
    POOL_HI = (int64_t)((runs[nruns - 1].base_pfn + runs[nruns - 1].frames) << 12) - 1;
    unsigned nnodes = mmc_node_count();
    const uint64_t K = 4096, M = 1 << 20;

    const struct row rows[] = {
        /* sizes */
        {"size 0 (Ex)", EX, 0, 0, TOP, 0, 0, RW, 0, 'T', 0, 0, INVAL},
        {"size 0 (Node)", NODE, 0, 0, TOP, 0, 0, RW, 0, 0, 0, 0, NOMEM},
        {"size 0 (SpecifyCache)", CACHE, 0, 0, TOP, 0, 0, 0, MmCached, 0, 0, 0, NOMEM},
        {"size 0 (Plain)", PLAIN, 0, 0, TOP, 0, 0, 0, 0, 0, 0, 0, NOMEM},
        {"size 1 byte rounds to a page", EX, 1, 0, TOP, 0, 0, RW, 0, 'T', 0, 0, OK},
        {"size SIZE_MAX", EX, UINT64_MAX, 0, TOP, 0, 0, RW, 0, 'T', 0, 0, INVAL},
        {"size larger than the pool", EX, 128 * M, 0, TOP, 0, 0, RW, 0, 'T', 0, 0, NOMEM},
        /* boundary */
        {"boundary with low bits set", EX, K, 0, TOP, 0x1800, 0, RW, 0, 'T', 0, 0, INVAL},
        {"boundary 0x1001", NODE, K, 0, TOP, 0x1001, 0, RW, 0, 0, 0, 0, NOMEM},
        {"boundary not a power of two", EX, K, 0, TOP, 3 * 4096, 0, RW, 0, 'T', 0, 0, INVAL},
        {"boundary not a power of two (Cache)", CACHE, K, 0, TOP, 3 * 4096, 0, 0, MmCached, 0, 0, 0, NOMEM},
        {"boundary smaller than the size", EX, 2 * K, 0, TOP, 4096, 0, RW, 0, 'T', 0, 0, NOMEM},
        {"boundary equal to the size", EX, 16 * K, 0, TOP, 64 * 1024, 0, RW, 0, 'T', 0, 0, OK},
        {"boundary 2 MiB, size 1.5 MiB", EX, 3 * M / 2, 0, TOP, 2 * 1024 * 1024, 0, RW, 0, 'T', 0, 0, OK},
        /* range */
        {"lowest > highest", EX, K, 0x200000, 0x100000, 0, 0, RW, 0, 'T', 0, 0, NOMEM},
        {"lowest + size overflows", EX, 2 * K, INT64_MAX - 4095, TOP, 0, 0, RW, 0, 'T', 0, 0, NOMEM},
        {"highest below the pool", EX, K, 0, 0xfff, 0, 0, RW, 0, 'T', 0, 0, NOMEM},
        {"lowest above the pool", EX, K, INT64_MAX & ~0xfffll, TOP, 0, 0, RW, 0, 'T', 0, 0, NOMEM},
        /* protect */
        {"PAGE_READONLY", EX, K, 0, TOP, 0, 0, PAGE_READONLY, 0, 'T', 0, 0, INVAL},
        {"PAGE_READONLY (Node)", NODE, K, 0, TOP, 0, 0, PAGE_READONLY, 0, 0, 0, 0, NOMEM},
        {"PAGE_GUARD", EX, K, 0, TOP, 0, 0, RW | PAGE_GUARD, 0, 'T', 0, 0, INVAL},
        {"PAGE_NOACCESS", EX, K, 0, TOP, 0, 0, PAGE_NOACCESS, 0, 'T', 0, 0, INVAL},
        {"PAGE_EXECUTE_READ", EX, K, 0, TOP, 0, 0, PAGE_EXECUTE_READ, 0, 'T', 0, 0, INVAL},
        {"NOCACHE|WRITECOMBINE", EX, K, 0, TOP, 0, 0, RW | PAGE_NOCACHE | PAGE_WRITECOMBINE, 0, 'T', 0, 0, INVAL},
        {"EXECUTE_READWRITE|NOCACHE", EX, K, 0, TOP, 0, 0, RWX | PAGE_NOCACHE, 0, 'T', 0, 0, INVAL},
        {"EXECUTE_READWRITE|WRITECOMBINE", NODE, K, 0, TOP, 0, 0, RWX | PAGE_WRITECOMBINE, 0, 0, 0, 0, NOMEM},
        {"RW|NOCACHE", EX, K, 0, TOP, 0, 0, RW | PAGE_NOCACHE, 0, 'T', 0, 0, OK},
        {"RW|WRITECOMBINE", EX, K, 0, TOP, 0, 0, RW | PAGE_WRITECOMBINE, 0, 'T', 0, 0, OK},
        {"EXECUTE_READWRITE", NODE, K, 0, TOP, 0, 0, RWX, 0, 0, 0, 0, OK},
        /* cache types */
        {"cache type MmMaximumCacheType", CACHE, K, 0, TOP, 0, 0, 0, MmMaximumCacheType, 0, 0, 0, NOMEM},
        {"cache type MmNotMapped", CACHE_NODE, K, 0, TOP, 0, 0, 0, MmNotMapped, 0, 0, 0, NOMEM},
        {"cache type MmUSWCCached", CACHE, K, 0, TOP, 0, 0, 0, MmUSWCCached, 0, 0, 0, OK},
        /* nodes */
        {"node = node count", EX, K, 0, TOP, 0, 0, RW, 0, 'T', 0, 0, INVAL},
        {"node = node count (Node)", NODE, K, 0, TOP, 0, 0, RW, 0, 0, 0, 0, NOMEM},
        {"node MM_ANY_NODE_OK", EX, K, 0, TOP, 0, ANY, RW, 0, 'T', 0, 0, OK},
        {"node MM_ANY_NODE_OK (CacheNode)", CACHE_NODE, K, 0, TOP, 0, ANY, 0, MmCached, 0, 0, 0, OK},
        {"node 0x7fffffff", CACHE_NODE, K, 0, TOP, 0, 0x7fffffff, 0, MmCached, 0, 0, 0, NOMEM},
        /* Ex only */
        {"tag 0", EX, K, 0, TOP, 0, 0, RW, 0, 0, 0, 0, INVAL},
        {"flags 2", EX, K, 0, TOP, 0, 0, RW, 0, 'T', 2, 0, INVAL},
        {"flags FAST_ONLY", EX, K, 0, TOP, 0, 0, RW, 0, 'T', MM_ALLOCATE_CONTIGUOUS_MEMORY_FAST_ONLY, 0, OK},
        {"flags 0x80000000", EX, K, 0, TOP, 0, 0, RW, 0, 'T', 0x80000000u, 0, INVAL},
        {"bogus PartitionObject", EX, K, 0, TOP, 0, 0, RW, 0, 'T', 0, 1, INVAL},
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct row r = rows[i];
        if (strstr(r.what, "node = node count"))
            r.node = nnodes;
        struct mmc_stats before = snap();
        void *p = NULL;
        SIZE_T bytes = 0;
        NTSTATUS s = call(&r, &p, &bytes);
        struct mmc_stats after = snap();
        bool outcome = s == r.expect && (s == OK) == (p != NULL);
        t_ok(outcome, "%s: %s -> %#x (expected %#x)", kind_name[r.kind], r.what, (unsigned)s,
             (unsigned)r.expect);
        if (s != OK) {
            t_ok(same_state(&before, &after), "%s: %s leaves the frame database unchanged",
                 kind_name[r.kind], r.what);
            if (r.kind == EX)
                t_ok(p == NULL, "%s: %s sets *BaseAddress to NULL", kind_name[r.kind], r.what);
        } else {
            uint64_t size = (r.bytes + 4095) & ~4095ull, pa = 0;
            t_ok(t_contiguous(p, size, &pa) && ((uintptr_t)p & 4095) == 0,
                 "%s: %s: page-aligned and physically contiguous (pagemap)", kind_name[r.kind], r.what);
            if (r.boundary)
                t_ok(pa / (uint64_t)r.boundary == (pa + size - 1) / (uint64_t)r.boundary,
                     "%s: %s: block at %#" PRIx64 " does not cross the boundary", kind_name[r.kind],
                     r.what, pa);
            if (r.kind == EX)
                t_ok(bytes == size, "Ex writes the rounded size back (%llu -> %llu)",
                     (unsigned long long)r.bytes, (unsigned long long)bytes);
            MmFreeContiguousMemory(p);
        }
    }

    /* Highest: the page containing it is usable in full; Lowest rounds up to a page. */
    {
        PHYSICAL_ADDRESS lo = {.QuadPart = 0}, none = {.QuadPart = 0};
        PHYSICAL_ADDRESS hi = {.QuadPart = POOL_HI - 4095}; /* first byte of the top frame */
        void *p = MmAllocateContiguousMemorySpecifyCache(4096, lo, hi, none, MmCached);
        uint64_t pa = 0;
        t_ok(p && t_contiguous(p, 4096, &pa) && pa == (uint64_t)POOL_HI - 4095,
             "Highest = first byte of the top frame: that frame is usable (got %#" PRIx64 ")", pa);
        if (p)
            MmFreeContiguousMemory(p);
        hi.QuadPart = POOL_HI - 4096; /* last byte of the frame below the top */
        p = MmAllocateContiguousMemorySpecifyCache(4096, lo, hi, none, MmCached);
        t_ok(p && t_contiguous(p, 4096, &pa) && pa == (uint64_t)POOL_HI - 8191,
             "Highest = last byte of the frame below: the top frame is excluded (got %#" PRIx64 ")", pa);
        if (p)
            MmFreeContiguousMemory(p);
        lo.QuadPart = POOL_LO + 1; /* rounds up to the second frame */
        hi.QuadPart = POOL_LO + 8191;
        p = MmAllocateContiguousMemorySpecifyCache(4096, lo, hi, none, MmCached);
        t_ok(p && t_contiguous(p, 4096, &pa) && pa == (uint64_t)POOL_LO + 4096,
             "Lowest = first frame + 1 byte rounds up to the second frame (got %#" PRIx64 ")", pa);
        if (p)
            MmFreeContiguousMemory(p);
        lo.QuadPart = POOL_LO + 1;
        hi.QuadPart = POOL_LO + 4095; /* only the first frame, which Lowest excludes */
        p = MmAllocateContiguousMemorySpecifyCache(4096, lo, hi, none, MmCached);
        t_ok(p == NULL, "a range holding no whole frame above Lowest gives NULL");
    }

    /* The routines' protection and cache types, as recorded and as mapped. */
    {
        PHYSICAL_ADDRESS lo = {.QuadPart = 0}, hi = {.QuadPart = -1}, none = {.QuadPart = 0};
        struct { MEMORY_CACHING_TYPE c; int exec; uint32_t protect; } cases[] = {
            {MmCached, 1, PAGE_EXECUTE_READWRITE},
            {MmWriteCombined, 0, PAGE_READWRITE | PAGE_WRITECOMBINE},
            {MmNonCached, 0, PAGE_READWRITE | PAGE_NOCACHE},
            {MmHardwareCoherentCached, 0, PAGE_READWRITE | PAGE_NOCACHE},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            void *p = MmAllocateContiguousMemorySpecifyCache(8192, lo, hi, none, cases[i].c);
            struct mmc_alloc_info info = {0};
            int rc = p ? mmc_query((char *)p + 4097, &info) : -1;
            t_ok(rc == 0 && info.base == p && info.bytes == 8192 && info.cache_type == (int)cases[i].c &&
                     info.executable == cases[i].exec && info.protect == cases[i].protect,
                 "SpecifyCache(cache type %d): recorded cache %d, protect %#x, %s view", cases[i].c,
                 info.cache_type, info.protect, info.executable ? "executable" : "no-execute");
            if (p)
                MmFreeContiguousMemory(p);
        }
        void *p = MmAllocateContiguousMemory(4096, hi);
        struct mmc_alloc_info info = {0};
        t_ok(p && mmc_query(p, &info) == 0 && info.executable && info.cache_type == MmCached,
             "MmAllocateContiguousMemory gives executable, cached memory");
        if (p)
            MmFreeContiguousMemory(p);
    }

    /* MDL argument rules. */
    {
        PHYSICAL_ADDRESS lo = {.QuadPart = 0}, hi = {.QuadPart = -1}, skip0 = {.QuadPart = 0};
        PHYSICAL_ADDRESS odd = {.QuadPart = 4096 + 512}, s8k = {.QuadPart = 8192}, s3 = {.QuadPart = 3 * 4096};
        PHYSICAL_ADDRESS lo_hi = {.QuadPart = 0x200000}, hi_lo = {.QuadPart = 0x100000};
        struct { const char *what; PHYSICAL_ADDRESS l, h, s; uint64_t total; int cache; uint32_t flags; } bad[] = {
            {"TotalBytes 0", lo, hi, skip0, 0, MmCached, 0},
            {"Skip not a multiple of the page", lo, hi, odd, 4096, MmCached, 0},
            {"unknown flag 0x800", lo, hi, skip0, 4096, MmCached, 0x800},
            {"undefined flag 0x200", lo, hi, skip0, 4096, MmCached, 0x200},
            {"undefined flag 0x400", lo, hi, skip0, 4096, MmCached, 0x400},
            {"unknown flag 0x80000000", lo, hi, skip0, 4096, MmCached, 0x80000000u},
            {"MM_ALLOCATE_AND_HOT_REMOVE (not possible from user space)", lo, hi, skip0, 4096, MmCached, MM_ALLOCATE_AND_HOT_REMOVE},
            {"cache type MmMaximumCacheType", lo, hi, skip0, 4096, MmMaximumCacheType, 0},
            {"Low > High", lo_hi, hi_lo, skip0, 4096, MmCached, 0},
            {"FULLY_REQUIRED above 4 GiB - PAGE_SIZE", lo, hi, skip0, 4ull << 30, MmCached, MM_ALLOCATE_FULLY_REQUIRED},
            {"CHUNKS with Skip not a power of two", lo, hi, s3, 6 * 4096, MmCached, MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS},
            {"CHUNKS with Skip not dividing TotalBytes", lo, hi, s8k, 3 * 4096, MmCached, MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS},
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            struct mmc_stats before = snap();
            PMDL m = MmAllocatePagesForMdlEx(bad[i].l, bad[i].h, bad[i].s, bad[i].total,
                                             (MEMORY_CACHING_TYPE)bad[i].cache, bad[i].flags);
            struct mmc_stats after = snap();
            t_ok(m == NULL && same_state(&before, &after), "MDL: %s -> NULL, frame database unchanged",
                 bad[i].what);
            if (m) {
                MmFreePagesFromMdl(m);
                ExFreePool(m);
            }
        }
        /* Above 4 GiB - PAGE_SIZE without FULLY_REQUIRED: clamped (and partial: the pool is small). */
        PMDL m = MmAllocatePagesForMdlEx(lo, hi, skip0, 5ull << 30, MmCached, MM_DONT_ZERO_ALLOCATION);
        struct mmc_stats st = snap();
        t_ok(m && m->ByteCount == st.pool_frames * 4096 && st.free_frames == 0 &&
                 MmGetMdlPfnArray(m)[st.pool_frames] == MM_EMPTY_LIST,
             "MDL: 5 GiB without FULLY_REQUIRED is clamped and partial (%u bytes: the whole pool)",
             m ? (unsigned)m->ByteCount : 0);
        if (m) {
            MmFreePagesFromMdl(m);
            ExFreePool(m);
        }
        st = snap();
        t_ok(st.free_frames == st.pool_frames, "MDL: freeing it gives every frame back");
    }

    free(runs);
    mmc_fini();
    return t_done();
}
