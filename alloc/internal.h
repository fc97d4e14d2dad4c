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
#include "mmcontig/testing.h"
#include "topology.h"
#include "error.h"
#include "lock.h"

#define MMC_INTERNAL __attribute__((visibility("hidden")))
/* Exported from libmmcontig for the mmcontig program's check-engine (tests/engine_check.c,
 * which links the shared library): no installed header declares these, they are no public
 * interface and may change with any commit. */
#define MMC_TOOL __attribute__((visibility("default")))

#define MMC_FRAME_SHIFT 12
/* The engine a partition searches with when nothing names one: the fastest on constrained
 * requests in the benchmark (README, "Search engines"); linear stays the reference by name. */
#define MMC_DEFAULT_ENGINE "tree"
#define MMC_MIB (1024ull * 1024)
#define MMC_GIB (1024ull * MMC_MIB)

/* ------------------------------------------------------------------------------------------
 * frames.c: the frame database
 *
 * Its layout, its read accessors and the engine interface are public: mmcontig/engine.h says
 * what the database holds (frames indexed over the physical span, per-hugepage tables at
 * append-only ordinals under a two-level directory, bit planes, sorted runs). Here: what only
 * the library calls. The database costs ~0.8 byte per frame of pool plus 8 bytes per section
 * of span (1 GiB of 2 MiB hugepages) and 2 KiB per section that holds any of the pool
 * (frames.c's header). Taking or giving n frames is O(n / 64) word operations, plus
 * O(n / 512) for the pageblock counters and O(1) for the free counters; a hugepage that enters
 * the pool extends, joins or starts a run (_mmc_frames_add).
 * ---------------------------------------------------------------------------------------- */
#include "mmcontig/engine.h"

/* A database over the span [base_pfn, base_pfn + span_frames) (base_pfn and span_frames
 * multiples of hp_frames >= 512, span_frames <= MMC_SPAN_MAX_FRAMES) holding nhugepages hugepages (hp_pfn[] ascending, multiples
 * of hp_frames, inside the span), ordinals in that order. Copies the arrays. All frames start
 * free. Returns 0 or -ENOMEM / -EINVAL. */
MMC_TOOL int _mmc_frames_init(struct mmc_frames *f, uint64_t base_pfn, uint64_t span_frames,
                              uint64_t hp_frames, uint64_t nhugepages, const uint64_t *hp_pfn,
                              const uint8_t *hp_node);
MMC_TOOL void _mmc_frames_destroy(struct mmc_frames *f);
/* Growth, in two steps so that nothing fails half-way. _mmc_frames_reserve: room for nadd
 * more hugepages (add_pfn ascending, inside the span, none present; add_node their nodes, as
 * _mmc_frames_add will be given them): the per-ordinal tables,
 * the directory's sections, the runs; nothing visible changes. 0, -ENOMEM, -EINVAL (outside
 * the span, not ascending) or -EEXIST (present already). _mmc_frames_add, after a successful
 * reserve of the same hugepages: they become present and free, ordinals nhugepages,
 * nhugepages + 1, ... in add_pfn's order (new sections likewise); their runs are extended,
 * joined or started; cannot fail. O(nadd * hp_frames / 64 + runs). After a reserve, hp_cap >=
 * nhugepages + nadd and sec_cap >= the sections there will be. */
MMC_TOOL int _mmc_frames_reserve(struct mmc_frames *f, uint64_t nadd, const uint64_t *add_pfn,
                                 const uint8_t *add_node);
MMC_TOOL void _mmc_frames_add(struct mmc_frames *f, uint64_t nadd, const uint64_t *add_pfn,
                              const uint8_t *add_node);
/* Frame index of a PFN, or -1 if the PFN is not present. O(1). */
MMC_INTERNAL int64_t _mmc_frames_index_of_pfn(const struct mmc_frames *f, uint64_t pfn);
/* Set [first, first + n) (present frames) to state (enum mmc_frame_state) and keep every
 * counter: O(n / 64 + n / 512 + 1) word operations whatever the frames' states were.
 * CONTIG | HEAD [| EXEC]: the range becomes one block (its frames were free); FREE | HEAD:
 * the block at first is freed whole. Those two read no plane (the caller vouches for the old
 * state; -Ddebug_checks=expensive verifies it). */
MMC_TOOL void _mmc_frames_set(struct mmc_frames *f, uint64_t first, uint64_t n, uint8_t state);
/* Recount every invariant of the database (frames.c's header) from its planes: the directory,
 * the plane invariants, every counter, the runs. true, or false after naming the first
 * difference on stderr. O(present frames / 64 + runs). The expensive checks call it after
 * every change (-Ddebug_checks=expensive). */
MMC_TOOL bool _mmc_frames_verify(const struct mmc_frames *f);
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

/* ------------------------------------------------------------------------------------------
 * search/: the search engines, one file each, behind one interface (search/engines.c)
 * ---------------------------------------------------------------------------------------- */

/* struct mmc_search, struct mmc_engine_ops, their rules and the reference predicate
 * (mmc_search_fits): mmcontig/engine.h. */

/* engines.c */
MMC_TOOL const struct mmc_engine_ops *_mmc_engine_lookup(const char *name);
MMC_INTERNAL extern const struct mmc_engine_ops *const _mmc_engines[];
/* checked.c: create engine e over f; *ops and *state are what the partition calls: e itself
 * when the checks are off, else a shim that checks the interface's contract around e. */
MMC_INTERNAL int _mmc_engine_open(const struct mmc_engine_ops *e, const struct mmc_frames *f,
                                  const struct mmc_engine_ops **ops, void **state);
/* A built-in engine by name (no plugin), or NULL. */
MMC_INTERNAL const struct mmc_engine_ops *_mmc_engine_lookup_builtin(const char *name);
/* Load the engines MMC_ENGINE_PLUGIN names, once per process (every lookup calls it). 0, or
 * the first refusal's -errno with its message kept for mmc_engine_plugin_error(). */
MMC_INTERNAL int _mmc_engine_plugins_from_env(void);

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
/* The counts behind the public mmc_hugepages_* calls (hugepages.c), as those calls document
 * them; arguments already checked; on failure err names the cause and the remedy. */
MMC_INTERNAL int _mmc_os_hugepages_count(int os_node, uint64_t page_bytes, uint64_t *total,
                                         uint64_t *free_pages, char *err, size_t errlen);
MMC_INTERNAL long _mmc_os_hugepages_reserve(int os_node, uint64_t page_bytes, uint64_t need,
                                            char *err, size_t errlen);
MMC_INTERNAL int _mmc_os_hugepages_adjust(int os_node, uint64_t page_bytes, int64_t delta,
                                          uint64_t *write_ns, char *err, size_t errlen);
MMC_INTERNAL int _mmc_os_hugepages_lock(char *err, size_t errlen);
MMC_INTERNAL void _mmc_os_hugepages_unlock(void);
MMC_INTERNAL long _mmc_os_hugepages_reclaim(FILE *report, char *err, size_t errlen);

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
/* PFNs of the n frames from the one holding va, through pagemap (the shared descriptor):
 * pfn[i] = 0 where no page is present. 0, -EPERM if pagemap hides frame numbers, or -errno. */
MMC_INTERNAL int _mmc_os_pagemap_pfns(const void *va, uint64_t n, uint64_t *pfn);
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
    uint8_t *slot_node;         /* per hugepage slot: its node number, written before its present
                                   bit is set (so a free finds the node lock to take without any
                                   lock: _mmc_pool_node) */
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

/* The node number of the present hugepage holding PFN pfn (inside the span), or -1 if it is
 * not present. Lock-free. */
static inline int _mmc_pool_node(const struct mmc_pool *p, uint64_t pfn)
{
    if (!_mmc_pool_present(p, pfn))
        return -1;
    return p->slot_node[(pfn - p->span_pfn) / (p->page_bytes >> MMC_FRAME_SHIFT)];
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

/* config.c: check a partition configuration (fn names the caller in the error); the hugepages
 * a real pool takes on each node of topo. 0 or -errno with the last error set. */
MMC_INTERNAL int _mmc_config_check(const struct mmc_config *cfg, const char *fn);
MMC_INTERNAL int _mmc_config_node_pages(const struct mmc_config *cfg, const struct mmc_topology *topo,
                                        uint64_t *node_pages);

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

/* An open-addressing table of live contiguous blocks keyed by first frame (one per node). */
struct mmc_block_table {
    struct mmc_block *blocks;
    uint64_t cap;               /* slots, power of two (0: none yet) */
    uint64_t live;              /* used slots */
};

/* What a contiguous allocation or free on one node writes: its own lock, block table and
 * counters, on cache lines of their own, so that threads on different nodes share none. */
struct mmc_node_part {
    struct mmc_mutex lock;      /* guards this node's frames in the frame database and the
                                   engine's index of them, and the fields below */
    struct mmc_block_table bt;  /* this node's live blocks */
    uint64_t contiguous_ok, contiguous_failed, frees; /* added to mmc_stats */
} __attribute__((aligned(64)));

/* Locking (docs/ARCHITECTURE.md, "Locking"): `lock` is the partition lock, and whoever holds it
 * holds every node lock too (_mmc_partition_lock: `lock`, then node[0 .. nlocks) ascending).
 * A contiguous allocation or free of a node-parallel engine takes only node[n].lock for the
 * node n it searches or frees on (never two at once, never `lock` after one); everything else
 * takes the partition lock. */
struct mmc_partition {
    uint32_t magic;             /* MMC_PARTITION_MAGIC while alive */
    struct mmc_mutex grow_lock; /* one growth at a time (grow.c); taken without `lock` held,
                                   before it, so the kernel's work happens outside `lock` */
    struct mmc_mutex lock;      /* the partition lock: with every node lock, guards everything
                                   below (held: _mmc_mutex_held) */
    unsigned nlocks;            /* node locks: the nodes this partition may ever have */
    bool node_parallel;         /* the engine keeps each node's index apart (built-in engines
                                   but tlsf): contiguous calls take node locks alone */
    bool is_system;             /* the system partition (PartitionObject NULL) */
    struct mmc_config cfg;      /* as created */
    struct mmc_pool pool;       /* memory */
    struct mmc_frames frames;   /* frame database */
    const struct mmc_engine_ops *engine;
    void *engine_state;
    struct mmc_stats st;        /* counters (the shape fields are filled on demand) */
    struct mmc_load load;       /* load frames and their handles (load.c) */
    int placement;              /* enum mmc_placement of scattered frames (MDL pages, load) */
    struct mmc_partition *next; /* global list */
    struct mmc_node_part node[MMC_MAX_NODES];
};
#define MMC_PARTITION_MAGIC 0x6d6d6370u /* "mmcp" */

/* The global state: the topology, the partitions, the misuse mode. */
struct mmc_global {
    /* Guarded by the global lock (lock.h: _mmc_read_enter, _mmc_write_lock): writers are
     * init, fini and partition create / destroy. */
    bool initialised;
    struct mmc_topology *topo;
    struct mmc_partition *system;
    struct mmc_partition *partitions; /* all, system included */
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

/* nodes.c: the nodes of a partition, whatever its kind (a real partition has the machine's,
 * a simulated one its own numbers, no CPUs, no distances); _mmc_g.lock held.
 *   _mmc_partition_nnodes      how many (node numbers 0..n-1)
 *   _mmc_partition_here        the calling thread's node: its CPU's (0 if unknown; 0 if simulated)
 *   _mmc_partition_node_order  the nodes to try from `from`, filled into order[]: strict, only
 *                              `from`; else `from`, then the others nearest first by the distance
 *                              matrix (simulated: by ascending number). Returns how many.
 *   _mmc_partition_os_node     the kernel's number of a node (-1: simulated, or no such node) */
MMC_INTERNAL unsigned _mmc_partition_nnodes(const struct mmc_partition *part);
MMC_INTERNAL unsigned _mmc_partition_here(const struct mmc_partition *part);
MMC_INTERNAL unsigned _mmc_partition_node_order(const struct mmc_partition *part, unsigned from,
                                                bool strict, unsigned *order);
MMC_INTERNAL int _mmc_partition_os_node(const struct mmc_partition *part, unsigned node);

/* Initialise from the environment if not done yet. 0 or -errno. */
MMC_INTERNAL int _mmc_ensure_init(void);
/* The partition whose views contain va (read lock on _mmc_g held by caller), or NULL; *exec
 * tells which view. */
MMC_INTERNAL struct mmc_partition *_mmc_partition_of_va_locked(const void *va, bool *exec);
/* Resolve a public handle (NULL: the system partition) for a reader: on success _mmc_g.lock is
 * held for reading (the caller unlocks it); NULL with the last error set otherwise. */
MMC_INTERNAL struct mmc_partition *_mmc_partition_resolve(mmc_partition_t *handle);
/* Validate a PartitionObject: NULL -> system partition. NULL if invalid. Read lock held. */
MMC_INTERNAL struct mmc_partition *_mmc_partition_from_handle_locked(void *handle);

/* rq->max_work of a FAST_ONLY call: the engine's own bound (fast_only_work), read by
 * contig.c under the lock it searches under. */
#define MMC_WORK_ENGINE_BOUND UINT64_MAX
/* contig.c: allocate a contiguous block: try each node of node_order[0..nnodes) in turn (one node per
 * search), rq's node_mask ignored. Returns the base address or NULL. */
MMC_INTERNAL void *_mmc_partition_alloc_contig(struct mmc_partition *part, struct mmc_search *rq,
                                               const unsigned *node_order, unsigned nnodes,
                                               bool exec, int cache_type, uint32_t protect,
                                               uint32_t tag);
/* contig.c: free a block by base address: misuse is reported. */
MMC_INTERNAL void _mmc_partition_free_contig(const char *routine, void *base);
/* The slot of the block whose first frame is first_frame in a node's table, or -1. Insert b
 * (0, or -ENOMEM when the table cannot grow) and remove the block of slot i. */
MMC_INTERNAL int64_t _mmc_block_find(const struct mmc_block_table *bt, uint64_t first_frame);
MMC_INTERNAL int _mmc_block_insert(struct mmc_block_table *bt, const struct mmc_block *b);
MMC_INTERNAL void _mmc_block_remove(struct mmc_block_table *bt, uint64_t i);
/* Why the partition's pool may never grow (a simulated partition, MMC_GROW=0), or
 * NULL if it may. */
MMC_INTERNAL const char *_mmc_partition_no_growth(const struct mmc_partition *part);
/* Live contiguous blocks of the partition (partition lock held). */
MMC_TOOL uint64_t _mmc_partition_live_blocks(const struct mmc_partition *part);
/* The partition lock (every node lock with it) and its release. */
MMC_INTERNAL void _mmc_partition_lock(struct mmc_partition *part);
MMC_INTERNAL void _mmc_partition_unlock(struct mmc_partition *part);
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
MMC_TOOL int _mmc_sim_synthetic(const struct mmc_sim_spec *spec, uint64_t **hp_pfn,
                                uint8_t **hp_node, uint64_t *nhugepages);
/* Read a layout CSV (mmcontig layout --record). 0, or a negative errno with the error set to
 * "file:line: what is wrong". */
MMC_INTERNAL int _mmc_sim_replay(const char *path, uint64_t *page_bytes, uint64_t **hp_pfn,
                                 uint8_t **hp_node, uint64_t *nhugepages);

#endif /* MMC_INTERNAL_H */
