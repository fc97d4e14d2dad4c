/* alloc/lock.c: the global reader-writer lock with per-thread reader slots (lock.h says why).
 *
 * A reader sets its own slot's `active` and then reads `writer` (both sequentially consistent);
 * a writer, holding `wmutex`, sets `writer` and then reads every slot's `active`. Of the two,
 * at least one sees the other's store (Dekker), so a reader never runs beside a writer: the
 * reader that sees the flag clears its slot and waits on `wmutex` before trying again. A
 * slot is one cache line, written only by its thread (and reset by the fork handler in a
 * child), so readers on different cores write no common line. The writer's release store of
 * `writer` = 0 publishes what it changed to the readers that come after it.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>

#include "lock.h"

struct reader_slot {
    _Alignas(64) int active;    /* 1 while its thread is inside a read section (atomic) */
    int in_use;                 /* owned by a live thread (under reg_lock) */
    struct reader_slot *next;   /* the list, prepended to, never shortened */
};

static pthread_mutex_t wmutex = PTHREAD_MUTEX_INITIALIZER; /* one writer at a time */
/* a writer is in or entering: read by every reader, on a line of its own (a write to a
 * neighbour would take the line from every core) */
static struct {
    _Alignas(64) int flag;
} writer;
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER; /* slot registration */
static struct reader_slot *slots;                           /* every slot ever made */
static pthread_key_t slot_key;
static pthread_once_t slot_once = PTHREAD_ONCE_INIT;

static __thread struct reader_slot *my_slot;
static __thread unsigned depth;  /* nesting of read sections */
static __thread bool i_write;    /* this thread holds the write side */

/* A thread's exit gives its slot back for the next thread to take. */
static void slot_release(void *v)
{
    struct reader_slot *s = v;
    __atomic_store_n(&s->active, 0, __ATOMIC_RELEASE);
    pthread_mutex_lock(&reg_lock);
    s->in_use = 0;
    pthread_mutex_unlock(&reg_lock);
    my_slot = NULL;
    depth = 0;
}

/* In a forked child only the forking thread lives: every other slot is free and not reading. */
static void slot_after_fork_child(void)
{
    pthread_mutex_init(&reg_lock, NULL);
    for (struct reader_slot *s = __atomic_load_n(&slots, __ATOMIC_ACQUIRE); s; s = s->next)
        if (s != my_slot) {
            __atomic_store_n(&s->active, 0, __ATOMIC_RELAXED);
            s->in_use = 0;
        }
}

static void slot_key_make(void)
{
    pthread_key_create(&slot_key, slot_release);
    pthread_atfork(NULL, NULL, slot_after_fork_child);
}

static struct reader_slot *slot_get(void)
{
    if (my_slot)
        return my_slot;
    pthread_once(&slot_once, slot_key_make);
    pthread_mutex_lock(&reg_lock);
    struct reader_slot *s = __atomic_load_n(&slots, __ATOMIC_ACQUIRE);
    while (s && s->in_use)
        s = s->next;
    if (!s) {
        s = aligned_alloc(64, sizeof(*s));
        if (!s)
            abort(); /* 64 bytes once per thread: nothing sensible to do without them */
        s->active = 0;
        s->next = slots;
        __atomic_store_n(&slots, s, __ATOMIC_RELEASE);
    }
    s->in_use = 1;
    pthread_mutex_unlock(&reg_lock);
    pthread_setspecific(slot_key, s);
    my_slot = s;
    return s;
}

void _mmc_read_enter(void)
{
    if (depth++ > 0)
        return;
    _mmc_check(!i_write); /* a writer reading would wait for itself */
    struct reader_slot *s = slot_get();
    for (;;) {
        __atomic_store_n(&s->active, 1, __ATOMIC_SEQ_CST);
        if (!__atomic_load_n(&writer.flag, __ATOMIC_SEQ_CST))
            return;
        __atomic_store_n(&s->active, 0, __ATOMIC_RELEASE);
        pthread_mutex_lock(&wmutex); /* wait for the writer */
        pthread_mutex_unlock(&wmutex);
    }
}

void _mmc_read_exit(void)
{
    _mmc_check(depth > 0);
    if (--depth == 0)
        __atomic_store_n(&my_slot->active, 0, __ATOMIC_RELEASE);
}

/* With wmutex held and the flag raised: is any reader still in? */
static bool readers_in(void)
{
    for (struct reader_slot *s = __atomic_load_n(&slots, __ATOMIC_ACQUIRE); s; s = s->next)
        if (__atomic_load_n(&s->active, __ATOMIC_SEQ_CST))
            return true;
    return false;
}

void _mmc_write_lock(void)
{
    _mmc_check(depth == 0); /* a reader writing would wait for itself */
    pthread_mutex_lock(&wmutex);
    __atomic_store_n(&writer.flag, 1, __ATOMIC_SEQ_CST);
    while (readers_in())
        sched_yield();
    i_write = true;
}

int _mmc_write_trylock(void)
{
    if (depth > 0 || pthread_mutex_trylock(&wmutex) != 0)
        return -EBUSY;
    __atomic_store_n(&writer.flag, 1, __ATOMIC_SEQ_CST);
    if (readers_in()) {
        __atomic_store_n(&writer.flag, 0, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&wmutex);
        return -EBUSY;
    }
    i_write = true;
    return 0;
}

void _mmc_write_unlock(void)
{
    _mmc_check(i_write);
    i_write = false;
    __atomic_store_n(&writer.flag, 0, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&wmutex);
}

bool _mmc_read_held(void)
{
    return depth > 0 || i_write;
}

bool _mmc_write_held(void)
{
    return i_write;
}
