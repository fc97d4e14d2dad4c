/* alloc/load.c: frames in use by the load, placement of scattered frames, and trading.
 *
 * Owns:
 * - load frames: movable (in use, contents kept, may be moved: a working-set page) and standby
 *   (cached contents that may be dropped). Their owner holds a handle (slot index + 1 in the
 *   low 32 bits, the slot's generation in the high 32), never an address, so a trade can move
 *   them; a stale handle is misuse.
 * - placement of scattered frames (MDL pages and load frames): plain takes the lowest free
 *   frames; clustered packs them into the 2 MiB pageblocks that already hold the most scattered
 *   frames, and opens the lowest other one only when those are full, keeping them apart from
 *   the pageblocks contiguous blocks use, the way Linux groups pages by pageblock migrate type.
 * - the slow path of a contiguous allocation, trading: when no free block satisfies a request,
 *   pick the cheapest candidate, a block the request allows (no pinned frame in it; fewest movable frames
 *   to copy, then fewest standby frames to drop, then the highest), drop its standby frames,
 *   move its movable frames to free frames outside it (same node first, then nearest), and hand
 *   the candidate back to the caller, now free. Cost O(frames of the allowed range) to choose, one
 *   4 KiB copy per frame moved. FAST_ONLY never gets here.
 *
 * The load's map from frames to slots is kept per hugepage, at the frame database's ordinals,
 * so that hugepages entering the pool (grow.c) only add room to it (_mmc_load_reserve).
 *
 * All functions expect the partition lock held, except the public ones, which take it.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "slowpath.h"

#define NO_FRAME UINT64_MAX

/* ---- placement ---- */

/* Set [first, first + n) to state and tell the engine: they were free. */
static void take_extent(struct mmc_partition *part, uint64_t first, uint64_t n, uint8_t state)
{
    _mmc_check(_mmc_mutex_held(&part->lock));
    _mmc_frames_set(&part->frames, first, n, state);
    part->engine->take(part->engine_state, first, n);
}

/* Take free frames of [a, b) (frame indices, inside one run) in order, up to want. */
static uint64_t take_range(struct mmc_partition *part, uint64_t a, uint64_t b, uint64_t want,
                           uint64_t ex_first, uint64_t ex_end, uint8_t state, uint64_t *out)
{
    const struct mmc_frames *f = &part->frames;
    uint64_t got = 0;
    for (uint64_t i = a; i < b && got < want;) {
        if (i >= ex_first && i < ex_end) {
            i = ex_end;
            continue;
        }
        /* the next free frame of i's word, or the next word: O(words), not O(frames), across
         * the frames in use (at steady state most of a pool is in use) */
        const uint64_t w = mmc_frame_word(f, MMC_PLANE_FREE, i) >> (i & 63);
        if (!w) {
            i = (i | 63) + 1;
            continue;
        }
        if (!(w & 1)) {
            i += (uint64_t)__builtin_ctzll(w);
            continue;
        }
        uint64_t start = i;
        while (i < b && got < want && mmc_frame_is_free(f, i) && !(i >= ex_first && i < ex_end))
            out[got++] = i++;
        take_extent(part, start, i - start, state);
    }
    return got;
}

uint64_t _mmc_place_frames(struct mmc_partition *part, unsigned node, uint64_t lo_pfn, uint64_t hi_pfn,
                           uint64_t want, bool clustered, uint64_t ex_first, uint64_t ex_end,
                           uint8_t state, uint64_t *out)
{
    _mmc_check(_mmc_mutex_held(&part->lock));
    const struct mmc_frames *f = &part->frames;
    uint64_t got = 0;
    if (!want || !f->node[node].free)
        return 0;
    if (!clustered) {
        for (uint64_t r = 0; r < f->nruns && got < want; r++) {
            const struct mmc_run *run = &f->runs[r];
            if (run->node != node || run->base_pfn > hi_pfn || run->base_pfn + run->frames <= lo_pfn)
                continue;
            uint64_t a = run->base_pfn > lo_pfn ? run->base_pfn : lo_pfn;
            uint64_t b = run->base_pfn + run->frames - 1 < hi_pfn ? run->base_pfn + run->frames - 1 : hi_pfn;
            got += take_range(part, run->first_frame + (a - run->base_pfn),
                              run->first_frame + (b - run->base_pfn) + 1, want - got, ex_first, ex_end,
                              state, out + got);
        }
        return got;
    }
    /* Clustered: the pageblock holding the most scattered frames (MDL, load) that still has a
     * free frame, so scattered frames stay among their kind and out of the pageblocks that
     * contiguous blocks use (Linux's grouping by migrate type); when none holds any, the lowest
     * pageblock with a free frame, as plain. A pageblock that yields nothing (its free frames
     * are outside the range or excluded) is not tried again in this call. */
    const uint64_t npb = f->nhugepages * f->pbph; /* pageblocks, by ordinal * pbph + k */
    uint8_t *tried = calloc((npb + 7) / 8, 1);
    if (!tried)
        return 0;
    while (got < want) {
        uint64_t best = NO_FRAME, best_i0 = 0;
        for (uint64_t r = 0; r < f->nruns; r++) { /* PFN order: ties go to the lowest */
            const struct mmc_run *run = &f->runs[r];
            if (run->node != node || run->base_pfn > hi_pfn || run->base_pfn + run->frames <= lo_pfn)
                continue;
            for (uint64_t hp = run->first_frame; hp < run->first_frame + run->frames; hp += f->hp_frames) {
                const uint64_t o = mmc_frame_ord(f, hp);
                for (uint64_t k = 0; k < f->pbph; k++) {
                    const uint64_t pb = o * f->pbph + k, i0 = hp + k * MMC_PAGEBLOCK_FRAMES;
                    if (f->pb_used[pb] >= MMC_PAGEBLOCK_FRAMES || (tried[pb / 8] >> (pb % 8) & 1))
                        continue;
                    const uint64_t p0 = mmc_frame_pfn(f, i0);
                    if (p0 > hi_pfn || p0 + MMC_PAGEBLOCK_FRAMES <= lo_pfn)
                        continue;
                    if (best == NO_FRAME || f->pb_scattered[pb] > f->pb_scattered[best])
                        best = pb, best_i0 = i0;
                }
            }
        }
        if (best == NO_FRAME)
            break;
        tried[best / 8] |= (uint8_t)(1u << (best % 8));
        const uint64_t i0 = best_i0, p0 = mmc_frame_pfn(f, i0);
        uint64_t a = p0 < lo_pfn ? lo_pfn - p0 : 0;
        uint64_t b = p0 + MMC_PAGEBLOCK_FRAMES - 1 > hi_pfn ? hi_pfn - p0 + 1 : MMC_PAGEBLOCK_FRAMES;
        got += take_range(part, i0 + a, i0 + b, want - got, ex_first, ex_end, state, out + got);
    }
    free(tried);
    return got;
}

/* ---- load slots ---- */

int _mmc_load_reserve(struct mmc_partition *part)
{
    _mmc_check(_mmc_mutex_held(&part->lock));
    struct mmc_load *l = &part->load;
    const struct mmc_frames *f = &part->frames;
    if (f->hp_cap <= l->frame_slot_cap)
        return 0;
    if (!l->frame_slot_cap) /* address space for every slot of the span */
        mmc_tab_init(&l->frame_slot_tab, f->nslots * f->hp_frames * sizeof(*l->frame_slot));
    int rc = mmc_tab_room(&l->frame_slot_tab, f->hp_cap * f->hp_frames * sizeof(*l->frame_slot));
    l->frame_slot = l->frame_slot_tab.p;
    if (rc < 0)
        return rc;
    l->frame_slot_cap = f->hp_cap;
    return 0;
}

static int load_ready(struct mmc_partition *part)
{
    _mmc_check(_mmc_mutex_held(&part->lock));
    return _mmc_load_reserve(part);
}

static int64_t slot_new(struct mmc_load *l)
{
    if (l->nfree)
        return l->free_slots[--l->nfree];
    if (l->nslots == l->cap) {
        uint32_t ncap = l->cap ? l->cap * 2 : 1024;
        struct mmc_load_slot *ns = realloc(l->slots, ncap * sizeof(*ns));
        if (!ns)
            return -ENOMEM;
        l->slots = ns;
        uint32_t *nf = realloc(l->free_slots, ncap * sizeof(*nf));
        if (!nf)
            return -ENOMEM;
        l->free_slots = nf;
        l->cap = ncap;
    }
    /* generations start at a salt of this partition's own (its address, hashed): a handle of
     * another partition does not name a live slot here, it is reported as misuse */
    l->slots[l->nslots].gen = (uint32_t)(((uintptr_t)l * 0x9e3779b97f4a7c15ull) >> 32) & 0xffff0000u;
    return l->nslots++;
}

static mmc_load_t handle_of(const struct mmc_load *l, uint32_t slot)
{
    return ((uint64_t)l->slots[slot].gen << 32) | (slot + 1u);
}

/* The live slot of a handle, or NULL after reporting misuse. */
/* The live slot of handle h, or NULL. Lock held. */
static struct mmc_load_slot *slot_find(struct mmc_partition *part, mmc_load_t h)
{
    _mmc_check(_mmc_mutex_held(&part->lock));
    struct mmc_load *l = &part->load;
    uint32_t idx = (uint32_t)h;
    if (idx == 0 || idx > l->nslots || l->slots[idx - 1].gen != (uint32_t)(h >> 32) ||
        !l->slots[idx - 1].live)
        return NULL;
    return &l->slots[idx - 1];
}

static void bad_handle(struct mmc_partition *part, mmc_load_t h, const char *routine)
{
    _mmc_misuse(part, routine, (const void *)(uintptr_t)h,
                "not a live load handle of this partition (freed already, never allocated, or "
                "given twice in one call)");
}

static struct mmc_load_slot *slot_of(struct mmc_partition *part, mmc_load_t h, const char *routine)
{
    struct mmc_load_slot *slot = slot_find(part, h);
    if (!slot) {
        _mmc_partition_unlock(part);
        bad_handle(part, h, routine);
        _mmc_partition_lock(part);
    }
    return slot;
}

/* ---- trading ---- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The cheapest trade candidate for rq on the node: of the blocks the request allows with no
 * pinned frame, the one with the fewest movable frames, then the fewest standby frames, then
 * the highest; scored in one sliding pass over each run's clip (O(frames of the range)).
 * NO_FRAME if none; *best_mov and *best_sb its counts. */
static uint64_t cheapest_candidate(const struct mmc_frames *f, const struct mmc_search *rq,
                                   unsigned node, uint64_t *best_mov, uint64_t *best_sb)
{
    const uint64_t n = rq->frames, b = rq->boundary_frames;
    uint64_t best = NO_FRAME;
    for (uint64_t r = f->nruns; r-- > 0;) {
        const struct mmc_run *run = &f->runs[r];
        if (run->node != node)
            continue;
        uint64_t lo, hi; /* the run clipped to the range */
        if (!mmc_run_clip(run, rq, &lo, &hi))
            continue;
        const uint64_t base = run->base_pfn, run_first = run->first_frame; /* frame: run_first + pfn - base */
        uint64_t pinned = 0, mov = 0, sb = 0;
#define ADD(pfn, d)                                                          \
    do {                                                                     \
        unsigned k_ = mmc_frame_state(f, run_first + (pfn) - base);          \
        if (k_ == MMC_FRAME_MOVABLE)                                         \
            mov += (d);                                                      \
        else if (k_ == MMC_FRAME_STANDBY)                                    \
            sb += (d);                                                       \
        else if (k_ != MMC_FRAME_FREE)                                       \
            pinned += (d);                                                   \
    } while (0)
        uint64_t s = hi - n; /* the candidate [s, s + n), top-down */
        for (uint64_t p = s; p < hi; p++)
            ADD(p, 1);
        for (;;) {
            if (!pinned && (!b || s / b == (s + n - 1) / b) &&
                (mov < *best_mov || (mov == *best_mov && sb < *best_sb))) {
                best = run->first_frame + (s - base);
                *best_mov = mov, *best_sb = sb;
            }
            if (s == lo)
                break;
            s--;
            ADD(s, 1);
            ADD(s + n, (uint64_t)-1);
        }
#undef ADD
    }
    return best;
}

int _mmc_trade_locked(struct mmc_partition *part, const struct mmc_search *rq, unsigned node,
                      uint64_t max_moves, uint64_t *first)
{
    _mmc_check(_mmc_mutex_held(&part->lock));
    struct mmc_frames *f = &part->frames;
    const uint64_t n = rq->frames, b = rq->boundary_frames;
    uint64_t best, best_mov = UINT64_MAX, best_sb = UINT64_MAX;
    const uint64_t t0 = now_ns();

    if (!n || (b && n > b) || !part->load.frame_slot_cap)
        return -ENOMEM; /* no load: nothing to trade */
    best = cheapest_candidate(f, rq, node, &best_mov, &best_sb);
    if (best == NO_FRAME)
        return -ENOMEM;
    if (best_mov > max_moves)
        return -E2BIG; /* dearer than the caller's alternative (growing the pool) */

    /* Somewhere to put the movable frames: outside the candidate, same node first. */
    uint64_t *dest = best_mov ? malloc(best_mov * sizeof(*dest)) : NULL;
    if (best_mov && !dest)
        return -ENOMEM;
    unsigned order[MMC_MAX_NODES];
    unsigned nn = _mmc_partition_node_order(part, node, false, order);
    bool clustered = part->placement == MMC_PLACE_CLUSTERED;
    uint64_t got = 0;
    for (unsigned k = 0; k < nn && got < best_mov; k++)
        got += _mmc_place_frames(part, order[k], 0, UINT64_MAX, best_mov - got, clustered, best,
                                 best + n, MMC_FRAME_MOVABLE, dest + got);
    if (got < best_mov) { /* not enough room: give the destinations back, fail */
        for (uint64_t k = 0; k < got; k++) {
            _mmc_frames_set(f, dest[k], 1, MMC_FRAME_FREE);
            part->engine->give(part->engine_state, dest[k], 1);
        }
        free(dest);
        return -ENOMEM;
    }

    struct mmc_load *l = &part->load;
    uint64_t moved = 0, dropped = 0;
    for (uint64_t i = best; i < best + n; i++) {
        unsigned k = mmc_frame_state(f, i);
        if (k == MMC_FRAME_FREE)
            continue;
        struct mmc_load_slot *slot = &l->slots[*_mmc_load_slot_of(part, i) - 1];
        if (k == MMC_FRAME_MOVABLE) {
            uint64_t d = dest[moved++];
            if (!part->pool.simulated) /* the copy is real */
                memcpy(_mmc_pool_va(&part->pool, mmc_frame_pfn(f, d), false),
                       _mmc_pool_va(&part->pool, mmc_frame_pfn(f, i), false), MMC_FRAME_BYTES);
            slot->frame = d;
            *_mmc_load_slot_of(part, d) = *_mmc_load_slot_of(part, i);
        } else {
            slot->dropped = true;
            slot->frame = NO_FRAME;
            dropped++;
        }
        *_mmc_load_slot_of(part, i) = 0;
        _mmc_frames_set(f, i, 1, MMC_FRAME_FREE);
        part->engine->give(part->engine_state, i, 1);
    }
    free(dest);
    part->st.trades++;
    part->st.frames_moved += moved;
    part->st.frames_dropped += dropped;
    part->st.trade_ns += now_ns() - t0;
    *first = best;
    return 0;
}

/* ---- the public load API ---- */

MMC_API int mmc_partition_set_placement(mmc_partition_t *handle, enum mmc_placement placement)
{
    if (placement != MMC_PLACE_PLAIN && placement != MMC_PLACE_CLUSTERED) {
        _mmc_set_error("placement %d: give MMC_PLACE_PLAIN or MMC_PLACE_CLUSTERED", (int)placement);
        return -EINVAL;
    }
    struct mmc_partition *p = _mmc_partition_resolve(handle);
    if (!p)
        return -EINVAL;
    _mmc_partition_lock(p);
    p->placement = placement;
    _mmc_partition_unlock(p);
    _mmc_read_exit();
    return 0;
}

MMC_API long mmc_load_alloc(mmc_partition_t *handle, enum mmc_load_kind kind, int node, size_t count,
                           mmc_load_t *out)
{
    if ((kind != MMC_LOAD_MOVABLE && kind != MMC_LOAD_STANDBY) || node < -1 || node >= MMC_MAX_NODES ||
        (count && !out)) {
        _mmc_set_error("mmc_load_alloc: kind must be MMC_LOAD_MOVABLE or MMC_LOAD_STANDBY, node -1 "
                       "or a node number, out non-NULL");
        return -EINVAL;
    }
    /* the frame state a load kind has in the frame database (engine.h's values, not the API's) */
    const uint8_t state = kind == MMC_LOAD_MOVABLE ? MMC_FRAME_MOVABLE : MMC_FRAME_STANDBY;
    struct mmc_partition *p = _mmc_partition_resolve(handle);
    if (!p)
        return -EINVAL;
    const unsigned nodes = _mmc_partition_nnodes(p);
    if (node >= 0 && (unsigned)node >= nodes) {
        _mmc_read_exit();
        _mmc_set_error("mmc_load_alloc: node %d is not a node of this partition (0..%u), give one "
                       "of them or -1 for any", node, nodes - 1);
        return -EINVAL;
    }
    long rc = 0;
    _mmc_partition_lock(p); /* before reading the pool's size, which a growth changes */
    if (count > p->frames.present_frames) /* more than the pool: as many as it has, at most */
        count = p->frames.present_frames;
    uint64_t *frames = malloc((count ? count : 1) * sizeof(*frames));
    if (!frames || load_ready(p) < 0) {
        rc = -ENOMEM;
        goto out;
    }
    unsigned order[MMC_MAX_NODES], nn = 0;
    if (node >= 0)
        order[nn++] = (unsigned)node;
    else
        nn = _mmc_partition_node_order(p, _mmc_partition_here(p), false, order);
    uint64_t got = 0;
    for (unsigned k = 0; k < nn && got < count; k++)
        got += _mmc_place_frames(p, order[k], 0, UINT64_MAX, count - got,
                                 p->placement == MMC_PLACE_CLUSTERED, 0, 0, state, frames + got);
    struct mmc_load *l = &p->load;
    for (uint64_t k = 0; k < got; k++) {
        int64_t s = slot_new(l);
        if (s < 0) { /* give back what has no slot */
            for (uint64_t j = k; j < got; j++) {
                _mmc_frames_set(&p->frames, frames[j], 1, MMC_FRAME_FREE);
                p->engine->give(p->engine_state, frames[j], 1);
            }
            got = k;
            break;
        }
        struct mmc_load_slot *slot = &l->slots[s];
        slot->frame = frames[k];
        slot->kind = state;
        slot->live = true;
        slot->dropped = false;
        *_mmc_load_slot_of(p, frames[k]) = (uint32_t)s + 1;
        out[k] = handle_of(l, (uint32_t)s);
    }
    rc = (long)got;
out:
    _mmc_partition_unlock(p);
    _mmc_read_exit();
    free(frames);
    return rc;
}

MMC_API int mmc_load_free(mmc_partition_t *handle, const mmc_load_t *handles, size_t count)
{
    if (count && !handles) {
        _mmc_set_error("mmc_load_free: handles is NULL but count is %zu; pass the handles "
                       "mmc_load_alloc gave", count);
        return -EINVAL;
    }
    struct mmc_partition *p = _mmc_partition_resolve(handle);
    if (!p)
        return -EINVAL;
    _mmc_partition_lock(p);
    struct mmc_load *l = &p->load;
    /* Validate all before freeing any (a misuse changes nothing): each slot is marked not live
     * as it is checked, so a handle given twice is caught too; the marks are undone on failure,
     * all under the lock, so no other thread sees them. */
    for (size_t k = 0; k < count; k++) {
        struct mmc_load_slot *slot = slot_find(p, handles[k]);
        if (slot) {
            slot->live = false;
            continue;
        }
        for (size_t j = 0; j < k; j++)
            l->slots[(uint32_t)handles[j] - 1].live = true;
        _mmc_partition_unlock(p);
        _mmc_read_exit();
        bad_handle(p, handles[k], "mmc_load_free");
        return -EINVAL;
    }
    for (size_t k = 0; k < count; k++) {
        struct mmc_load_slot *slot = &l->slots[(uint32_t)handles[k] - 1];
        if (!slot->dropped) {
            *_mmc_load_slot_of(p, slot->frame) = 0;
            _mmc_frames_set(&p->frames, slot->frame, 1, MMC_FRAME_FREE);
            p->engine->give(p->engine_state, slot->frame, 1);
        }
        slot->gen++;
        l->free_slots[l->nfree++] = (uint32_t)(slot - l->slots);
    }
    _mmc_partition_unlock(p);
    _mmc_read_exit();
    return 0;
}

static int load_copy(mmc_partition_t *handle, mmc_load_t h, size_t off, void *buf, size_t len,
                     bool write, const char *routine)
{
    if (off > MMC_FRAME_BYTES || len > MMC_FRAME_BYTES - off || (len && !buf)) {
        _mmc_set_error("%s: off %zu + len %zu must lie in one 4 KiB frame, buf non-NULL", routine,
                       off, len);
        return -EINVAL;
    }
    struct mmc_partition *p = _mmc_partition_resolve(handle);
    if (!p)
        return -EINVAL;
    int rc = 0;
    _mmc_partition_lock(p);
    struct mmc_load_slot *slot = slot_of(p, h, routine);
    if (!slot)
        rc = -EINVAL;
    else if (slot->dropped)
        rc = -ENODATA;
    else if (p->pool.simulated) {
        _mmc_set_error("%s: a simulated partition has no memory behind its frames: load frames "
                       "hold no contents there", routine);
        rc = -EOPNOTSUPP;
    }
    else if (write)
        memcpy(_mmc_pool_va(&p->pool, mmc_frame_pfn(&p->frames, slot->frame), false) + off, buf, len);
    else
        memcpy(buf, _mmc_pool_va(&p->pool, mmc_frame_pfn(&p->frames, slot->frame), false) + off, len);
    _mmc_partition_unlock(p);
    _mmc_read_exit();
    return rc;
}

MMC_API int mmc_load_read(mmc_partition_t *part, mmc_load_t h, size_t off, void *buf, size_t len)
{
    return load_copy(part, h, off, buf, len, false, "mmc_load_read");
}

MMC_API int mmc_load_write(mmc_partition_t *part, mmc_load_t h, size_t off, const void *buf, size_t len)
{
    return load_copy(part, h, off, (void *)buf, len, true, "mmc_load_write");
}

MMC_API uint64_t mmc_load_pfn(mmc_partition_t *handle, mmc_load_t h)
{
    struct mmc_partition *p = _mmc_partition_resolve(handle);
    if (!p)
        return 0;
    uint64_t pfn = 0;
    _mmc_partition_lock(p);
    struct mmc_load *l = &p->load;
    uint32_t idx = (uint32_t)h;
    if (idx && idx <= l->nslots && l->slots[idx - 1].gen == (uint32_t)(h >> 32) && l->slots[idx - 1].live &&
        !l->slots[idx - 1].dropped)
        pfn = mmc_frame_pfn(&p->frames, l->slots[idx - 1].frame);
    _mmc_partition_unlock(p);
    _mmc_read_exit();
    return pfn;
}
