/* tests/test_partitions.c: independent partitions, the PartitionObject of the Ex routine,
 * 1 GiB hugepages, and the hugepage top-up given back exactly.
 */
#include "common.h"
#include "mmcontig/wdm.h"

static PHYSICAL_ADDRESS A(uint64_t v) { return (PHYSICAL_ADDRESS){.QuadPart = (LONGLONG)v}; }

#define T_NR_1G "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages"

static bool in_partition(mmc_partition_t *part, uint64_t pa, uint64_t bytes)
{
    long n = mmc_partition_runs(part, NULL, 0);
    struct mmc_run_info runs[4096];
    mmc_partition_runs(part, runs, n < 4096 ? (size_t)n : 4096);
    for (long r = 0; r < n && r < 4096; r++)
        if (pa >= runs[r].base_pfn * 4096 && pa + bytes <= (runs[r].base_pfn + runs[r].frames) * 4096)
            return true;
    return false;
}

int main(void)
{
    const uint64_t nr2_before = t_sysfs_u64(T_NR_2M), nr1_before = t_sysfs_u64(T_NR_1G);
    t_init_pool("16M");
    struct mmc_stats sys;
    mmc_partition_stats(NULL, &sys);
    t_ok(t_sysfs_u64(T_NR_2M) - nr2_before == sys.topup_hugepages,
         "the system partition's top-up (%llu) is what nr_hugepages rose by",
         (unsigned long long)sys.topup_hugepages);

    struct mmc_config cfg;
    mmc_config_init(&cfg);
    cfg.pool_bytes = 8 << 20;
    mmc_partition_t *a = NULL, *b = NULL;
    t_ok(mmc_partition_create(&cfg, &a) == 0 && mmc_partition_create(&cfg, &b) == 0 && a && b && a != b,
         "two partitions of 8 MiB created");

    SIZE_T n = 1 << 20;
    void *pa = NULL, *pb = NULL;
    NTSTATUS sa = MmAllocateContiguousMemoryEx(&n, A(0), A(UINT64_MAX >> 1), A(0), 0, PAGE_READWRITE, a, 'trap', 0, &pa);
    NTSTATUS sb = MmAllocateContiguousMemoryEx(&n, A(0), A(UINT64_MAX >> 1), A(0), 0, PAGE_READWRITE, b, 'trap', 0, &pb);
    uint64_t phys_a = 0, phys_b = 0;
    struct mmc_alloc_info ia = {0}, ib = {0};
    t_ok(sa == STATUS_SUCCESS && sb == STATUS_SUCCESS && t_contiguous(pa, n, &phys_a) && t_contiguous(pb, n, &phys_b) &&
             mmc_query(pa, &ia) == 0 && mmc_query(pb, &ib) == 0 && ia.partition == a && ib.partition == b &&
             ia.tag == 'trap',
         "Ex with a PartitionObject allocates from that partition (query and tag agree)");
    t_ok(in_partition(a, phys_a, n) && in_partition(b, phys_b, n) && !in_partition(NULL, phys_a, n) &&
             !in_partition(b, phys_a, n),
         "each block's frames (pagemap) lie in its own partition's runs only");
    struct mmc_stats st;
    mmc_partition_stats(a, &st);
    t_ok(st.free_frames == st.pool_frames - 256, "partition a accounts for its block");
    mmc_partition_stats(NULL, &st);
    t_ok(st.free_frames == st.pool_frames, "the system partition is untouched");
    int bogus;
    void *pc = NULL;
    t_ok(MmAllocateContiguousMemoryEx(&n, A(0), A(-1), A(0), 0, PAGE_READWRITE, &bogus, 'trap', 0, &pc) ==
             STATUS_INVALID_PARAMETER,
         "a PartitionObject that is no partition: STATUS_INVALID_PARAMETER");
    MmFreeContiguousMemory(pa);
    MmFreeContiguousMemory(pb);
    mmc_partition_destroy(a);
    t_ok(MmAllocateContiguousMemoryEx(&n, A(0), A(-1), A(0), 0, PAGE_READWRITE, a, 'trap', 0, &pc) ==
             STATUS_INVALID_PARAMETER,
         "a destroyed partition is no longer accepted");
    mmc_partition_destroy(b);

    /* 1 GiB hugepages: one partition of one 1 GiB page, given back afterwards. */
    mmc_config_init(&cfg);
    cfg.page_bytes = 1ull << 30;
    cfg.pool_bytes = 1ull << 30;
    mmc_partition_t *g = NULL;
    int rc = mmc_partition_create(&cfg, &g);
    t_ok(rc == 0, "a partition of one 1 GiB hugepage (%s)", rc ? mmc_last_error() : "ok");
    if (rc == 0) {
        mmc_partition_stats(g, &st);
        n = 512ull << 20;
        void *p = NULL;
        NTSTATUS s = MmAllocateContiguousMemoryEx(&n, A(0), A(-1), A(256ull << 20), 0, PAGE_READWRITE, g, 'giG1', 0, &p);
        t_ok(s == STATUS_INSUFFICIENT_RESOURCES, "512 MiB with a 256 MiB boundary cannot be had");
        s = MmAllocateContiguousMemoryEx(&n, A(0), A(-1), A(512ull << 20), 0, PAGE_READWRITE, g, 'giG1', 0, &p);
        uint64_t phys = 0;
        t_ok(s == STATUS_SUCCESS && t_contiguous(p, n, &phys) && phys % (512ull << 20) == 0 &&
                 st.hugepages == 1 && st.pool_frames == 262144,
             "512 MiB within a 512 MiB boundary from one 1 GiB page: contiguous and aligned (pagemap)");
        if (s == STATUS_SUCCESS)
            MmFreeContiguousMemory(p);
        mmc_partition_destroy(g);
    }
    t_ok(t_sysfs_u64(T_NR_1G) == nr1_before, "1 GiB nr_hugepages back to %llu", (unsigned long long)nr1_before);

    /* Top-up off: a pool larger than the free hugepages fails, naming node, shortfall, remedy. */
    mmc_config_init(&cfg);
    cfg.allow_topup = 0;
    cfg.pool_bytes = 64ull << 30;
    rc = mmc_partition_create(&cfg, &a);
    const char *msg = mmc_last_error();
    t_ok(rc == -ENOMEM && strstr(msg, "node 0") && strstr(msg, "short") && strstr(msg, "nr_hugepages"),
         "top-up off: -ENOMEM and a message with node, shortfall and command: %s", msg);

    mmc_fini();
    t_ok(t_sysfs_u64(T_NR_2M) == nr2_before, "after mmc_fini 2 MiB nr_hugepages is back to %llu",
         (unsigned long long)nr2_before);
    return t_done();
}
