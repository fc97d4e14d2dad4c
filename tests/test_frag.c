/* tests/test_frag.c: the fragmentation measures against an independent recomputation.
 *
 * On simulated partitions (no hugepages needed) the test knows every block it allocated (their
 * PFNs from MmGetPhysicalAddress), so it rebuilds the free map itself, counts buddy blocks per
 * order, and applies the kernel's formulas written out here; mmc_partition_frag and the
 * buddyinfo line must agree. One case is computed by hand.
 */
#include "common.h"
#include "mmcontig/wdm.h"

#include <math.h>

static PHYSICAL_ADDRESS A(uint64_t v) { return (PHYSICAL_ADDRESS){.QuadPart = (LONGLONG)v}; }

static void *alloc_at(mmc_partition_t *p, uint64_t pfn, uint64_t frames)
{
    SIZE_T n = frames * 4096;
    void *b = NULL;
    NTSTATUS s = MmAllocateContiguousMemoryEx(&n, A(pfn * 4096), A((pfn + frames) * 4096 - 1), A(0), 0,
                                              PAGE_READWRITE, p, 'garF', 0, &b);
    return s == STATUS_SUCCESS ? b : NULL;
}

static bool close_to(double a, double b) { return fabs(a - b) < 1e-9; }

int main(void)
{
    struct mmc_sim_config sc;
    mmc_sim_config_init(&sc);
    sc.pool_bytes = 2 << 20; /* one hugepage, one run */
    mmc_partition_t *p = NULL;
    t_ok(mmc_partition_create_simulated(&sc, &p) == 0, "a one-hugepage simulated partition");
    struct mmc_run_info run;
    mmc_partition_runs(p, &run, 1);

    /* By hand: frame 1 taken. Free: [0,1) order 0, then [2,512) = 2^1 + 2^2 + ... + 2^8. */
    void *b = alloc_at(p, run.base_pfn + 1, 1);
    struct mmc_frag m;
    mmc_partition_frag(p, -1, &m);
    bool blocks = m.blocks[0] == 1 && m.free_frames == 511;
    for (int k = 1; k <= 8; k++)
        blocks &= m.blocks[k] == 1;
    for (int k = 9; k <= MMC_FRAG_MAX_ORDER; k++)
        blocks &= m.blocks[k] == 0;
    t_ok(blocks, "by hand: one block of each order 0..8");
    t_ok(close_to(m.unusable[9], 1.0) && close_to(m.unusable[0], 0.0) &&
             close_to(m.unusable[8], (511.0 - 256.0) / 511.0),
         "by hand: U(0) = 0, U(8) = 255/511, U(9) = 1");
    t_ok(close_to(m.fragmentation[9], 1.0 - (1.0 + 511.0 / 512.0) / 9.0) && m.fragmentation[8] == -1.0,
         "by hand: FI(9) = 1 - (1 + 511/512)/9, FI(8) = -1 (an order-8 block is free)");
    t_ok(m.largest_free_frames == 510 && m.free_stretches == 2 && m.stretch_histogram[0] == 1 &&
             m.stretch_histogram[8] == 1,
         "by hand: largest stretch 510, two stretches (lengths 1 and 510)");
    char line[256] = "";
    FILE *mem = fmemopen(line, sizeof(line), "w");
    mmc_partition_print_buddyinfo(p, mem);
    fclose(mem);
    t_ok(strcmp(line, "Node 0, zone mmcontig      1      1      1      1      1      1      1      1      1      0      0 \n") == 0,
         "buddyinfo line in the kernel's format: %s", line);
    MmFreeContiguousMemory(b);
    mmc_partition_destroy(p);

    /* Fragmented: 64 MiB in runs of ~4 hugepages, random blocks, then random frees. */
    mmc_sim_config_init(&sc);
    sc.pool_bytes = 64 << 20;
    sc.mean_run_hugepages = 4;
    sc.seed = 7;
    t_ok(mmc_partition_create_simulated(&sc, &p) == 0, "a 64 MiB simulated partition in short runs");
    long nruns = mmc_partition_runs(p, NULL, 0);
    struct mmc_run_info *runs = calloc((size_t)nruns, sizeof(*runs));
    mmc_partition_runs(p, runs, (size_t)nruns);
    uint64_t lo = runs[0].base_pfn, hi = runs[nruns - 1].base_pfn + runs[nruns - 1].frames;
    uint8_t *used = calloc(hi - lo, 1);
    void *live[4096];
    uint64_t live_pfn[4096], live_n[4096];
    int nlive = 0;
    uint64_t x = 12345;
    for (int i = 0; i < 6000 && nlive < 4096; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint64_t frames = 1 + x % 96;
        SIZE_T n = frames * 4096;
        void *q = NULL;
        if (MmAllocateContiguousMemoryEx(&n, A(0), A(-1), A(0), 0, PAGE_READWRITE, p, 'garF', 0, &q) != STATUS_SUCCESS)
            break;
        live[nlive] = q;
        live_pfn[nlive] = (uint64_t)MmGetPhysicalAddress(q).QuadPart / 4096;
        live_n[nlive++] = frames;
    }
    for (int i = 0; i < nlive; i++) { /* free about half, at random */
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        if (x % 2) {
            MmFreeContiguousMemory(live[i]);
            live_n[i] = 0;
        }
    }
    for (int i = 0; i < nlive; i++)
        for (uint64_t k = 0; k < live_n[i]; k++)
            used[live_pfn[i] + k - lo] = 1;

    /* The test's own count: free stretches per run, cut into aligned power-of-two blocks. */
    uint64_t n_k[MMC_FRAG_MAX_ORDER + 1] = {0}, F = 0, B = 0, largest = 0;
    for (long r = 0; r < nruns; r++) {
        uint64_t end = runs[r].base_pfn + runs[r].frames;
        for (uint64_t s = runs[r].base_pfn; s < end;) {
            if (used[s - lo]) {
                s++;
                continue;
            }
            uint64_t e = s;
            while (e < end && !used[e - lo])
                e++;
            largest = e - s > largest ? e - s : largest;
            for (uint64_t a = s; a < e;) {
                int k = 0;
                while (k < MMC_FRAG_MAX_ORDER && a % (2ull << k) == 0 && a + (2ull << k) <= e)
                    k++;
                n_k[k]++;
                a += 1ull << k;
            }
            s = e;
        }
    }
    for (int k = 0; k <= MMC_FRAG_MAX_ORDER; k++)
        F += n_k[k] << k, B += n_k[k];
    mmc_partition_frag(p, -1, &m);
    bool same = m.free_frames == F && m.largest_free_frames == largest;
    for (int k = 0; k <= MMC_FRAG_MAX_ORDER; k++)
        same &= m.blocks[k] == n_k[k];
    t_ok(same, "block counts per order equal the test's own recount (F = %llu, B = %llu)",
         (unsigned long long)F, (unsigned long long)B);
    bool formulas = true;
    for (int j = 0; j <= MMC_FRAG_MAX_ORDER; j++) {
        uint64_t S = 0;
        for (int k = j; k <= MMC_FRAG_MAX_ORDER; k++)
            S += n_k[k] << (k - j);
        double U = F ? (double)(F - (S << j)) / (double)F : 1.0;
        double FI = S ? -1.0 : (B ? 1.0 - (1.0 + (double)F / (double)(1ull << j)) / (double)B : 0.0);
        formulas &= close_to(m.unusable[j], U) && close_to(m.fragmentation[j], FI);
    }
    t_ok(formulas, "U(j) and FI(j), j = 0..18, equal the kernel's formulas applied to the recount "
                   "(U(9) = %.3f, FI(9) = %.3f)", m.unusable[9], m.fragmentation[9]);
    t_ok(m.coverage[0] <= m.coverage[1] && m.coverage[1] <= m.coverage[2] && m.coverage[2] <= m.coverage[3] &&
             m.coverage[3] <= 1.0 + 1e-12 && m.coverage[0] >= (double)largest / (double)F - 1e-12,
         "coverage by the largest 32/64/128/256 stretches is ordered and bounded (%.2f %.2f %.2f %.2f)",
         m.coverage[0], m.coverage[1], m.coverage[2], m.coverage[3]);
    for (int i = 0; i < nlive; i++)
        if (live_n[i])
            MmFreeContiguousMemory(live[i]);
    free(used);
    free(runs);
    mmc_partition_destroy(p);
    return t_done();
}
