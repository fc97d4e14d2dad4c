/* tests/test_stress.c: 8 threads, 10^5 mixed operations, invariants checked while they run.
 *
 * Eight workers allocate and free at random: contiguous blocks through every routine (the
 * system partition, a shared partition with another engine, partitions of their own), MDLs
 * (plain, zeroed or not, all-or-nothing, one contiguous chunk), load frames (movable, standby),
 * and two of them create and destroy partitions all along (one real, one simulated with a new
 * layout and engine each time; every other one destroyed with allocations still live). Every
 * real block, MDL page and movable load frame carries a stamp checked before it is freed, so a
 * frame handed to two owners shows up as a torn stamp.
 *
 * Every CHECK_EVERY operations the workers meet at a barrier and one of them checks, with the
 * world quiet: no frame is held twice (physical ranges from pagemap for real memory, from
 * MmGetPhysicalAddress / the PFN arrays for simulated memory), every live block is physically
 * contiguous by pagemap and where MmGetPhysicalAddress says, and each partition's counts
 * balance with what the workers hold (mmc_partition_stats). Meanwhile a checker thread reads
 * statistics, translates random pool addresses (MmGetPhysicalAddress against pagemap) and
 * queries them, racing the workers. At the end everything is freed, the counts are back to
 * all-free, and after mmc_fini the hugepages, file descriptors and mappings are as before.
 *
 * MMC_STRESS_OPS overrides the total number of operations (default 300000).
 */
#include "common.h"
#include "mmcontig/testing.h"
#include "mmcontig/wdm.h"
#include "reliability.h"

#include <pthread.h>
#include <time.h>

enum { WORKERS = 8, LIVE = 24, MAXLOAD = 8, MAXFRAMES = 512 /* per item */ };
#define REAL_OWNER 6      /* creates and destroys real partitions */
#define SIM_OWNER 7       /* creates and destroys simulated partitions */

static PHYSICAL_ADDRESS A(uint64_t v) { return (PHYSICAL_ADDRESS){.QuadPart = (LONGLONG)v}; }

enum kind { K_CONTIG, K_MDL, K_LOAD };

struct item {
    enum kind kind;
    void *p;                    /* K_CONTIG */
    PMDL mdl;                   /* K_MDL */
    mmc_load_t h[MAXLOAD];      /* K_LOAD */
    unsigned nh;
    int load_kind;
    uint64_t frames;            /* K_CONTIG: block length; K_MDL: pages */
    uint64_t stamp;
    mmc_partition_t *part;      /* NULL: system */
    bool sim;                   /* simulated memory: never touched */
};

struct worker {
    int id;
    uint64_t seed, ops;
    struct item live[LIVE];
    int n;
    mmc_partition_t *own;       /* REAL_OWNER / SIM_OWNER: the current partition of its own */
    unsigned created, destroyed_live, topped;
    uint64_t ok, failed, torn, unzeroed, frees;
    char pad[64];
};

static struct worker W[WORKERS];
static mmc_partition_t *shared;
static pthread_barrier_t barrier;
static uint64_t ops_per_worker, check_every;
static int pagemap_fd = -1;
static volatile int done;       /* written once after the workers are joined (atomics below) */
static const char *engines[16];
static unsigned nengines;

/* Results of the barrier checks (written by the serial thread only). */
static unsigned checks, check_fail_overlap, check_fail_contig, check_fail_counts, check_fail_pa;
static uint64_t max_ranges;
/* Results of the racing checker. */
static uint64_t race_iters, race_bad_stats, race_bad_pa, race_bad_query;

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

/* PFNs of n frames from va by pagemap (0 where absent). */
static void pagemap_pfns(const void *va, uint64_t n, uint64_t *out)
{
    uint64_t done_n = 0;
    while (done_n < n) {
        uint64_t k = n - done_n < 512 ? n - done_n : 512;
        off_t off = (off_t)(((uintptr_t)va / 4096 + done_n) * 8);
        if (pread(pagemap_fd, out + done_n, k * 8, off) != (ssize_t)(k * 8)) {
            memset(out + done_n, 0, k * 8);
        }
        for (uint64_t j = 0; j < k; j++) {
            uint64_t e = out[done_n + j];
            out[done_n + j] = (e >> 63) ? (e & ((1ull << 55) - 1)) : 0;
        }
        done_n += k;
    }
}

static uint64_t pagemap_pfn(const void *va)
{
    uint64_t p;
    pagemap_pfns(va, 1, &p);
    return p;
}

/* ---- the operations ---- */

static void stamp_item(struct item *it)
{
    if (it->sim)
        return;
    if (it->kind == K_CONTIG) {
        for (uint64_t f = 0; f < it->frames; f++)
            *(volatile uint64_t *)((char *)it->p + f * 4096) = it->stamp + f;
    } else if (it->kind == K_MDL) {
        for (uint64_t k = 0; k < it->frames; k++)
            *(volatile uint64_t *)MmGetVirtualForPhysical(A(MmGetMdlPfnArray(it->mdl)[k] * 4096)) = it->stamp + k;
    } else {
        for (unsigned k = 0; k < it->nh; k++) {
            uint64_t v = it->stamp + k;
            mmc_load_write(it->part, it->h[k], 0, &v, sizeof(v));
        }
    }
}

static bool intact(const struct item *it)
{
    if (it->sim)
        return true;
    if (it->kind == K_CONTIG) {
        for (uint64_t f = 0; f < it->frames; f++)
            if (*(volatile uint64_t *)((char *)it->p + f * 4096) != it->stamp + f)
                return false;
    } else if (it->kind == K_MDL) {
        for (uint64_t k = 0; k < it->frames; k++)
            if (*(volatile uint64_t *)MmGetVirtualForPhysical(A(MmGetMdlPfnArray(it->mdl)[k] * 4096)) !=
                it->stamp + k)
                return false;
    } else {
        for (unsigned k = 0; k < it->nh; k++) {
            uint64_t v = 0;
            int rc = mmc_load_read(it->part, it->h[k], 0, &v, sizeof(v));
            if (rc == -ENODATA && it->load_kind == MMC_LOAD_STANDBY)
                continue; /* a trade dropped it: allowed for standby */
            if (rc != 0 || v != it->stamp + k)
                return false;
        }
    }
    return true;
}

static void release(struct worker *w, struct item *it)
{
    if (it->kind == K_CONTIG) {
        if (w->seed & 1)
            MmFreeContiguousMemory(it->p);
        else
            MmFreeContiguousMemorySpecifyCache(it->p, it->frames * 4096, MmCached);
    } else if (it->kind == K_MDL) {
        MmFreePagesFromMdl(it->mdl);
        ExFreePool(it->mdl);
    } else {
        mmc_load_free(it->part, it->h, it->nh);
    }
    w->frees++;
}

/* A random partition for Ex / MDL: system, shared, or the worker's own. */
static mmc_partition_t *pick_part(struct worker *w, uint64_t r, bool *sim)
{
    *sim = false;
    switch (r % 3) {
    case 0:
        return NULL;
    case 1:
        return shared;
    default:
        *sim = w->id == SIM_OWNER && w->own;
        return w->own; /* NULL (system) for the workers without one */
    }
}

static bool allocate(struct worker *w, uint64_t op, struct item *it)
{
    uint64_t r = rnd(&w->seed);
    memset(it, 0, sizeof(*it));
    it->stamp = ((uint64_t)w->id << 56) | (op << 16);
    /* mostly small, now and then up to 2 MiB: the pools fill up, searches fail, trades happen */
    uint64_t frames = (r >> 60) == 0 ? 1 + (r >> 8) % MAXFRAMES : 1 + (r >> 8) % 48;
    PHYSICAL_ADDRESS lo = A(0), hi = A(UINT64_MAX >> 1), none = A(0);
    PHYSICAL_ADDRESS b = A((r >> 20) % 3 == 0 ? 256 * 1024 : 0);
    it->frames = frames;
    it->kind = K_CONTIG;
    switch ((r >> 32) % 8) {
    case 0:
        it->p = MmAllocateContiguousMemory(frames * 4096, hi);
        break;
    case 1:
        it->p = MmAllocateContiguousMemorySpecifyCache(frames * 4096, lo, hi, b, (MEMORY_CACHING_TYPE)((r >> 40) % 3));
        break;
    case 2:
        it->p = MmAllocateContiguousMemorySpecifyCacheNode(frames * 4096, lo, hi, b, MmCached, 0);
        break;
    case 3:
        it->p = MmAllocateContiguousNodeMemory(frames * 4096, lo, hi, b,
                                               (r >> 40) % 2 ? PAGE_READWRITE | PAGE_NOCACHE : PAGE_READWRITE, 0);
        break;
    case 4:
    case 5: {
        it->part = pick_part(w, r >> 44, &it->sim);
        if (it->part == shared && (r >> 58) % 2) /* large, in the partition full of load: trades */
            it->frames = frames = 128 + (r >> 8) % 384;
        SIZE_T bytes = frames * 4096;
        if (MmAllocateContiguousMemoryEx(&bytes, lo, hi, b, (r >> 48) % 2 ? MM_ANY_NODE_OK : 0,
                                         (r >> 50) % 2 ? PAGE_EXECUTE_READWRITE : PAGE_READWRITE, it->part,
                                         'srtS', (r >> 52) % 4 == 0 ? MM_ALLOCATE_CONTIGUOUS_MEMORY_FAST_ONLY : 0,
                                         &it->p) != STATUS_SUCCESS)
            it->p = NULL;
        break;
    }
    case 6: {
        it->kind = K_MDL;
        it->part = pick_part(w, r >> 44, &it->sim);
        static const ULONG flag_sets[] = {0, MM_DONT_ZERO_ALLOCATION, MM_ALLOCATE_FULLY_REQUIRED,
                                          MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS | MM_DONT_ZERO_ALLOCATION,
                                          MM_ALLOCATE_PREFER_CONTIGUOUS};
        ULONG flags = flag_sets[(r >> 48) % 5];
        it->mdl = it->part || (r >> 56) % 2
                      ? mmc_allocate_pages_for_mdl(it->part, 0, INT64_MAX, 0, frames * 4096, MmCached, flags)
                      : MmAllocatePagesForMdlEx(lo, hi, none, frames * 4096, MmCached, flags);
        if (it->mdl) {
            it->frames = it->mdl->ByteCount / 4096;
            if (!(flags & MM_DONT_ZERO_ALLOCATION) && !it->sim)
                for (uint64_t k = 0; k < it->frames; k++)
                    w->unzeroed += *(volatile uint64_t *)MmGetVirtualForPhysical(
                                       A(MmGetMdlPfnArray(it->mdl)[k] * 4096)) != 0;
            if ((flags & MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS) && !it->sim) {
                /* one chunk: physically contiguous */
                for (uint64_t k = 1; k < it->frames; k++)
                    w->torn += MmGetMdlPfnArray(it->mdl)[k] != MmGetMdlPfnArray(it->mdl)[0] + k;
            }
        }
        return it->mdl != NULL;
    }
    default: {
        it->kind = K_LOAD;
        it->part = (r >> 44) % 4 ? shared : NULL;
        it->load_kind = (r >> 46) % 2 ? MMC_LOAD_MOVABLE : MMC_LOAD_STANDBY;
        unsigned want = 1 + (unsigned)((r >> 48) % MAXLOAD);
        long got = mmc_load_alloc(it->part, it->load_kind, -1, want, it->h);
        it->nh = got > 0 ? (unsigned)got : 0;
        it->frames = it->nh;
        return it->nh > 0;
    }
    }
    return it->p != NULL;
}

/* Replace the worker's own partition: destroy the old one (with its allocations still live
 * every other time), create a new one. */
static void cycle_partition(struct worker *w)
{
    if (w->own) {
        bool with_live = w->created % 2 == 0;
        PMDL orphans[LIVE];
        int norphans = 0;
        for (int k = 0; k < w->n;) {
            struct item *it = &w->live[k];
            if (it->part != w->own) {
                k++;
                continue;
            }
            if (!with_live)
                release(w, it);
            else if (it->kind == K_MDL)
                orphans[norphans++] = it->mdl;
            w->live[k] = w->live[--w->n];
        }
        mmc_partition_destroy(w->own); /* releases what is still live in it */
        /* an MDL whose partition is gone: its pages went with it, ExFreePool takes the MDL */
        for (int k = 0; k < norphans; k++)
            ExFreePool(orphans[k]);
        w->destroyed_live += with_live;
        w->own = NULL;
    }
    uint64_t r = rnd(&w->seed);
    int rc;
    if (w->id == SIM_OWNER) {
        struct mmc_sim_config sc;
        mmc_sim_config_init(&sc);
        sc.pool_bytes = (8 + (r % 4) * 8) << 20;
        sc.nnodes = 1 + (unsigned)((r >> 8) % 4);
        sc.mean_run_hugepages = (double)((r >> 12) % 4);
        sc.node_split = (int)((r >> 16) % 2);
        sc.seed = r >> 20;
        snprintf(sc.algo, sizeof(sc.algo), "%s", engines[(r >> 24) % nengines]);
        rc = mmc_partition_create_simulated(&sc, &w->own);
    } else {
        struct mmc_config cfg;
        mmc_config_init(&cfg);
        cfg.pool_bytes = 8 << 20;
        snprintf(cfg.algo, sizeof(cfg.algo), "%s", engines[(r >> 24) % nengines]);
        rc = mmc_partition_create(&cfg, &w->own);
        struct mmc_stats st;
        if (rc == 0 && mmc_partition_stats(w->own, &st) == 0 && st.topup_hugepages)
            w->topped++;
    }
    if (rc == 0)
        w->created++;
    else
        w->own = NULL;
}

/* ---- the barrier check (world quiet) ---- */

struct range {
    uintptr_t space;            /* 0: machine PFNs; else the simulated partition */
    uint64_t start, n;
    int owner;
};

static int cmp_range(const void *a, const void *b)
{
    const struct range *x = a, *y = b;
    if (x->space != y->space)
        return x->space < y->space ? -1 : 1;
    return x->start < y->start ? -1 : x->start > y->start;
}

struct tally {
    mmc_partition_t *part;
    uint64_t held, blocks, mdl, movable, standby;
};

static struct tally *tally_of(struct tally *t, unsigned *nt, mmc_partition_t *part)
{
    for (unsigned k = 0; k < *nt; k++)
        if (t[k].part == part)
            return &t[k];
    t[*nt] = (struct tally){.part = part};
    return &t[(*nt)++];
}

static void check_world(void)
{
    static struct range ranges[WORKERS * LIVE * MAXFRAMES];
    static uint64_t pfns[MAXFRAMES];
    struct tally tallies[WORKERS + 4];
    unsigned nt = 0;
    size_t nr = 0;
    bool contig_ok = true, pa_ok = true;
    tally_of(tallies, &nt, NULL);
    tally_of(tallies, &nt, shared);
    for (int w = 0; w < WORKERS; w++) {
        if (W[w].own)
            tally_of(tallies, &nt, W[w].own);
        for (int k = 0; k < W[w].n; k++) {
            const struct item *it = &W[w].live[k];
            struct tally *t = tally_of(tallies, &nt, it->part);
            uintptr_t space = it->sim ? (uintptr_t)it->part : 0;
            if (it->kind == K_CONTIG) {
                t->blocks++;
                t->held += it->frames;
                uint64_t pa = (uint64_t)MmGetPhysicalAddress(it->p).QuadPart;
                if (!it->sim) {
                    pagemap_pfns(it->p, it->frames, pfns);
                    for (uint64_t f = 0; f < it->frames; f++)
                        contig_ok &= pfns[f] && pfns[f] == pfns[0] + f;
                    pa_ok &= pa == pfns[0] * 4096;
                }
                ranges[nr++] = (struct range){space, pa / 4096, it->frames, w};
            } else if (it->kind == K_MDL) {
                t->mdl += it->frames;
                t->held += it->frames;
                for (uint64_t j = 0; j < it->frames; j++) {
                    uint64_t pfn = MmGetMdlPfnArray(it->mdl)[j];
                    if (!it->sim)
                        pa_ok &= pagemap_pfn(MmGetVirtualForPhysical(A(pfn * 4096))) == pfn;
                    ranges[nr++] = (struct range){space, pfn, 1, w};
                }
            } else {
                for (unsigned j = 0; j < it->nh; j++) {
                    uint64_t pfn = mmc_load_pfn(it->part, it->h[j]);
                    if (!pfn) { /* dropped by a trade: standby only */
                        pa_ok &= it->load_kind == MMC_LOAD_STANDBY;
                        continue;
                    }
                    t->held++;
                    if (it->load_kind == MMC_LOAD_MOVABLE)
                        t->movable++;
                    else
                        t->standby++;
                    pa_ok &= pagemap_pfn(MmGetVirtualForPhysical(A(pfn * 4096))) == pfn;
                    ranges[nr++] = (struct range){space, pfn, 1, w};
                }
            }
        }
    }
    qsort(ranges, nr, sizeof(ranges[0]), cmp_range);
    bool disjoint = true;
    for (size_t k = 1; k < nr; k++)
        if (ranges[k].space == ranges[k - 1].space && ranges[k].start < ranges[k - 1].start + ranges[k - 1].n) {
            if (disjoint)
                printf("# frame %#llx held twice (workers %d and %d)\n", (unsigned long long)ranges[k].start,
                       ranges[k - 1].owner, ranges[k].owner);
            disjoint = false;
        }
    bool counts = true;
    for (unsigned k = 0; k < nt; k++) {
        struct mmc_stats st;
        if (mmc_partition_stats(tallies[k].part, &st) < 0) {
            counts = false;
            continue;
        }
        uint64_t node_sum = 0;
        for (unsigned n = 0; n < MMC_MAX_NODES; n++)
            node_sum += st.node_free_frames[n];
        bool ok = st.pool_frames - st.free_frames == tallies[k].held && st.live_blocks == tallies[k].blocks &&
                  st.live_mdl_frames == tallies[k].mdl && st.live_movable == tallies[k].movable &&
                  st.live_standby == tallies[k].standby && node_sum == st.free_frames;
        if (!ok)
            printf("# partition %p: %llu frames in use, workers hold %llu; blocks %llu/%llu; mdl %llu/%llu; "
                   "movable %llu/%llu; standby %llu/%llu\n",
                   (void *)tallies[k].part, (unsigned long long)(st.pool_frames - st.free_frames),
                   (unsigned long long)tallies[k].held, (unsigned long long)st.live_blocks,
                   (unsigned long long)tallies[k].blocks, (unsigned long long)st.live_mdl_frames,
                   (unsigned long long)tallies[k].mdl, (unsigned long long)st.live_movable,
                   (unsigned long long)tallies[k].movable, (unsigned long long)st.live_standby,
                   (unsigned long long)tallies[k].standby);
        counts &= ok;
    }
    checks++;
    check_fail_overlap += !disjoint;
    check_fail_contig += !contig_ok;
    check_fail_pa += !pa_ok;
    check_fail_counts += !counts;
    if (nr > max_ranges)
        max_ranges = nr;
}

static void meet(void)
{
    if (pthread_barrier_wait(&barrier) == PTHREAD_BARRIER_SERIAL_THREAD)
        check_world();
    pthread_barrier_wait(&barrier);
}

static void *worker(void *arg)
{
    struct worker *w = arg;
    uint64_t part_every = w->id == REAL_OWNER ? ops_per_worker / 8 : ops_per_worker / 24;
    if (w->id == REAL_OWNER || w->id == SIM_OWNER)
        cycle_partition(w);
    for (uint64_t op = 1; op <= ops_per_worker; op++, w->ops++) {
        if (op % check_every == 0)
            meet();
        if ((w->id == REAL_OWNER || w->id == SIM_OWNER) && part_every && op % part_every == 0)
            cycle_partition(w);
        uint64_t r = rnd(&w->seed);
        if (w->n == LIVE || (w->n && r % 2)) {
            int k = (int)((r >> 8) % (uint64_t)w->n);
            w->torn += !intact(&w->live[k]);
            release(w, &w->live[k]);
            w->live[k] = w->live[--w->n];
            continue;
        }
        struct item it;
        if (!allocate(w, op, &it)) {
            w->failed++;
            continue;
        }
        w->ok++;
        stamp_item(&it);
        w->live[w->n++] = it;
    }
    meet(); /* a last check with everything still live */
    while (w->n) {
        struct item *it = &w->live[--w->n];
        w->torn += !intact(it);
        release(w, it);
    }
    return NULL;
}

/* ---- the racing checker ---- */

static void *checker(void *arg)
{
    (void)arg;
    uint64_t seed = 0x5eed;
    struct mmc_run_info runs[64];
    while (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
        mmc_partition_t *parts[2] = {NULL, shared};
        for (int k = 0; k < 2; k++) {
            struct mmc_stats st;
            if (mmc_partition_stats(parts[k], &st) < 0) {
                race_bad_stats++;
                continue;
            }
            uint64_t node_sum = 0;
            for (unsigned n = 0; n < MMC_MAX_NODES; n++)
                node_sum += st.node_free_frames[n];
            race_bad_stats += node_sum != st.free_frames || st.free_frames > st.pool_frames ||
                              st.live_mdl_frames + st.live_movable + st.live_standby > st.pool_frames - st.free_frames;
            long nr = mmc_partition_runs(parts[k], runs, 64);
            if (nr <= 0)
                continue;
            const struct mmc_run_info *run = &runs[rnd(&seed) % (uint64_t)(nr < 64 ? nr : 64)];
            char *va = (char *)run->va + (rnd(&seed) % run->frames) * 4096 + rnd(&seed) % 4096;
            uint64_t pa = (uint64_t)MmGetPhysicalAddress(va).QuadPart;
            race_bad_pa += pa != pagemap_pfn(va) * 4096 + ((uintptr_t)va & 4095);
            struct mmc_alloc_info info;
            if (mmc_query(va, &info) == 0)
                race_bad_query += !((char *)info.base <= va && va < (char *)info.base + info.bytes &&
                                    info.partition == (parts[k] ? parts[k] : mmc_system_partition()));
        }
        race_iters++;
    }
    return NULL;
}

/* One run: workers and checker, from a fresh init to mmc_fini. */
static void run(uint64_t total, bool report)
{
    ops_per_worker = (total + WORKERS - 1) / WORKERS;
    check_every = ops_per_worker / 10 ? ops_per_worker / 10 : 1;
    memset(W, 0, sizeof(W));
    checks = check_fail_overlap = check_fail_contig = check_fail_counts = check_fail_pa = 0;
    max_ranges = race_iters = race_bad_stats = race_bad_pa = race_bad_query = 0;
    __atomic_store_n(&done, 0, __ATOMIC_RELEASE);

    /* The system partition takes the free hugepages there are (32 MiB to 512 MiB): the shared
     * partition and every real partition made during the run then raise nr_hugepages and give
     * it back, concurrently, under the library's lock. */
    uint64_t free_mb = t_sysfs_u64("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages") * 2;
    char sys_pool[32];
    snprintf(sys_pool, sizeof(sys_pool), "%lluM",
             (unsigned long long)(free_mb < 32 ? 32 : free_mb > 512 ? 512 : free_mb));
    t_init_pool(sys_pool);
    struct mmc_config cfg;
    mmc_config_init(&cfg);
    cfg.pool_bytes = 16 << 20;
    snprintf(cfg.algo, sizeof(cfg.algo), "%s", engines[nengines > 1 ? 1 : 0]);
    int rc = mmc_partition_create(&cfg, &shared);
    if (report)
        t_ok(rc == 0, "a shared 16 MiB partition (engine %s); the system partition %s (engine %s)",
             cfg.algo, sys_pool, getenv("MMC_ALGO") ? getenv("MMC_ALGO") : "tree");

    pthread_barrier_init(&barrier, NULL, WORKERS);
    pthread_t th[WORKERS], chk;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_create(&chk, NULL, checker, NULL);
    for (int i = 0; i < WORKERS; i++) {
        W[i].id = i;
        W[i].seed = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1) + total;
        pthread_create(&th[i], NULL, worker, &W[i]);
    }
    for (int i = 0; i < WORKERS; i++)
        pthread_join(th[i], NULL);
    __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
    pthread_join(chk, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

    uint64_t ops = 0, ok = 0, failed = 0, torn = 0, unzeroed = 0, frees = 0;
    unsigned created = 0, destroyed_live = 0;
    for (int i = 0; i < WORKERS; i++) {
        ops += W[i].ops, ok += W[i].ok, failed += W[i].failed, torn += W[i].torn;
        unzeroed += W[i].unzeroed, frees += W[i].frees;
        created += W[i].created, destroyed_live += W[i].destroyed_live;
    }
    struct mmc_stats sys, sh;
    mmc_partition_stats(NULL, &sys);
    mmc_partition_stats(shared, &sh);
    unsigned topped = 0;
    for (int i = 0; i < WORKERS; i++)
        topped += W[i].topped;
    if (report) {
        t_ok(ops >= total && ops >= 100000, "%d threads, %llu operations in %.1f s: %llu allocations, %llu "
             "failed, %llu frees; %llu trades (%llu frames moved, %llu dropped)",
             WORKERS, (unsigned long long)ops, secs, (unsigned long long)ok, (unsigned long long)failed,
             (unsigned long long)frees, (unsigned long long)(sys.trades + sh.trades),
             (unsigned long long)(sys.frames_moved + sh.frames_moved),
             (unsigned long long)(sys.frames_dropped + sh.frames_dropped));
        t_ok(ok > ops / 4, "most allocations succeed (%llu of %llu)", (unsigned long long)ok,
             (unsigned long long)(ok + failed));
        t_ok(created >= 4 && destroyed_live >= 2,
             "partitions created and destroyed while running: %u (%u destroyed with allocations live, "
             "%u real ones raised nr_hugepages)", created, destroyed_live, topped);
        t_ok(torn == 0, "no stamp torn: no frame had two owners (%llu torn)", (unsigned long long)torn);
        t_ok(unzeroed == 0, "MDL pages come zeroed (%llu not)", (unsigned long long)unzeroed);
        t_ok(checks >= 10 && check_fail_overlap == 0,
             "%u checks at barriers (up to %llu ranges): no frame held twice (%u failed)", checks,
             (unsigned long long)max_ranges, check_fail_overlap);
        t_ok(check_fail_contig == 0,
             "every live block physically contiguous by pagemap at every check (%u failed)", check_fail_contig);
        t_ok(check_fail_pa == 0, "MmGetPhysicalAddress, MDL PFNs and load PFNs agree with pagemap (%u failed)",
             check_fail_pa);
        t_ok(check_fail_counts == 0, "each partition's counts balance with what the workers hold (%u failed)",
             check_fail_counts);
        t_ok(race_iters > 0 && race_bad_stats == 0 && race_bad_pa == 0 && race_bad_query == 0,
             "racing checker: %llu rounds; stats consistent (%llu bad), translation = pagemap (%llu bad), "
             "queries contain their address (%llu bad)",
             (unsigned long long)race_iters, (unsigned long long)race_bad_stats,
             (unsigned long long)race_bad_pa, (unsigned long long)race_bad_query);
    }
    bool all_free = true;
    mmc_partition_t *parts[4] = {NULL, shared, W[REAL_OWNER].own, W[SIM_OWNER].own};
    for (int k = 0; k < 4; k++) {
        struct mmc_stats st;
        if (k && !parts[k])
            continue;
        all_free &= mmc_partition_stats(parts[k], &st) == 0 && st.free_frames == st.pool_frames &&
                    st.live_blocks == 0 && st.live_mdl_frames == 0 && st.live_movable == 0 &&
                    st.live_standby == 0;
    }
    if (report)
        t_ok(all_free, "after the run every partition is all free, no block, MDL page or load frame left");
    struct t_views views[4];
    bool found = true;
    uint64_t topup = 0; /* what the partitions still alive added to nr_hugepages */
    for (int k = 0; k < 4; k++) {
        struct mmc_stats st;
        found &= (k && !parts[k]) || t_views_of(parts[k], &views[k]);
        if ((!k || parts[k]) && mmc_partition_stats(parts[k], &st) == 0)
            topup += st.topup_hugepages;
    }
    const uint64_t nr_live = t_sysfs_u64(T_NR_2M), others_live = t_others_hugetlb_kb();
    for (int k = 1; k < 4; k++)
        if (parts[k])
            mmc_partition_destroy(parts[k]);
    mmc_fini();
    const uint64_t nr_gone = t_sysfs_u64(T_NR_2M);
    const bool busy = t_others_hugetlb_kb() != others_live;
    if (report)
        t_ok(t_self_hugetlb_kb() == 0 && (busy || nr_live - nr_gone == topup),
             "teardown: no hugetlb memory mapped any more (%llu kB), nr_hugepages fell by the %llu the "
             "pools had added (%llu -> %llu%s)", (unsigned long long)t_self_hugetlb_kb(),
             (unsigned long long)topup, (unsigned long long)nr_live, (unsigned long long)nr_gone,
             busy ? "; not compared: another process's pools changed meanwhile" : "");
    bool gone = found;
    for (int k = 0; k < 4; k++)
        gone &= (k && !parts[k]) || t_views_gone(&views[k]);
    if (report)
        t_ok(gone, "after mmc_fini no page of any partition's two views is mapped (real and simulated)");
    pthread_barrier_destroy(&barrier);
}

int main(void)
{
    const char *env = getenv("MMC_STRESS_OPS");
    uint64_t total = env ? strtoull(env, NULL, 10) : 300000;
    for (const char *e; nengines < 16 && (e = mmc_engine_name(nengines));)
        engines[nengines++] = e;
    pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    (void)t_pfn(&total); /* opens common.h's pagemap fd before any thread starts */

    /* A short run first: the C library keeps thread stacks and malloc arenas, hwloc and libnuma
     * what they open; then the machine is measured, and must be the same after the real run. */
    run(WORKERS * 100, false);
    const uint64_t nr_before = t_sysfs_u64(T_NR_2M), others_before = t_others_hugetlb_kb();
    const unsigned fds_before = t_count_fds();
    const struct t_maps maps_before = t_count_maps();
    run(total, true);
    struct t_maps maps_after = t_count_maps();
    /* the machine's nr_hugepages: compared unless another process's pools changed meanwhile
     * (the partitions made and destroyed during the run gave back their own top-up) */
    const bool busy = t_others_hugetlb_kb() != others_before;
    t_ok((busy || t_sysfs_u64(T_NR_2M) == nr_before) && t_count_fds() == fds_before &&
             t_maps_no_more(&maps_after, &maps_before),
         "after mmc_fini: nr_hugepages %llu (was %llu%s), %u fds (were %u), %u mappings (were %u; %s), "
         "%u of mmcontig's memfds",
         (unsigned long long)t_sysfs_u64(T_NR_2M), (unsigned long long)nr_before,
         busy ? "; not compared: another process's pools changed meanwhile" : "", t_count_fds(), fds_before,
         maps_after.lines, maps_before.lines, T_SANITIZED ? "not compared under a sanitizer" : "compared",
         maps_after.memfd);
    return t_done();
}
