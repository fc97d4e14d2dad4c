/* alloc/aging.c: the aging trace, a seeded and replayable workload that fragments a partition.
 *
 * No standard way to age physical memory exists (Mansi & Swift 2024 counted 11 methods in 13
 * papers), so the recipe is fixed here, documented in results/README.md, and every run can be
 * recorded to a file and replayed from it. The recipe (struct mmc_aging):
 *   K threads, each with its own stream of the project's PRNG (rand.h) seeded from (seed, thread), loop: when the
 *   partition's use is below the target utilisation, allocate, else free one of the thread's
 *   live objects chosen uniformly. An allocation is, by the mix weights:
 *   - an MDL: pages log-normal (median 16 pages, sigma 1.0, at most 4096), no flags;
 *   - a contiguous block: size log-uniform in [4 KiB, 8 MiB], unrounded; constraint none
 *     (50%), a range (the lower three quarters of the pool's PFN span, 20%), a boundary (the
 *     next power of two >= size, times 1..4, 20%), both (10%);
 *   - movable load: count log-normal (median 8 frames, sigma 1.0);
 *   - standby load: the same; and a quarter of frees of standby objects are "churn" that
 *     re-allocates the same count at once.
 * Operations are executed and recorded one at a time under the trace's mutex, so the file holds
 * the order the partition saw; replaying it single-threaded reproduces the frame database
 * exactly (stats.state_hash), which the trace's last line records.
 *
 * Uses the public API, except for reading the free-frame count in O(1).
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "rand.h"
#include "mmcontig/wdm.h"

enum op_kind { OP_CONTIG = 'C', OP_MDL = 'M', OP_MOVABLE = 'V', OP_STANDBY = 'S' };
#define MAX_REPLAY_ID (1ull << 40) /* object ids of a replayed trace (one object per operation) */

struct object {
    uint64_t id;            /* operation number that made it */
    char kind;              /* enum op_kind */
    void *block;            /* OP_CONTIG */
    PMDL mdl;               /* OP_MDL */
    mmc_load_t *handles;    /* OP_MOVABLE / OP_STANDBY */
    uint64_t count;         /* handles */
};

struct tracer {
    mmc_partition_t *part;
    const struct mmc_aging *cfg;
    pthread_mutex_t lock;   /* one operation (and its line) at a time */
    FILE *out;              /* record, or NULL */
    uint64_t next_id;
    uint64_t pool_frames, lo_pfn, hi_pfn;
    uint64_t ops_done;
    int error;
};

static double normal(uint64_t *s)
{
    double u1 = _mmc_rand_unit(s), u2 = _mmc_rand_unit(s);
    return sqrt(-2.0 * log(u1 > 1e-300 ? u1 : 1e-300)) * cos(6.283185307179586 * u2);
}

static PHYSICAL_ADDRESS pa(uint64_t v) { return (PHYSICAL_ADDRESS){.QuadPart = (LONGLONG)v}; }

/* Execute one allocation; fills o. Returns 1 if it got memory. Tracer lock held. */
static int do_alloc(struct tracer *t, char kind, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                    struct object *o)
{
    memset(o, 0, sizeof(*o));
    o->kind = kind;
    switch (kind) {
    case OP_CONTIG: {
        SIZE_T n = a1;
        NTSTATUS s = MmAllocateContiguousMemoryEx(&n, pa(a2), pa(a3), pa(a4), MM_ANY_NODE_OK, PAGE_READWRITE,
                                                  t->part, 0x41676521u /* "Age!" */, 0, &o->block);
        return s == STATUS_SUCCESS;
    }
    case OP_MDL:
        o->mdl = mmc_allocate_pages_for_mdl(t->part, 0, -1, 0, a1 * MMC_FRAME_BYTES, MmCached,
                                            MM_DONT_ZERO_ALLOCATION);
        return o->mdl != NULL;
    default:
        if (a1 > SIZE_MAX / sizeof(*o->handles)) /* a replayed count beyond any pool */
            return 0;
        o->handles = malloc(a1 * sizeof(*o->handles));
        if (!o->handles)
            return 0;
        long got = mmc_load_alloc(t->part, kind == OP_MOVABLE ? MMC_LOAD_MOVABLE : MMC_LOAD_STANDBY, -1,
                                  a1, o->handles);
        o->count = got > 0 ? (uint64_t)got : 0;
        return got > 0;
    }
}

static void do_free(struct tracer *t, struct object *o)
{
    if (o->kind == OP_CONTIG) {
        MmFreeContiguousMemory(o->block);
    } else if (o->kind == OP_MDL) {
        MmFreePagesFromMdl(o->mdl);
        ExFreePool(o->mdl);
    } else {
        mmc_load_free(t->part, o->handles, o->count);
        free(o->handles);
    }
    o->kind = 0;
}

/* O(1): the frame database's own count, not mmc_partition_stats (O(frames)). */
static double utilisation(struct tracer *t)
{
    struct mmc_partition *p = _mmc_partition_resolve(t->part);
    if (!p)
        return 1.0;
    _mmc_partition_lock(p);
    double u = 1.0 - (double)mmc_frames_free(&p->frames) / (double)p->frames.present_frames;
    _mmc_partition_unlock(p);
    _mmc_read_exit();
    return u;
}

struct worker {
    struct tracer *t;
    unsigned index;
};

/* One allocation of the mix, drawn from the worker's generator: its kind and arguments (count
 * or bytes, range low and high, boundary; a3 UINT64_MAX: no range). */
static char draw_alloc(const struct tracer *t, uint64_t *s, double wsum, uint64_t *a1, uint64_t *a2,
                       uint64_t *a3, uint64_t *a4)
{
    const struct mmc_aging *c = t->cfg;
    double r = _mmc_rand_unit(s) * wsum;
    *a2 = 0, *a3 = UINT64_MAX, *a4 = 0;
    if ((r -= c->mix_mdl) < 0) {
        *a1 = (uint64_t)fmin(4096.0, fmax(1.0, exp(log(16.0) + normal(s))));
        return OP_MDL;
    }
    if ((r -= c->mix_contig) < 0) {
        *a1 = (uint64_t)exp(log(4096.0) + _mmc_rand_unit(s) * (log(8.0 * 1048576) - log(4096.0)));
        double cr = _mmc_rand_unit(s);
        if (cr >= 0.5 && cr < 0.7) {
            *a2 = t->lo_pfn << MMC_FRAME_SHIFT;
            *a3 = (t->lo_pfn + (t->hi_pfn - t->lo_pfn) * 3 / 4) << MMC_FRAME_SHIFT;
        } else if (cr >= 0.7) {
            uint64_t b = 4096;
            while (b < *a1)
                b <<= 1;
            *a4 = b << (_mmc_rand(s) % 3);
            if (cr >= 0.9) {
                *a2 = t->lo_pfn << MMC_FRAME_SHIFT;
                *a3 = (t->lo_pfn + (t->hi_pfn - t->lo_pfn) * 3 / 4) << MMC_FRAME_SHIFT;
            }
        }
        return OP_CONTIG;
    }
    *a1 = (uint64_t)fmin(4096.0, fmax(1.0, exp(log(8.0) + normal(s))));
    return (r -= c->mix_movable) < 0 ? OP_MOVABLE : OP_STANDBY;
}

/* Append o to the worker's live objects. false: no memory (nothing changed). */
static bool push_live(struct object **live, size_t *nlive, size_t *cap, const struct object *o)
{
    if (*nlive == *cap) {
        const size_t ncap = *cap ? 2 * *cap : 256;
        struct object *nl = realloc(*live, ncap * sizeof(**live));
        if (!nl)
            return false;
        *live = nl;
        *cap = ncap;
    }
    (*live)[(*nlive)++] = *o;
    return true;
}

static void *work(void *arg)
{
    struct worker *w = arg;
    struct tracer *t = w->t;
    const struct mmc_aging *c = t->cfg;
    uint64_t s = c->seed * 0x9e3779b97f4a7c15ull + w->index * 0xbf58476d1ce4e5b9ull + 1;
    struct object *live = NULL;
    size_t nlive = 0, cap = 0;
    const double wsum = c->mix_mdl + c->mix_contig + c->mix_movable + c->mix_standby;
    const uint64_t per_thread = c->ops / c->threads + (w->index < c->ops % c->threads);

    for (uint64_t op = 0; op < per_thread; op++) {
        pthread_mutex_lock(&t->lock);
        if (!t->error && c->stop && *c->stop)
            t->error = -EINTR;
        if (t->error) {
            pthread_mutex_unlock(&t->lock);
            break;
        }
        bool alloc = nlive == 0 || utilisation(t) < c->target_utilisation;
        if (!alloc) {
            size_t k = (size_t)(_mmc_rand(&s) % nlive);
            struct object o = live[k];
            live[k] = live[--nlive];
            if (t->out)
                fprintf(t->out, "F %" PRIu64 "\n", o.id);
            bool churn = o.kind == OP_STANDBY && _mmc_rand(&s) % 4 == 0;
            uint64_t count = o.count;
            do_free(t, &o);
            if (churn) { /* standby churn: the same count back at once */
                uint64_t id = t->next_id++;
                struct object n;
                int ok = do_alloc(t, OP_STANDBY, count, 0, 0, 0, &n);
                if (t->out)
                    fprintf(t->out, "A %" PRIu64 " %c %" PRIu64 " 0 0 0 %d\n", id, OP_STANDBY, count, ok);
                n.id = id;
                if (ok && !push_live(&live, &nlive, &cap, &n)) {
                    t->error = -ENOMEM;
                    do_free(t, &n);
                } else if (!ok) {
                    free(n.handles);
                }
            }
        } else {
            char kind;
            uint64_t a1, a2, a3, a4;
            kind = draw_alloc(t, &s, wsum, &a1, &a2, &a3, &a4);
            uint64_t id = t->next_id++;
            struct object o;
            int ok = do_alloc(t, kind, a1, a2, a3, a4, &o);
            if (t->out)
                fprintf(t->out, "A %" PRIu64 " %c %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %d\n", id,
                        kind, a1, a2, a3, a4, ok);
            o.id = id;
            if (ok && !push_live(&live, &nlive, &cap, &o)) {
                t->error = -ENOMEM;
                do_free(t, &o);
                pthread_mutex_unlock(&t->lock);
                break;
            } else if (!ok) {
                free(o.handles);
            }
        }
        t->ops_done++;
        if (t->cfg->progress)
            t->cfg->progress(t->cfg->progress_arg, t->ops_done, t->cfg->ops);
        pthread_mutex_unlock(&t->lock);
    }
    /* The live objects stay allocated: the partition is left aged. Only the bookkeeping goes. */
    for (size_t k = 0; k < nlive; k++)
        if (live[k].kind == OP_MOVABLE || live[k].kind == OP_STANDBY)
            free(live[k].handles);
    free(live);
    return NULL;
}

MMC_API void mmc_aging_init(struct mmc_aging *cfg)
{
    if (!cfg) {
        _mmc_set_error("mmc_aging_init: cfg is NULL; pass a struct mmc_aging to fill");
        return;
    }
    memset(cfg, 0, sizeof(*cfg));
    cfg->seed = 1;
    cfg->target_utilisation = 0.7;
    cfg->ops = 20000;
    cfg->threads = 1;
    cfg->mix_mdl = 0.25;
    cfg->mix_contig = 0.25;
    cfg->mix_movable = 0.30;
    cfg->mix_standby = 0.20;
}

static int pool_span(mmc_partition_t *part, uint64_t *lo, uint64_t *hi, uint64_t *frames)
{
    long n = mmc_partition_runs(part, NULL, 0);
    if (n <= 0)
        return n < 0 ? (int)n : -EINVAL;
    struct mmc_run_info *runs = malloc((size_t)n * sizeof(*runs));
    if (!runs)
        return -ENOMEM;
    mmc_partition_runs(part, runs, (size_t)n);
    *lo = runs[0].base_pfn;
    *hi = runs[n - 1].base_pfn + runs[n - 1].frames;
    *frames = 0;
    for (long r = 0; r < n; r++)
        *frames += runs[r].frames;
    free(runs);
    return 0;
}

MMC_API int mmc_aging_run(mmc_partition_t *part, const struct mmc_aging *cfg, const char *record_path)
{
    /* written so that NaN fails every test, and infinities the sum's */
    if (!cfg || cfg->threads < 1 || cfg->threads > 256 ||
        !(cfg->target_utilisation >= 0 && cfg->target_utilisation <= 1) || !(cfg->mix_mdl >= 0) ||
        !(cfg->mix_contig >= 0) || !(cfg->mix_movable >= 0) || !(cfg->mix_standby >= 0) ||
        !(cfg->mix_mdl + cfg->mix_contig + cfg->mix_movable + cfg->mix_standby > 0) ||
        !isfinite(cfg->mix_mdl + cfg->mix_contig + cfg->mix_movable + cfg->mix_standby)) {
        _mmc_set_error("mmc_aging_run: %s: give threads 1..256, target_utilisation 0..1, mix "
                       "weights >= 0 with a positive, finite sum (mmc_aging_init fills the defaults)",
                       !cfg ? "cfg is NULL" : cfg->threads < 1 || cfg->threads > 256 ? "threads"
                       : !(cfg->target_utilisation >= 0 && cfg->target_utilisation <= 1)
                           ? "target_utilisation" : "mix weights");
        return -EINVAL;
    }
    struct tracer t = {.part = part, .cfg = cfg};
    int rc = pool_span(part, &t.lo_pfn, &t.hi_pfn, &t.pool_frames);
    if (rc < 0)
        return rc;
    if (record_path && !(t.out = fopen(record_path, "w"))) {
        int e = errno;
        _mmc_set_error("cannot write the aging trace to %s: %s", record_path, strerror(e));
        return -e;
    }
    if (t.out)
        fprintf(t.out, "# mmcontig aging trace v1\nrecipe seed=%" PRIu64 " target=%.4f ops=%" PRIu64
                " threads=%u mix=%.3f,%.3f,%.3f,%.3f pool_frames=%" PRIu64 "\n",
                cfg->seed, cfg->target_utilisation, cfg->ops, cfg->threads, cfg->mix_mdl, cfg->mix_contig,
                cfg->mix_movable, cfg->mix_standby, t.pool_frames);
    pthread_mutex_init(&t.lock, NULL);
    pthread_t th[256];
    struct worker w[256];
    unsigned started = 0;
    for (unsigned i = 0; i < cfg->threads; i++) {
        w[i] = (struct worker){.t = &t, .index = i};
        if (cfg->threads == 1) {
            work(&w[i]);
            continue;
        }
        if (pthread_create(&th[i], NULL, work, &w[i]) != 0) {
            t.error = -EAGAIN;
            break;
        }
        started++;
    }
    for (unsigned i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&t.lock);
    struct mmc_stats st;
    mmc_partition_stats(part, &st);
    if (t.out) {
        fprintf(t.out, "end hash=%016" PRIx64 "\n", st.state_hash);
        if (fclose(t.out) != 0 && !t.error) {
            _mmc_set_error("writing the aging trace to %s failed: %s", record_path, strerror(errno));
            t.error = -errno;
        }
    }
    if (t.error == -EINTR)
        _mmc_set_error("mmc_aging_run: stopped by cfg->stop after %llu of %llu operations",
                       (unsigned long long)t.ops_done, (unsigned long long)cfg->ops);
    return t.error;
}

MMC_API int mmc_aging_replay(mmc_partition_t *part, const char *path, uint64_t *recorded_hash)
{
    if (!path || !recorded_hash) {
        _mmc_set_error("mmc_aging_replay: %s is NULL", path ? "recorded_hash" : "path");
        return -EINVAL;
    }
    struct mmc_partition *p = _mmc_partition_resolve(part); /* before any operation runs */
    if (!p)
        return -EINVAL;
    _mmc_read_exit();
    FILE *in = fopen(path, "r");
    if (!in) {
        int e = errno;
        _mmc_set_error("cannot read the aging trace %s: %s", path, strerror(e));
        return -e;
    }
    struct tracer t = {.part = part};
    struct object *objs = NULL; /* by id */
    uint64_t cap = 0, lineno = 0;
    char line[256];
    int rc = 0;
    *recorded_hash = 0;
    while (fgets(line, sizeof(line), in)) {
        lineno++;
        uint64_t id, a1, a2, a3, a4, h;
        char kind;
        int ok;
        if (line[0] == '#' || !strncmp(line, "recipe ", 7))
            continue;
        if (sscanf(line, "end hash=%" SCNx64, &h) == 1) {
            *recorded_hash = h;
            break;
        }
        if (sscanf(line, "A %" SCNu64 " %c %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %d", &id, &kind,
                   &a1, &a2, &a3, &a4, &ok) == 7 &&
            (kind == OP_CONTIG || kind == OP_MDL || kind == OP_MOVABLE || kind == OP_STANDBY) &&
            (ok == 0 || ok == 1) && id < MAX_REPLAY_ID) {
            if (id >= cap) {
                uint64_t ncap = cap ? cap : 1024;
                while (ncap <= id)
                    ncap *= 2;
                struct object *no = realloc(objs, ncap * sizeof(*objs));
                if (!no) {
                    _mmc_set_error("%s:%" PRIu64 ": no memory for %" PRIu64 " objects", path, lineno, ncap);
                    rc = -ENOMEM;
                    break;
                }
                memset(no + cap, 0, (ncap - cap) * sizeof(*no));
                objs = no, cap = ncap;
            }
            int got = do_alloc(&t, kind, a1, a2, a3, a4, &objs[id]);
            if (got != ok) {
                _mmc_set_error("%s:%" PRIu64 ": the allocation %s now but %s when recorded: the "
                               "partition differs from the recorded one (layout, engine or state)",
                               path, lineno, got ? "succeeded" : "failed", ok ? "succeeded" : "failed");
                free(objs[id].handles);
                objs[id].kind = 0;
                rc = -EILSEQ;
                break;
            }
            if (!got) {
                free(objs[id].handles);
                objs[id].kind = 0;
            }
        } else if (sscanf(line, "F %" SCNu64, &id) == 1) {
            if (id >= cap || !objs[id].kind) {
                _mmc_set_error("%s:%" PRIu64 ": frees object %" PRIu64 ", which is not live", path, lineno, id);
                rc = -EILSEQ;
                break;
            }
            do_free(&t, &objs[id]);
        } else {
            _mmc_set_error("%s:%" PRIu64 ": not a line of an aging trace: %.*s", path, lineno,
                           (int)(strcspn(line, "\r\n") < 60 ? strcspn(line, "\r\n") : 60), line);
            rc = -EINVAL;
            break;
        }
    }
    fclose(in);
    for (uint64_t i = 0; i < cap; i++)
        if (objs[i].kind == OP_MOVABLE || objs[i].kind == OP_STANDBY)
            free(objs[i].handles);
    free(objs);
    return rc;
}
