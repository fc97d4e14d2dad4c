/* alloc/search/checked.c: the engine a partition talks to when the library's checks are on
 * (-Ddebug_checks=on or expensive): a shim around the real engine that checks the interface's
 * contract on entry and exit of every call, so that a broken engine (built-in or plug-in) is
 * stopped at the call that broke it rather than far from it.
 *
 *   find  (on)         a block found satisfies the request (mmc_search_fits, O(block)); work
 *                      stays within the bound's slack when there is one
 *   take  (on)         the range lies in the span and the database already holds none of it free
 *   give  (on)         the database holds all of it free
 *   take  (expensive)  the engine then finds no free frame inside the range
 *   give, add (expensive)  the engine then finds the range (exact fit) when it lies in one run
 * The expensive ones are searches whose cost depends on the engine (a TLSF walks its size
 * classes for a one-frame request): after every take or give on a pool of up to 16 MiB,
 * every (pool / 16 MiB)-th on a larger one.
 *
 * At -Ddebug_checks=off _mmc_engine_open hands out the real engine: the benchmark times it
 * with nothing between. */
#include <stdlib.h>

#include "search.h"

struct checked {
    struct mmc_engine_ops ops; /* the real engine's name, summary, work unit and bound; the shims */
    const struct mmc_engine_ops *real;
    void *state;
    const struct mmc_frames *f;
    uint64_t changes; /* takes and gives so far (atomic: a node-parallel engine's takes and
                         gives on two nodes run at once, each under its node's lock) */
};

static bool search_due(struct checked *c)
{
    const uint64_t every = c->f->present_frames >> 12 ? c->f->present_frames >> 12 : 1;
    return (__atomic_add_fetch(&c->changes, 1, __ATOMIC_RELAXED)) % every == 0;
}

/* The request that matches exactly [first, first + n) of frames, on its node (a range lies in
 * one run: only that node's index is read, which the caller's node lock guards). */
static struct mmc_search exact(const struct mmc_frames *f, uint64_t first, uint64_t n)
{
    return (struct mmc_search){.frames = n, .lowest_pfn = mmc_frame_pfn(f, first),
                               .highest_pfn = mmc_frame_pfn(f, first + n - 1),
                               .node_mask = 1ull << mmc_frame_node(f, first)};
}

static bool finds_exactly(const struct checked *c, uint64_t first, uint64_t n)
{
    const struct mmc_search rq = exact(c->f, first, n);
    if (!mmc_search_fits(c->f, &rq, first))
        return true; /* spans runs: no exact block to find */
    uint64_t got = 0, work = 0;
    return c->real->find(c->state, &rq, &got, &work) == 0 && got == first;
}

static bool finds_none_inside(const struct checked *c, uint64_t first, uint64_t n)
{
    struct mmc_search rq = exact(c->f, first, n);
    rq.frames = 1;
    uint64_t got = 0, work = 0;
    return c->real->find(c->state, &rq, &got, &work) == -ENOMEM;
}

static void checked_destroy(void *e)
{
    struct checked *c = e;
    c->real->destroy(c->state);
    free(c);
}

static int checked_find(void *e, const struct mmc_search *rq, uint64_t *first, uint64_t *work)
{
    const struct checked *c = e;
    _mmc_check(rq->frames >= 1 && rq->lowest_pfn <= rq->highest_pfn);
    int rc = c->real->find(c->state, rq, first, work);
    _mmc_check(rc == 0 || rc == -ENOMEM || rc == -EAGAIN);
    _mmc_check(rc != 0 || mmc_search_fits(c->f, rq, *first));
    _mmc_check(rc != -EAGAIN || rq->max_work);
    return rc;
}

static void checked_take(void *e, uint64_t first, uint64_t n)
{
    struct checked *c = e;
    _mmc_check(n && first < c->f->nframes && n <= c->f->nframes - first);
    _mmc_check(_mmc_frames_count_free(c->f, first, first + n) == 0);
    c->real->take(c->state, first, n);
    _mmc_check_expensive(!search_due(c) || finds_none_inside(c, first, n));
}

static void checked_give(void *e, uint64_t first, uint64_t n)
{
    struct checked *c = e;
    _mmc_check(n && first < c->f->nframes && n <= c->f->nframes - first);
    _mmc_check(_mmc_frames_count_free(c->f, first, first + n) == n);
    c->real->give(c->state, first, n);
    _mmc_check_expensive(!search_due(c) || finds_exactly(c, first, n));
}

static int checked_reserve(void *e, uint64_t nadd, const uint64_t *add_pfn)
{
    const struct checked *c = e;
    return c->real->reserve(c->state, nadd, add_pfn);
}

static void checked_add(void *e, uint64_t first)
{
    const struct checked *c = e;
    _mmc_check(mmc_frame_present(c->f, first) && !(first & (c->f->hp_frames - 1)));
    c->real->add(c->state, first);
    _mmc_check_expensive(finds_exactly(c, first, c->f->hp_frames));
}

static size_t checked_metadata_bytes(const void *e)
{
    const struct checked *c = e;
    return c->real->metadata_bytes(c->state);
}

int _mmc_engine_open(const struct mmc_engine_ops *e, const struct mmc_frames *f,
                     const struct mmc_engine_ops **ops, void **state)
{
    void *st = NULL;
    int rc = e->create(f, &st);
    if (rc < 0 || MMC_DEBUG_CHECKS == 0) {
        *ops = e;
        *state = st;
        return rc;
    }
    struct checked *c = malloc(sizeof(*c));
    if (!c) {
        e->destroy(st);
        return -ENOMEM;
    }
    *c = (struct checked){.ops = *e, .real = e, .state = st, .f = f};
    c->ops.destroy = checked_destroy;
    c->ops.find = checked_find;
    c->ops.take = checked_take;
    c->ops.give = checked_give;
    c->ops.reserve = checked_reserve;
    c->ops.add = checked_add;
    c->ops.metadata_bytes = checked_metadata_bytes;
    *ops = &c->ops;
    *state = c;
    return 0;
}
