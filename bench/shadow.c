/* bench/shadow.c: the benchmark's own copy of a partition's free map (the shadow), the aging
 * recipe that brings a pool to a fill level, the churn between measured calls, the exhaustive
 * oracle of FAST_ONLY's false negatives. What the library does already it leaves to it: the PRNG
 * (alloc/rand.h), the fragmentation measures of a state (mmc_partition_frag, alloc/frag.c).
 *
 * Why a shadow: the public API gives per-run free counts (mmc_partition_runs), not the free
 * map. But the benchmark makes every allocation of its partitions itself, so it knows exactly
 * which frames are in use: one bit per frame, in frame-rank order (ascending PFN; runs as
 * mmc_partition_runs lists them). shadow_check() compares it with the library's per-run free
 * counts after every aging and every revert.
 *
 * The fill levels' block recipe (results/README.md, "Aging recipes", B): with the project's PRNG
 * seeded by _mmc_rand_mix(seed, fill_pct), on an empty pool of N frames:
 *   A. allocate: draw a size n log-uniform in [1, 2048] frames (4 KiB..8 MiB) and a frame p
 *      uniformly over the pool; if p is in use, or no free stretch of n frames inside p's run
 *      covers p, the attempt misses (a new size and frame are drawn); else the block starts at
 *      a uniformly drawn position among the n-frame free stretches covering p. Until
 *      used >= N * (fill + (100 - fill) / 2) / 100 (overshoot: 50 -> 75, 70 -> 85, 90 -> 95)
 *      or 1,000,000 attempts in a row miss.
 *   B. free: free uniformly drawn live blocks until used <= N * fill / 100.
 * The recipe runs on the shadow alone, so the state depends only on (layout, fill, seed), not
 * on the engine; the surviving blocks are then made in the partition, each pinned to its place
 * by Lowest = its first byte and Highest = its last byte (in ascending PFN order, the free gaps
 * between them taken too and freed at the end: tile()). The state is made once in the pool's
 * one partition and every engine searches it in turn (target.c: mmc_partition_set_engine), so
 * every engine is measured on the same free map.
 *
 * Churn (untimed, between two measured calls, fill > 0 only): free one uniformly drawn live
 * block, then allocate by rule A until the aged used count is reached again (at most 64 misses
 * in a row). shadow_revert() undoes all of it at the end of a case, so every case starts from
 * the aged state, whatever ran before it (--benchmark_filter does not change the states).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define AGE_MAX_FRAMES 2048u        /* 8 MiB */
#define AGE_MAX_MISSES 1000000u     /* attempts in a row before phase A gives up */
#define CHURN_MAX_MISSES 64u

struct shadow_run {
    uint64_t base_pfn;              /* PFN of its first frame */
    uint64_t first;                 /* rank of its first frame */
    uint64_t frames;                /* length */
};

struct live_block {
    uint64_t first;                 /* rank of its first frame */
    uint64_t frames;
    void *va;                       /* as the partition returned it; NULL before realisation */
    int64_t base_id;                /* index in base[] for an aged block, -1 for churn */
    uint64_t seq;                   /* allocation order in the recipe */
    int kind;                       /* 0: a pinned block; MMC_LOAD_MOVABLE / _STANDBY: its frames
                                       become load frames once realised (convert_load) */
};

struct base_block {
    uint64_t first, frames;
    bool live;                      /* in the partition now */
};

struct shadow {
    mmc_partition_t *part;
    struct shadow_run *runs; size_t nruns;
    uint64_t nframes;
    uint64_t *used;                 /* bit per frame rank: 1 = in use */
    uint64_t used_frames;
    struct live_block *live; size_t nlive, live_cap;
    struct base_block *base; size_t nbase;
    uint64_t base_used;             /* used frames of the aged state */
    uint64_t layout_hash;
    uint64_t largest_built;         /* longest free stretch of the state built (before churn) */
    uint64_t largest_bound;         /* >= the longest free stretch now: the oracle's fast "no" */
    /* load (the real pool's aged states): a share of the recipe's blocks held as load frames */
    bool with_load;                 /* draw load blocks when aging (shadow_set_load) */
    uint32_t *load_of;              /* per rank: 1 + index into load[] of the frame's handle */
    mmc_load_t *load; size_t nload, load_cap; /* every load handle of the state (dropped too) */
    uint64_t movable_frames, standby_frames; /* load frames of the state as built */
    bool load_moved;                /* a trade moved or dropped load since the state was built */
};

static void seterr(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
}

/* ---- the bitmap ---- */

static bool is_used(const struct shadow *s, uint64_t i) { return s->used[i >> 6] >> (i & 63) & 1; }

static void mark(struct shadow *s, uint64_t first, uint64_t n, bool used)
{
    for (uint64_t i = first; i < first + n; i++) {
        if (used)
            s->used[i >> 6] |= 1ull << (i & 63);
        else
            s->used[i >> 6] &= ~(1ull << (i & 63));
    }
    if (used)
        s->used_frames += n;
    else
        s->used_frames -= n;
}

/* First rank in [i, end) whose bit is `set`, or end. */
static uint64_t next_bit(const struct shadow *s, uint64_t i, uint64_t end, bool set)
{
    while (i < end) {
        uint64_t w = s->used[i >> 6];
        if (!set)
            w = ~w;
        w &= ~0ull << (i & 63);
        if (w) {
            uint64_t j = (i & ~63ull) + (uint64_t)__builtin_ctzll(w);
            return j < end ? j : end;
        }
        i = (i | 63) + 1;
    }
    return end;
}

/* One past the last rank in [lo, i) whose bit is set, or lo if none. */
static uint64_t prev_used_end(const struct shadow *s, uint64_t i, uint64_t lo)
{
    while (i > lo) {
        uint64_t w = s->used[(i - 1) >> 6];
        const unsigned top = (unsigned)((i - 1) & 63);
        if (top < 63)
            w &= (2ull << top) - 1;
        if (w) {
            uint64_t j = ((i - 1) & ~63ull) + 63u - (uint64_t)__builtin_clzll(w) + 1;
            return j > lo ? j : lo;
        }
        i = (i - 1) & ~63ull;
    }
    return lo;
}

static size_t run_of(const struct shadow *s, uint64_t i);

/* Length of the free stretch that holds rank i (free), inside its run. */
static uint64_t stretch_at(const struct shadow *s, uint64_t i)
{
    const struct shadow_run *r = &s->runs[run_of(s, i)];
    return next_bit(s, i, r->first + r->frames, true) - prev_used_end(s, i, r->first);
}

/* The next maximal span of frames in use (used) or free (!used) of run r at or after *i:
 * [*a, *b), *i moved past it. False when the run has no more. Start with *i = the run's first. */
static bool next_span(const struct shadow *s, size_t r, bool used, uint64_t *i, uint64_t *a,
                      uint64_t *b)
{
    const uint64_t end = s->runs[r].first + s->runs[r].frames;
    *a = next_bit(s, *i, end, used);
    if (*a >= end)
        return false;
    *i = *b = next_bit(s, *a, end, !used);
    return true;
}

/* Longest free stretch of the whole pool, O(frames / 64 + stretches). */
static uint64_t longest_free(const struct shadow *s)
{
    uint64_t best = 0;
    for (size_t r = 0; r < s->nruns; r++)
        for (uint64_t i = s->runs[r].first, a, b; next_span(s, r, false, &i, &a, &b);)
            best = b - a > best ? b - a : best;
    return best;
}

uint64_t shadow_largest_free(const struct shadow *s) { return s->largest_built; }
uint64_t shadow_used_frames(const struct shadow *s) { return s->used_frames; }

/* The last run whose first rank (by_pfn: first PFN) is at or below key (binary search). */
static size_t run_search(const struct shadow *s, uint64_t key, bool by_pfn)
{
    size_t lo = 0, hi = s->nruns;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if ((by_pfn ? s->runs[mid].base_pfn : s->runs[mid].first) <= key)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static size_t run_of(const struct shadow *s, uint64_t i) { return run_search(s, i, false); }

uint64_t shadow_pfn_of_rank(const struct shadow *s, uint64_t i)
{
    const struct shadow_run *r = &s->runs[run_of(s, i)];
    return r->base_pfn + (i - r->first);
}

uint64_t shadow_frames(const struct shadow *s) { return s->nframes; }

/* Rank of a PFN of the pool, or UINT64_MAX for one outside every run. */
static uint64_t rank_of_pfn(const struct shadow *s, uint64_t pfn)
{
    const struct shadow_run *r = &s->runs[run_search(s, pfn, true)];
    return pfn >= r->base_pfn && pfn < r->base_pfn + r->frames ? r->first + (pfn - r->base_pfn)
                                                               : UINT64_MAX;
}

/* ---- blocks in the partition ---- */

static int realise(struct shadow *s, uint64_t first, uint64_t frames, void **va, char *err, size_t n)
{
    uint64_t pfn = shadow_pfn_of_rank(s, first);
    SIZE_T bytes = frames * MMC_FRAME_BYTES;
    PHYSICAL_ADDRESS lo = {.QuadPart = (LONGLONG)(pfn * MMC_FRAME_BYTES)};
    PHYSICAL_ADDRESS hi = {.QuadPart = (LONGLONG)((pfn + frames) * MMC_FRAME_BYTES - 1)};
    PHYSICAL_ADDRESS none = {.QuadPart = 0};
    *va = NULL;
    NTSTATUS st = MmAllocateContiguousMemoryEx(&bytes, lo, hi, none, MM_ANY_NODE_OK, PAGE_READWRITE,
                                               s->part, BENCH_TAG, 0, va);
    if (st != STATUS_SUCCESS || !*va) {
        seterr(err, n, "aging: the engine found no block at PFN %#" PRIx64 " (%" PRIu64
               " frames) though the benchmark's shadow has it free (NTSTATUS %#x)", pfn, frames,
               (unsigned)st);
        return -1;
    }
    return 0;
}

static int push_live(struct shadow *s, struct live_block b)
{
    if (s->nlive == s->live_cap) {
        size_t cap = s->live_cap ? s->live_cap * 2 : 1024;
        struct live_block *t = realloc(s->live, cap * sizeof(*t));
        if (!t)
            return -1;
        s->live = t;
        s->live_cap = cap;
    }
    s->live[s->nlive++] = b;
    return 0;
}

/* Free live block k in the partition (if realised) and the shadow; swap-remove. */
static void drop_live(struct shadow *s, size_t k)
{
    struct live_block *b = &s->live[k];
    if (b->va)
        MmFreeContiguousMemory(b->va);
    mark(s, b->first, b->frames, false);
    if (b->base_id >= 0)
        s->base[b->base_id].live = false;
    s->live[k] = s->live[--s->nlive];
}

/* Rule A once: a block of a log-uniform size covering a uniform free frame. */
static bool attempt(struct shadow *s, uint64_t *rng, uint64_t *first, uint64_t *frames)
{
    double u = (double)(_mmc_rand(rng) >> 11) * 0x1p-53;
    uint64_t n = (uint64_t)floor(exp2(u * log2((double)AGE_MAX_FRAMES + 1.0)));
    if (n < 1)
        n = 1;
    if (n > AGE_MAX_FRAMES)
        n = AGE_MAX_FRAMES;
    uint64_t p = _mmc_rand_below(rng, s->nframes);
    if (is_used(s, p))
        return false;
    const struct shadow_run *r = &s->runs[run_of(s, p)];
    uint64_t lo_lim = p - r->first >= n - 1 ? p - (n - 1) : r->first;
    uint64_t hi_lim = r->first + r->frames - p >= n ? p + n : r->first + r->frames;
    uint64_t a = p, b = p + 1;
    while (a > lo_lim && !is_used(s, a - 1))
        a--;
    while (b < hi_lim && !is_used(s, b))
        b++;
    if (b - a < n)
        return false;
    *first = a + _mmc_rand_below(rng, b - a - n + 1);
    *frames = n;
    return true;
}

/* ---- life cycle ---- */

struct shadow *shadow_new(mmc_partition_t *part, char *err, size_t errlen)
{
    long nr = mmc_partition_runs(part, NULL, 0);
    if (nr <= 0) {
        seterr(err, errlen, "mmc_partition_runs: %s", nr < 0 ? mmc_last_error() : "no runs");
        return NULL;
    }
    struct shadow *s = calloc(1, sizeof(*s));
    struct mmc_run_info *info = calloc((size_t)nr, sizeof(*info));
    if (s)
        s->runs = calloc((size_t)nr, sizeof(*s->runs));
    if (!s || !info || !s->runs) {
        seterr(err, errlen, "out of memory for the shadow of %ld runs", nr);
        free(info);
        shadow_free(s);
        return NULL;
    }
    nr = mmc_partition_runs(part, info, (size_t)nr);
    s->part = part;
    s->nruns = (size_t)nr;
    s->layout_hash = 1469598103934665603ull;
    for (long i = 0; i < nr; i++) {
        s->runs[i] = (struct shadow_run){info[i].base_pfn, s->nframes, info[i].frames};
        s->nframes += info[i].frames;
        s->layout_hash = _mmc_rand_mix(s->layout_hash, info[i].base_pfn ^ (info[i].frames << 40));
        if (info[i].free_frames != info[i].frames) {
            seterr(err, errlen, "a fresh partition has frames in use in run %ld", i);
            free(info);
            shadow_free(s);
            return NULL;
        }
    }
    free(info);
    s->used = calloc((size_t)(s->nframes + 63) / 64, sizeof(uint64_t));
    if (!s->used) {
        seterr(err, errlen, "out of memory for a %" PRIu64 "-frame shadow", s->nframes);
        shadow_free(s);
        return NULL;
    }
    return s;
}

void shadow_free(struct shadow *s)
{
    if (!s)
        return;
    free(s->runs);
    free(s->used);
    free(s->live);
    free(s->base);
    free(s->load_of);
    free(s->load);
    free(s);
}

void shadow_set_load(struct shadow *s, bool on)
{
    if (on && !s->load_of)
        s->load_of = calloc((size_t)s->nframes, sizeof(*s->load_of));
    s->with_load = on && s->load_of;
}

bool shadow_load_moved(const struct shadow *s) { return s->load_moved; }
uint64_t shadow_load_frames(const struct shadow *s) { return s->movable_frames + s->standby_frames; }

int shadow_reset(struct shadow *s, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    if (s->nload) { /* load handles (some dropped by trades): the partition forgets them all */
        long rc = mmc_partition_clear(s->part);
        if (rc < 0) {
            seterr(err, errlen, "mmc_partition_clear: %s", mmc_last_error());
            return -1;
        }
        memset(s->used, 0, (size_t)(s->nframes + 63) / 64 * sizeof(uint64_t));
        memset(s->load_of, 0, (size_t)s->nframes * sizeof(*s->load_of));
        s->used_frames = 0;
        s->nlive = 0;
        s->nload = 0;
    }
    s->movable_frames = s->standby_frames = 0;
    s->load_moved = false;
    while (s->nlive)
        drop_live(s, s->nlive - 1);
    free(s->base);
    s->base = NULL;
    s->nbase = 0;
    s->base_used = 0;
    s->largest_built = 0;
    s->largest_bound = UINT64_MAX; /* unknown until a state is built */
    return 0;
}

int shadow_check(const struct shadow *s, char *err, size_t errlen)
{
    long nr = mmc_partition_runs(s->part, NULL, 0);
    struct mmc_run_info *info = nr > 0 ? calloc((size_t)nr, sizeof(*info)) : NULL;
    if (!info || (size_t)nr != s->nruns) {
        free(info);
        seterr(err, errlen, "the partition's runs changed under the benchmark");
        return -1;
    }
    mmc_partition_runs(s->part, info, (size_t)nr);
    for (size_t r = 0; r < s->nruns; r++) {
        uint64_t free_frames = 0;
        for (uint64_t i = s->runs[r].first, a, b; next_span(s, r, false, &i, &a, &b);)
            free_frames += b - a;
        if (free_frames != info[r].free_frames) {
            seterr(err, errlen, "run %zu (PFN %#" PRIx64 "): the partition has %" PRIu64
                   " free frames, the benchmark's shadow %" PRIu64, r, s->runs[r].base_pfn,
                   info[r].free_frames, free_frames);
            free(info);
            return -1;
        }
    }
    free(info);
    return 0;
}

/* ---- the state built, into context.json ---- */

/* A measure as the library gives it (alloc/frag.c, the one home of the formulas): U(j) in 0..1,
 * FI(j) in 0..1 or -1 while a block of order j is free; frag.csv writes the same values. */
static void json_num(FILE *f, double v) { fprintf(f, "%.6f", v); }

static void log_state(const struct shadow *s, const char *label, const char *state,
                      unsigned fill_pct, uint64_t seed, double seconds, uint64_t attempts,
                      bool gave_up)
{
    /* one entry per (pool, layout, state): every engine gets the same state */
    static struct { char label[32]; uint64_t hash; unsigned fill; } seen[256];
    static unsigned nseen;
    for (unsigned i = 0; i < nseen; i++)
        if (seen[i].hash == s->layout_hash && seen[i].fill == fill_pct && !strcmp(seen[i].label, label))
            return;
    if (nseen < 256) {
        snprintf(seen[nseen].label, sizeof(seen[nseen].label), "%s", label);
        seen[nseen].hash = s->layout_hash;
        seen[nseen++].fill = fill_pct;
    }
    FILE *f = bench_g.aging_log;
    if (!f)
        return;
    /* the partition's free map is the shadow's (finish_state checked it): the library measures it */
    struct mmc_frag m;
    if (mmc_partition_frag(s->part, -1, &m) < 0)
        return;
    static const unsigned orders[] = {4, 9, 11, 14};
    static const char *const names[] = {"64K", "2M", "8M", "64M"};
    fprintf(f, "%s\n    {\"pool\": \"%s\", \"state\": \"%s\", \"layout_runs\": %zu, \"pool_frames\": %" PRIu64
            ", \"fill_pct\": %u, \"seed\": %" PRIu64 ", \"reached_pct\": %.3f, \"live_blocks\": %zu"
            ", \"free_frames\": %" PRIu64 ", \"free_extents\": %" PRIu64
            ", \"largest_free_frames\": %" PRIu64 ", \"recipe_attempts\": %" PRIu64
            ", \"recipe_gave_up\": %s, \"seconds\": %.3f, \"load_movable_frames\": %" PRIu64
            ", \"load_standby_frames\": %" PRIu64 ", \"buddy_free_blocks_by_order\": [",
            ftell(f) > 0 ? "," : "", label, state, s->nruns, s->nframes, fill_pct, seed,
            100.0 * (double)s->used_frames / (double)s->nframes, s->nlive, m.free_frames,
            m.free_stretches, m.largest_free_frames,
            attempts, gave_up ? "true" : "false", seconds, s->movable_frames, s->standby_frames);
    for (unsigned k = 0; k <= MMC_FRAG_MAX_ORDER; k++)
        fprintf(f, "%s%" PRIu64, k ? ", " : "", m.blocks[k]);
    fputs("], \"unusable_index\": {", f);
    for (unsigned i = 0; i < 4; i++) {
        fprintf(f, "%s\"%s\": ", i ? ", " : "", names[i]);
        json_num(f, m.unusable[orders[i]]);
    }
    fputs("}, \"fragmentation_index\": {", f);
    for (unsigned i = 0; i < 4; i++) {
        fprintf(f, "%s\"%s\": ", i ? ", " : "", names[i]);
        json_num(f, m.fragmentation[orders[i]]);
    }
    fputs("}}", f);
    fflush(f);
}

static int by_first(const void *a, const void *b)
{
    const struct live_block *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first;
}

/* Make the aged blocks (s->live, sorted by rank) in the partition. Pinned one by one in
 * ascending PFN order, each request would fall in the large free stretch above the blocks made
 * so far, but an engine whose range search walks its free stretches (tlsf) would also examine
 * every hole left below, O(blocks^2) in all: minutes for a 16 GiB pool. So each run is tiled
 * from its bottom: the free gap before a block is taken as a block too, so there is never more
 * than one free stretch per run while the tiling goes on, and every gap is freed at the end.
 * The free map is the same as if only the aged blocks had been made. */
static int convert_load(struct shadow *s, char *err, size_t errlen);

static int tile(struct shadow *s, char *err, size_t errlen)
{
    size_t k = 0, ngaps = 0, cap = 1024;
    void **gaps = malloc(cap * sizeof(*gaps));
    int rc = gaps ? 0 : -1;
    if (!gaps)
        seterr(err, errlen, "out of memory while aging");
    for (size_t r = 0; r < s->nruns && rc == 0; r++) {
        const uint64_t end = s->runs[r].first + s->runs[r].frames;
        uint64_t cursor = s->runs[r].first;
        while (rc == 0) {
            const bool more = k < s->nlive && s->live[k].first < end;
            const uint64_t next = more ? s->live[k].first : end;
            if (next > cursor) { /* the gap below the next block: a temporary block */
                if (ngaps == cap) {
                    void **t = realloc(gaps, (cap *= 2) * sizeof(*gaps));
                    if (!t) {
                        seterr(err, errlen, "out of memory while aging");
                        rc = -1;
                        break;
                    }
                    gaps = t;
                }
                if (realise(s, cursor, next - cursor, &gaps[ngaps], err, errlen) < 0) {
                    rc = -1;
                    break;
                }
                ngaps++;
            }
            if (!more)
                break;
            if ((k & 0xfff) == 0 && bench_stop) {
                seterr(err, errlen, "interrupted");
                rc = -1;
                break;
            }
            struct live_block *b = &s->live[k];
            if (realise(s, b->first, b->frames, &b->va, err, errlen) < 0) {
                rc = -1;
                break;
            }
            b->base_id = (int64_t)k;
            s->base[k] = (struct base_block){b->first, b->frames, true};
            cursor = b->first + b->frames;
            k++;
        }
    }
    if (rc == 0) /* every frame is in use now: the load blocks' frames can be had exactly */
        rc = convert_load(s, err, errlen);
    for (size_t g = 0; g < ngaps; g++)
        MmFreeContiguousMemory(gaps[g]);
    free(gaps);
    return rc;
}

/* The load blocks made load frames, while tile() holds every other frame of the pool: each kind
 * in turn, its blocks are freed and mmc_load_alloc takes exactly that many frames, which can
 * only be theirs (the partition's placement takes free frames; there are no others). Each
 * handle's frame is read back (mmc_load_pfn) and must be one of them. */
static int convert_load(struct shadow *s, char *err, size_t errlen)
{
    static const int kinds[2] = {MMC_LOAD_MOVABLE, MMC_LOAD_STANDBY};
    for (int k = 0; k < 2; k++) {
        uint64_t want = 0;
        for (size_t b = 0; b < s->nlive; b++)
            if (s->live[b].kind == kinds[k] && s->live[b].va) {
                MmFreeContiguousMemory(s->live[b].va);
                s->live[b].va = NULL;
                want += s->live[b].frames;
            }
        if (!want)
            continue;
        if (s->nload + want > s->load_cap) {
            size_t cap = (size_t)(s->nload + want) * 2;
            mmc_load_t *t = realloc(s->load, cap * sizeof(*t));
            if (!t) {
                seterr(err, errlen, "out of memory for %" PRIu64 " load handles", want);
                return -1;
            }
            s->load = t;
            s->load_cap = cap;
        }
        long got = mmc_load_alloc(s->part, kinds[k], -1, (size_t)want, s->load + s->nload);
        if (got != (long)want) {
            seterr(err, errlen, "aging: mmc_load_alloc gave %ld of the %" PRIu64 " %s frames the "
                   "state holds as load (%s)", got, want, kinds[k] == MMC_LOAD_MOVABLE ? "movable"
                   : "standby", got < 0 ? mmc_last_error() : "the pool had other free frames");
            if (got > 0)
                mmc_load_free(s->part, s->load + s->nload, (size_t)got);
            return -1;
        }
        for (size_t j = s->nload; j < s->nload + want; j++) {
            const uint64_t r = rank_of_pfn(s, mmc_load_pfn(s->part, s->load[j]));
            if (r == UINT64_MAX || !is_used(s, r) || s->load_of[r]) {
                seterr(err, errlen, "aging: a load frame landed outside the load blocks of the "
                       "state (rank %" PRIu64 "): the partition's placement is not plain", r);
                return -1;
            }
            s->load_of[r] = (uint32_t)(j + 1);
        }
        s->nload += want;
        if (kinds[k] == MMC_LOAD_MOVABLE)
            s->movable_frames += want;
        else
            s->standby_frames += want;
    }
    return 0;
}

int shadow_note_block(struct shadow *s, void *va, uint64_t bytes, char *err, size_t errlen)
{
    if (!s->nload || !va)
        return 0;
    const uint64_t n = bytes / MMC_FRAME_BYTES;
    const uint64_t first = rank_of_pfn(s, (uint64_t)MmGetPhysicalAddress(va).QuadPart / MMC_FRAME_BYTES);
    if (first == UINT64_MAX || next_bit(s, first, first + n, true) >= first + n)
        return 0; /* a free block: nothing was traded */
    for (uint64_t i = first; i < first + n; i++) {
        if (!is_used(s, i))
            continue;
        const uint32_t j = s->load_of[i];
        if (!j) {
            seterr(err, errlen, "a block the partition returned (rank %" PRIu64 ", %" PRIu64
                   " frames) covers a frame the benchmark holds pinned (rank %" PRIu64 ")", first,
                   n, i);
            return -1;
        }
        mark(s, i, 1, false);
        s->load_of[i] = 0;
        const uint64_t pfn = mmc_load_pfn(s->part, s->load[j - 1]); /* 0: dropped */
        if (pfn) {
            const uint64_t r = rank_of_pfn(s, pfn);
            if (r == UINT64_MAX || is_used(s, r) || (r >= first && r < first + n)) {
                seterr(err, errlen, "a trade moved a load frame to rank %" PRIu64 ", which the "
                       "benchmark's shadow has in use or inside the block", r);
                return -1;
            }
            mark(s, r, 1, true);
            s->load_of[r] = j;
        }
    }
    s->load_moved = true;
    const uint64_t len = stretch_at(s, first); /* the block is freed next: its frames become free */
    if (len > s->largest_bound)
        s->largest_bound = len;
    return 0;
}

/* The last recipe result: the same (layout, fill, seed) gives the same blocks, so the engines
 * measured one after another on a (pool, fill) share one computation. */
static struct {
    uint64_t layout_hash, seed;
    unsigned fill_pct;
    struct live_block *blocks; size_t n; /* sorted by rank */
    uint64_t attempts;
    bool gave_up, valid;
} recipe_cache;

/* The end of every state built: its live blocks (s->live, sorted by rank) made in the
 * partition (tile()), the used count and the largest free stretch recorded, the shadow checked
 * against the partition. */
static int finish_state(struct shadow *s, char *err, size_t errlen)
{
    if (s->nlive) {
        s->base = calloc(s->nlive, sizeof(*s->base));
        if (!s->base) {
            seterr(err, errlen, "out of memory while aging");
            return -1;
        }
        if (tile(s, err, errlen) < 0)
            return -1;
        s->nbase = s->nlive;
    }
    /* the load blocks are load frames now: the live blocks are the pinned ones */
    size_t m = 0;
    for (size_t k = 0; k < s->nlive; k++)
        if (!s->live[k].kind) {
            s->live[m] = s->live[k];
            s->live[m].base_id = (int64_t)m;
            s->base[m] = (struct base_block){s->live[m].first, s->live[m].frames, true};
            m++;
        }
    s->nlive = s->nbase = m;
    s->base_used = s->used_frames;
    s->largest_built = s->largest_bound = longest_free(s);
    return shadow_check(s, err, errlen);
}

int shadow_age(struct shadow *s, unsigned fill_pct, uint64_t seed, const char *pool_label,
               char *err, size_t errlen)
{
    if (shadow_reset(s, err, errlen) < 0)
        return -1;
    uint64_t t0 = bench_now_ns(), attempts = 0;
    bool gave_up = false;
    const uint64_t state_seed = _mmc_rand_mix(seed, 0xa6e0000ull + fill_pct);
    const bool cached = fill_pct > 0 && recipe_cache.valid &&
                        recipe_cache.layout_hash == s->layout_hash &&
                        recipe_cache.fill_pct == fill_pct && recipe_cache.seed == state_seed;
    if (cached) {
        s->nlive = 0;
        for (size_t k = 0; k < recipe_cache.n; k++) {
            if (push_live(s, recipe_cache.blocks[k]) < 0) {
                seterr(err, errlen, "out of memory while aging");
                return -1;
            }
            mark(s, recipe_cache.blocks[k].first, recipe_cache.blocks[k].frames, true);
        }
        attempts = recipe_cache.attempts;
        gave_up = recipe_cache.gave_up;
    }
    if (fill_pct > 0 && !cached) {
        uint64_t rng = state_seed, seq = 0, misses = 0;
        uint64_t hi = s->nframes * (fill_pct + (100 - fill_pct) / 2.0) / 100.0;
        uint64_t lo = s->nframes * fill_pct / 100;
        /* A: allocate past the target, on the shadow only */
        while (s->used_frames < hi) {
            uint64_t first, frames;
            attempts++;
            if ((attempts & 0xffff) == 0 && bench_stop) {
                seterr(err, errlen, "interrupted");
                return -1;
            }
            if (!attempt(s, &rng, &first, &frames)) {
                if (++misses >= AGE_MAX_MISSES) {
                    gave_up = true;
                    break;
                }
                continue;
            }
            misses = 0;
            mark(s, first, frames, true);
            if (push_live(s, (struct live_block){first, frames, NULL, -1, seq++}) < 0) {
                seterr(err, errlen, "out of memory while aging");
                return -1;
            }
        }
        /* B: free random blocks down to the target */
        while (s->used_frames > lo && s->nlive)
            drop_live(s, (size_t)_mmc_rand_below(&rng, s->nlive));
        qsort(s->live, s->nlive, sizeof(*s->live), by_first);
        free(recipe_cache.blocks);
        recipe_cache.valid = false;
        recipe_cache.blocks = malloc((s->nlive ? s->nlive : 1) * sizeof(*s->live));
        if (recipe_cache.blocks) {
            memcpy(recipe_cache.blocks, s->live, s->nlive * sizeof(*s->live));
            recipe_cache.layout_hash = s->layout_hash;
            recipe_cache.seed = state_seed;
            recipe_cache.fill_pct = fill_pct;
            recipe_cache.n = s->nlive;
            recipe_cache.attempts = attempts;
            recipe_cache.gave_up = gave_up;
            recipe_cache.valid = true;
        }
    }
    if (s->with_load && fill_pct > 0) {
        /* load in the recipe's proportions (results/README.md "Load in the fill levels"): each
         * block pinned with odds 0.5 (MDL 0.25 + contiguous 0.25), movable 0.3, standby 0.2 */
        uint64_t krng = _mmc_rand_mix(state_seed, 0x10adull);
        for (size_t k = 0; k < s->nlive; k++) {
            const uint64_t u = _mmc_rand(&krng) % 10;
            s->live[k].kind = u < 5 ? 0 : u < 8 ? MMC_LOAD_MOVABLE : MMC_LOAD_STANDBY;
        }
    }
    if (finish_state(s, err, errlen) < 0)
        return -1;
    log_state(s, pool_label, "aged", fill_pct, state_seed, (double)(bench_now_ns() - t0) * 1e-9,
              attempts, gave_up);
    return 0;
}

/* A scenario's used frames, marked on the empty shadow (ranks [lo, hi] are its range). */
static void mark_needle(struct shadow *s, const struct state_spec *sp, uint64_t lo, uint64_t hi)
{
    /* every n-th frame used: free stretches of n - 1 frames (shorter at a run's end) */
    const uint64_t n = sp->frames;
    for (uint64_t i = n - 1; i < s->nframes; i += n)
        mark(s, i, 1, true);
    /* the needle: the lowest stretch at a multiple of n in [lo, hi] that one run holds whole,
     * lengthened to n frames and closed above */
    for (uint64_t a = (lo + n - 1) / n * n; a + n - 1 <= hi; a += n) {
        const struct shadow_run *r = &s->runs[run_of(s, a)];
        if (a + n > r->first + r->frames)
            continue;
        mark(s, a + n - 1, 1, false);
        if (a + n < r->first + r->frames)
            mark(s, a + n, 1, true);
        return;
    }
}

static void mark_cut(struct shadow *s, const struct state_spec *sp, uint64_t *rng)
{
    /* all used, then per multiple m of the boundary B (by PFN) a free stretch of 2n - 2 frames:
     * [m - (n - 1), m + n - 1), cut by m, or with odds 1/32 [m, m + 2n - 2), between m and the next multiple */
    const uint64_t n = sp->frames, B = sp->boundary_frames;
    mark(s, 0, s->nframes, true);
    for (size_t r = 0; r < s->nruns; r++) {
        const struct shadow_run *run = &s->runs[r];
        const uint64_t pb = run->base_pfn, pe = pb + run->frames;
        for (uint64_t m = (pb + B - 1) / B * B; m < pe + n - 1; m += B) {
            const bool fits = _mmc_rand_below(rng, 32) == 0;
            uint64_t a = fits ? m : (m >= n - 1 ? m - (n - 1) : 0), b = a + 2 * n - 2;
            a = a < pb ? pb : a;
            b = b > pe ? pe : b;
            if (a < b)
                mark(s, run->first + (a - pb), b - a, false);
        }
    }
}

/* The used spans of the shadow, each one block inside its run, as the live blocks. */
static int blocks_from_marks(struct shadow *s, char *err, size_t errlen)
{
    for (size_t r = 0; r < s->nruns; r++)
        for (uint64_t i = s->runs[r].first, a, b; next_span(s, r, true, &i, &a, &b);)
            if (push_live(s, (struct live_block){a, b - a, NULL, -1, 0}) < 0) {
                seterr(err, errlen, "out of memory while building a state");
                return -1;
            }
    return 0;
}

int shadow_build(struct shadow *s, const struct state_spec *spec, uint64_t lo_rank,
                 uint64_t hi_rank, uint64_t seed, const char *pool_label, char *err, size_t errlen)
{
    if (shadow_reset(s, err, errlen) < 0)
        return -1;
    const uint64_t t0 = bench_now_ns();
    uint64_t rng = _mmc_rand_mix(seed, 0x5ce0000ull + (uint64_t)spec->kind);
    if (spec->kind == STATE_NEEDLE && spec->frames >= 2)
        mark_needle(s, spec, lo_rank, hi_rank);
    else if (spec->kind == STATE_CUT && spec->frames >= 2 && spec->boundary_frames >= 2 * spec->frames)
        mark_cut(s, spec, &rng);
    else {
        seterr(err, errlen, "no such scenario state (kind %d, %" PRIu64 " frames)", spec->kind,
               spec->frames);
        return -1;
    }
    if (blocks_from_marks(s, err, errlen) < 0 || finish_state(s, err, errlen) < 0)
        return -1;
    char label[96];
    snprintf(label, sizeof(label), "%s/req:%" PRIu64 "-frames/%s", pool_label, spec->frames,
             bench_constraint_name[spec->constraint]);
    log_state(s, label, bench_state_name[spec->kind], 0, rng, (double)(bench_now_ns() - t0) * 1e-9,
              0, false);
    return 0;
}

int shadow_churn(struct shadow *s, uint64_t *rng, char *err, size_t errlen)
{
    if (!s->nbase || !s->nlive)
        return 0;
    const size_t k = (size_t)_mmc_rand_below(rng, s->nlive);
    const uint64_t freed = s->live[k].first;
    drop_live(s, k);
    const uint64_t len = stretch_at(s, freed); /* frees merge; allocations only shorten */
    if (len > s->largest_bound)
        s->largest_bound = len;
    unsigned misses = 0;
    while (s->used_frames < s->base_used && misses < CHURN_MAX_MISSES) {
        uint64_t first, frames;
        if (!attempt(s, rng, &first, &frames)) {
            misses++;
            continue;
        }
        misses = 0;
        void *va;
        if (realise(s, first, frames, &va, err, errlen) < 0)
            return -1;
        mark(s, first, frames, true);
        if (push_live(s, (struct live_block){first, frames, va, -1, 0}) < 0) {
            MmFreeContiguousMemory(va);
            mark(s, first, frames, false);
            seterr(err, errlen, "out of memory while churning");
            return -1;
        }
    }
    return 0;
}

int shadow_revert(struct shadow *s, char *err, size_t errlen)
{
    for (size_t k = s->nlive; k-- > 0;)
        if (s->live[k].base_id < 0)
            drop_live(s, k);
    for (size_t id = 0; id < s->nbase; id++) {
        struct base_block *b = &s->base[id];
        if (b->live)
            continue;
        void *va;
        if (realise(s, b->first, b->frames, &va, err, errlen) < 0)
            return -1;
        mark(s, b->first, b->frames, true);
        b->live = true;
        if (push_live(s, (struct live_block){b->first, b->frames, va, (int64_t)id, 0}) < 0) {
            seterr(err, errlen, "out of memory while reverting the churn");
            return -1;
        }
    }
    if (s->used_frames != s->base_used) {
        seterr(err, errlen, "revert: %" PRIu64 " frames in use, the aged state had %" PRIu64,
               s->used_frames, s->base_used);
        return -1;
    }
    s->largest_bound = s->largest_built;
    return 0;
}

bool shadow_exists(const struct shadow *s, uint64_t n, uint64_t lowest_pfn, uint64_t highest_pfn,
                   uint64_t boundary_frames)
{
    if (!n || n > s->largest_bound) /* no free stretch that long anywhere */
        return false;
    for (size_t r = 0; r < s->nruns; r++) {
        const struct shadow_run *run = &s->runs[r];
        uint64_t rb = run->base_pfn, re = rb + run->frames; /* [rb, re) */
        uint64_t lo = rb > lowest_pfn ? rb : lowest_pfn;
        uint64_t hi = re - 1 < highest_pfn ? re - 1 : highest_pfn;
        if (lo > hi || hi - lo + 1 < n)
            continue;
        uint64_t i = run->first + (lo - rb), end = run->first + (hi - rb) + 1;
        while (i < end) {
            uint64_t a = next_bit(s, i, end, false);
            if (a >= end)
                break;
            uint64_t b = next_bit(s, a, end, true);
            uint64_t pa = rb + (a - run->first), pb = rb + (b - run->first);
            uint64_t st = pa;
            if (boundary_frames && st / boundary_frames != (st + n - 1) / boundary_frames)
                st = (st / boundary_frames + 1) * boundary_frames;
            if (st + n <= pb)
                return true;
            i = b;
        }
    }
    return false;
}
