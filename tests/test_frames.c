/* tests/test_frames.c: the frame database's state changes, and the FAST_ONLY work bound.
 *
 *   frames    random sequences of _mmc_frames_set over a database of several nodes and runs
 *             (whole blocks taken and freed, scattered frames of every kind, ranges of mixed
 *             states, from one frame to several hugepages): after every change each frame's
 *             state, head and exec bit equal a shadow model in which only the range changed,
 *             and every counter (free, scattered, per node, per pageblock used and scattered)
 *             equals a full recount. Frames are indexed over a 1 GiB span; a fifth of the
 *             hugepages enter the pool half-way (reserve, add): absent before, free after, the
 *             runs joined exactly as computed from all of them.
 *   fastonly  every engine on an empty simulated 64 GiB partition: FAST_ONLY calls of 4 KiB to
 *             1 GiB succeed and report work within the engine's bound; then with the top of
 *             the pool cut into single free frames and a range that only leaves room below
 *             them, a FAST_ONLY call either succeeds or gives up having done at least its
 *             bound and at most a few units more (a work count, never a time), and the
 *             ordinary call finds the block.
 */
#include <inttypes.h>

#include "common.h"
#include "internal.h"
#include "mmcontig/wdm.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static uint64_t below(uint64_t n) { return next() % n; }

struct shadow {
    uint8_t *kind;              /* enum mmc_frame_state per frame */
    uint8_t *head, *exec;       /* per frame */
};

/* Compare every frame of the span and every counter with the shadow (indexed like the database:
 * frame i is PFN base_pfn + i; absent frames MMC_FRAME_ABSENT); the first difference is
 * printed. Frames far from the pool's hugepages are checked every 64th. */
static bool recount(const struct mmc_frames *f, const struct shadow *s, const char *after)
{
    uint64_t free_n = 0, scat_n = 0, node_free[MMC_MAX_NODES] = {0};
    for (uint64_t i = 0; i < f->nframes; i++) {
        if (s->kind[i] == MMC_FRAME_ABSENT && (i & 511) && (i & 63))
            continue;
        if (mmc_frame_state(f, i) != s->kind[i] || mmc_frame_bit(f, MMC_PLANE_HEAD, i) != s->head[i] ||
            mmc_frame_bit(f, MMC_PLANE_EXEC, i) != s->exec[i]) {
            printf("# after %s: frame %" PRIu64 " is state %u head %d exec %d, the model %u %d %d\n",
                   after, i, mmc_frame_state(f, i), mmc_frame_bit(f, MMC_PLANE_HEAD, i),
                   mmc_frame_bit(f, MMC_PLANE_EXEC, i), s->kind[i], s->head[i], s->exec[i]);
            return false;
        }
        if (s->kind[i] == MMC_FRAME_ABSENT)
            continue;
        free_n += s->kind[i] == MMC_FRAME_FREE;
        scat_n += s->kind[i] >= MMC_FRAME_MDL;
        node_free[mmc_frame_node(f, i)] += s->kind[i] == MMC_FRAME_FREE;
    }
    for (uint64_t o = 0; o < f->nhugepages; o++) {
        for (uint64_t k = 0; k < f->pbph; k++) {
            const uint64_t pb = o * f->pbph + k, i0 = f->hp_pfn[o] - f->base_pfn + k * MMC_PAGEBLOCK_FRAMES;
            uint64_t used = 0, scat = 0;
            for (uint64_t i = i0; i < i0 + MMC_PAGEBLOCK_FRAMES; i++) {
                used += s->kind[i] != MMC_FRAME_FREE;
                scat += s->kind[i] >= MMC_FRAME_MDL && s->kind[i] != MMC_FRAME_ABSENT;
            }
            if (f->pb_used[pb] != used || f->pb_scattered[pb] != scat) {
                printf("# after %s: pageblock %" PRIu64 " of hugepage %" PRIu64 " counts %u used %u "
                       "scattered, recount %" PRIu64 " %" PRIu64 "\n", after, k, o, f->pb_used[pb],
                       f->pb_scattered[pb], used, scat);
                return false;
            }
        }
    }
    bool good = mmc_frames_free(f) == free_n && f->scattered_frames == scat_n;
    for (unsigned n = 0; n < MMC_MAX_NODES; n++)
        good &= f->node[n].free == node_free[n];
    good &= _mmc_frames_count_free(f, 0, f->nframes) == free_n;
    if (!good)
        printf("# after %s: counters %" PRIu64 " free %" PRIu64 " scattered, recount %" PRIu64
               " %" PRIu64 "\n", after, mmc_frames_free(f), f->scattered_frames, free_n, scat_n);
    return good;
}

/* The runs of hugepages hp_pfn[] (ascending) of nodes hp_node[], as the database must keep
 * them; true if f's runs are exactly those. */
static bool runs_match(const struct mmc_frames *f, const uint64_t *hp_pfn, const uint8_t *hp_node,
                       unsigned nh)
{
    uint64_t r = 0;
    for (unsigned h = 0; h < nh;) {
        unsigned e = h + 1;
        while (e < nh && hp_pfn[e] == hp_pfn[e - 1] + 512 && hp_node[e] == hp_node[h])
            e++;
        if (r >= f->nruns || f->runs[r].base_pfn != hp_pfn[h] || f->runs[r].frames != (e - h) * 512ull ||
            f->runs[r].node != hp_node[h] || f->runs[r].first_frame != hp_pfn[h] - f->base_pfn)
            return false;
        r++, h = e;
    }
    return r == f->nruns;
}

static void shadow_set(struct shadow *s, uint64_t first, uint64_t n, uint8_t state)
{
    const uint8_t kind = state & MMC_FRAME_STATE_MASK;
    for (uint64_t i = first; i < first + n; i++) {
        s->kind[i] = kind;
        s->head[i] = s->exec[i] = 0;
    }
    if (kind == MMC_FRAME_CONTIG && (state & MMC_FRAME_HEAD)) {
        s->head[first] = 1;
        s->exec[first] = !!(state & MMC_FRAME_EXEC);
    }
}

static void test_frames(void)
{
    /* 3 nodes, runs of 1..4 hugepages of 64 KiB-aligned 2 MiB pages, gaps between runs */
    enum { NH = 48 };
    uint64_t hp_pfn[NH];
    uint8_t hp_node[NH];
    uint64_t pfn = 1ull << 20;
    for (unsigned h = 0; h < NH; h++) {
        if (h == 0 || below(3) == 0)
            pfn += 512 * (1 + below(4)); /* a gap: a new run */
        hp_pfn[h] = pfn;
        hp_node[h] = (uint8_t)((h / 8) % 3);
        pfn += 512;
    }
    /* every fifth hugepage enters the pool later (a growth), half-way through */
    uint64_t ipfn[NH], lpfn[NH];
    uint8_t inode[NH], lnode[NH];
    unsigned ni = 0, nl = 0;
    for (unsigned h = 0; h < NH; h++) {
        if (h % 5 == 2)
            lpfn[nl] = hp_pfn[h], lnode[nl++] = hp_node[h];
        else
            ipfn[ni] = hp_pfn[h], inode[ni++] = hp_node[h];
    }
    struct mmc_frames f;
    const uint64_t base = 1ull << 20, span = 1ull << 18; /* 4 GiB + 1 GiB */
    int rc = _mmc_frames_init(&f, base, span, 512, ni, ipfn, inode);
    t_ok(rc == 0 && pfn <= base + span, "frames: a database of %u hugepages over a 1 GiB span, "
         "%" PRIu64 " runs, 3 nodes", ni, rc == 0 ? f.nruns : 0);
    if (rc)
        return;
    struct shadow s = {calloc(f.nframes, 1), calloc(f.nframes, 1), calloc(f.nframes, 1)};
    memset(s.kind, MMC_FRAME_ABSENT, f.nframes);
    for (unsigned h = 0; h < ni; h++)
        memset(s.kind + (ipfn[h] - base), MMC_FRAME_FREE, 512);
    /* blocks live in the shadow: [first, +n) */
    enum { MAXB = 4096 };
    uint64_t bfirst[MAXB], bn[MAXB], nb = 0;
    bool good = recount(&f, &s, "init");
    uint64_t ops = 0, blocks = 0, scattered = 0, mixed = 0;
    for (ops = 0; good && ops < 10000; ops++) {
        uint64_t r = below(100);
        char what[96];
        if (ops == 5000) { /* the growth */
            good = _mmc_frames_reserve(&f, nl, lpfn, lnode) == 0 && _mmc_frames_reserve(&f, 1, &ipfn[0], inode) == -EEXIST;
            uint64_t before = f.nhugepages, hp0 = ipfn[0];
            if (good)
                _mmc_frames_add(&f, nl, lpfn, lnode);
            for (unsigned h = 0; good && h < nl; h++)
                memset(s.kind + (lpfn[h] - base), MMC_FRAME_FREE, 512);
            good = good && f.nhugepages == before + nl && runs_match(&f, hp_pfn, hp_node, NH) &&
                   _mmc_frames_index_of_pfn(&f, hp0) == (int64_t)(hp0 - base) &&
                   _mmc_frames_index_of_pfn(&f, base - 1) == -1;
            t_ok(good, "frames: %u hugepages enter the pool: present, free, their runs joined "
                 "(%" PRIu64 " runs, as computed from all %u hugepages)", nl, f.nruns, NH);
            good = good && recount(&f, &s, "the growth");
        }
        if (r < 35) { /* take a block inside one run, over free frames only */
            const struct mmc_run *run = &f.runs[below(f.nruns)];
            uint64_t n = 1 + (below(4) == 0 ? below(run->frames) : below(70));
            if (n > run->frames)
                n = run->frames;
            uint64_t first = run->first_frame + below(run->frames - n + 1);
            bool all_free = nb < MAXB;
            for (uint64_t i = first; i < first + n && all_free; i++)
                all_free = s.kind[i] == MMC_FRAME_FREE;
            if (!all_free)
                continue;
            uint8_t st = MMC_FRAME_CONTIG | MMC_FRAME_HEAD | (below(2) ? MMC_FRAME_EXEC : 0);
            _mmc_frames_set(&f, first, n, st);
            shadow_set(&s, first, n, st);
            bfirst[nb] = first, bn[nb++] = n, blocks++;
            snprintf(what, sizeof(what), "taking block [%" PRIu64 ", +%" PRIu64 ")", first, n);
        } else if (r < 60 && nb) { /* free a whole block */
            uint64_t k = below(nb);
            _mmc_frames_set(&f, bfirst[k], bn[k], MMC_FRAME_FREE | MMC_FRAME_HEAD);
            shadow_set(&s, bfirst[k], bn[k], MMC_FRAME_FREE);
            snprintf(what, sizeof(what), "freeing block [%" PRIu64 ", +%" PRIu64 ")", bfirst[k], bn[k]);
            bfirst[k] = bfirst[nb - 1], bn[k] = bn[--nb];
        } else { /* any range in a run (blocks inside it die too) to a scattered kind or free */
            const struct mmc_run *run = &f.runs[below(f.nruns)];
            uint64_t n = 1 + (below(3) == 0 ? below(3 * 512) : below(8));
            if (n > run->frames)
                n = run->frames;
            uint64_t first = run->first_frame + below(run->frames - n + 1);
            static const uint8_t kinds[] = {MMC_FRAME_FREE, MMC_FRAME_MDL, MMC_FRAME_MOVABLE,
                                            MMC_FRAME_STANDBY, MMC_FRAME_CONTIG};
            uint8_t st = kinds[below(5)];
            for (uint64_t k = 0; k < nb;) { /* the shadow forgets blocks the range touches */
                if (bfirst[k] < first + n && first < bfirst[k] + bn[k]) {
                    /* frames of the block outside the range stay CONTIG without a head */
                    bfirst[k] = bfirst[nb - 1], bn[k] = bn[--nb];
                } else {
                    k++;
                }
            }
            _mmc_frames_set(&f, first, n, st);
            shadow_set(&s, first, n, st);
            st >= MMC_FRAME_MDL ? scattered++ : mixed++;
            snprintf(what, sizeof(what), "setting [%" PRIu64 ", +%" PRIu64 ") to state %u", first, n, st);
        }
        good = recount(&f, &s, what);
    }
    t_ok(good, "frames: %" PRIu64 " changes (%" PRIu64 " blocks, %" PRIu64 " scattered ranges, %" PRIu64
         " free or headless ranges): every frame and counter equals the model's recount", ops, blocks,
         scattered, mixed);
    free(s.kind), free(s.head), free(s.exec);
    _mmc_frames_destroy(&f);
}

static NTSTATUS alloc(mmc_partition_t *p, uint64_t bytes, uint64_t lowest, uint64_t highest, bool fast,
                      PVOID *base)
{
    SIZE_T b = bytes;
    PHYSICAL_ADDRESS lo = {.QuadPart = (LONGLONG)lowest}, hi = {.QuadPart = (LONGLONG)highest},
                     bd = {.QuadPart = 0};
    return MmAllocateContiguousMemoryEx(&b, lo, hi, bd, MM_ANY_NODE_OK, PAGE_READWRITE, p, 'tsrf',
                                        fast ? MM_ALLOCATE_CONTIGUOUS_MEMORY_FAST_ONLY : 0, base);
}

static void test_fastonly(const char *engine)
{
    struct mmc_sim_config c;
    mmc_sim_config_init(&c);
    c.pool_bytes = 64ull << 30;
    c.mean_run_hugepages = 0; /* one run */
    snprintf(c.algo, sizeof(c.algo), "%s", engine);
    mmc_partition_t *p;
    if (mmc_partition_create_simulated(&c, &p) < 0) {
        t_ok(false, "%s: simulated 64 GiB partition: %s", engine, mmc_last_error());
        return;
    }
    const uint64_t bound = mmc_engine_fast_only_work(engine);
    bool good = bound > 0;
    for (uint64_t bytes = 4096; bytes <= (1ull << 30); bytes <<= 3) {
        PVOID base = NULL;
        NTSTATUS st = alloc(p, bytes, 0, UINT64_MAX, true, &base);
        uint64_t w = mmc_last_search_work();
        /* a block longer than the bound's frames cannot be checked by linear within it */
        bool may_give_up = st == STATUS_INSUFFICIENT_RESOURCES && w >= bound && bytes >> 12 >= bound / 4;
        if ((st != STATUS_SUCCESS && !may_give_up) || w > bound + 2) {
            printf("# %s: FAST_ONLY %" PRIu64 " bytes on the empty pool: status %#x, work %" PRIu64
                   " (bound %" PRIu64 ")\n", engine, bytes, (unsigned)st, w, bound);
            good = false;
        }
        if (base)
            MmFreeContiguousMemory(base);
    }
    t_ok(good, "%s: FAST_ONLY on an empty 64 GiB pool, 4 KiB to 1 GiB: success (or, for a block "
         "of more frames than a quarter of the bound, giving up at the bound), work within %" PRIu64
         " %s", engine, bound, mmc_engine_work_unit(engine));

    /* the top 2^18 frames cut into single free frames (every other one taken by a one-page
     * MDL from an exact window): room for 2 frames only below them */
    enum { CUT = 1 << 17 };
    struct mmc_run_info run;
    PMDL *blk = malloc(CUT * sizeof(*blk));
    bool cut_ok = blk && mmc_partition_runs(p, &run, 1) == 1;
    const uint64_t top_pa = cut_ok ? (run.base_pfn + run.frames) << 12 : 0;
    for (uint64_t i = 0; cut_ok && i < CUT; i++) {
        uint64_t pa = top_pa - (2 * i + 1) * 4096;
        blk[i] = mmc_allocate_pages_for_mdl(p, (int64_t)pa, (int64_t)(pa + 4095), 0, 4096, MmCached,
                                            MM_DONT_ZERO_ALLOCATION);
        cut_ok = blk[i] != NULL;
    }
    PVOID base = NULL;
    NTSTATUS st = alloc(p, 8192, 0, UINT64_MAX, true, &base);
    uint64_t w = mmc_last_search_work();
    bool fast_ok = st == STATUS_SUCCESS ? w <= bound + 2 : (w >= bound && w <= bound + 2);
    if (base)
        MmFreeContiguousMemory(base);
    st = alloc(p, 8192, 0, UINT64_MAX, false, &base);
    bool slow_ok = st == STATUS_SUCCESS;
    if (base)
        MmFreeContiguousMemory(base);
    t_ok(cut_ok && fast_ok && slow_ok, "%s: %d single free frames above the only 8 KiB blocks "
         "(the pool's top at %#" PRIx64 "): FAST_ONLY %s after %" PRIu64 " units (bound %" PRIu64
         "), the ordinary call succeeds", engine, CUT, top_pa,
         fast_ok ? "stays within its bound" : "broke its bound", w, bound);
    for (uint64_t i = 0; cut_ok && i < CUT; i++) {
        MmFreePagesFromMdl(blk[i]);
        ExFreePool(blk[i]);
    }
    free(blk);
    mmc_partition_destroy(p);
}

int main(void)
{
    test_frames();
    for (size_t i = 0; mmc_engine_name(i); i++)
        test_fastonly(mmc_engine_name(i));
    return t_done();
}
