/* alloc/internal.h: declarations shared between the files of libmmcontig, grouped by the file
 * that defines them. Names: mmc_ public (mmcontig.h, wdm.h), _mmc_ shared between files,
 * plain static inside one file.
 *
 * Data flows one way: topology -> os -> pool -> frames <- search <- nt.
 */
#ifndef MMC_INTERNAL_H
#define MMC_INTERNAL_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "mmcontig/mmcontig.h"
#include "topology.h"

#define MMC_INTERNAL __attribute__((visibility("hidden")))

#define MMC_FRAME_SHIFT 12
/* The engine a partition searches with when nothing names one: the fastest on constrained
 * requests in the benchmark (README, "Search engines"); linear stays the reference by name. */
#define MMC_DEFAULT_ENGINE "tree"
#define MMC_MIB (1024ull * 1024)
#define MMC_GIB (1024ull * MMC_MIB)

/* ------------------------------------------------------------------------------------------
 * frames.c: the frame database
 *
 * The state of every frame of the pool, indexed over the pool's physical span: frame index i
 * is PFN base_pfn + i, for every PFN of the span, so an index never changes while the
 * partition lives and a hugepage taken later simply becomes present. Frames of the span that
 * are not in the pool are absent: never free, never handed out, in no run.
 *
 * Storage is per hugepage: each present hugepage has an ordinal (0, 1, ... in the order the
 * hugepages entered the pool; never renumbered), and every per-frame table (the bit planes,
 * the pageblock counters) holds the hugepage's entries at its ordinal. A two-level directory
 * maps a hugepage slot of the span (i >> hp_shift) to its ordinal: one pointer per section of
 * MMC_SECTION_SLOTS slots, and a table of ordinals per section that holds a present hugepage;
 * those sections have ordinals of their own (sec_ord), for engines' per-section tables.
 * So the database costs ~0.8 byte per frame of pool plus 8 bytes per section of span (1 GiB
 * of 2 MiB hugepages) and 2 KiB per section that holds any of the pool (frames.c's header).
 *
 * The state is held as bit planes, one bit per frame each, so that taking or giving n frames
 * is O(n / 64) word operations, plus O(n / 512) for the pageblock counters and O(1) for the
 * free counters. Runs (maximal physically adjacent present frames on one node) are kept
 * sorted; a hugepage that enters the pool extends, joins or starts one (_mmc_frames_add).
 * ---------------------------------------------------------------------------------------- */
enum mmc_frame_state {
    MMC_FRAME_FREE = 0,         /* free, any engine may hand it out */
    MMC_FRAME_CONTIG = 1,       /* pinned by a contiguous block */
    MMC_FRAME_MDL = 2,          /* pinned by an MDL */
    MMC_FRAME_MOVABLE = 3,      /* load: in use, contents kept, may be moved (load.c) */
    MMC_FRAME_STANDBY = 4,      /* load: cached contents that may be dropped (load.c) */
    MMC_FRAME_ABSENT = 5,       /* in the span, not in the pool (mmc_frame_state only) */
};
#define MMC_FRAME_STATE_MASK 0x0f
#define MMC_FRAME_HEAD 0x10     /* with CONTIG or FREE, to _mmc_frames_set: the range is exactly
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
MMC_INTERNAL int _mmc_tab_init(struct mmc_tab *t, size_t max_bytes);
/* Room for bytes (new bytes zero; t->p may move only in the heap fallback). 0 or -ENOMEM
 * (unchanged). */
MMC_INTERNAL int _mmc_tab_room(struct mmc_tab *t, size_t bytes);
MMC_INTERNAL void _mmc_tab_free(struct mmc_tab *t);

enum { MMC_TAB_PFN, MMC_TAB_NODE, MMC_TAB_PB_USED, MMC_TAB_PB_SCAT, MMC_TAB_PLANE0,
       MMC_FRAMES_NTABS = MMC_TAB_PLANE0 + MMC_NPLANES };

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
    uint64_t free_frames;       /* free frames */
    uint64_t scattered_frames;  /* frames held by scattered kinds */
    uint64_t node_free[MMC_MAX_NODES]; /* free frames per node number */
    uint64_t node_frames[MMC_MAX_NODES]; /* frames per node number */
    unsigned nnodes;            /* 1 + highest node number present */
};

/* A database over the span [base_pfn, base_pfn + span_frames) (base_pfn and span_frames
 * multiples of hp_frames >= 512, span_frames <= MMC_SPAN_MAX_FRAMES) holding nhugepages hugepages (hp_pfn[] ascending, multiples
 * of hp_frames, inside the span), ordinals in that order. Copies the arrays. All frames start
 * free. Returns 0 or -ENOMEM / -EINVAL. */
MMC_INTERNAL int _mmc_frames_init(struct mmc_frames *f, uint64_t base_pfn, uint64_t span_frames,
                                  uint64_t hp_frames, uint64_t nhugepages, const uint64_t *hp_pfn,
                                  const uint8_t *hp_node);
MMC_INTERNAL void _mmc_frames_destroy(struct mmc_frames *f);
/* Growth, in two steps so that nothing fails half-way. _mmc_frames_reserve: room for nadd
 * more hugepages (add_pfn ascending, inside the span, none present; add_node their nodes, as
 * _mmc_frames_add will be given them): the per-ordinal tables,
 * the directory's sections, the runs; nothing visible changes. 0, -ENOMEM, -EINVAL (outside
 * the span, not ascending) or -EEXIST (present already). _mmc_frames_add, after a successful
 * reserve of the same hugepages: they become present and free, ordinals nhugepages,
 * nhugepages + 1, ... in add_pfn's order (new sections likewise); their runs are extended,
 * joined or started; cannot fail. O(nadd * hp_frames / 64 + runs). After a reserve, hp_cap >=
 * nhugepages + nadd and sec_cap >= the sections there will be. */
MMC_INTERNAL int _mmc_frames_reserve(struct mmc_frames *f, uint64_t nadd, const uint64_t *add_pfn,
                                     const uint8_t *add_node);
MMC_INTERNAL void _mmc_frames_add(struct mmc_frames *f, uint64_t nadd, const uint64_t *add_pfn,
                                  const uint8_t *add_node);
/* Frame index of a PFN, or -1 if the PFN is not present. O(1). */
MMC_INTERNAL int64_t _mmc_frames_index_of_pfn(const struct mmc_frames *f, uint64_t pfn);
/* Set [first, first + n) (present frames) to state (enum mmc_frame_state) and keep every
 * counter: O(n / 64 + n / 512 + 1) word operations whatever the frames' states were.
 * CONTIG | HEAD [| EXEC]: the range becomes one block (its frames were free); FREE | HEAD:
 * the block at first is freed whole. Those two read no plane (the caller vouches for the old
 * state; -Dexpensive_checks verifies it). */
MMC_INTERNAL void _mmc_frames_set(struct mmc_frames *f, uint64_t first, uint64_t n, uint8_t state);
/* The head of the contiguous block holding frame i (i must be CONTIG): O(block frames / 64). */
MMC_INTERNAL uint64_t _mmc_frames_block_head(const struct mmc_frames *f, uint64_t i);
/* Free frames in [a, e) (absent frames count as not free): O((e - a) / 64). */
MMC_INTERNAL uint64_t _mmc_frames_count_free(const struct mmc_frames *f, uint64_t a, uint64_t e);
/* Longest stretch of free frames inside one run. O(frames / 64). */
MMC_INTERNAL uint64_t _mmc_frames_largest_free(const struct mmc_frames *f);
/* Free frames in run r. O(run frames / 64). */
MMC_INTERNAL uint64_t _mmc_frames_run_free(const struct mmc_frames *f, uint64_t r);
/* Bytes the database itself holds (tables, directory, runs). */
MMC_INTERNAL size_t _mmc_frames_bytes(const struct mmc_frames *f);

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
/* enum mmc_frame_state of frame i. */
static inline unsigned mmc_frame_state(const struct mmc_frames *f, uint64_t i)
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
/* The state byte of frame i as _mmc_frames_set takes it: state | HEAD | EXEC. */
static inline uint8_t mmc_frame_state_byte(const struct mmc_frames *f, uint64_t i)
{
    return (uint8_t)(mmc_frame_state(f, i) | (mmc_frame_bit(f, MMC_PLANE_HEAD, i) ? MMC_FRAME_HEAD : 0) |
                     (mmc_frame_bit(f, MMC_PLANE_EXEC, i) ? MMC_FRAME_EXEC : 0));
}

/* ------------------------------------------------------------------------------------------
 * search/: the search engines, one file each, behind one interface (search/engines.c)
 * ---------------------------------------------------------------------------------------- */

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

/* The PFN window [*lo, *hi) of a run clipped to rq's range; false if it cannot hold rq->frames. */
static inline bool mmc_run_window(const struct mmc_run *run, const struct mmc_search *rq, uint64_t *lo,
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

/* engines.c */
MMC_INTERNAL const struct mmc_engine_ops *_mmc_engine_lookup(const char *name);
MMC_INTERNAL extern const struct mmc_engine_ops *const _mmc_engines[];
/* Does the block at frame index `first` satisfy rq? (Checks range, boundary, node, one run,
 * all free.) The reference predicate every engine and test agrees with. */
MMC_INTERNAL bool _mmc_search_fits(const struct mmc_frames *f, const struct mmc_search *rq,
                                   uint64_t first);

/* linear.c */
MMC_INTERNAL extern const struct mmc_engine_ops _mmc_engine_linear;
/* bitmap.c */
MMC_INTERNAL extern const struct mmc_engine_ops _mmc_engine_bitmap;
/* buddy.c, tlsf.c, tree.c */
MMC_INTERNAL extern const struct mmc_engine_ops _mmc_engine_buddy;
MMC_INTERNAL extern const struct mmc_engine_ops _mmc_engine_tlsf;
MMC_INTERNAL extern const struct mmc_engine_ops _mmc_engine_tree;

/* ------------------------------------------------------------------------------------------
 * os.c: the only code that talks to the kernel for memory
 * ---------------------------------------------------------------------------------------- */

/* Hugepages taken on one node: a hugetlb memfd, faulted in under MPOL_BIND, locked, each
 * hugepage's node verified and its PFN read from pagemap. */
struct mmc_os_chunk {
    int fd;                     /* hugetlb memfd (closed once the pool maps it) */
    unsigned node;              /* node number */
    uint64_t page_bytes;        /* hugepage size */
    uint64_t npages;            /* hugepages in the memfd */
    uint64_t *pfn;              /* PFN of each hugepage, by offset in the memfd */
    uint64_t topup;             /* hugepages raised to take them (given back by the pool) */
    bool surplus;               /* raised as nr_overcommit_hugepages (else nr_hugepages) */
};

/* Take npages hugepages of page_bytes on the node (os_index is the kernel's number), under the
 * hugepage lock from the top-up to the last fault: if the node's free hugepages are short and
 * allow_topup, the shortfall is raised first (2 MiB: nr_overcommit_hugepages, the pages are
 * surplus and the kernel frees them with the last mapping; 1 GiB: nr_hugepages), recorded in
 * c->topup and this process's ledger. On failure nothing stays raised. 0 or a negative errno
 * with err filled (cause and remedy). */
MMC_INTERNAL int _mmc_os_take_hugepages(struct mmc_os_chunk *c, unsigned node, unsigned os_index,
                                        uint64_t page_bytes, uint64_t npages, bool allow_topup,
                                        char *err, size_t errlen);
MMC_INTERNAL void _mmc_os_chunk_release(struct mmc_os_chunk *c);

/* Give back `added` hugepages raised on the node: of nr_overcommit_hugepages (surplus, machine-
 * wide) or nr_hugepages (os_node: the kernel's number; -1: machine-wide). */
MMC_INTERNAL void _mmc_os_hugepages_giveback(int os_node, uint64_t page_bytes, uint64_t added,
                                             bool surplus);

/* Bytes of memory the kernel could still turn into hugepages on the node (os_node: the
 * kernel's number; -1: the machine). *one_node: the machine has one node. UINT64_MAX if
 * unknown. */
MMC_INTERNAL uint64_t _mmc_os_available_bytes(int os_node, bool *one_node);
/* The machine's MemTotal in bytes (UINT64_MAX if unknown). */
MMC_INTERNAL uint64_t _mmc_os_mem_total_bytes(void);
/* Fault points of MMC_FAULT that other files test (os.c has the rest). */
#define MMC_FAULT_GROW (1u << 11)       /* grow_refused */
#define MMC_FAULT_GROW_MAP (1u << 12)   /* grow_map */
#define MMC_FAULT_COMPACT (1u << 13)    /* compact_fail */
/* Does fault point f (MMC_FAULT_*) fire? */
MMC_INTERNAL bool _mmc_os_fault(unsigned f);
/* Ask the kernel to compact a node now (/sys/devices/system/node/nodeN/compact). 0 or -errno. */
MMC_INTERNAL int _mmc_os_compact_node(unsigned os_index);
/* The machine's physical span, [*start_pfn, *end_pfn): every zone of every node
 * (/proc/zoneinfo). 0 or -errno. */
MMC_INTERNAL int _mmc_os_phys_span(uint64_t *start_pfn, uint64_t *end_pfn);
/* Reserve size bytes of address space aligned to align (PROT_NONE). NULL on failure. */
MMC_INTERNAL void *_mmc_os_reserve(uint64_t size, uint64_t align);
/* Map [offset, offset + len) of fd at addr (MAP_FIXED, shared), prot PROT_*. 0 or -errno. */
MMC_INTERNAL int _mmc_os_map_fixed(void *addr, uint64_t len, int fd, uint64_t offset, int prot);
MMC_INTERNAL void _mmc_os_unmap(void *addr, uint64_t len);
/* Replace a mapping by reserved address space again (PROT_NONE). */
MMC_INTERNAL void _mmc_os_hole(void *addr, uint64_t len);

/* Physical address of a virtual address through pagemap: 0 if no page is present.
 * -EPERM if pagemap hides frame numbers (no CAP_SYS_ADMIN). */
MMC_INTERNAL int _mmc_os_virt_to_phys(const void *va, uint64_t *phys);
/* Close what os.c keeps open between calls (the pagemap fd). */
MMC_INTERNAL void _mmc_os_fini(void);

/* ------------------------------------------------------------------------------------------
 * pool.c: builds a partition's pool
 * ---------------------------------------------------------------------------------------- */
struct mmc_pool {
    bool simulated;             /* no memory behind the views (a simulated partition): the
                                   views are reserved address space that faults if touched */
    uint64_t page_bytes;        /* hugepage size */
    /* The views are addressed by physical address: the frame of PFN x is at
     * view + ((x - span_pfn) << 12), so a hugepage taken later drops into its own place and
     * nothing handed out moves. Between the pool's hugepages the views are holes (PROT_NONE). */
    uint64_t span_pfn;          /* first PFN of the span (a multiple of 1 GiB of frames) */
    uint64_t span_frames;       /* frames of the span (the machine's; a simulated layout's) */
    char *rw;                   /* read-write view (no execute), window_bytes long */
    char *rwx;                  /* read-write-execute view of the same memory */
    uint64_t window_bytes;      /* span_frames * 4096 */
    uint64_t *present;          /* bit k: the hugepage at span_pfn + k * (page_bytes >> 12) is
                                   mapped (set atomically, never cleared while the pool lives:
                                   translation reads it without the partition lock) */
    uint64_t nhugepages;        /* hugepages taken when the pool was built */
    uint64_t *hp_pfn;           /* their PFNs, ascending (the frame database's initial table) */
    uint8_t *hp_node;           /* node number per hugepage */
    uint64_t hugepages_added;   /* hugepages taken since, by growth */
    uint64_t topup[MMC_MAX_NODES]; /* hugepages raised to build and grow it, per node number */
    uint64_t topup_gib[MMC_MAX_NODES]; /* 1 GiB hugepages raised to grow a pool of 2 MiB ones */
    unsigned topup_os[MMC_MAX_NODES]; /* the kernel's index of each of those nodes */
    bool topup_surplus;         /* raised as nr_overcommit_hugepages (2 MiB), else nr_hugepages */
    pid_t owner_pid;            /* the process that raised them: only it gives them back (a
                                   forked child's exit or mmc_fini gives back nothing) */
};

/* The address of PFN pfn in a view (the PFN must lie in the span). */
static inline char *_mmc_pool_va(const struct mmc_pool *p, uint64_t pfn, bool exec)
{
    return (exec ? p->rwx : p->rw) + ((pfn - p->span_pfn) << MMC_FRAME_SHIFT);
}
/* Is the hugepage holding PFN pfn (inside the span) mapped in the views? Lock-free. */
static inline bool _mmc_pool_present(const struct mmc_pool *p, uint64_t pfn)
{
    const uint64_t k = (pfn - p->span_pfn) / (p->page_bytes >> MMC_FRAME_SHIFT);
    return (__atomic_load_n(&p->present[k >> 6], __ATOMIC_ACQUIRE) >> (k & 63)) & 1;
}

/* Build a pool of node_pages[n] hugepages on each node n. 0 or -errno with err filled. */
MMC_INTERNAL int _mmc_pool_build(struct mmc_pool *p, const struct mmc_topology *topo,
                                 const uint64_t *node_pages, uint64_t page_bytes, bool allow_topup,
                                 char *err, size_t errlen);
/* A simulated pool: the given layout (hp_pfn ascending, hp_node per hugepage), views reserved
 * but never backed, so the NT routines and engines run unchanged and nothing may touch the
 * memory. Copies the arrays. 0 or -errno with err filled. */
MMC_INTERNAL int _mmc_pool_simulate(struct mmc_pool *p, uint64_t page_bytes, uint64_t nhugepages,
                                    const uint64_t *hp_pfn, const uint8_t *hp_node, char *err,
                                    size_t errlen);
MMC_INTERNAL void _mmc_pool_destroy(struct mmc_pool *p);
/* Take npages more hugepages of page_bytes (the pool's size, or 1 GiB into a pool of 2 MiB
 * pages) on node number `node` (the kernel's os_index) and map them at their place in both
 * views. *pfn (ascending) and *nodes (malloc'd) name them in the pool's own hugepages:
 * npages * page_bytes / pool page entries. Serialised by the caller (one growth at a time per
 * pool). 0 or -errno with err filled; on failure nothing stays mapped, taken or raised. */
MMC_INTERNAL int _mmc_pool_grow(struct mmc_pool *p, unsigned node, unsigned os_index,
                                uint64_t page_bytes, uint64_t npages, bool allow_topup,
                                uint64_t **pfn, uint8_t **nodes, char *err, size_t errlen);
/* Give back the pool's top-up now (and forget it), memory still mapped: the pages in use are
 * (or become) surplus, which the kernel frees when the last mapping goes. Only in the process
 * that built the pool: in a forked child it does nothing. */
MMC_INTERNAL void _mmc_pool_giveback_topup(struct mmc_pool *p);

/* ------------------------------------------------------------------------------------------
 * load.c: frames in use by the load (movable, standby), placement of scattered frames, trading
 * ---------------------------------------------------------------------------------------- */
struct mmc_load_slot {
    uint64_t frame;             /* frame index it occupies (valid while live and not dropped) */
    uint32_t gen;               /* generation: a handle carries it, a stale handle does not match */
    uint8_t kind;               /* MMC_FRAME_MOVABLE or MMC_FRAME_STANDBY */
    bool live;                  /* allocated and not freed */
    bool dropped;               /* a standby frame whose contents a trade dropped */
};
struct mmc_load {
    struct mmc_load_slot *slots; /* handle index - 1 -> slot */
    uint32_t nslots;            /* slots in use or on the free list */
    uint32_t cap;               /* slots allocated */
    uint32_t *free_slots;       /* stack of free slot indices */
    uint32_t nfree;             /* entries on it */
    uint32_t *frame_slot;       /* per frame, at its hugepage's ordinal (ordinal * hp_frames +
                                   offset): slot index + 1 of the load frame there, 0 none */
    uint64_t frame_slot_cap;    /* ordinals frame_slot has room for (0: no load yet) */
    struct mmc_tab frame_slot_tab; /* what frame_slot points into (growth copies nothing) */
};
/* Room in the load's frame map for the frame database's hp_cap ordinals (the first call
 * creates it). 0 or -ENOMEM (unchanged). Lock held. */
MMC_INTERNAL int _mmc_load_reserve(struct mmc_partition *part);
/* The load's map entry of present frame i (the map must exist). */
#define _mmc_load_slot_of(part, i)                                                                 \
    (&(part)->load.frame_slot[(uint64_t)mmc_frame_ord(&(part)->frames, (i)) * (part)->frames.hp_frames + \
                              ((i) & ((part)->frames.hp_frames - 1))])
/* Take up to `want` free frames of `node` with PFN in [lo_pfn, hi_pfn], outside the frame index
 * range [ex_first, ex_end), by the partition's placement (clustered: already-broken pageblocks
 * first), into state `state`; their frame indices go to out[]. Returns how many. Lock held. */
MMC_INTERNAL uint64_t _mmc_place_frames(struct mmc_partition *part, unsigned node, uint64_t lo_pfn,
                                        uint64_t hi_pfn, uint64_t want, bool clustered,
                                        uint64_t ex_first, uint64_t ex_end, uint8_t state,
                                        uint64_t *out);
/* The slow path: free a window for rq on one node by dropping standby and moving movable
 * frames out of it. 0 and *first (the window, now free), -ENOMEM (no window without pinned
 * frames), or -E2BIG (the cheapest window would move more than max_moves frames: nothing was
 * changed). Lock held. */
MMC_INTERNAL int _mmc_trade_locked(struct mmc_partition *part, const struct mmc_search *rq,
                                   unsigned node, uint64_t max_moves, uint64_t *first);
MMC_INTERNAL void _mmc_load_destroy(struct mmc_load *l);

/* frag.c: U(j) and FI(j) for j = 0..MMC_FRAG_MAX_ORDER from block counts n_k. */
MMC_INTERNAL void _mmc_frag_indices(const uint64_t *blocks, double *unusable, double *fragmentation);

/* ------------------------------------------------------------------------------------------
 * partition.c: global state, partitions, blocks, misuse
 * ---------------------------------------------------------------------------------------- */
struct mmc_block {
    uint64_t first_frame;       /* key; 0 marks an empty slot when frames == 0 */
    uint64_t frames;            /* block length; 0 = empty slot */
    int32_t cache_type;         /* MEMORY_CACHING_TYPE as asked */
    uint32_t protect;           /* PAGE_* as asked */
    uint32_t tag;               /* Ex routine's tag */
};

struct mmc_partition {
    uint32_t magic;             /* MMC_PARTITION_MAGIC while alive */
    pthread_mutex_t grow_lock;  /* one growth at a time (grow.c); taken without `lock` held,
                                   before it, so the kernel's work happens outside `lock` */
    pthread_mutex_t lock;       /* guards everything below */
    bool is_system;             /* the system partition (PartitionObject NULL) */
    struct mmc_config cfg;      /* as created */
    struct mmc_pool pool;       /* memory */
    struct mmc_frames frames;   /* frame database */
    const struct mmc_engine_ops *engine;
    void *engine_state;
    struct mmc_block *blocks;   /* open-addressing table of live contiguous blocks */
    uint64_t blocks_cap;        /* slots, power of two */
    uint64_t blocks_live;       /* used slots */
    struct mmc_stats st;        /* counters (the shape fields are filled on demand) */
    struct mmc_load load;       /* load frames and their handles (load.c) */
    int placement;              /* enum mmc_placement of scattered frames (MDL pages, load) */
    struct mmc_partition *next; /* global list */
};
#define MMC_PARTITION_MAGIC 0x6d6d6370u /* "mmcp" */

/* The global state: the topology, the partitions, the misuse mode. */
struct mmc_global {
    pthread_rwlock_t lock;      /* writers: init, fini, partition create/destroy */
    bool initialised;
    struct mmc_topology *topo;
    struct mmc_partition *system;
    struct mmc_partition *partitions; /* all, system included */
    int on_misuse;              /* enum mmc_misuse_mode */
    uint64_t misuse;            /* misuse detected in this process (atomic) */
};
MMC_INTERNAL extern struct mmc_global _mmc_g;

/* A physical layout for a simulated partition: nhugepages hugepages of page_bytes. */
struct mmc_layout {
    uint64_t page_bytes;        /* hugepage size */
    uint64_t nhugepages;        /* entries in the arrays */
    const uint64_t *hp_pfn;     /* first PFN of each hugepage, strictly ascending */
    const uint8_t *hp_node;     /* node number of each hugepage */
};
/* Create a partition and put it on the list; _mmc_g.lock held for writing. sim NULL: a real
 * pool per cfg; else a simulated pool with sim's layout (cfg gives the engine). */
MMC_INTERNAL int _mmc_partition_create_locked(const struct mmc_config *cfg, bool is_system,
                                              const struct mmc_layout *sim,
                                              struct mmc_partition **out);

/* nt.c: the node of the calling thread's CPU (0 if unknown); _mmc_g.lock held. */
MMC_INTERNAL unsigned _mmc_current_node_locked(void);

/* Initialise from the environment if not done yet. 0 or -errno. */
MMC_INTERNAL int _mmc_ensure_init(void);
/* Forget the thread's last error (a call that may fail starts with it, so that a success
 * leaves none). */
MMC_INTERNAL void _mmc_clear_error(void);
/* Set the thread's last error. */
MMC_INTERNAL void _mmc_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Report a misuse: diagnostic, then abort() or count (process-wide). part may be NULL. */
MMC_INTERNAL void _mmc_misuse(struct mmc_partition *part, const char *routine, const void *addr,
                              const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The partition whose views contain va (read lock on _mmc_g held by caller), or NULL; *exec
 * tells which view. */
MMC_INTERNAL struct mmc_partition *_mmc_partition_of_va_locked(const void *va, bool *exec);
/* Resolve a public handle (NULL: the system partition) for a reader: on success _mmc_g.lock is
 * held for reading (the caller unlocks it); NULL with the last error set otherwise. */
MMC_INTERNAL struct mmc_partition *_mmc_partition_resolve(mmc_partition_t *handle);
/* Validate a PartitionObject: NULL -> system partition. NULL if invalid. Read lock held. */
MMC_INTERNAL struct mmc_partition *_mmc_partition_from_handle_locked(void *handle);

/* Allocate a contiguous block: try each node of node_order[0..nnodes) in turn (one node per
 * search), rq's node_mask ignored. Returns the base address or NULL. */
MMC_INTERNAL void *_mmc_partition_alloc_contig(struct mmc_partition *part, struct mmc_search *rq,
                                               const unsigned *node_order, unsigned nnodes,
                                               bool exec, int cache_type, uint32_t protect,
                                               uint32_t tag);
/* Free a block by base address: misuse is reported. */
MMC_INTERNAL void _mmc_partition_free_contig(const char *routine, void *base);
MMC_INTERNAL int64_t _mmc_block_find(const struct mmc_partition *part, uint64_t first_frame);
/* Home slot of a block's first frame in a table of cap (a power of two) slots. */
MMC_INTERNAL uint64_t _mmc_block_slot(uint64_t key, uint64_t cap);

/* grow.c: nadd hugepages (add_pfn ascending, none in the pool yet, already mapped at their
 * place in the views) enter the frame database, the engine, the blocks and the load, their
 * frames free. Partition lock held. 0, or -ENOMEM / -EEXIST with the partition unchanged. */
MMC_INTERNAL int _mmc_partition_add_hugepages_locked(struct mmc_partition *part, uint64_t nadd,
                                                     const uint64_t *add_pfn, const uint8_t *add_node);
/* The slow path of a contiguous allocation that found no free block on any node of
 * order[0..nnodes): trade load away if that moves fewer frames than growing would cost,
 * else grow the pool from the kernel on the nodes in order (hugepages until one run holds
 * the block, up to a bound), compact each node once and grow again, and at last trade at any
 * price. Partition lock held (released while the kernel works). 0 and *first, or -ENOMEM with
 * the last error saying why. */
MMC_INTERNAL int _mmc_partition_slow_path_locked(struct mmc_partition *part, struct mmc_search *rq,
                                                 const unsigned *order, unsigned nnodes,
                                                 uint64_t *first);
/* Grow the pool by npages hugepages on node number `node` (none of it for a simulated pool or
 * with cfg.grow 0, or past the cap). Partition lock held (released while the kernel works:
 * the frame database may change meanwhile). 0, -EDQUOT (the cap or the reserve), -EOPNOTSUPP,
 * or the kernel's error, with the last error set. */
MMC_INTERNAL int _mmc_partition_grow_locked(struct mmc_partition *part, unsigned node,
                                            uint64_t page_bytes, uint64_t npages);

/* ------------------------------------------------------------------------------------------
 * sim.c: simulated layouts (synthetic or replayed) and simulated partitions
 * ---------------------------------------------------------------------------------------- */

/* A synthetic layout (the fields of struct mmc_sim_config that describe one). */
struct mmc_sim_spec {
    uint64_t pool_bytes;        /* rounded up to whole hugepages */
    uint64_t page_bytes;        /* 2 MiB or 1 GiB */
    double mean_run_hugepages;  /* geometric run lengths of this mean; 0 = one run per node */
    unsigned nnodes;            /* 1..64, <= hugepages */
    int node_split;             /* enum mmc_sim_node_split */
    uint64_t seed;              /* splitmix64 seed */
};
/* Build a synthetic layout: *hp_pfn ascending (malloc'd), *hp_node per hugepage (malloc'd).
 * 0 or -EINVAL / -ENOMEM with the error set. */
MMC_INTERNAL int _mmc_sim_synthetic(const struct mmc_sim_spec *spec, uint64_t **hp_pfn,
                                    uint8_t **hp_node, uint64_t *nhugepages);
/* Read a layout CSV (mmcontig layout --record). 0, or a negative errno with the error set to
 * "file:line: what is wrong". */
MMC_INTERNAL int _mmc_sim_replay(const char *path, uint64_t *page_bytes, uint64_t **hp_pfn,
                                 uint8_t **hp_node, uint64_t *nhugepages);
/* The nodes a search on a simulated partition tries, in order (its node numbers are not the
 * machine's: no distances). Returns how many entries of order[] were filled. */
MMC_INTERNAL unsigned _mmc_sim_node_order(const struct mmc_partition *part, unsigned node,
                                          bool any_node, bool strict, unsigned *order);

#endif /* MMC_INTERNAL_H */
