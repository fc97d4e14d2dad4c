/* tests/test_frag_probe.c: on a fragmented state, the ordinary path pays and FAST_ONLY does not.
 *
 * The frag suite's probes (bench/suite_frag.c) report what each ordinary success cost: trades,
 * frames moved and dropped, hugepages added. Here a real pool of four 2 MiB hugepages is
 * fragmented by load the test places itself: every frame taken as movable or standby load, then
 * seven of every eight freed, so no aligned 2 MiB block is free (U(9) = 1, checked) while most
 * of the pool is. A 2 MiB request with FAST_ONLY must fail and count nothing; without it, it must
 * succeed by trading the load away or by growing the pool, and the counters must say which; the
 * load must still be readable where the trade moved it. Real hugepages, seconds.
 */
#include "common.h"
#include "mmcontig/testing.h"
#include "mmcontig/wdm.h"

#define POOL_HUGEPAGES 4
#define FRAMES (POOL_HUGEPAGES * 512)

static PHYSICAL_ADDRESS A(int64_t v) { return (PHYSICAL_ADDRESS){.QuadPart = v}; }

static NTSTATUS probe(mmc_partition_t *p, ULONG flags, void **va)
{
    SIZE_T n = 2u << 20;
    *va = NULL;
    return MmAllocateContiguousMemoryEx(&n, A(0), A(-1), A(0), MM_ANY_NODE_OK, PAGE_READWRITE, p,
                                        'borP', flags, va);
}

int main(void)
{
    struct mmc_config cfg;
    mmc_config_init(&cfg);
    memset(cfg.node_pool_bytes, 0, sizeof(cfg.node_pool_bytes));
    cfg.pool_bytes = 2u << 20;
    if (mmc_init(&cfg) < 0) {
        printf("1..0 # SKIP no hugepages for the system partition: %s\n", mmc_last_error());
        return 0;
    }
    cfg.pool_bytes = POOL_HUGEPAGES * (2u << 20);
    cfg.grow = 1;
    cfg.pool_max_bytes = cfg.pool_bytes + (4u << 20);
    mmc_partition_t *p = NULL;
    if (mmc_partition_create(&cfg, &p) < 0) {
        printf("1..0 # SKIP no pool of %d hugepages: %s\n", POOL_HUGEPAGES, mmc_last_error());
        mmc_fini();
        return 0;
    }
    static mmc_load_t h[FRAMES];
    long got = mmc_load_alloc(p, MMC_LOAD_MOVABLE, -1, FRAMES, h);
    t_ok(got == FRAMES, "the whole pool taken as movable load (%ld of %d frames)", got, FRAMES);
    /* keep one frame in eight, its contents known */
    size_t kept = 0;
    for (long i = 0; i < got; i++) {
        if (i % 8 == 0) {
            uint64_t v = 0x5eed0000u + (uint64_t)i;
            mmc_load_write(p, h[i], 0, &v, sizeof(v));
            h[kept++] = h[i];
        } else {
            mmc_load_free(p, &h[i], 1);
        }
    }
    struct mmc_frag m;
    mmc_partition_frag(p, -1, &m);
    t_ok(m.unusable[9] == 1.0 && m.free_frames == FRAMES - kept,
         "fragmented: %llu frames free, none in an aligned 2 MiB block (U(9) %.3f)",
         (unsigned long long)m.free_frames, m.unusable[9]);

    struct mmc_stats b, a;
    mmc_partition_stats(p, &b);
    void *va;
    NTSTATUS s = probe(p, MM_ALLOCATE_CONTIGUOUS_MEMORY_FAST_ONLY, &va);
    mmc_partition_stats(p, &a);
    t_ok(s != STATUS_SUCCESS && !va, "FAST_ONLY 2 MiB fails on this state (NTSTATUS %#x)", (unsigned)s);
    t_ok(a.trades == b.trades && a.frames_moved == b.frames_moved && a.frames_dropped == b.frames_dropped &&
         a.hugepages_added == b.hugepages_added,
         "FAST_ONLY counts no trade, no frame moved or dropped, no hugepage added");

    s = probe(p, 0, &va);
    mmc_partition_stats(p, &a);
    t_ok(s == STATUS_SUCCESS && va, "the ordinary 2 MiB request succeeds (NTSTATUS %#x)", (unsigned)s);
    const uint64_t trades = a.trades - b.trades, moved = a.frames_moved - b.frames_moved;
    const uint64_t added = a.hugepages_added - b.hugepages_added;
    t_ok(trades + added > 0, "it reports how: %llu trades (%llu frames moved), %llu hugepages added",
         (unsigned long long)trades, (unsigned long long)moved, (unsigned long long)added);
    t_ok(!trades || moved > 0, "a trade on this state moved frames (every kept frame is movable)");
    bool intact = true;
    for (size_t k = 0; k < kept; k++) {
        uint64_t v = 0;
        if (mmc_load_read(p, h[k], 0, &v, sizeof(v)) < 0 || v != 0x5eed0000u + 8 * k)
            intact = false;
    }
    t_ok(intact, "every kept load frame still holds its contents, wherever it is now");
    if (va)
        MmFreeContiguousMemory(va);
    mmc_load_free(p, h, kept);
    mmc_partition_destroy(p);
    mmc_fini();
    return t_done();
}
