/* alloc/partition.h: a partition and the global state (partition.c), its nodes (nodes.c), its
 * configuration (config.c): the layer every routine stands on. */
#ifndef MMC_PARTITION_H
#define MMC_PARTITION_H

#include "pool.h"
#include "search.h"

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

/* config.c: check a partition configuration (fn names the caller in the error); the hugepages
 * a real pool takes on each node of topo. 0 or -errno with the last error set. */
MMC_INTERNAL int _mmc_config_check(const struct mmc_config *cfg, const char *fn);
MMC_INTERNAL int _mmc_config_node_pages(const struct mmc_config *cfg, const struct mmc_topology *topo,
                                        uint64_t *node_pages);

#endif /* MMC_PARTITION_H */
