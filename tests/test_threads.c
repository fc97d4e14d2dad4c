/* tests/test_threads.c: many threads allocating and freeing at once.
 *
 * 8 threads mix contiguous blocks (all routines), MDLs and frees. Each thread stamps its blocks
 * with (thread, sequence) and checks the stamps before freeing, so a frame handed to two owners
 * shows up as a torn stamp; every block is checked for contiguity against pagemap; at the end
 * the counts balance.
 */
#include "common.h"
#include "mmcontig/wdm.h"

#include <pthread.h>

enum { THREADS = 8, OPS = 4000, LIVE = 24 };

static PHYSICAL_ADDRESS A(uint64_t v) { return (PHYSICAL_ADDRESS){.QuadPart = (LONGLONG)v}; }

struct item {
    void *p;        /* contiguous block, or NULL */
    PMDL mdl;       /* or an MDL */
    uint64_t bytes, stamp;
};

struct result {
    unsigned ok, failed, torn, noncontig;
};

static void stamp(struct item *it)
{
    if (it->p) {
        for (uint64_t off = 0; off < it->bytes; off += 4096)
            *(uint64_t *)((char *)it->p + off) = it->stamp;
    } else {
        for (uint64_t i = 0; i < it->mdl->ByteCount / 4096; i++)
            *(uint64_t *)MmGetVirtualForPhysical(A(MmGetMdlPfnArray(it->mdl)[i] * 4096)) = it->stamp;
    }
}

static bool intact(const struct item *it)
{
    if (it->p) {
        for (uint64_t off = 0; off < it->bytes; off += 4096)
            if (*(uint64_t *)((char *)it->p + off) != it->stamp)
                return false;
        return true;
    }
    for (uint64_t i = 0; i < it->mdl->ByteCount / 4096; i++)
        if (*(uint64_t *)MmGetVirtualForPhysical(A(MmGetMdlPfnArray(it->mdl)[i] * 4096)) != it->stamp)
            return false;
    return true;
}

static void release(struct item *it)
{
    if (it->p) {
        MmFreeContiguousMemory(it->p);
    } else {
        MmFreePagesFromMdl(it->mdl);
        ExFreePool(it->mdl);
    }
}

static void *worker(void *arg)
{
    struct result *res = arg;
    uint64_t seed = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1;
    struct item live[LIVE];
    int n = 0;
    for (uint64_t op = 0; op < OPS; op++) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        if (n == LIVE || (n && seed % 2)) {
            int k = (int)((seed >> 8) % (uint64_t)n);
            res->torn += !intact(&live[k]);
            release(&live[k]);
            live[k] = live[--n];
            continue;
        }
        struct item it = {.stamp = ((uint64_t)(uintptr_t)arg << 32) | op};
        uint64_t frames = 1 + (seed >> 16) % 64;
        PHYSICAL_ADDRESS lo = A(0), hi = A(UINT64_MAX >> 1), b = A((seed >> 24) % 2 ? 256 * 1024 : 0);
        switch ((seed >> 32) % 4) {
        case 0:
            it.p = MmAllocateContiguousMemory(frames * 4096, hi);
            break;
        case 1: {
            SIZE_T bytes = frames * 4096;
            if (MmAllocateContiguousMemoryEx(&bytes, lo, hi, b, MM_ANY_NODE_OK, PAGE_READWRITE, NULL, 'rhT',
                                             (seed >> 40) % 2 ? MM_ALLOCATE_CONTIGUOUS_MEMORY_FAST_ONLY : 0,
                                             &it.p) != STATUS_SUCCESS)
                it.p = NULL;
            break;
        }
        case 2:
            it.p = MmAllocateContiguousNodeMemory(frames * 4096, lo, hi, b, PAGE_READWRITE, 0);
            break;
        default:
            it.mdl = MmAllocatePagesForMdlEx(lo, hi, A(0), frames * 4096, MmCached,
                                             MM_DONT_ZERO_ALLOCATION | MM_ALLOCATE_FULLY_REQUIRED);
            break;
        }
        if (!it.p && !it.mdl) {
            res->failed++;
            continue;
        }
        res->ok++;
        it.bytes = frames * 4096;
        if (it.p && (op % 16) == 0)
            res->noncontig += !t_contiguous(it.p, it.bytes, NULL);
        stamp(&it);
        live[n++] = it;
    }
    while (n)
        release(&live[--n]);
    return NULL;
}

int main(void)
{
    t_init_pool("64M");
    pthread_t th[THREADS];
    struct result res[THREADS];
    memset(res, 0, sizeof(res));
    for (int i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, worker, &res[i]);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    unsigned ok = 0, failed = 0, torn = 0, noncontig = 0;
    for (int i = 0; i < THREADS; i++) {
        ok += res[i].ok, failed += res[i].failed;
        torn += res[i].torn, noncontig += res[i].noncontig;
    }
    struct mmc_stats st;
    mmc_partition_stats(NULL, &st);
    t_ok(ok > THREADS * OPS / 4, "%d threads: %u allocations succeeded, %u failed", THREADS, ok, failed);
    t_ok(torn == 0, "no frame held by two owners (%u torn stamps)", torn);
    t_ok(noncontig == 0, "sampled blocks physically contiguous by pagemap (%u not)", noncontig);
    t_ok(st.free_frames == st.pool_frames && st.live_blocks == 0 && st.live_mdl_frames == 0,
         "counts balance: %llu of %llu frames free, %llu live blocks",
         (unsigned long long)st.free_frames, (unsigned long long)st.pool_frames,
         (unsigned long long)st.live_blocks);
    mmc_fini();
    return t_done();
}
