/* tests/fuzz/fuzz_common.h: a model of a simulated partition, and calls checked against it.
 *
 * The fuzz targets (fuzz_api.c, fuzz_args.c) call the public routines on a simulated partition
 * (no hugepages, no root) and check every answer against this model, which is written from
 * ../shared/reference/nt-semantics.md and the headers, not from alloc/:
 *   - the layout (runs from mmc_partition_runs), and who holds each frame (used[]: 0 free,
 *     1 contiguous, 2 MDL, 3 load; load frames re-read after each call, since a trade moves
 *     them);
 *   - the NT argument rules (which status, which NULL) decided here, before the call;
 *   - tests/oracle.c, an exhaustive search: if any free block satisfies a request, the call
 *     must succeed (unless FAST_ONLY); what it returns must satisfy the request, be free (or
 *     load only, when traded for), and lie on the preferred node when that node has a fit;
 *     the reference engine `linear` must return the highest fit;
 *   - MDLs: the number of pages is exactly what the windows hold free (or whole aligned chunks),
 *     every page free before, inside a window, on an allowed node, the array terminated;
 *   - after every call the partition's statistics equal the model's counts, per node and per
 *     run; after every rejected call and every misuse (warn mode) the frame database is
 *     unchanged (state_hash).
 * A violation prints what was called and what was wrong, then abort()s: libFuzzer keeps the
 * input, and the replay driver fails the test.
 */
#ifndef MMC_FUZZ_COMMON_H
#define MMC_FUZZ_COMMON_H

#pragma GCC diagnostic ignored "-Wunused-function" /* each target uses a part */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h" /* _mmc_settings.on_misuse: warn mode without mmc_init (no hugepages here) */
#include "mmcontig/mmcontig.h"
#include "mmcontig/testing.h"
#include "mmcontig/wdm.h"
#include "oracle.h"

/* The model's and the oracle's O(frames) loops are not what is being fuzzed: without coverage
 * instrumentation (its comparison hooks cost 20x here), libFuzzer runs the library far more
 * often in the same time. The oracle is compiled into this translation unit for that reason. */
#if defined(__clang__) && __clang_major__ >= 12
#define FZ_NO_COVERAGE 1
#pragma clang attribute push(__attribute__((no_sanitize("coverage"))), apply_to = function)
#endif
#include "../oracle.c"

#define FZ_MAX_ITEMS 128
#define FZ_MAX_LOAD 16

static void fz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz invariant violated: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}
#define FZ_CHECK(cond, ...)                                                                        \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fz_fail(__VA_ARGS__);                                                                  \
    } while (0)

/* ---- input ---- */
struct fz_in {
    const uint8_t *d;
    size_t n;
};
static uint64_t fz_bytes(struct fz_in *in, unsigned k)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < k; i++) {
        uint64_t b = in->n ? (in->n--, *in->d++) : 0;
        v |= b << (8 * i);
    }
    return v;
}
static uint8_t fz_u8(struct fz_in *in) { return (uint8_t)fz_bytes(in, 1); }
static uint16_t fz_u16(struct fz_in *in) { return (uint16_t)fz_bytes(in, 2); }
static uint32_t fz_u32(struct fz_in *in) { return (uint32_t)fz_bytes(in, 4); }
static uint64_t fz_u64(struct fz_in *in) { return fz_bytes(in, 8); }

/* ---- the model ---- */
enum { FZ_FREE = 0, FZ_CONTIG = 1, FZ_MDL = 2, FZ_LOAD = 3 };
enum fz_kind { FZ_K_CONTIG, FZ_K_MDL, FZ_K_LOAD };

struct fz_item {
    enum fz_kind kind;
    void *p;                    /* contiguous: base as returned */
    uint64_t first, frames;     /* contiguous: frame index, length */
    PMDL mdl;
    mmc_load_t h;               /* one load frame */
    int load_kind;
};

struct fz {
    mmc_partition_t *part;
    char engine[MMC_NAME_MAX];
    bool linear;
    uint64_t hp_frames, nhp, nframes, top_pfn;
    uint64_t *hp_pfn;
    uint8_t *hp_node;
    unsigned nnodes;            /* 1 + highest node number */
    uint64_t all_nodes;         /* mask of the nodes present */
    struct mmc_run_info *runs;
    uint64_t *run_first;        /* frame index of each run's first frame */
    long nruns;
    uint8_t *used;              /* per frame: FZ_* */
    uint8_t *pinned;            /* per frame: 1 if contiguous or MDL (what a trade cannot move) */
    struct oracle o_used, o_pinned;
    struct fz_item items[FZ_MAX_ITEMS];
    unsigned nitems;
    uint64_t misuse_expected;   /* misuse the model has caused so far (delta of the counter) */
    uint64_t misuse_base;
};

static uint64_t fz_pfn(const struct fz *z, uint64_t i) { return z->hp_pfn[i / z->hp_frames] + i % z->hp_frames; }
static unsigned fz_node(const struct fz *z, uint64_t i) { return z->hp_node[i / z->hp_frames]; }

/* Frame index of a PFN, or -1. */
static int64_t fz_index(const struct fz *z, uint64_t pfn)
{
    long lo = 0, hi = z->nruns - 1;
    while (lo <= hi) {
        long mid = (lo + hi) / 2;
        const struct mmc_run_info *r = &z->runs[mid];
        if (pfn < r->base_pfn)
            hi = mid - 1;
        else if (pfn >= r->base_pfn + r->frames)
            lo = mid + 1;
        else
            return (int64_t)(z->run_first[mid] + (pfn - r->base_pfn));
    }
    return -1;
}

static void fz_set(struct fz *z, uint64_t first, uint64_t n, uint8_t what)
{
    for (uint64_t i = first; i < first + n; i++) {
        z->used[i] = what;
        z->pinned[i] = what == FZ_CONTIG || what == FZ_MDL;
    }
}

static void fz_misuse_on(void)
{
    __atomic_store_n(&_mmc_settings.on_misuse, MMC_MISUSE_WARN, __ATOMIC_RELAXED);
}

static struct mmc_stats fz_stats(const struct fz *z)
{
    struct mmc_stats st;
    FZ_CHECK(mmc_partition_stats(z->part, &st) == 0, "mmc_partition_stats failed: %s", mmc_last_error());
    return st;
}

/* Create a simulated partition and its model. 0, or -1 if the configuration is refused (not a
 * failure: the fuzzer gives any numbers). */
static int fz_open(struct fz *z, const struct mmc_sim_config *sc)
{
    memset(z, 0, sizeof(*z));
    fz_misuse_on();
    if (mmc_partition_create_simulated(sc, &z->part) < 0)
        return -1;
    snprintf(z->engine, sizeof(z->engine), "%s", sc->algo);
    z->linear = !strcmp(sc->algo, "linear");
    struct mmc_stats st = fz_stats(z);
    z->hp_frames = st.page_bytes / 4096;
    z->nhp = st.hugepages;
    z->nframes = st.pool_frames;
    z->nruns = mmc_partition_runs(z->part, NULL, 0);
    z->runs = calloc((size_t)z->nruns, sizeof(*z->runs));
    z->run_first = calloc((size_t)z->nruns, sizeof(*z->run_first));
    z->hp_pfn = calloc(z->nhp, sizeof(*z->hp_pfn));
    z->hp_node = calloc(z->nhp, 1);
    z->used = calloc(z->nframes, 1);
    z->pinned = calloc(z->nframes, 1);
    FZ_CHECK(z->runs && z->run_first && z->hp_pfn && z->hp_node && z->used && z->pinned, "out of memory");
    FZ_CHECK(mmc_partition_runs(z->part, z->runs, (size_t)z->nruns) == z->nruns, "runs changed");
    uint64_t h = 0, f = 0;
    for (long r = 0; r < z->nruns; r++) {
        FZ_CHECK(r == 0 || z->runs[r].base_pfn > z->runs[r - 1].base_pfn, "runs not ascending");
        FZ_CHECK(z->runs[r].frames % z->hp_frames == 0 && z->runs[r].free_frames == z->runs[r].frames,
                 "run %ld: %" PRIu64 " frames, %" PRIu64 " free at creation", r, z->runs[r].frames,
                 z->runs[r].free_frames);
        z->run_first[r] = f;
        f += z->runs[r].frames;
        for (uint64_t k = 0; k < z->runs[r].frames / z->hp_frames; k++, h++) {
            z->hp_pfn[h] = z->runs[r].base_pfn + k * z->hp_frames;
            z->hp_node[h] = (uint8_t)z->runs[r].node;
            if (z->runs[r].node + 1 > z->nnodes)
                z->nnodes = z->runs[r].node + 1;
            z->all_nodes |= 1ull << z->runs[r].node;
        }
    }
    FZ_CHECK(h == z->nhp && f == z->nframes && st.free_frames == st.pool_frames,
             "layout: %" PRIu64 " hugepages / %" PRIu64 " frames from the runs, stats say %" PRIu64 " / %" PRIu64,
             h, f, z->nhp, z->nframes);
    z->top_pfn = z->hp_pfn[z->nhp - 1] + z->hp_frames - 1;
    FZ_CHECK(oracle_init(&z->o_used, z->hp_frames, z->nhp, z->hp_pfn, z->hp_node, z->used) == 0 &&
                 oracle_init(&z->o_pinned, z->hp_frames, z->nhp, z->hp_pfn, z->hp_node, z->pinned) == 0,
             "oracle_init");
    z->misuse_base = st.misuse;
    return 0;
}

/* Load frames: where they are now (a trade may have moved or dropped them). */
static void fz_refresh_load(struct fz *z)
{
    for (uint64_t i = 0; i < z->nframes; i++)
        if (z->used[i] == FZ_LOAD)
            z->used[i] = FZ_FREE;
    for (unsigned k = 0; k < z->nitems; k++) {
        const struct fz_item *it = &z->items[k];
        if (it->kind != FZ_K_LOAD)
            continue;
        uint64_t pfn = mmc_load_pfn(z->part, it->h);
        if (!pfn) {
            FZ_CHECK(it->load_kind == MMC_LOAD_STANDBY, "a movable load frame was dropped");
            continue;
        }
        int64_t i = fz_index(z, pfn);
        FZ_CHECK(i >= 0 && z->used[i] == FZ_FREE, "load frame at PFN %#" PRIx64 " is %s", pfn,
                 i < 0 ? "outside the pool" : "held by something else too");
        z->used[i] = FZ_LOAD;
    }
}

/* The partition's statistics equal the model's counts. */
static void fz_check(const struct fz *z, const char *after)
{
    struct mmc_stats st = fz_stats(z);
    uint64_t free_n = 0, mdl = 0, load = 0, node_free[MMC_MAX_NODES] = {0};
    for (uint64_t i = 0; i < z->nframes; i++) {
        free_n += z->used[i] == FZ_FREE;
        mdl += z->used[i] == FZ_MDL;
        load += z->used[i] == FZ_LOAD;
        node_free[fz_node(z, i)] += z->used[i] == FZ_FREE;
    }
    uint64_t blocks = 0, movable = 0;
    for (unsigned k = 0; k < z->nitems; k++) {
        blocks += z->items[k].kind == FZ_K_CONTIG;
        movable += z->items[k].kind == FZ_K_LOAD && z->items[k].load_kind == MMC_LOAD_MOVABLE;
    }
    FZ_CHECK(st.free_frames == free_n && st.live_blocks == blocks && st.live_mdl_frames == mdl &&
                 st.live_movable == movable && st.live_movable + st.live_standby == load,
             "after %s: stats free %" PRIu64 " blocks %" PRIu64 " mdl %" PRIu64 " movable %" PRIu64
             " standby %" PRIu64 "; model free %" PRIu64 " blocks %" PRIu64 " mdl %" PRIu64
             " movable %" PRIu64 " load %" PRIu64,
             after, st.free_frames, st.live_blocks, st.live_mdl_frames, st.live_movable, st.live_standby,
             free_n, blocks, mdl, movable, load);
    for (unsigned n = 0; n < MMC_MAX_NODES; n++)
        FZ_CHECK(st.node_free_frames[n] == node_free[n], "after %s: node %u has %" PRIu64 " free, model %" PRIu64,
                 after, n, st.node_free_frames[n], node_free[n]);
    FZ_CHECK(st.misuse - z->misuse_base == z->misuse_expected,
             "after %s: %" PRIu64 " misuse counted, the model caused %" PRIu64, after,
             st.misuse - z->misuse_base, z->misuse_expected);
    static struct mmc_run_info runs[4096];
    long nr = mmc_partition_runs(z->part, runs, 4096);
    FZ_CHECK(nr == z->nruns, "after %s: %ld runs, %ld at creation", after, nr, z->nruns);
    for (long r = 0; r < nr && r < 4096; r++) {
        uint64_t f = 0;
        for (uint64_t i = z->run_first[r]; i < z->run_first[r] + runs[r].frames; i++)
            f += z->used[i] == FZ_FREE;
        FZ_CHECK(runs[r].free_frames == f && runs[r].base_pfn == z->runs[r].base_pfn,
                 "after %s: run %ld has %" PRIu64 " free, model %" PRIu64, after, r, runs[r].free_frames, f);
    }
}

/* A call that must change nothing: the frame database's hash and counts are the same. */
static void fz_unchanged(const struct mmc_stats *before, const struct fz *z, const char *what, bool misuse)
{
    struct mmc_stats st = fz_stats(z);
    FZ_CHECK(st.state_hash == before->state_hash && st.free_frames == before->free_frames &&
                 st.live_blocks == before->live_blocks && st.largest_free_frames == before->largest_free_frames,
             "%s changed the frame database (free %" PRIu64 " -> %" PRIu64 ", hash %016" PRIx64 " -> %016" PRIx64 ")",
             what, before->free_frames, st.free_frames, before->state_hash, st.state_hash);
    FZ_CHECK(st.misuse == before->misuse + (misuse ? 1 : 0), "%s: misuse counted %" PRIu64 " -> %" PRIu64
             " (expected +%d)", what, before->misuse, st.misuse, misuse ? 1 : 0);
}

static struct fz_item *fz_add(struct fz *z)
{
    return z->nitems < FZ_MAX_ITEMS ? &z->items[z->nitems++] : NULL;
}

static void fz_drop(struct fz *z, unsigned k)
{
    z->items[k] = z->items[--z->nitems];
}

/* ---- the contiguous routine (Ex: the only one that takes a PartitionObject) ---- */
struct fz_ex {
    uint64_t bytes, lowest, highest, boundary;
    uint32_t node, protect, tag, flags;
};

static bool fz_protect_valid(uint32_t p)
{
    uint32_t mods = p & (PAGE_NOCACHE | PAGE_WRITECOMBINE), base = p & ~(uint32_t)(PAGE_NOCACHE | PAGE_WRITECOMBINE);
    if (mods == (PAGE_NOCACHE | PAGE_WRITECOMBINE))
        return false;
    return base == PAGE_READWRITE || (base == PAGE_EXECUTE_READWRITE && mods == 0);
}

/* Call Ex with a's arguments on the model's partition and check everything. The block, if any,
 * joins the model. */
static void fz_call_ex(struct fz *z, const struct fz_ex *a)
{
    const uint64_t P = 4096;
    SIZE_T n = (SIZE_T)a->bytes;
    void *p = (void *)(uintptr_t)0x1;
    PHYSICAL_ADDRESS lo = {.QuadPart = (LONGLONG)a->lowest}, hi = {.QuadPart = (LONGLONG)a->highest},
                     b = {.QuadPart = (LONGLONG)a->boundary};
    struct mmc_stats before = fz_stats(z);
    const bool fast = a->flags == MM_ALLOCATE_CONTIGUOUS_MEMORY_FAST_ONLY;
    NTSTATUS st = MmAllocateContiguousMemoryEx(&n, lo, hi, b, a->node, a->protect, z->part, a->tag, a->flags, &p);
    char what[256];
    snprintf(what, sizeof(what), "Ex(bytes %#" PRIx64 ", lowest %#" PRIx64 ", highest %#" PRIx64 ", boundary %#" PRIx64
             ", node %#x, protect %#x, tag %#x, flags %#x) on %s = %#x, %p",
             a->bytes, a->lowest, a->highest, a->boundary, a->node, a->protect, a->tag, a->flags, z->engine,
             (unsigned)st, p);

    const bool size_ok = a->bytes != 0 && a->bytes <= UINT64_MAX - (P - 1);
    const uint64_t rounded = size_ok ? (a->bytes + P - 1) & ~(P - 1) : a->bytes;
    /* the size is written back rounded once Flags and Tag have passed (they are checked first) */
    const bool early = (a->flags & ~(uint32_t)MM_ALLOCATE_CONTIGUOUS_MEMORY_FAST_ONLY) || a->tag == 0;
    FZ_CHECK(n == (early ? a->bytes : rounded), "%s: NumberOfBytes written back as %#" PRIx64 ", expected %#" PRIx64, what,
             (uint64_t)n, early ? a->bytes : rounded);
    bool invalid = (a->flags & ~(uint32_t)MM_ALLOCATE_CONTIGUOUS_MEMORY_FAST_ONLY) || a->tag == 0 || !size_ok ||
                   (a->boundary & (P - 1)) || (a->boundary & (a->boundary - 1)) || !fz_protect_valid(a->protect) ||
                   (a->node != MM_ANY_NODE_OK && a->node >= z->nnodes);
    if (invalid) {
        FZ_CHECK(st == STATUS_INVALID_PARAMETER && p == NULL, "%s: expected STATUS_INVALID_PARAMETER and NULL", what);
        fz_unchanged(&before, z, what, false);
        return;
    }
    const uint64_t frames = rounded / P;
    const uint64_t lo_pfn = a->lowest <= UINT64_MAX - (P - 1) ? (a->lowest + P - 1) / P : UINT64_MAX;
    const uint64_t hi_pfn = a->highest / P;
    bool empty = (a->boundary && a->boundary < rounded) || a->lowest > UINT64_MAX - (P - 1) || lo_pfn > hi_pfn ||
                 hi_pfn - lo_pfn < frames - 1;
    if (empty) {
        FZ_CHECK(st == STATUS_INSUFFICIENT_RESOURCES && p == NULL, "%s: no block can satisfy it: expected "
                 "STATUS_INSUFFICIENT_RESOURCES and NULL", what);
        fz_unchanged(&before, z, what, false);
        return;
    }
    struct oracle_rq rq = {frames, lo_pfn, hi_pfn, a->boundary / P, z->all_nodes};
    uint64_t fit = 0;
    const bool free_fit = oracle_find_highest(&z->o_used, &rq, &fit);
    if (st != STATUS_SUCCESS) {
        FZ_CHECK(st == STATUS_INSUFFICIENT_RESOURCES && p == NULL, "%s: expected STATUS_INSUFFICIENT_RESOURCES", what);
        FZ_CHECK(!free_fit || fast, "%s: failed, but the free frames at PFN %#" PRIx64 " (frame %" PRIu64
                 ") satisfy it", what, fz_pfn(z, fit), fit);
        fz_check(z, what);
        return;
    }
    /* success: where is it? */
    uint64_t pa = (uint64_t)MmGetPhysicalAddress(p).QuadPart;
    int64_t first = fz_index(z, pa / P);
    FZ_CHECK(p && ((uintptr_t)p & (P - 1)) == 0 && pa % P == 0 && first >= 0, "%s: base %p, physical %#" PRIx64
             " (not page-aligned, or outside the pool)", what, p, pa);
    FZ_CHECK(oracle_fits(&z->o_pinned, &rq, (uint64_t)first), "%s: the block at PFN %#" PRIx64 " (%" PRIu64
             " frames) breaks the request or overlaps a block or MDL", what, pa / P, frames);
    if (free_fit || fast)
        FZ_CHECK(oracle_fits(&z->o_used, &rq, (uint64_t)first), "%s: a free block existed, yet the one at PFN %#"
                 PRIx64 " holds load frames", what, pa / P);
    const unsigned node = fz_node(z, (uint64_t)first);
    const unsigned pref = a->node == MM_ANY_NODE_OK ? 0 : a->node;
    struct oracle_rq on_pref = rq;
    on_pref.node_mask = 1ull << pref;
    uint64_t pfit;
    if (!fast && pref < 64 && oracle_find_highest(&z->o_used, &on_pref, &pfit))
        FZ_CHECK(node == pref, "%s: landed on node %u though preferred node %u has a fit at PFN %#" PRIx64, what,
                 node, pref, fz_pfn(z, pfit));
    if (z->linear && oracle_fits(&z->o_used, &rq, (uint64_t)first)) {
        struct oracle_rq on_node = rq;
        on_node.node_mask = 1ull << node;
        uint64_t top = 0;
        FZ_CHECK(oracle_find_highest(&z->o_used, &on_node, &top) && top == (uint64_t)first,
                 "%s: linear is top-down: the highest fit on node %u is PFN %#" PRIx64 ", it gave %#" PRIx64, what,
                 node, fz_pfn(z, top), pa / P);
    }
    struct mmc_alloc_info info;
    const bool exec = (a->protect & ~(uint32_t)(PAGE_NOCACHE | PAGE_WRITECOMBINE)) == PAGE_EXECUTE_READWRITE;
    FZ_CHECK(mmc_query((char *)p + (frames - 1) * P + 7, &info) == 0 && info.base == p && info.bytes == rounded &&
                 info.base_phys == pa && info.node == node && info.tag == a->tag && info.protect == a->protect &&
                 info.executable == exec && info.partition == z->part,
             "%s: mmc_query of its last byte disagrees", what);
    fz_set(z, (uint64_t)first, frames, FZ_CONTIG);
    fz_refresh_load(z); /* a trade may have moved load frames out of the way */
    struct fz_item *it = fz_add(z);
    FZ_CHECK(it, "more than %d items", FZ_MAX_ITEMS);
    *it = (struct fz_item){.kind = FZ_K_CONTIG, .p = p, .first = (uint64_t)first, .frames = frames};
    fz_check(z, what);
}

/* ---- MDLs ---- */
struct fz_mdl {
    int64_t low, high, skip;
    uint64_t total;
    int cache;
    uint32_t flags;
};

/* Is PFN p in one of the windows [lo + k*s, hi + k*s], k = 0 and every k >= 1 whose window
 * starts inside the pool? */
static bool fz_in_windows(const struct fz *z, uint64_t p, uint64_t lo, uint64_t hi, uint64_t s)
{
    if (p < lo)
        return false;
    if (p <= hi)
        return true;
    if (!s || lo > z->top_pfn)
        return false;
    uint64_t kmax = (z->top_pfn - lo) / s;              /* windows starting inside the pool */
    uint64_t kmin = (p - hi + s - 1) / s, kup = (p - lo) / s; /* windows containing p */
    if (kup > kmax)
        kup = kmax;
    return kmin <= kup;
}

static void fz_call_mdl(struct fz *z, const struct fz_mdl *a)
{
    const uint64_t P = 4096;
    struct mmc_stats before = fz_stats(z);
    PMDL m = mmc_allocate_pages_for_mdl(z->part, a->low, a->high, a->skip, a->total, a->cache, a->flags);
    char what[256];
    snprintf(what, sizeof(what), "MDL(low %#" PRIx64 ", high %#" PRIx64 ", skip %#" PRIx64 ", total %#" PRIx64
             ", cache %d, flags %#x) on %s = %p",
             (uint64_t)a->low, (uint64_t)a->high, (uint64_t)a->skip, a->total, a->cache, a->flags, z->engine, (void *)m);
    const bool fully = a->flags & MM_ALLOCATE_FULLY_REQUIRED, chunks = a->flags & MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS;
    const uint64_t low = (uint64_t)a->low, high = (uint64_t)a->high, skip = (uint64_t)a->skip;
    const uint64_t max = 4ull * 1024 * 1024 * 1024 - P;
    uint64_t total = a->total > max ? max : a->total, want = (total + P - 1) / P;
    /* flags beyond the defined ones (MM_DONT_ZERO_ALLOCATION .. MM_ALLOCATE_AND_HOT_REMOVE) */
    bool refused = (a->flags & ~0x1ffu) || (a->flags & MM_ALLOCATE_AND_HOT_REMOVE) || a->cache < MmNonCached ||
                   a->cache >= MmMaximumCacheType || a->total == 0 || a->skip < 0 || (skip & (P - 1)) ||
                   (a->total > max && fully) || low > UINT64_MAX - (P - 1);
    if (!refused && chunks && skip && ((skip & (skip - 1)) || (want * P) % skip))
        refused = true;
    const uint64_t lo_pfn = refused ? 0 : (low + P - 1) / P, hi_pfn = high / P;
    if (!refused && lo_pfn > hi_pfn)
        refused = true;
    if (refused) {
        FZ_CHECK(m == NULL, "%s: the arguments break a rule: expected NULL", what);
        fz_unchanged(&before, z, what, false);
        return;
    }
    const uint64_t nodes = (a->flags & MM_ALLOCATE_FROM_LOCAL_NODE_ONLY) ? 1 : z->all_nodes; /* simulated: node 0 */
    /* what must be found */
    uint64_t expect = 0;
    if (chunks) {
        const uint64_t c = skip ? skip / P : want;
        if (skip) { /* aligned chunks are disjoint: count the free ones */
            for (uint64_t i = 0; i < z->nframes && expect < want;) {
                uint64_t pfn = fz_pfn(z, i);
                struct oracle_rq rq = {c, lo_pfn, hi_pfn, c, nodes};
                if (pfn % c == 0 && oracle_fits(&z->o_used, &rq, i)) {
                    expect += c;
                    i += c;
                } else {
                    i++;
                }
            }
        } else {
            struct oracle_rq rq = {c, lo_pfn, hi_pfn, 0, nodes};
            uint64_t f;
            expect = oracle_find_highest(&z->o_used, &rq, &f) ? c : 0;
        }
    } else {
        for (uint64_t i = 0; i < z->nframes && expect < want; i++)
            expect += z->used[i] == FZ_FREE && (nodes >> fz_node(z, i) & 1) &&
                      fz_in_windows(z, fz_pfn(z, i), lo_pfn, hi_pfn, skip / P);
    }
    if (expect == 0 || (fully && expect < want)) {
        FZ_CHECK(m == NULL, "%s: %" PRIu64 " of %" PRIu64 " pages to be had%s: expected NULL", what, expect, want,
                 fully ? " (FULLY_REQUIRED)" : "");
        fz_unchanged(&before, z, what, false);
        return;
    }
    FZ_CHECK(m != NULL, "%s: %" PRIu64 " of %" PRIu64 " pages are free where it may take them, yet NULL", what,
             expect, want);
    const uint64_t got = m->ByteCount / P;
    PPFN_NUMBER pfns = MmGetMdlPfnArray(m);
    FZ_CHECK(got == expect && m->ByteCount % P == 0 && pfns[got] == MM_EMPTY_LIST && (m->MdlFlags & MDL_PAGES_LOCKED) &&
                 m->StartVa == NULL && m->ByteOffset == 0,
             "%s: %" PRIu64 " pages (ByteCount %u), expected %" PRIu64 "; terminator %#" PRIx64 ", flags %#x", what, got,
             m->ByteCount, expect, (uint64_t)pfns[got], (unsigned)m->MdlFlags);
    for (uint64_t k = 0; k < got; k++) {
        int64_t i = fz_index(z, pfns[k]);
        FZ_CHECK(i >= 0 && z->used[i] == FZ_FREE && (nodes >> fz_node(z, (uint64_t)i) & 1),
                 "%s: page %" PRIu64 " (PFN %#" PRIx64 ") %s", what, k, (uint64_t)pfns[k],
                 i < 0 ? "is outside the pool" : z->used[i] ? "was not free (or is listed twice)" : "is on a node not allowed");
        if (chunks) {
            const uint64_t c = skip ? skip / P : want;
            FZ_CHECK(pfns[k] >= lo_pfn && pfns[k] <= hi_pfn && (k % c ? pfns[k] == pfns[k - 1] + 1 : !skip || pfns[k] % c == 0),
                     "%s: page %" PRIu64 " (PFN %#" PRIx64 ") breaks the chunk rule", what, k, (uint64_t)pfns[k]);
        } else {
            FZ_CHECK(fz_in_windows(z, pfns[k], lo_pfn, hi_pfn, skip / P), "%s: page %" PRIu64 " (PFN %#" PRIx64
                     ") lies in no window", what, k, (uint64_t)pfns[k]);
        }
        fz_set(z, (uint64_t)i, 1, FZ_MDL);
    }
    struct fz_item *it = fz_add(z);
    FZ_CHECK(it, "more than %d items", FZ_MAX_ITEMS);
    *it = (struct fz_item){.kind = FZ_K_MDL, .mdl = m, .frames = got};
    fz_check(z, what);
}

/* ---- load frames ---- */
static void fz_call_load(struct fz *z, int kind, int node, unsigned count)
{
    mmc_load_t h[FZ_MAX_LOAD];
    if (count > FZ_MAX_LOAD)
        count = FZ_MAX_LOAD;
    if (z->nitems + count > FZ_MAX_ITEMS)
        return;
    long got = mmc_load_alloc(z->part, kind, node, count, h);
    uint64_t free_n = 0;
    for (uint64_t i = 0; i < z->nframes; i++)
        free_n += z->used[i] == FZ_FREE && (node < 0 || fz_node(z, i) == (unsigned)node);
    FZ_CHECK(got >= 0 && (uint64_t)got == (free_n < count ? free_n : count),
             "mmc_load_alloc(kind %d, node %d, %u) = %ld, %" PRIu64 " frames free there", kind, node, count, got, free_n);
    for (long k = 0; k < got; k++) {
        uint64_t pfn = mmc_load_pfn(z->part, h[k]);
        int64_t i = fz_index(z, pfn);
        FZ_CHECK(i >= 0 && z->used[i] == FZ_FREE, "load frame %ld at PFN %#" PRIx64 " was not free", k, pfn);
        z->used[i] = FZ_LOAD;
        z->items[z->nitems++] = (struct fz_item){.kind = FZ_K_LOAD, .h = h[k], .load_kind = kind};
    }
    fz_check(z, "mmc_load_alloc");
}

/* ---- frees ---- */
static void fz_free(struct fz *z, unsigned k, unsigned how)
{
    struct fz_item it = z->items[k];
    fz_drop(z, k);
    if (it.kind == FZ_K_CONTIG) {
        if (how & 1)
            MmFreeContiguousMemory(it.p);
        else
            MmFreeContiguousMemorySpecifyCache(it.p, it.frames * 4096, MmCached);
        fz_set(z, it.first, it.frames, FZ_FREE);
        fz_check(z, "MmFreeContiguousMemory");
    } else if (it.kind == FZ_K_MDL) {
        PPFN_NUMBER pfns = MmGetMdlPfnArray(it.mdl);
        for (uint64_t j = 0; j < it.frames; j++)
            fz_set(z, (uint64_t)fz_index(z, pfns[j]), 1, FZ_FREE);
        MmFreePagesFromMdl(it.mdl);
        bool cleared = !(it.mdl->MdlFlags & MDL_PAGES_LOCKED);
        for (uint64_t j = 0; j < it.frames; j++)
            cleared &= pfns[j] == MM_EMPTY_LIST;
        FZ_CHECK(cleared, "MmFreePagesFromMdl left MDL_PAGES_LOCKED or entries other than MM_EMPTY_LIST");
        fz_check(z, "MmFreePagesFromMdl");
        if (how & 2) { /* the pages freed twice: misuse, nothing changes */
            struct mmc_stats before = fz_stats(z);
            MmFreePagesFromMdl(it.mdl);
            z->misuse_expected++;
            fz_unchanged(&before, z, "MmFreePagesFromMdl twice", true);
        }
        ExFreePool(it.mdl);
        if (how & 4) { /* the MDL freed twice: misuse, nothing read behind the pointer */
            struct mmc_stats before = fz_stats(z);
            ExFreePool(it.mdl);
            z->misuse_expected++;
            fz_unchanged(&before, z, "ExFreePool twice", true);
        }
    } else {
        mmc_load_free(z->part, &it.h, 1);
        fz_refresh_load(z);
        fz_check(z, "mmc_load_free");
        if (how & 2) { /* a stale handle: misuse */
            struct mmc_stats before = fz_stats(z);
            FZ_CHECK(mmc_load_free(z->part, &it.h, 1) < 0, "mmc_load_free of a stale handle succeeded");
            z->misuse_expected++;
            fz_unchanged(&before, z, "mmc_load_free of a stale handle", true);
        }
    }
}

/* ---- misuse of contiguous blocks (warn mode: reported, counted, nothing changes) ---- */
static void fz_misuse_contig(struct fz *z, unsigned which, unsigned k, uint32_t off)
{
    struct mmc_stats before = fz_stats(z);
    const char *what = NULL;
    static char not_ours[64];
    if (which == 0 && z->nitems && z->items[k % z->nitems].kind == FZ_K_CONTIG) {
        const struct fz_item *it = &z->items[k % z->nitems];
        uint64_t o = 1 + off % (it->frames * 4096 - 1 + 1); /* interior or unaligned, never 0 */
        if (o >= it->frames * 4096)
            o = it->frames * 4096 - 1;
        MmFreeContiguousMemory((char *)it->p + o);
        what = "interior free";
    } else if (which == 1) {
        MmFreeContiguousMemory(not_ours + off % 64);
        what = "foreign free";
    } else if (which == 2) {
        ExFreePool(not_ours + off % 64);
        what = "ExFreePool of a foreign pointer";
    } else if (which == 3 && z->nitems && z->items[k % z->nitems].kind == FZ_K_MDL) {
        ExFreePool(z->items[k % z->nitems].mdl);
        what = "ExFreePool of an MDL still holding pages";
    } else {
        return;
    }
    z->misuse_expected++;
    fz_unchanged(&before, z, what, true);
}

/* Destroy the partition with whatever is live: its MDLs stay freeable with ExFreePool. */
static void fz_close(struct fz *z)
{
    if (!z->part)
        return;
    mmc_partition_destroy(z->part);
    for (unsigned k = 0; k < z->nitems; k++)
        if (z->items[k].kind == FZ_K_MDL)
            ExFreePool(z->items[k].mdl); /* pages went with the partition */
    struct mmc_stats st;
    FZ_CHECK(mmc_partition_stats(z->part, &st) < 0, "a destroyed partition still answers");
    oracle_fini(&z->o_used);
    oracle_fini(&z->o_pinned);
    free(z->runs);
    free(z->run_first);
    free(z->hp_pfn);
    free(z->hp_node);
    free(z->used);
    free(z->pinned);
    z->part = NULL;
}

#ifdef FZ_NO_COVERAGE
#pragma clang attribute pop
#endif

#endif
