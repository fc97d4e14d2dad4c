/* tests/test_load.c: load frames, trading, FAST_ONLY under load, placement policies.
 *
 * Over real hugepages: a trade moves movable frames (the 4 KiB copied for real: the contents
 * read back through the handle at the new frame, whose PFN pagemap confirms) and drops standby
 * frames; FAST_ONLY under the same fragmented load neither trades nor grows the pool. On a
 * simulated partition: clustered placement keeps more pageblocks whole than plain.
 */
#include "common.h"
#include "mmcontig/testing.h"
#include "mmcontig/wdm.h"

static PHYSICAL_ADDRESS A(uint64_t v) { return (PHYSICAL_ADDRESS){.QuadPart = (LONGLONG)v}; }

static struct mmc_stats stats(mmc_partition_t *p)
{
    struct mmc_stats s;
    mmc_partition_stats(p, &s);
    return s;
}

int main(void)
{
    const uint64_t nr_before = t_sysfs_u64(T_NR_2M);
    t_init_pool("16M");
    struct mmc_stats st = stats(NULL);
    const uint64_t nf = st.pool_frames;
    mmc_load_t *h = calloc(nf, sizeof(*h));
    uint64_t *pfn0 = calloc(nf, sizeof(*pfn0));

    /* Every frame movable, each stamped with its index; then every other one freed: free
     * memory is all single frames, no two adjacent. */
    long got = mmc_load_alloc(NULL, MMC_LOAD_MOVABLE, -1, nf, h);
    t_ok(got == (long)nf && stats(NULL).free_frames == 0 && stats(NULL).live_movable == nf,
         "the whole pool (%llu frames) taken as movable load", (unsigned long long)nf);
    for (uint64_t i = 0; i < nf; i++) {
        uint64_t stamp[2] = {0xabcd0000ull + i, ~i};
        mmc_load_write(NULL, h[i], 100, stamp, sizeof(stamp));
    }
    for (uint64_t i = 0; i < nf; i++)
        pfn0[i] = mmc_load_pfn(NULL, h[i]);
    mmc_load_t freed[8192];
    size_t nfreed = 0;
    for (uint64_t i = 0; i < nf; i += 2)
        freed[nfreed++] = h[i], h[i] = 0;
    mmc_load_free(NULL, freed, nfreed);
    st = stats(NULL);
    t_ok(st.free_frames == nf / 2 && st.largest_free_frames == 1, "every other frame freed: the largest free stretch is 1 frame");

    /* FAST_ONLY under this load: fails, trades nothing, moves nothing, grows nothing. */
    SIZE_T n = 16 * 4096;
    void *p = NULL;
    uint64_t hp = st.hugepages, nr = t_sysfs_u64(T_NR_2M);
    NTSTATUS s = MmAllocateContiguousMemoryEx(&n, A(0), A(-1), A(0), 0, PAGE_READWRITE, NULL, 'daoL',
                                              MM_ALLOCATE_CONTIGUOUS_MEMORY_FAST_ONLY, &p);
    st = stats(NULL);
    bool unmoved = true;
    for (uint64_t i = 1; i < nf; i += 2)
        unmoved &= mmc_load_pfn(NULL, h[i]) == pfn0[i];
    t_ok(s == STATUS_INSUFFICIENT_RESOURCES && st.trades == 0 && st.frames_moved == 0 && unmoved &&
             st.hugepages == hp && st.hugepages_added == 0 && t_sysfs_u64(T_NR_2M) == nr,
         "FAST_ONLY under a fragmented load: STATUS_INSUFFICIENT_RESOURCES, no trade, no frame moved, pool and nr_hugepages unchanged");

    /* Without FAST_ONLY: a trade frees a 16-frame candidate by moving its 8 movable frames. */
    s = MmAllocateContiguousMemoryEx(&n, A(0), A(-1), A(0), 0, PAGE_READWRITE, NULL, 'daoL', 0, &p);
    st = stats(NULL);
    uint64_t pa = 0;
    bool contiguous = s == STATUS_SUCCESS && t_contiguous(p, n, &pa);
    t_ok(contiguous && st.trades == 1 && st.frames_moved == 8 && st.frames_dropped == 0,
         "a trade: 64 KiB contiguous (pagemap) after moving %llu movable frames",
         (unsigned long long)st.frames_moved);
    uint64_t moved = 0, intact = 0, outside = 0;
    for (uint64_t i = 1; i < nf; i += 2) {
        uint64_t now = mmc_load_pfn(NULL, h[i]), stamp[2] = {0, 0};
        mmc_load_read(NULL, h[i], 100, stamp, sizeof(stamp));
        moved += now != pfn0[i];
        intact += stamp[0] == 0xabcd0000ull + i && stamp[1] == ~i;
        outside += now < pa / 4096 || now >= pa / 4096 + 16;
        if (now != pfn0[i]) { /* the handle follows the frame: read it where pagemap says */
            void *va = MmGetVirtualForPhysical(A(now * 4096));
            uint64_t at100 = 0; /* offset 100 is not 8-byte aligned: memcpy, not a uint64_t load */
            if (va)
                memcpy(&at100, (char *)va + 100, sizeof(at100));
            intact -= !(va && t_pfn(va) == now && at100 == 0xabcd0000ull + i);
        }
    }
    t_ok(moved == 8 && intact == nf / 2 && outside == nf / 2,
         "the 8 moved frames' handles follow them; every movable frame's contents intact (%llu of %llu), none inside the block",
         (unsigned long long)intact, (unsigned long long)(nf / 2));
    MmFreeContiguousMemory(p);

    /* A pinned frame is never traded: with a 1-frame contiguous block in every 16-frame candidate,
     * a 16-frame request fails although load could be moved. */
    size_t nl = 0;
    for (uint64_t i = 1; i < nf; i += 2)
        freed[nl++] = h[i];
    mmc_load_free(NULL, freed, nl);
    got = mmc_load_alloc(NULL, MMC_LOAD_MOVABLE, -1, nf, h);
    void **pins = calloc(nf / 8, sizeof(*pins));
    long nruns = mmc_partition_runs(NULL, NULL, 0);
    struct mmc_run_info *runs = calloc((size_t)nruns, sizeof(*runs));
    mmc_partition_runs(NULL, runs, (size_t)nruns);
    size_t npins = 0;
    for (long r = 0; r < nruns; r++) /* free one frame every 8, pin it with a 1-frame block */
        for (uint64_t f = 0; f < runs[r].frames; f += 8) {
            uint64_t pfn = runs[r].base_pfn + f;
            for (uint64_t i = 0; i < nf; i++)
                if (mmc_load_pfn(NULL, h[i]) == pfn) {
                    mmc_load_free(NULL, &h[i], 1);
                    h[i] = 0;
                    break;
                }
            SIZE_T one = 4096;
            MmAllocateContiguousMemoryEx(&one, A(pfn * 4096), A(pfn * 4096 + 4095), A(0), 0, PAGE_READWRITE,
                                         NULL, 'niP', 0, &pins[npins++]);
        }
    uint64_t trades = stats(NULL).trades;
    s = MmAllocateContiguousMemoryEx(&n, A(0), A(-1), A(0), 0, PAGE_READWRITE, NULL, 'daoL', 0, &p);
    t_ok(s == STATUS_INSUFFICIENT_RESOURCES && stats(NULL).trades == trades,
         "no trade candidate free of pinned frames: the slow path fails without trading");
    for (size_t i = 0; i < npins; i++)
        if (pins[i])
            MmFreeContiguousMemory(pins[i]);
    nl = 0;
    for (uint64_t i = 0; i < nf; i++)
        if (h[i])
            freed[nl++] = h[i];
    mmc_load_free(NULL, freed, nl);

    /* Standby frames are dropped, not copied. */
    got = mmc_load_alloc(NULL, MMC_LOAD_STANDBY, -1, nf, h);
    st = stats(NULL);
    uint64_t dropped0 = st.frames_dropped, moved0 = st.frames_moved;
    s = MmAllocateContiguousMemoryEx(&n, A(0), A(-1), A(0), 0, PAGE_READWRITE, NULL, 'daoL', 0, &p);
    st = stats(NULL);
    uint64_t gone = 0;
    char buf[16];
    for (uint64_t i = 0; i < nf; i++)
        gone += mmc_load_pfn(NULL, h[i]) == 0 && mmc_load_read(NULL, h[i], 0, buf, sizeof(buf)) == -ENODATA;
    t_ok(s == STATUS_SUCCESS && t_contiguous(p, n, NULL) && st.frames_dropped - dropped0 == 16 &&
             st.frames_moved == moved0 && gone == 16,
         "a pool full of standby: 16 frames dropped (their handles read -ENODATA), none copied");
    MmFreeContiguousMemory(p);
    mmc_load_free(NULL, h, nf);
    st = stats(NULL);
    t_ok(st.free_frames == nf && st.live_standby == 0 && st.live_movable == 0, "all load freed, every frame free");
    free(runs);
    free(pins);
    mmc_fini();
    t_ok(t_sysfs_u64(T_NR_2M) == nr_before, "nr_hugepages back after mmc_fini");

    /* Placement on a simulated partition. 600 load frames fill pageblock 0 and part of
     * pageblock 1; the 512 in pageblock 0 are freed, leaving it whole. 100 more load frames:
     * plain takes the lowest free frames and breaks pageblock 0 again; clustered puts them with
     * their kind in pageblock 1 and keeps pageblock 0 whole. */
    double u9[2];
    uint64_t whole[2];
    for (int policy = 0; policy < 2; policy++) {
        struct mmc_sim_config sc;
        mmc_sim_config_init(&sc);
        sc.pool_bytes = 64 << 20;
        mmc_partition_t *sp = NULL;
        mmc_partition_create_simulated(&sc, &sp);
        mmc_partition_set_placement(sp, policy);
        mmc_load_t a[600], b[100];
        mmc_load_alloc(sp, MMC_LOAD_MOVABLE, -1, 600, a);
        mmc_load_free(sp, a, 512);
        mmc_load_alloc(sp, MMC_LOAD_MOVABLE, -1, 100, b);
        struct mmc_frag m;
        mmc_partition_frag(sp, -1, &m);
        u9[policy] = m.unusable[9];
        whole[policy] = m.blocks[9];
        mmc_partition_destroy(sp);
    }
    t_ok(whole[MMC_PLACE_CLUSTERED] == whole[MMC_PLACE_PLAIN] + 1 && u9[MMC_PLACE_CLUSTERED] < u9[MMC_PLACE_PLAIN],
         "clustered placement groups load with load: one more whole 2 MiB block (%llu vs %llu), "
         "U(9) %.4f vs plain %.4f", (unsigned long long)whole[MMC_PLACE_CLUSTERED],
         (unsigned long long)whole[MMC_PLACE_PLAIN], u9[MMC_PLACE_CLUSTERED], u9[MMC_PLACE_PLAIN]);

    free(h);
    free(pfn0);
    return t_done();
}
