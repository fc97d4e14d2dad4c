/* tests/test_nodelocks.c: per-node locking, on a simulated partition of two nodes (no
 * hugepages needed, so it runs everywhere, also under ThreadSanitizer).
 *
 * For every engine, the built-in ones and the plugins MMC_ENGINE_PLUGIN names (meson gives it
 * the example plugin, examples/bottomup):
 *   - by behaviour (tests/nodelock.h): with node 0's lock held by the test, an allocation on
 *     node 1 and a free there complete, and the other way round (every built-in engine is
 *     node-parallel; the control, whose calls are seen waiting, is a plugin, which promises
 *     nothing, and every engine under -Ddebug_checks=expensive);
 *   - two threads, one per node, allocate and free 4 KiB-64 KiB blocks on their own node while
 *     a third takes the partition lock (mmc_partition_stats) over and over: every block lies
 *     on its thread's node (mmc_query), no two live blocks overlap (a per-frame owner map the
 *     threads keep with atomic exchanges), and at the end the counts balance (free frames,
 *     live blocks, successes counted by the partition and by the threads).
 */
#include "common.h"
#include "nodelock.h"

enum { OPS = 20000, LIVE = 32 };

struct stress {
    mmc_partition_t *h;
    unsigned node;
    uint64_t span_pfn;          /* the layout's first PFN, for the owner map */
    uint8_t *owner;             /* per frame of the span: 0 free, else node + 1 */
    uint64_t ok, wrong_node, overlap;
};

static uint64_t pfn_of(mmc_partition_t *h, void *p)
{
    struct mmc_alloc_info i;
    (void)h;
    return mmc_query(p, &i) == 0 ? i.base_phys >> 12 : 0;
}

static void *stress_worker(void *arg)
{
    struct stress *s = arg;
    void *live[LIVE] = {0};
    uint64_t len[LIVE] = {0};
    uint64_t x = 0x9e3779b97f4a7c15ull * (s->node + 1);
    for (int op = 0; op < OPS; op++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        const unsigned k = (unsigned)(x % LIVE);
        if (live[k]) {
            const uint64_t pfn = pfn_of(s->h, live[k]);
            for (uint64_t f = 0; f < len[k]; f++)
                __atomic_store_n(&s->owner[pfn - s->span_pfn + f], 0, __ATOMIC_RELAXED);
            MmFreeContiguousMemory(live[k]);
            live[k] = NULL;
            continue;
        }
        const uint64_t frames = 1 + (x >> 20) % 16; /* 4 KiB - 64 KiB */
        void *p = nl_alloc(s->h, s->node, frames << 12);
        if (!p)
            continue;
        struct mmc_alloc_info i;
        if (mmc_query(p, &i) < 0 || i.node != s->node)
            s->wrong_node++;
        const uint64_t pfn = i.base_phys >> 12;
        for (uint64_t f = 0; f < frames; f++)
            if (__atomic_exchange_n(&s->owner[pfn - s->span_pfn + f], (uint8_t)(s->node + 1),
                                    __ATOMIC_RELAXED) != 0)
                s->overlap++;
        live[k] = p;
        len[k] = frames;
        s->ok++;
    }
    for (unsigned k = 0; k < LIVE; k++)
        if (live[k]) {
            const uint64_t pfn = pfn_of(s->h, live[k]);
            for (uint64_t f = 0; f < len[k]; f++)
                __atomic_store_n(&s->owner[pfn - s->span_pfn + f], 0, __ATOMIC_RELAXED);
            MmFreeContiguousMemory(live[k]);
        }
    return NULL;
}

static void stress(const char *engine, mmc_partition_t *h)
{
    struct mmc_stats st0;
    mmc_partition_stats(h, &st0);
    struct mmc_run_info runs[64];
    long nr = mmc_partition_runs(h, runs, 64);
    const uint64_t lo = runs[0].base_pfn, hi = runs[nr - 1].base_pfn + runs[nr - 1].frames;
    uint8_t *owner = calloc(hi - lo, 1);
    struct stress s[2];
    pthread_t t[2];
    for (unsigned n = 0; n < 2; n++) {
        s[n] = (struct stress){.h = h, .node = n, .span_pfn = lo, .owner = owner};
        pthread_create(&t[n], NULL, stress_worker, &s[n]);
    }
    unsigned reads = 0;
    for (int k = 0; k < 200; k++, reads++) { /* the partition lock, between the node locks */
        struct mmc_stats st;
        mmc_partition_stats(h, &st);
    }
    for (unsigned n = 0; n < 2; n++)
        pthread_join(t[n], NULL);
    struct mmc_stats st;
    mmc_partition_stats(h, &st);
    t_ok(s[0].ok > OPS / 8 && s[1].ok > OPS / 8 && s[0].wrong_node == 0 && s[1].wrong_node == 0 &&
             s[0].overlap == 0 && s[1].overlap == 0,
         "%s: two threads, one per node, %llu + %llu blocks of 4-64 KiB beside %u partition-lock "
         "readers: every block on its thread's node, no frame held twice", engine,
         (unsigned long long)s[0].ok, (unsigned long long)s[1].ok, reads);
    t_ok(st.free_frames == st.pool_frames && st.live_blocks == 0 &&
             st.contiguous_ok - st0.contiguous_ok == s[0].ok + s[1].ok &&
             st.frees - st0.frees == s[0].ok + s[1].ok,
         "%s: afterwards %llu of %llu frames free, %llu live blocks, %llu allocations and %llu "
         "frees counted (the threads made %llu)", engine, (unsigned long long)st.free_frames,
         (unsigned long long)st.pool_frames, (unsigned long long)st.live_blocks,
         (unsigned long long)(st.contiguous_ok - st0.contiguous_ok),
         (unsigned long long)(st.frees - st0.frees), (unsigned long long)(s[0].ok + s[1].ok));
    free(owner);
}

int main(void)
{
    for (size_t e = 0; mmc_engine_name(e); e++) {
        const char *name = mmc_engine_name(e);
        struct mmc_sim_config sc;
        mmc_sim_config_init(&sc);
        sc.pool_bytes = 256ull << 20;
        sc.nnodes = 2;
        sc.mean_run_hugepages = 8;
        snprintf(sc.algo, sizeof(sc.algo), "%s", name);
        mmc_partition_t *h = NULL;
        if (mmc_partition_create_simulated(&sc, &h) < 0) {
            t_ok(false, "%s: a simulated partition of two nodes: %s", name, mmc_last_error());
            continue;
        }
        /* partition.c's engine_node_parallel(): every built-in engine, no plugin;
         * -Ddebug_checks=expensive recounts the whole database, so every call is serialised */
        static const char *const builtin[] = {"linear", "bitmap", "buddy", "tlsf", "tree"};
        bool is_builtin = false;
        for (size_t b = 0; b < sizeof(builtin) / sizeof(builtin[0]); b++)
            is_builtin |= strcmp(name, builtin[b]) == 0;
        const bool parallel = MMC_DEBUG_CHECKS < 2 && is_builtin;
        t_ok(((struct mmc_partition *)h)->node_parallel == parallel, "%s: %snode-parallel%s", name,
             parallel ? "" : "not ", MMC_DEBUG_CHECKS >= 2 ? " (expensive checks)" : "");
        char why[512];
        bool ok = nl_check(h, h, 0, 1, parallel, why, sizeof(why));
        t_ok(ok, "%s: %s", name, why);
        ok = nl_check(h, h, 1, 0, parallel, why, sizeof(why));
        t_ok(ok, "%s: %s", name, why);
        stress(name, h);
        mmc_partition_destroy(h);
    }
    const char *plugin = getenv("MMC_ENGINE_PLUGIN");
    t_ok(!plugin || !*plugin || mmc_engine_name(5) != NULL,
         "the plugin of MMC_ENGINE_PLUGIN (%s) is among the engines: the control ran", plugin ? plugin : "none");
    return t_done();
}
