/* alloc/frag.c: measures of fragmentation, read from the frame database.
 *
 * Owns the kernel's formulas (mm/vmstat.c) applied to a partition's free frames. Free memory is
 * described as a buddy allocator would hold it: each maximal free stretch inside a run is cut,
 * from its start, into the largest PFN-aligned power-of-two blocks that fit (orders 0..18, 4 KiB
 * to 1 GiB; a longer aligned stretch counts as several order-18 blocks). With n_k such blocks of
 * order k: F = sum n_k 2^k free frames, B = sum n_k blocks, S_j = sum_{k>=j} n_k 2^(k-j);
 *   unusable free space index  U(j)  = (F - S_j 2^j) / F   (1 when F = 0)
 *   fragmentation index        FI(j) = 1 - (1 + F / 2^j) / B   only when S_j = 0 (else -1,
 *                              the kernel's -1000: a block of that order is free; 0 if B = 0)
 * plus the largest free stretch, the histogram of free stretch lengths, the coverage of free
 * memory by the largest 32/64/128/256 stretches, and a /proc/buddyinfo-format line per node
 * (orders 0..10, as the kernel prints them; larger blocks counted as order-10 blocks).
 *
 * Cost: O(frames) per measure, under the partition lock: a measure, not a hot path.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int cmp_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Cut a free stretch of PFNs [s, e) into aligned power-of-two blocks. */
static void decompose(uint64_t s, uint64_t e, uint64_t *blocks)
{
    while (s < e) {
        unsigned k = s ? (unsigned)__builtin_ctzll(s) : 63;
        unsigned fit = 63 - (unsigned)__builtin_clzll(e - s);
        if (fit < k)
            k = fit;
        if (k > MMC_FRAG_MAX_ORDER)
            k = MMC_FRAG_MAX_ORDER;
        blocks[k]++;
        s += 1ull << k;
    }
}

/* The formulas, from the block counts alone (exported for the tests' cross-check). */
void _mmc_frag_indices(const uint64_t *blocks, double *unusable, double *fragmentation)
{
    uint64_t F = 0, B = 0;
    for (unsigned k = 0; k <= MMC_FRAG_MAX_ORDER; k++) {
        F += blocks[k] << k;
        B += blocks[k];
    }
    for (unsigned j = 0; j <= MMC_FRAG_MAX_ORDER; j++) {
        uint64_t S = 0;
        for (unsigned k = j; k <= MMC_FRAG_MAX_ORDER; k++)
            S += blocks[k] << (k - j);
        unusable[j] = F ? (double)(F - (S << j)) / (double)F : 1.0;
        if (S)
            fragmentation[j] = -1.0;
        else if (!B)
            fragmentation[j] = 0.0;
        else
            fragmentation[j] = 1.0 - (1.0 + (double)F / (double)(1ull << j)) / (double)B;
    }
}

MMC_API void mmc_frag_from_blocks(const uint64_t blocks[MMC_FRAG_MAX_ORDER + 1], struct mmc_frag *out)
{
    if (!blocks || !out) {
        _mmc_set_error("mmc_frag_from_blocks: blocks and out must not be NULL");
        return;
    }
    memset(out, 0, sizeof(*out));
    for (unsigned k = 0; k <= MMC_FRAG_MAX_ORDER; k++) {
        out->blocks[k] = blocks[k];
        out->free_frames += blocks[k] << k;
    }
    _mmc_frag_indices(out->blocks, out->unusable, out->fragmentation);
}

/* Measure the frames of node `node` (-1: all). Partition lock held. */
static int measure(const struct mmc_frames *f, int node, struct mmc_frag *out)
{
    memset(out, 0, sizeof(*out));
    uint64_t cap = 1024, n = 0;
    uint64_t *lens = malloc(cap * sizeof(*lens));
    if (!lens)
        return -ENOMEM;
    for (uint64_t r = 0; r < f->nruns; r++) {
        const struct mmc_run *run = &f->runs[r];
        if (node >= 0 && run->node != (unsigned)node)
            continue;
        for (uint64_t i = 0; i < run->frames;) {
            if (!mmc_frame_is_free(f, run->first_frame + i)) {
                i++;
                continue;
            }
            uint64_t start = i;
            while (i < run->frames && mmc_frame_is_free(f, run->first_frame + i))
                i++;
            uint64_t len = i - start;
            decompose(run->base_pfn + start, run->base_pfn + i, out->blocks);
            out->free_frames += len;
            out->free_stretches++;
            out->stretch_histogram[63 - __builtin_clzll(len)]++;
            if (len > out->largest_free_frames)
                out->largest_free_frames = len;
            if (n == cap) {
                uint64_t *nl = realloc(lens, 2 * cap * sizeof(*lens));
                if (!nl) {
                    free(lens);
                    return -ENOMEM;
                }
                lens = nl, cap *= 2;
            }
            lens[n++] = len;
        }
    }
    _mmc_frag_indices(out->blocks, out->unusable, out->fragmentation);
    qsort(lens, n, sizeof(*lens), cmp_desc);
    static const unsigned top[4] = {32, 64, 128, 256};
    for (unsigned t = 0; t < 4; t++) {
        uint64_t sum = 0;
        for (uint64_t i = 0; i < n && i < top[t]; i++)
            sum += lens[i];
        out->coverage[t] = out->free_frames ? (double)sum / (double)out->free_frames : 0.0;
    }
    free(lens);
    return 0;
}

MMC_API int mmc_partition_frag(mmc_partition_t *handle, int node, struct mmc_frag *out)
{
    if (!out || node < -1 || node >= MMC_MAX_NODES) {
        _mmc_set_error("mmc_partition_frag: node must be -1 (all) or a node number, out non-NULL");
        return -EINVAL;
    }
    struct mmc_partition *p = _mmc_partition_resolve(handle);
    if (!p)
        return -EINVAL;
    _mmc_partition_lock(p);
    int rc = measure(&p->frames, node, out);
    _mmc_partition_unlock(p);
    _mmc_read_exit();
    return rc;
}

MMC_API int mmc_partition_print_buddyinfo(mmc_partition_t *handle, FILE *f)
{
    if (!f) {
        _mmc_set_error("mmc_partition_print_buddyinfo: f is NULL; pass a stream (stdout...)");
        return -EINVAL;
    }
    struct mmc_partition *p = _mmc_partition_resolve(handle);
    if (!p)
        return -EINVAL;
    int rc = 0;
    _mmc_partition_lock(p);
    for (unsigned node = 0; node < p->frames.nnodes && rc == 0; node++) {
        if (!p->frames.node[node].frames)
            continue;
        struct mmc_frag m;
        rc = measure(&p->frames, (int)node, &m);
        if (rc)
            break;
        fprintf(f, "Node %u, zone %8s ", node, "mmcontig");
        for (unsigned k = 0; k <= 10; k++) {
            uint64_t c = m.blocks[k];
            if (k == 10) /* the kernel's largest order holds what is above it */
                for (unsigned h = 11; h <= MMC_FRAG_MAX_ORDER; h++)
                    c += m.blocks[h] << (h - 10);
            fprintf(f, "%6llu ", (unsigned long long)c);
        }
        fputc('\n', f);
    }
    _mmc_partition_unlock(p);
    _mmc_read_exit();
    return rc;
}
