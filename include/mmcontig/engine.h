/* mmcontig/engine.h: the search-engine interface of mmcontig, for engines built into the
 * library and engines loaded from a shared object (MMC_ENGINE_PLUGIN, mmcontig bench --plugin).
 *
 * An engine finds free physically contiguous blocks in a partition's pool. It reads the
 * partition's frame database (struct mmc_frames, read-only, through the accessors below), may
 * keep an index of its own, and implements struct mmc_engine_ops. The five built-in engines
 * (alloc/search/) use exactly this interface. docs/engines.md walks through writing, checking
 * (mmcontig check-engine) and benchmarking one; examples/bottomup/ is a complete one.
 *
 * Vocabulary: a frame is one 4 KiB physical page, named by its PFN; a hugepage is the kernel's
 * 2 MiB or 1 GiB page the pool is made of; a run is a maximal sequence of physically adjacent
 * frames of the pool on one node; a section is 512 hugepage slots of the span.
 *
 * ---- The frame database an engine sees ----
 * Frame index i is PFN f->base_pfn + i, over the pool's whole physical span [0, f->nframes):
 * an index never changes while the partition lives. Frames of the span outside the pool are
 * absent (never free, in no run). Each present hugepage has an ordinal (0, 1, ... in the order
 * it entered the pool, never renumbered; mmc_frame_ord); per-frame data is kept per ordinal.
 * Frame states are bit planes (mmc_frames_words: a hugepage's words of one plane; bit j of
 * word w is frame 64 w + j of the hugepage). Runs are f->runs[0, f->nruns), ascending PFN.
 *
 * ---- The rules an engine keeps (mmcontig check-engine verifies each) ----
 *  1. Exact. A block find() returns satisfies the request: mmc_search_fits() is true for it
 *     (every frame free and present, inside one run, on a node of node_mask, inside
 *     [lowest_pfn, highest_pfn], crossing no multiple of boundary_frames).
 *  2. Complete. find() fails with -ENOMEM only when no block satisfies the request, and with
 *     -EAGAIN only when rq->max_work is not 0 and its work reached it. An engine that cannot
 *     promise this says "incomplete" in its summary; check-engine then counts its false
 *     failures instead of failing it.
 *  3. Placement. Which block among those that fit is the engine's policy, named in its
 *     summary. Two policies are checked exactly: a summary containing "top-down first fit"
 *     must return the satisfying block of the highest start PFN (Windows' placement; linear,
 *     bitmap, tree), one containing "bottom-up first fit" the lowest (examples/bottomup).
 *     Any other policy is checked for rules 1 and 2 only.
 *  4. Work. find() stores in *work what it did, in its work_unit, counted in its innermost
 *     loops (every step that costs time counts), and with rq->max_work != 0 it stops within a
 *     few units of it (check-engine allows 2 past): a FAST_ONLY call is bounded by
 *     fast_only_work units whatever the pool's size.
 *  5. The database is the truth. The caller changes the frames' states first and then tells
 *     the engine: take(first, n) after [first, first + n) left the free state, give(first, n)
 *     after it became free; each range lies in one run, and need not be a block find()
 *     returned (MDL pages and load frames are taken one by one). The engine never writes the
 *     database.
 *     create() builds the index from the database's current state (any frames may be used).
 *  6. Growth. Hugepages enter the pool while the engine lives: reserve(nadd, add_pfn) before
 *     the database has them (allocate; -ENOMEM leaves find() unchanged), then add(first_frame)
 *     once per new hugepage in ascending PFN order after the database has them all, at the
 *     cost of a give of its frames (never a rebuild); add() cannot fail. Until add() is called
 *     for a hugepage, the engine treats its frames as used (f already shows them free).
 *  7. Memory. The index follows the pool, not the span: per-frame tables per hugepage ordinal
 *     (struct mmc_tab, room for f->nslots entries, so that growing copies nothing), at most
 *     ~a bit per hugepage slot of the span densely. check-engine's bound: metadata_bytes() <=
 *     A x frames of pool + frames of span / 1024 + 64 KiB (A = 1 byte for an engine not built
 *     in).
 *  8. Threads. Calls are serialised by the partition's lock; an engine needs no locking of its
 *     own, and keeps no global state (partitions have an engine each, all alive at once).
 *
 * ---- Plugins ----
 * A shared object defines its struct mmc_engine_ops and exports it with
 * MMC_ENGINE_PLUGIN_DEFINE(ops) (one symbol, mmc_engine_plugin). The library refuses one
 * built against another MMC_ENGINE_INTERFACE_VERSION, one whose operations are incomplete, or
 * one whose name is taken. It may call the MMC_API functions below (the host program links
 * libmmcontig; do not link a second copy into the plugin).
 */
#ifndef MMCONTIG_ENGINE_H
#define MMCONTIG_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mmcontig/mmcontig.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The interface's version: struct mmc_frames, struct mmc_search, struct mmc_engine_ops and
 * the rules above. Raised whenever any of them changes; a plugin built against another one is
 * refused. Version 2: the free counters moved into struct mmc_frames_node (f->node[n].free,
 * mmc_frames_free(f) for the whole database, f->node[n].frames); mmc_run_window, the former
 * name of mmc_run_clip, is gone. */
#define MMC_ENGINE_INTERFACE_VERSION 2

/* ---- the frame database (read-only to engines) ---- */
enum mmc_frame_state {
    MMC_FRAME_FREE = 0,         /* free, any engine may hand it out */
    MMC_FRAME_CONTIG = 1,       /* pinned by a contiguous block */
    MMC_FRAME_MDL = 2,          /* pinned by an MDL */
    MMC_FRAME_MOVABLE = 3,      /* load: in use, contents kept, may be moved (load.c) */
    MMC_FRAME_STANDBY = 4,      /* load: cached contents that may be dropped (load.c) */
    MMC_FRAME_ABSENT = 5,       /* in the span, not in the pool (mmc_frame_state only) */
};
#define MMC_FRAME_STATE_MASK 0x0f
#define MMC_FRAME_HEAD 0x10     /* with CONTIG or FREE, to the library's setter: the range is exactly
                                   one contiguous block, with its head at the first frame, taken
                                   whole (all its frames were free) or freed whole */
#define MMC_FRAME_EXEC 0x20     /* with HEAD: the block was handed out through the executable
                                   view (recorded on the head frame only) */
#define MMC_PAGEBLOCK_FRAMES 512 /* a pageblock, as Linux's pageblock_order 9: 2 MiB */
#define MMC_SECTION_SHIFT 9     /* hugepage slots per directory section: 512 */
#define MMC_SECTION_SLOTS (1ull << MMC_SECTION_SHIFT)
#define MMC_ORD_NONE UINT32_MAX /* the ordinal of an absent hugepage slot */
#define MMC_SPAN_MAX_FRAMES (1ull << 36) /* the longest span a database indexes: 256 TiB (x86-64
                                   4-level paging addresses 64 TiB of physical memory) */

struct mmc_run {
    uint64_t base_pfn;          /* PFN of the run's first frame */
    uint64_t first_frame;       /* frame index of the run's first frame: base_pfn - f->base_pfn */
    uint64_t frames;            /* length in frames (a multiple of the hugepage's frames) */
    unsigned node;              /* node number */
};

/* The bit planes, by number: plane k of ordinal o is f->plane[k] + o * f->wph. */
enum mmc_plane {
    MMC_PLANE_FREE,             /* free */
    MMC_PLANE_SCAT,             /* held by a scattered kind (MDL, movable, standby) */
    MMC_PLANE_MDL,
    MMC_PLANE_STANDBY,
    MMC_PLANE_HEAD,
    MMC_PLANE_EXEC,
    MMC_NPLANES,
};

/* A table that grows without moving, for per-ordinal (and per-section) entries: the address
 * space for every entry it could ever hold is reserved when it is made (mmap, MAP_NORESERVE:
 * no memory until an entry is touched), so that making room is free and nothing is ever
 * copied; a growth costs the entries it adds. Where the kernel refuses the reservation
 * (vm.overcommit_memory 2), a heap block that doubles instead (copying, amortised O(1) per
 * entry). */
struct mmc_tab {
    void *p;                    /* the entries */
    size_t bytes;               /* bytes made room for (zeroed) */
    size_t max_bytes;           /* the reservation (mapped), or the heap block's size */
    bool mapped;
};
/* An empty table for up to max_bytes. 0 or -ENOMEM. */
MMC_API int mmc_tab_init(struct mmc_tab *t, size_t max_bytes);
/* Room for bytes (new bytes zero; t->p may move only in the heap fallback). 0 or -ENOMEM
 * (unchanged). */
MMC_API int mmc_tab_room(struct mmc_tab *t, size_t bytes);
MMC_API void mmc_tab_free(struct mmc_tab *t);

enum { MMC_TAB_PFN, MMC_TAB_NODE, MMC_TAB_PB_USED, MMC_TAB_PB_SCAT, MMC_TAB_PLANE0,
       MMC_FRAMES_NTABS = MMC_TAB_PLANE0 + MMC_NPLANES };

/* A node's counters in the frame database. */
struct mmc_frames_node {
    uint64_t free;              /* free frames on the node */
    uint64_t frames;            /* present frames on the node */
} __attribute__((aligned(64)));

struct mmc_frames {
    uint64_t base_pfn;          /* PFN of frame index 0 (the span's start, a multiple of
                                   hp_frames) */
    uint64_t nframes;           /* frame indices [0, nframes): the span, absent frames included */
    uint64_t nslots;            /* hugepage slots of the span: nframes >> hp_shift */
    uint64_t hp_frames;         /* frames per hugepage (512 for 2 MiB, 262144 for 1 GiB) */
    unsigned hp_shift;          /* log2(hp_frames) */
    uint64_t wph;               /* words per hugepage of each plane: hp_frames / 64 */
    uint64_t pbph;              /* pageblocks per hugepage: hp_frames / 512 */
    uint64_t nhugepages;        /* present hugepages: ordinals [0, nhugepages) */
    uint64_t present_frames;    /* frames present: nhugepages * hp_frames */
    uint64_t hp_cap;            /* ordinals the per-ordinal tables have room for (engines make
                                   theirs as large; at most nslots) */
    uint32_t **dir;             /* per section: NULL (no present slot) or MMC_SECTION_SLOTS
                                   ordinals (MMC_ORD_NONE: absent) */
    uint64_t ndir;              /* sections: ceil(nslots / MMC_SECTION_SLOTS) */
    uint32_t *sec_ord;          /* per section: its ordinal among the sections with a table
                                   (0, 1, ... in the order they got one; never renumbered), or
                                   MMC_ORD_NONE */
    uint64_t nsections;         /* sections with a table: section ordinals [0, nsections) */
    uint64_t sec_cap;           /* section ordinals engines should have room for (>= nsections
                                   after a reserve) */
    uint64_t *hp_pfn;           /* per ordinal: the hugepage's first PFN */
    uint8_t *hp_node;           /* per ordinal: its node number */
    /* The bit planes (bit j & 63 of word j >> 6 of the ordinal's words is frame
     * (slot << hp_shift) + j). A frame's state:
     *   free:  FREE;  else scat clear: CONTIG;  else mdl: MDL;  standby: STANDBY;  else MOVABLE.
     * Invariants: a free frame has no other bit set; mdl and standby bits only on scat frames;
     * head only on the first frame of a contiguous block, exec only on a head. */
    uint64_t *plane[MMC_NPLANES];
    uint16_t *pb_used;          /* per ordinal, pbph entries: frames not free per pageblock */
    uint16_t *pb_scattered;     /* per ordinal, pbph entries: frames held by scattered kinds
                                   (MDL, movable, standby): clustered placement groups them,
                                   as Linux groups pages by migrate type */
    struct mmc_tab tab[MMC_FRAMES_NTABS]; /* what hp_pfn .. plane[] point into */
    struct mmc_run *runs;       /* ascending PFN */
    uint64_t nruns;             /* entries in runs[] */
    uint64_t runs_cap;          /* room in runs[] */
    uint64_t scattered_frames;  /* frames held by scattered kinds */
    unsigned nnodes;            /* 1 + highest node number present */
    /* Per node number, each on cache lines of its own: a contiguous call on node n writes
     * node[n] under n's lock alone, so threads on different nodes write no line in common
     * (everything above is read-mostly: written by growth, under every lock). */
    struct mmc_frames_node node[MMC_MAX_NODES];
};
/* The free frames of the whole database: the sum over the nodes, so only exact with every
 * node lock held (the partition lock; a node-parallel engine's calls hold one node's). */
static inline uint64_t mmc_frames_free(const struct mmc_frames *f)
{
    uint64_t n = 0;
    for (unsigned k = 0; k < f->nnodes; k++)
        n += f->node[k].free;
    return n;
}

/* The ordinal of hugepage slot s (< nslots), or MMC_ORD_NONE. */
static inline uint32_t mmc_frames_ord(const struct mmc_frames *f, uint64_t s)
{
    const uint32_t *d = f->dir[s >> MMC_SECTION_SHIFT];
    return d ? d[s & (MMC_SECTION_SLOTS - 1)] : MMC_ORD_NONE;
}
/* The ordinal of the hugepage holding frame i (< nframes), or MMC_ORD_NONE. */
static inline uint32_t mmc_frame_ord(const struct mmc_frames *f, uint64_t i)
{
    return mmc_frames_ord(f, i >> f->hp_shift);
}
static inline bool mmc_frame_present(const struct mmc_frames *f, uint64_t i)
{
    return i < f->nframes && mmc_frame_ord(f, i) != MMC_ORD_NONE;
}
static inline uint64_t mmc_frame_pfn(const struct mmc_frames *f, uint64_t i)
{
    return f->base_pfn + i;
}
/* The words of plane k of ordinal o (wph of them; word j holds frames 64 j .. 64 j + 63 of
 * the hugepage). */
static inline uint64_t *mmc_frames_words(const struct mmc_frames *f, enum mmc_plane k, uint32_t o)
{
    return f->plane[k] + (uint64_t)o * f->wph;
}
/* The word of plane k holding frame i (64-aligned frames i & ~63 .. + 63); 0 if absent. */
static inline uint64_t mmc_frame_word(const struct mmc_frames *f, enum mmc_plane k, uint64_t i)
{
    const uint32_t o = mmc_frame_ord(f, i);
    return o == MMC_ORD_NONE ? 0 : f->plane[k][(uint64_t)o * f->wph + ((i & (f->hp_frames - 1)) >> 6)];
}
static inline bool mmc_frame_bit(const struct mmc_frames *f, enum mmc_plane k, uint64_t i)
{
    return (mmc_frame_word(f, k, i) >> (i & 63)) & 1;
}
static inline bool mmc_frame_is_free(const struct mmc_frames *f, uint64_t i)
{
    return mmc_frame_bit(f, MMC_PLANE_FREE, i);
}
/* Node number of present frame i. */
static inline unsigned mmc_frame_node(const struct mmc_frames *f, uint64_t i)
{
    return f->hp_node[mmc_frame_ord(f, i)];
}
/* How many runs start at or below pfn (runs[0, that) do; binary search). */
static inline uint64_t mmc_runs_upto(const struct mmc_frames *f, uint64_t pfn)
{
    uint64_t lo = 0, hi = f->nruns;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (f->runs[mid].base_pfn <= pfn)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}
/* The run holding frame i, or NULL if i is absent. O(log runs). */
static inline const struct mmc_run *mmc_frame_run(const struct mmc_frames *f, uint64_t i)
{
    const uint64_t r = mmc_runs_upto(f, f->base_pfn + i);
    if (r == 0)
        return NULL;
    const struct mmc_run *run = &f->runs[r - 1];
    return i - run->first_frame < run->frames ? run : NULL;
}
/* The state of frame i. */
static inline enum mmc_frame_state mmc_frame_state(const struct mmc_frames *f, uint64_t i)
{
    const uint32_t o = mmc_frame_ord(f, i);
    if (o == MMC_ORD_NONE)
        return MMC_FRAME_ABSENT;
    const uint64_t w = (uint64_t)o * f->wph + ((i & (f->hp_frames - 1)) >> 6), m = 1ull << (i & 63);
    if (f->plane[MMC_PLANE_FREE][w] & m)
        return MMC_FRAME_FREE;
    if (!(f->plane[MMC_PLANE_SCAT][w] & m))
        return MMC_FRAME_CONTIG;
    if (f->plane[MMC_PLANE_MDL][w] & m)
        return MMC_FRAME_MDL;
    return f->plane[MMC_PLANE_STANDBY][w] & m ? MMC_FRAME_STANDBY : MMC_FRAME_MOVABLE;
}
/* The state byte of frame i as the library's setter takes it: state | HEAD | EXEC. */
static inline uint8_t mmc_frame_state_byte(const struct mmc_frames *f, uint64_t i)
{
    return (uint8_t)(mmc_frame_state(f, i) | (mmc_frame_bit(f, MMC_PLANE_HEAD, i) ? MMC_FRAME_HEAD : 0) |
                     (mmc_frame_bit(f, MMC_PLANE_EXEC, i) ? MMC_FRAME_EXEC : 0));
}

/* ---- the request and the engine ---- */
/* A contiguous request in frames. The block [s, s + frames) (PFNs) must satisfy
 * lowest_pfn <= s, s + frames - 1 <= highest_pfn, s / boundary == (s + frames - 1) / boundary
 * when boundary_frames != 0, and lie in one run on a node in node_mask. */
struct mmc_search {
    uint64_t frames;            /* run length wanted, >= 1 */
    uint64_t lowest_pfn;        /* first acceptable PFN */
    uint64_t highest_pfn;       /* last acceptable PFN, inclusive */
    uint64_t boundary_frames;   /* 0: none; else a power of two the block must not cross */
    uint64_t node_mask;         /* allowed node numbers: bit n = node n */
    uint64_t max_work;          /* 0: unbounded; else the engine gives up (-EAGAIN) after this
                                   many steps of its own kind (FAST_ONLY) */
    bool trade;                 /* the partition may trade load frames away when no free block
                                   exists (not FAST_ONLY); engines ignore it */
};

/* The run's clip: the PFNs [*lo, *hi) of the run inside rq's range; false if it cannot hold
 * rq->frames. */
static inline bool mmc_run_clip(const struct mmc_run *run, const struct mmc_search *rq, uint64_t *lo,
                                  uint64_t *hi)
{
    const uint64_t end = run->base_pfn + run->frames;
    *lo = run->base_pfn > rq->lowest_pfn ? run->base_pfn : rq->lowest_pfn;
    *hi = rq->highest_pfn < end - 1 ? rq->highest_pfn + 1 : end;
    return *hi > *lo && *hi - *lo >= rq->frames;
}

/* The interface every engine implements. The frame database is the truth: the caller updates
 * it first, then tells the engine with take() or give(); a range given to take() / give() lies
 * in one run. Engines are called with the partition lock held.
 * Frame indices are the database's, over the span: they never change, and the pool may gain
 * hugepages while an engine lives (reserve / add). An engine keeps its per-frame tables per
 * hugepage, at the hugepage's ordinal (mmc_frame_ord), and whatever it keeps per place of the
 * span must be small beside that (a bit per hugepage slot, say), so that its memory follows
 * the pool, not the span (metadata_bytes is reported per frame of both). Per-ordinal tables
 * belong in a struct mmc_tab (address space for f->nslots entries), so that reserve() copies
 * nothing. */
struct mmc_engine_ops {
    const char *name;           /* selected by this name (MMC_ALGO, mmc_config.algo) */
    const char *summary;        /* one line: algorithm and placement policy */
    /* Build the engine's index over f's current state. 0 or a negative errno. */
    int (*create)(const struct mmc_frames *f, void **engine);
    void (*destroy)(void *engine);
    const char *work_unit;      /* what one unit of find's work is ("frames examined") */
    uint64_t fast_only_work;    /* the work bound of a FAST_ONLY call, in work_unit: chosen so
                                   that a decision takes tens of microseconds at most on any
                                   pool (README, "Search engines", has the measured times) */
    /* Find a block satisfying rq, by the engine's placement policy, without taking it.
     * 0 and *first_frame; -ENOMEM: no block exists; -EAGAIN: max_work reached. Stores the
     * work done in *work, in work_unit, counted in the innermost loops, so that rq->max_work
     * bounds it (the search stops at most a few units past it). */
    int (*find)(void *engine, const struct mmc_search *rq, uint64_t *first_frame, uint64_t *work);
    void (*take)(void *engine, uint64_t first_frame, uint64_t frames); /* frames left free */
    void (*give)(void *engine, uint64_t first_frame, uint64_t frames); /* frames became free */
    /* Growth: hugepages enter the pool while the engine lives, in two steps.
     * reserve(): before the frame database has them (add_pfn ascending, nadd of them; the
     * database's own reserve has succeeded, so f->hp_cap >= f->nhugepages + nadd): allocate
     * what add() will need; 0 or -ENOMEM, and what find() sees does not change either way.
     * add(): after the database has them all (present, free, runs joined), once per hugepage
     * in ascending PFN order, first_frame its first frame: take it in at the cost of a give
     * of its frames (never a rebuild). Until add() is called for a hugepage, the engine
     * treats its frames as used. Cannot fail. */
    int (*reserve)(void *engine, uint64_t nadd, const uint64_t *add_pfn);
    void (*add)(void *engine, uint64_t first_frame);
    size_t (*metadata_bytes)(const void *engine); /* bytes of the engine's own index */
};
/* Does the block at frame index `first` satisfy rq? (Checks range, boundary, node, one run,
 * all free.) The reference predicate every engine, the NT layer and the tests agree with:
 * O(log runs + rq->frames / 64). */
MMC_API bool mmc_search_fits(const struct mmc_frames *f, const struct mmc_search *rq, uint64_t first);

/* ---- plugins ---- */
#define MMC_ENGINE_PLUGIN_SYMBOL "mmc_engine_plugin"
/* The symbol a plugin exports: it stores the MMC_ENGINE_INTERFACE_VERSION it was built
 * against in *version and returns its operations (static storage, alive until exit). */
typedef const struct mmc_engine_ops *mmc_engine_plugin_fn(uint32_t *version);
#define MMC_ENGINE_PLUGIN_DEFINE(ops)                                                              \
    __attribute__((visibility("default"))) const struct mmc_engine_ops *mmc_engine_plugin(        \
        uint32_t *version);                                                                        \
    __attribute__((visibility("default"))) const struct mmc_engine_ops *mmc_engine_plugin(        \
        uint32_t *version)                                                                         \
    {                                                                                              \
        *version = MMC_ENGINE_INTERFACE_VERSION;                                                   \
        return &(ops);                                                                             \
    }

#ifdef __cplusplus
}
#endif

#endif /* MMCONTIG_ENGINE_H */
