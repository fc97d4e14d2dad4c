/* tests/test_grow.c: the pool grows from the kernel on the slow path (issue 11).
 *
 * Every property is read back independently of the library: contiguity and the physical
 * address from pagemap (tests/common.h), the hugepage counts (2 MiB persistent, surplus,
 * overcommit; 1 GiB) from sysfs, the compaction counters from /proc/vmstat.
 *   - a 256 MiB block on a 64 MiB pool through MmAllocateContiguousMemorySpecifyCache:
 *     physically contiguous, the pool grew (mmc_stats), a FAST_ONLY twin before it failed and
 *     changed nothing (frame database hash, every hugepage count, vmstat's compaction counters);
 *   - the views never move: a block and an MDL taken before the growth keep their addresses,
 *     physical addresses and contents;
 *   - a 2 MiB block beyond a full pool grows by 2 MiB hugepages; an MDL beyond it too, but not
 *     with MM_ALLOCATE_NO_WAIT;
 *   - the cap (pool_max_bytes) and grow = 0 refuse with the reason named, nothing taken;
 *   - fault points (the kernel refuses, mapping in place fails, and compaction fails too): the
 *     call fails, the growth is counted as failed, and nothing leaks;
 *   - after mmc_partition_destroy, mmc_fini, and an exit without mmc_fini (in a child), every
 *     count is back where it started.
 */
#include "common.h"
#include "mmcontig/wdm.h"
#include "reliability.h"

#include <sys/wait.h>

#define H2M "/sys/kernel/mm/hugepages/hugepages-2048kB/"
#define H1G "/sys/kernel/mm/hugepages/hugepages-1048576kB/"
#define MiB (1024ull * 1024)

static PHYSICAL_ADDRESS A(uint64_t v) { return (PHYSICAL_ADDRESS){.QuadPart = (LONGLONG)v}; }

struct counts {
    uint64_t nr2m, surplus, overcommit, nr1g;
};
static struct counts counts(void)
{
    return (struct counts){t_sysfs_u64(H2M "nr_hugepages"), t_sysfs_u64(H2M "surplus_hugepages"),
                           t_sysfs_u64(H2M "nr_overcommit_hugepages"), t_sysfs_u64(H1G "nr_hugepages")};
}
static bool same(struct counts a, struct counts b)
{
    return a.nr2m == b.nr2m && a.surplus == b.surplus && a.overcommit == b.overcommit && a.nr1g == b.nr1g;
}
#define C4(c) (unsigned long long)(c).nr2m, (unsigned long long)(c).surplus, \
              (unsigned long long)(c).overcommit, (unsigned long long)(c).nr1g

/* The direct-compaction counters of /proc/vmstat, summed (compact_stall, _fail, _success: a
 * process compacting, as growth does through nodeN/compact; kcompactd's own counters move on
 * their own and are left out). */
static uint64_t compaction_events(void)
{
    FILE *f = fopen("/proc/vmstat", "re");
    char key[64];
    unsigned long long v, sum = 0;
    while (f && fscanf(f, "%63s %llu", key, &v) == 2)
        if (!strcmp(key, "compact_stall") || !strcmp(key, "compact_fail") || !strcmp(key, "compact_success"))
            sum += v;
    if (f)
        fclose(f);
    return sum;
}

static struct mmc_stats stats(mmc_partition_t *p)
{
    struct mmc_stats st;
    memset(&st, 0, sizeof(st));
    mmc_partition_stats(p, &st);
    return st;
}

static mmc_partition_t *partition(uint64_t pool, uint64_t max, int grow)
{
    struct mmc_config c;
    mmc_config_init(&c);
    c.pool_bytes = pool;
    c.pool_max_bytes = max;
    c.grow = grow;
    mmc_partition_t *p = NULL;
    if (mmc_partition_create(&c, &p) < 0)
        printf("# partition of %llu MiB: %s\n", (unsigned long long)(pool / MiB), mmc_last_error());
    return p;
}

static NTSTATUS ex(mmc_partition_t *p, uint64_t bytes, bool fast, PVOID *base)
{
    SIZE_T b = bytes;
    return MmAllocateContiguousMemoryEx(&b, A(0), A(UINT64_MAX), A(0), MM_ANY_NODE_OK, PAGE_READWRITE,
                                        p, 'worg', fast ? MM_ALLOCATE_CONTIGUOUS_MEMORY_FAST_ONLY : 0, base);
}

/* The 256 MiB block of the issue, on the system partition of a 64 MiB pool. */
static void test_system(void)
{
    const struct counts c0 = counts();
    t_init_pool("64M");
    const struct counts c_init = counts();
    const uint64_t v0 = compaction_events();

    /* before: a block and an MDL whose addresses and contents must survive the growth */
    PVOID small = MmAllocateContiguousMemory(64 * 1024, A(UINT64_MAX));
    PMDL mdl = MmAllocatePagesForMdl(A(0), A(UINT64_MAX), A(0), 16 * 4096);
    uint64_t small_pa = 0;
    bool before_ok = small && mdl && t_contiguous(small, 64 * 1024, &small_pa);
    if (small)
        memset(small, 0x5a, 64 * 1024);
    struct mmc_stats s0 = stats(NULL);

    PVOID base = NULL;
    NTSTATUS st = ex(NULL, 256 * MiB, true, &base);
    struct mmc_stats s1 = stats(NULL);
    t_ok(st == STATUS_INSUFFICIENT_RESOURCES && !base && same(counts(), c_init) &&
         compaction_events() == v0 && s1.state_hash == s0.state_hash &&
         s1.hugepages_added == 0 && s1.trades == 0,
         "FAST_ONLY 256 MiB on a 64 MiB pool: fails (%#x), hugepage counts %llu/%llu/%llu/%llu "
         "unchanged, vmstat compaction counters unchanged, nothing added or traded",
         (unsigned)st, C4(counts()));

    const uint64_t hash_before = stats(NULL).state_hash;
    PVOID big = MmAllocateContiguousMemorySpecifyCache(256 * MiB, A(0), A(UINT64_MAX), A(0), MmCached);
    struct mmc_stats s2 = stats(NULL);
    uint64_t pa = 0;
    bool contiguous = big && t_contiguous(big, 256 * MiB, &pa);
    PHYSICAL_ADDRESS lib_pa = big ? MmGetPhysicalAddress(big) : A(0);
    t_ok(contiguous && (uint64_t)lib_pa.QuadPart == pa && s2.hugepages_added > 0 && s2.grows == 1 &&
         s2.hugepages > s1.hugepages && hash_before != s2.state_hash,
         "256 MiB through MmAllocateContiguousMemorySpecifyCache on a 64 MiB pool: physically "
         "contiguous at %#llx by pagemap (the library says %#llx), the pool grew by %llu 2 MiB "
         "hugepages in %llu ms (%s)", (unsigned long long)pa, (unsigned long long)lib_pa.QuadPart,
         (unsigned long long)s2.hugepages_added, (unsigned long long)(s2.grow_ns / 1000000),
         big ? "grown" : mmc_last_error());

    uint64_t small_pa2 = 0;
    bool kept = before_ok && t_contiguous(small, 64 * 1024, &small_pa2) && small_pa2 == small_pa;
    for (size_t i = 0; kept && i < 64 * 1024; i++)
        kept = ((unsigned char *)small)[i] == 0x5a;
    struct mmc_alloc_info info;
    kept = kept && mmc_query(small, &info) == 0 && info.base == small && info.base_phys == small_pa;
    t_ok(kept, "a block taken before the growth keeps its address %p, physical address %#llx and "
         "contents; mmc_query agrees", small, (unsigned long long)small_pa);
    if (big)
        MmFreeContiguousMemory(big);
    if (small)
        MmFreeContiguousMemory(small);
    if (mdl) {
        MmFreePagesFromMdl(mdl);
        ExFreePool(mdl);
    }
    mmc_fini();
    t_ok(same(counts(), c0), "after mmc_fini every hugepage count is back: %llu/%llu/%llu/%llu "
         "(2 MiB nr, surplus, overcommit; 1 GiB nr), as before %llu/%llu/%llu/%llu",
         C4(counts()), C4(c0));
}

/* 2 MiB growth, MDLs, the cap, grow = 0, on partitions of their own. */
static void test_partitions(void)
{
    const struct counts c0 = counts();
    mmc_init(NULL);
    const struct counts c_init = counts();
    mmc_partition_t *p = partition(16 * MiB, 0, 1);
    if (!p) {
        t_ok(false, "a 16 MiB partition");
        return;
    }
    /* fill it with 2 MiB blocks, then one more */
    PVOID b[16] = {0};
    unsigned n = 0;
    while (n < 8 && ex(p, 2 * MiB, true, &b[n]) == STATUS_SUCCESS)
        n++;
    PVOID more = NULL;
    NTSTATUS st = ex(p, 2 * MiB, false, &more);
    uint64_t pa = 0;
    struct mmc_stats s = stats(p);
    const bool more_ok = st == STATUS_SUCCESS && t_contiguous(more, 2 * MiB, &pa);
    t_ok(n == 8 && more_ok && s.hugepages_added >= 1 &&
         s.hugepages_added <= 2 * 1 + 8,
         "a full 16 MiB partition: one 2 MiB block more grows it by %llu hugepage(s) (bound 2 x 1 + 8), "
         "contiguous at %#llx", (unsigned long long)s.hugepages_added, (unsigned long long)pa);

    /* MDLs: beyond the pool it grows, unless MM_ALLOCATE_NO_WAIT */
    struct mmc_stats before = stats(p);
    PMDL nowait = mmc_allocate_pages_for_mdl(p, 0, -1, 0, 64 * MiB, MmCached,
                                             MM_ALLOCATE_NO_WAIT | MM_ALLOCATE_FULLY_REQUIRED);
    struct mmc_stats after = stats(p);
    t_ok(!nowait && after.hugepages_added == before.hugepages_added,
         "an MDL of 64 MiB with MM_ALLOCATE_NO_WAIT | FULLY_REQUIRED on a full pool: NULL, the pool "
         "did not grow");
    PMDL m = mmc_allocate_pages_for_mdl(p, 0, -1, 0, 64 * MiB, MmCached, MM_ALLOCATE_FULLY_REQUIRED);
    after = stats(p);
    t_ok(m && MmGetMdlByteCount(m) == 64 * MiB && after.hugepages_added >= before.hugepages_added + 32,
         "the same MDL without NO_WAIT: %llu bytes, the pool grew by %llu hugepages",
         m ? (unsigned long long)MmGetMdlByteCount(m) : 0ull,
         (unsigned long long)(after.hugepages_added - before.hugepages_added));
    if (m) {
        MmFreePagesFromMdl(m);
        ExFreePool(m);
    }
    for (unsigned i = 0; i < n; i++)
        MmFreeContiguousMemory(b[i]);
    if (more)
        MmFreeContiguousMemory(more);
    mmc_partition_destroy(p);
    t_ok(same(counts(), c_init), "after the partition's destroy the counts are back: %llu/%llu/%llu/%llu",
         C4(counts()));

    /* the cap, and grow = 0: refused with the reason, nothing taken */
    p = partition(16 * MiB, 32 * MiB, 1);
    const struct counts c1 = counts();
    PVOID x = NULL;
    st = ex(p, 64 * MiB, false, &x);
    t_ok(p && st == STATUS_INSUFFICIENT_RESOURCES && strstr(mmc_last_error(), "cap") &&
         stats(p).hugepages_added == 0 && same(counts(), c1),
         "64 MiB on a 16 MiB partition capped at 32 MiB: refused (%s), nothing taken",
         mmc_last_error());
    st = ex(p, 4096, false, &x);
    t_ok(st == STATUS_SUCCESS && mmc_last_error()[0] == '\0',
         "then a 4 KiB block succeeds and mmc_last_error() is empty again ('%s')", mmc_last_error());
    if (x)
        MmFreeContiguousMemory(x);
    mmc_partition_destroy(p);
    p = partition(16 * MiB, 0, 0);
    st = ex(p, 64 * MiB, false, &x);
    t_ok(p && st == STATUS_INSUFFICIENT_RESOURCES && strstr(mmc_last_error(), "MMC_GROW=0") &&
         stats(p).hugepages_added == 0,
         "64 MiB on a 16 MiB partition with grow = 0: refused (%s)", mmc_last_error());
    mmc_partition_destroy(p);
    mmc_fini();
    t_ok(same(counts(), c0), "after mmc_fini: %llu/%llu/%llu/%llu", C4(counts()));
}

/* In a child with MMC_FAULT set (it is read when a pool is built): the call fails or finds
 * another way, and nothing is left behind once the child is gone. */
static void test_fault(const char *fault, bool expect_ok)
{
    const struct counts c0 = counts();
    pid_t pid = fork();
    if (pid == 0) {
        setenv("MMC_FAULT", fault, 1);
        setenv("MMC_POOL", "16M", 1);
        if (mmc_init(NULL) < 0)
            _exit(3);
        PVOID fill[8] = {0}; /* the pool full: its 8 hugepages as 2 MiB blocks (FAST_ONLY: no growth) */
        for (unsigned k = 0; k < 8; k++)
            if (ex(NULL, 2 * MiB, true, &fill[k]) != STATUS_SUCCESS)
                _exit(8);
        struct t_maps m0 = t_count_maps();
        PVOID x = NULL;
        NTSTATUS st = ex(NULL, 8 * MiB, false, &x); /* 1 GiB pages first, then 2 MiB ones */
        if ((st == STATUS_SUCCESS) != expect_ok)
            _exit(4);
        if (x)
            MmFreeContiguousMemory(x);
        for (unsigned k = 0; k < 8; k++)
            MmFreeContiguousMemory(fill[k]);
        struct mmc_stats s = stats(NULL);
        mmc_fini();
        struct t_maps m1 = t_count_maps();
        if (!t_maps_no_more(&m1, &m0))
            _exit(5);
        _exit(expect_ok ? (s.hugepages_added ? 0 : 6) : (s.grow_failed ? 0 : 7));
    }
    int status = 0;
    waitpid(pid, &status, 0);
    t_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0 && same(counts(), c0),
         "MMC_FAULT=%s: 8 MiB on a full 16 MiB pool %s, no mapping or hugepage left (exit %d; counts "
         "%llu/%llu/%llu/%llu)", fault, expect_ok ? "still succeeds" : "fails, growth counted as failed",
         WIFEXITED(status) ? WEXITSTATUS(status) : -1, C4(counts()));
}

/* A child grows its pool and exits without mmc_fini: its hugepages go with it. */
static void test_exit(void)
{
    const struct counts c0 = counts();
    pid_t pid = fork();
    if (pid == 0) {
        setenv("MMC_POOL", "16M", 1);
        PVOID x = MmAllocateContiguousMemorySpecifyCache(32 * MiB, A(0), A(UINT64_MAX), A(0), MmCached);
        exit(x ? 0 : 1); /* atexit runs: no mmc_fini */
    }
    int status = 0;
    waitpid(pid, &status, 0);
    t_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0 && same(counts(), c0),
         "a child grows its 16 MiB pool by 32 MiB and exits without mmc_fini: counts back to "
         "%llu/%llu/%llu/%llu", C4(counts()));
}

int main(void)
{
    unsetenv("MMC_GROW"); /* this test is about growing */
    test_system();
    test_partitions();
    test_fault("grow_refused", false);
    test_fault("grow_map", false);
    test_fault("grow_refused,compact_fail", false);
    test_exit();
    return t_done();
}
