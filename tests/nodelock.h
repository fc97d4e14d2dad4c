/* tests/nodelock.h: threads on different nodes never block each other, checked by behaviour.
 *
 * The test thread takes node `held`'s lock itself (the library's own lock, through the internal
 * header) and keeps it; a worker thread then allocates a block strictly on node `other`
 * (MmAllocateContiguousMemoryEx, PreferredNode `other`, the partition given), queries it
 * (mmc_query) and frees one it had allocated before. Both must complete while the lock is still held: the test thread
 * releases it only after the worker said it is done, so if the worker waited for node `held`
 * it would never finish and the hang guard (a long timed wait, not a measurement) fails the
 * check. The control shows the check can fail: with an engine that is not node-parallel
 * (a plugin; every engine under -Ddebug_checks=expensive), the same worker is seen waiting inside the
 * partition lock (which it holds while it waits for node `held`) and finishes only after the
 * release.
 *
 * Used by tests/test_nodelocks.c (a simulated partition of two nodes, every engine, also under
 * ThreadSanitizer) and tests/test_numa.c (the system partition of the multi-node VMs).
 */
#ifndef MMC_TESTS_NODELOCK_H
#define MMC_TESTS_NODELOCK_H

#include <pthread.h>
#include <sched.h>
#include <time.h>

#include "internal.h"
#include "mmcontig/wdm.h"

#define NL_TAG 0x6b636c6eu /* "nlck" */

struct nl_worker {
    void *partition;            /* PartitionObject (NULL: the system partition) */
    unsigned node;              /* node to allocate on */
    SIZE_T bytes;
    void *before;               /* a block on `node` allocated before, freed by the worker */
    void *got;                  /* what the worker allocated */
    bool queried;               /* mmc_query of it answered, on node `node` */
    NTSTATUS status;
    pthread_mutex_t m;
    pthread_cond_t c;
    bool done;
};

static void *nl_work(void *arg)
{
    struct nl_worker *w = arg;
    PVOID base = NULL;
    SIZE_T n = w->bytes;
    w->status = MmAllocateContiguousMemoryEx(&n, (PHYSICAL_ADDRESS){.QuadPart = 0},
                                             (PHYSICAL_ADDRESS){.QuadPart = -1},
                                             (PHYSICAL_ADDRESS){.QuadPart = 0}, w->node,
                                             PAGE_READWRITE, w->partition, NL_TAG, 0, &base);
    w->got = base;
    struct mmc_alloc_info qi;
    w->queried = base && mmc_query(base, &qi) == 0 && qi.node == w->node;
    if (w->before)
        MmFreeContiguousMemory(w->before);
    pthread_mutex_lock(&w->m);
    w->done = true;
    pthread_cond_signal(&w->c);
    pthread_mutex_unlock(&w->m);
    return NULL;
}

/* Wait for the worker until the hang guard's deadline. */
static bool nl_wait_done(struct nl_worker *w, int seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += seconds;
    pthread_mutex_lock(&w->m);
    while (!w->done && pthread_cond_timedwait(&w->c, &w->m, &ts) == 0)
        ;
    bool done = w->done;
    pthread_mutex_unlock(&w->m);
    return done;
}

static void *nl_alloc(void *partition, unsigned node, SIZE_T bytes)
{
    PVOID base = NULL;
    SIZE_T n = bytes;
    MmAllocateContiguousMemoryEx(&n, (PHYSICAL_ADDRESS){.QuadPart = 0},
                                 (PHYSICAL_ADDRESS){.QuadPart = -1},
                                 (PHYSICAL_ADDRESS){.QuadPart = 0}, node, PAGE_READWRITE,
                                 partition, NL_TAG, 0, &base);
    return base;
}

/* With node `held`'s lock held by this thread, a worker allocates on node `other` and frees a
 * block there. expect_independent: the engine is node-parallel (both complete under the held
 * lock), else the control (the worker is seen waiting in the partition lock, completes after
 * the release). Fills why; true if the behaviour is the expected one. */
static bool nl_check(mmc_partition_t *handle, void *partition, unsigned held, unsigned other,
                     bool expect_independent, char *why, size_t len)
{
    struct mmc_partition *part = (struct mmc_partition *)handle;
    struct nl_worker w = {.partition = partition, .node = other, .bytes = 64 * 1024};
    pthread_mutex_init(&w.m, NULL);
    pthread_cond_init(&w.c, NULL);
    w.before = nl_alloc(partition, other, 4096);
    struct mmc_alloc_info bi;
    if (!w.before || mmc_query(w.before, &bi) < 0 || bi.node != other) {
        snprintf(why, len, "no block on node %u to start with (%s)", other, mmc_last_error());
        return false;
    }
    _mmc_mutex_lock(&part->node[held].lock);
    pthread_t t;
    pthread_create(&t, NULL, nl_work, &w);
    bool ok;
    if (expect_independent) {
        const bool done = nl_wait_done(&w, 30); /* hang guard only */
        _mmc_mutex_unlock(&part->node[held].lock);
        pthread_join(t, NULL);
        struct mmc_alloc_info gi;
        const bool placed = w.got && mmc_query(w.got, &gi) == 0 && gi.node == other;
        const bool freed = mmc_query(w.before, &bi) < 0;
        ok = done && w.status == STATUS_SUCCESS && placed && w.queried && freed;
        snprintf(why, len, "with node %u's lock held, a 64 KiB allocation on node %u %s (status "
                 "%#x, on node %d), a query of it %s and a free there %s", held, other,
                 done ? "completed" : "did not complete", (unsigned)w.status,
                 placed ? (int)gi.node : -1, w.queried ? "answered" : "did not answer",
                 freed ? "completed" : "did not complete");
    } else {
        /* the worker holds the partition lock while it waits for node `held`'s */
        bool waiting = false;
        for (int k = 0; k < 30000 && !waiting; k++) { /* hang guard: 30 s */
            if (pthread_mutex_trylock(&part->lock.m) == 0)
                pthread_mutex_unlock(&part->lock.m);
            else
                waiting = true;
            if (!waiting) {
                struct timespec ms = {0, 1000000};
                nanosleep(&ms, NULL);
            }
        }
        pthread_mutex_lock(&w.m);
        const bool early = w.done;
        pthread_mutex_unlock(&w.m);
        _mmc_mutex_unlock(&part->node[held].lock);
        const bool done = nl_wait_done(&w, 30);
        pthread_join(t, NULL);
        ok = waiting && !early && done && w.status == STATUS_SUCCESS;
        snprintf(why, len, "control (engine not node-parallel): with node %u's lock held, the "
                 "allocation on node %u %s and %s after the release", held, other,
                 waiting && !early ? "waited in the partition lock" : "did not wait",
                 done ? "completed" : "did not complete");
    }
    if (w.got)
        MmFreeContiguousMemory(w.got);
    pthread_mutex_destroy(&w.m);
    pthread_cond_destroy(&w.c);
    return ok;
}

#endif
