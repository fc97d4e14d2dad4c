/* tests/test_mdl.c: MmAllocatePagesForMdl(Ex), MmFreePagesFromMdl, ExFreePool over real
 * hugepages. Zeroing (and MM_DONT_ZERO_ALLOCATION), partial MDLs with their terminator,
 * FULLY_REQUIRED, Skip windows, REQUIRE_CONTIGUOUS_CHUNKS chunk size and alignment (checked
 * against pagemap), LOCAL_NODE_ONLY, and what a free leaves in the MDL.
 */
#include "common.h"
#include "mmcontig/wdm.h"

#include <numa.h>
#include <sched.h>

static PHYSICAL_ADDRESS A(uint64_t v) { return (PHYSICAL_ADDRESS){.QuadPart = (LONGLONG)v}; }

static uint64_t free_frames(void)
{
    struct mmc_stats s;
    mmc_partition_stats(NULL, &s);
    return s.free_frames;
}

static void release(PMDL m)
{
    if (m) {
        MmFreePagesFromMdl(m);
        ExFreePool(m);
    }
}

int main(void)
{
    t_init_pool("64M");
    long nruns = mmc_partition_runs(NULL, NULL, 0);
    struct mmc_run_info *runs = calloc((size_t)nruns, sizeof(*runs));
    mmc_partition_runs(NULL, runs, (size_t)nruns);
    const uint64_t all = free_frames();
    const struct mmc_run_info *r0 = &runs[0];

    /* Zeroing: pages written, freed, and taken again from the same 16 frames. */
    uint64_t lo = r0->base_pfn * 4096, hi = lo + 16 * 4096 - 1;
    PMDL m = MmAllocatePagesForMdlEx(A(lo), A(hi), A(0), 16 * 4096, MmCached, MM_DONT_ZERO_ALLOCATION);
    bool all16 = m && m->ByteCount == 16 * 4096;
    t_ok(all16, "16 frames from a 16-frame window");
    for (int i = 0; all16 && i < 16; i++) {
        PHYSICAL_ADDRESS pa = A(MmGetMdlPfnArray(m)[i] * 4096);
        memset(MmGetVirtualForPhysical(pa), 0xa5, 4096);
    }
    release(m);
    m = MmAllocatePagesForMdlEx(A(lo), A(hi), A(0), 16 * 4096, MmCached, MM_DONT_ZERO_ALLOCATION);
    bool kept = m != NULL;
    for (int i = 0; m && i < 16; i++) {
        const unsigned char *va = MmGetVirtualForPhysical(A(MmGetMdlPfnArray(m)[i] * 4096));
        kept &= va[0] == 0xa5 && va[4095] == 0xa5 && t_pfn(va) == MmGetMdlPfnArray(m)[i];
    }
    t_ok(kept, "MM_DONT_ZERO_ALLOCATION leaves the old contents (and PFNs match pagemap)");
    release(m);
    m = MmAllocatePagesForMdl(A(lo), A(hi), A(0), 16 * 4096);
    bool zero = m != NULL;
    for (int i = 0; m && i < 16; i++) {
        const uint64_t *va = MmGetVirtualForPhysical(A(MmGetMdlPfnArray(m)[i] * 4096));
        for (int w = 0; w < 512; w++)
            zero &= va[w] == 0;
    }
    t_ok(zero, "MmAllocatePagesForMdl zeroes the pages");
    t_ok(m && m->MdlFlags & MDL_PAGES_LOCKED && m->StartVa == NULL && m->ByteOffset == 0 &&
             m->MappedSystemVa == NULL && m->Next == NULL,
         "MDL header: PAGES_LOCKED, StartVa 0, ByteOffset 0");
    t_ok(free_frames() == all - 16, "the frame database holds exactly the 16 frames");
    MmFreePagesFromMdl(m);
    bool emptied = !(m->MdlFlags & MDL_PAGES_LOCKED);
    for (int i = 0; i < 16; i++)
        emptied &= MmGetMdlPfnArray(m)[i] == MM_EMPTY_LIST;
    t_ok(emptied && free_frames() == all,
         "MmFreePagesFromMdl: entries overwritten with MM_EMPTY_LIST, PAGES_LOCKED clear, frames free");
    ExFreePool(m);

    /* Partial: 8 frames in the window, 16 asked. */
    hi = lo + 8 * 4096 - 1;
    m = MmAllocatePagesForMdl(A(lo), A(hi), A(0), 16 * 4096);
    t_ok(m && m->ByteCount == 8 * 4096 && MmGetMdlPfnArray(m)[8] == MM_EMPTY_LIST &&
             (m->MdlFlags & MDL_PAGES_LOCKED),
         "partial MDL: ByteCount %u (8 frames), PFN array ended by MM_EMPTY_LIST",
         m ? (unsigned)m->ByteCount : 0);
    bool inwin = m != NULL;
    for (int i = 0; m && i < 8; i++)
        inwin &= MmGetMdlPfnArray(m)[i] >= lo / 4096 && MmGetMdlPfnArray(m)[i] <= hi / 4096;
    t_ok(inwin, "every page of it lies in [Low, High]");
    release(m);
    m = MmAllocatePagesForMdlEx(A(lo), A(hi), A(0), 16 * 4096, MmCached, MM_ALLOCATE_FULLY_REQUIRED);
    t_ok(m == NULL && free_frames() == all, "FULLY_REQUIRED: all or nothing, nothing kept");
    release(m);
    m = MmAllocatePagesForMdl(A(0), A(0xfff), A(0), 4096);
    t_ok(m == NULL, "no page in the window: NULL");

    /* Skip windows: [Low + k*Skip, High + k*Skip] while pages are missing. */
    const struct mmc_run_info *big = &runs[0];
    for (long r = 1; r < nruns; r++)
        if (runs[r].frames > big->frames)
            big = &runs[r];
    lo = big->base_pfn * 4096;
    hi = lo + 4 * 4096 - 1;
    uint64_t skip = 64 * 1024;
    m = MmAllocatePagesForMdl(A(lo), A(hi), A(skip), 10 * 4096);
    bool windows = m && m->ByteCount == 10 * 4096;
    for (int i = 0; windows && i < 10; i++) {
        uint64_t pa = MmGetMdlPfnArray(m)[i] * 4096;
        windows &= pa >= lo && (pa - lo) % skip <= hi - lo;
    }
    t_ok(windows, "Skip 64 KiB: 10 pages from windows of 4 frames each %" PRIu64 " bytes apart", skip);
    release(m);

    /* REQUIRE_CONTIGUOUS_CHUNKS with Skip: chunks Skip long and Skip-aligned, checked by pagemap. */
    m = MmAllocatePagesForMdlEx(A(0), A(UINT64_MAX >> 1), A(skip), 1 << 20, MmCached,
                                MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS);
    bool chunks = m && m->ByteCount == 1 << 20;
    for (int c = 0; chunks && c < 16; c++) {
        const PFN_NUMBER *pf = MmGetMdlPfnArray(m) + c * 16;
        chunks &= (pf[0] * 4096) % skip == 0;
        const char *va = MmGetVirtualForPhysical(A(pf[0] * 4096));
        uint64_t pa = 0;
        chunks &= t_contiguous(va, skip, &pa) && pa == pf[0] * 4096;
        for (int j = 1; j < 16; j++)
            chunks &= pf[j] == pf[0] + (PFN_NUMBER)j;
    }
    t_ok(chunks, "CHUNKS: 1 MiB as 16 chunks of 64 KiB, each contiguous (pagemap) and 64 KiB-aligned");
    release(m);
    /* Skip 0: one contiguous block of TotalBytes. */
    m = MmAllocatePagesForMdlEx(A(0), A(UINT64_MAX >> 1), A(0), 256 * 1024, MmCached,
                                MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS);
    bool one = m && m->ByteCount == 256 * 1024;
    for (int j = 1; one && j < 64; j++)
        one &= MmGetMdlPfnArray(m)[j] == MmGetMdlPfnArray(m)[0] + (PFN_NUMBER)j;
    t_ok(one, "CHUNKS with Skip 0: one contiguous block");
    release(m);
    /* Partial chunks come whole: a window of 40 frames holds two 16-frame chunks at most. */
    lo = big->base_pfn * 4096;
    m = MmAllocatePagesForMdlEx(A(lo), A(lo + 40 * 4096 - 1), A(skip), 1 << 20, MmCached,
                                MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS);
    t_ok(m && m->ByteCount == 2 * skip && MmGetMdlPfnArray(m)[32] == MM_EMPTY_LIST,
         "CHUNKS partial: whole chunks only (%u bytes)", m ? (unsigned)m->ByteCount : 0);
    release(m);

    /* LOCAL_NODE_ONLY: every page on the calling thread's node. */
    m = MmAllocatePagesForMdlEx(A(0), A(UINT64_MAX >> 1), A(0), 64 * 4096, MmCached,
                                MM_ALLOCATE_FROM_LOCAL_NODE_ONLY);
    int here = numa_node_of_cpu(sched_getcpu()); /* may move, but the test pins nothing: one node here */
    bool local = m != NULL;
    for (int i = 0; m && i < 64; i++)
        local &= t_node_of(MmGetVirtualForPhysical(A(MmGetMdlPfnArray(m)[i] * 4096))) == here;
    t_ok(local, "LOCAL_NODE_ONLY: all 64 pages on the local node %d (move_pages)", here);
    release(m);

    /* Pages of an MDL are distinct and not handed to a contiguous block meanwhile. */
    m = MmAllocatePagesForMdl(A(0), A(UINT64_MAX >> 1), A(0), 4 << 20);
    void *c = MmAllocateContiguousMemory(1 << 20, A(UINT64_MAX >> 1));
    uint64_t cpa = c ? t_pfn(c) : 0;
    bool disjoint = m && c;
    for (uint64_t i = 0; disjoint && i < m->ByteCount / 4096; i++)
        disjoint &= MmGetMdlPfnArray(m)[i] < cpa || MmGetMdlPfnArray(m)[i] >= cpa + 256;
    t_ok(disjoint, "MDL pages and a contiguous block never share a frame");
    MmFreeContiguousMemory(c);
    release(m);
    t_ok(free_frames() == all, "all frames back");

    free(runs);
    mmc_fini();
    return t_done();
}
