/*
 * alloc/lock.h: the library's two lock types, beside the leaf (error.h, check.h).
 *
 * struct mmc_mutex: a pthread mutex that, under MMC_DEBUG_CHECKS >= 1, records its owner, so
 *   that every `_locked` function can assert that the calling thread holds the lock it needs
 *   (_mmc_check(_mmc_mutex_held(&part->lock))). At level 0 it is the bare pthread mutex and the
 *   helpers are the pthread calls: no cost.
 *
 * The global lock (_mmc_read_enter / _mmc_read_exit, _mmc_write_lock / _mmc_write_unlock,
 *   lock.c): a reader-writer lock whose read side writes only the calling thread's own cache
 *   line (a per-thread slot, as a "big reader" lock), so that the routines every thread calls
 *   on every operation (allocate, free, translate) do not bounce a shared line between the
 *   cores as pthread_rwlock_rdlock does (it increments one shared reader count). Writers (init,
 *   fini, partition create / destroy) are rare: a writer raises a flag, then waits for every
 *   thread's slot to leave its read section; a reader that sees the flag steps back and waits
 *   for the writer. Readers nest (a depth per thread). Slots are per thread, made on a
 *   thread's first read and recycled when it exits, never freed, so a writer walks the list
 *   without a lock.
 */
#ifndef MMC_LOCK_H
#define MMC_LOCK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "check.h"

#ifndef MMC_INTERNAL
#define MMC_INTERNAL __attribute__((visibility("hidden")))
#endif

struct mmc_mutex {
    pthread_mutex_t m;
#if MMC_DEBUG_CHECKS >= 1
    uintptr_t owner; /* pthread_self() of the holder, 0 when free (atomic: read by others) */
#endif
};

static inline void _mmc_mutex_init(struct mmc_mutex *l)
{
    pthread_mutex_init(&l->m, NULL);
#if MMC_DEBUG_CHECKS >= 1
    l->owner = 0;
#endif
}
static inline void _mmc_mutex_destroy(struct mmc_mutex *l)
{
    pthread_mutex_destroy(&l->m);
}
static inline void _mmc_mutex_lock(struct mmc_mutex *l)
{
    pthread_mutex_lock(&l->m);
#if MMC_DEBUG_CHECKS >= 1
    _mmc_check(__atomic_load_n(&l->owner, __ATOMIC_RELAXED) == 0);
    __atomic_store_n(&l->owner, (uintptr_t)pthread_self(), __ATOMIC_RELAXED);
#endif
}
static inline int _mmc_mutex_trylock(struct mmc_mutex *l)
{
    int rc = pthread_mutex_trylock(&l->m);
#if MMC_DEBUG_CHECKS >= 1
    if (rc == 0)
        __atomic_store_n(&l->owner, (uintptr_t)pthread_self(), __ATOMIC_RELAXED);
#endif
    return rc;
}
static inline void _mmc_mutex_unlock(struct mmc_mutex *l)
{
#if MMC_DEBUG_CHECKS >= 1
    _mmc_check(__atomic_load_n(&l->owner, __ATOMIC_RELAXED) == (uintptr_t)pthread_self());
    __atomic_store_n(&l->owner, 0, __ATOMIC_RELAXED);
#endif
    pthread_mutex_unlock(&l->m);
}
/* Does the calling thread hold l? Only meaningful under MMC_DEBUG_CHECKS >= 1 (the owner is
 * not recorded at level 0, where _mmc_check does not evaluate its condition): only the holder
 * writes its own identity there, so no other thread can read its own identity by a race. */
static inline bool _mmc_mutex_held(const struct mmc_mutex *l)
{
#if MMC_DEBUG_CHECKS >= 1
    return __atomic_load_n(&l->owner, __ATOMIC_RELAXED) == (uintptr_t)pthread_self();
#else
    (void)l;
    return true;
#endif
}

/* The global lock (lock.c). */
MMC_INTERNAL void _mmc_read_enter(void);
MMC_INTERNAL void _mmc_read_exit(void);
MMC_INTERNAL void _mmc_write_lock(void);
/* 0, or -EBUSY without waiting if a writer or a reader is in (the exit handler's try). */
MMC_INTERNAL int _mmc_write_trylock(void);
MMC_INTERNAL void _mmc_write_unlock(void);
/* Does the calling thread hold the global lock (reading or writing)? */
MMC_INTERNAL bool _mmc_read_held(void);
MMC_INTERNAL bool _mmc_write_held(void);

#endif
