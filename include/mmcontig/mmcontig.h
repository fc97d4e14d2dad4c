/* mmcontig/mmcontig.h: the native API of mmcontig.
 *
 * Set-up (mmc_init / mmc_fini), partitions (independent pools, each with its own frame database
 * and search engine), their statistics and physical layout, and queries on allocations. The NT
 * routines themselves are in mmcontig/wdm.h.
 *
 * Vocabulary: a frame is one 4 KiB physical page, named by its PFN (physical address >> 12); a
 * hugepage is the kernel's 2 MiB or 1 GiB page the pool is built from; a run is a maximal set of
 * physically adjacent frames on one node; the pool is the hugepages one partition holds.
 *
 * Errors: functions returning int give 0 on success or a negative errno; mmc_last_error() then
 * holds a sentence naming the cause and the remedy.
 */
#ifndef MMCONTIG_MMCONTIG_H
#define MMCONTIG_MMCONTIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef MMC_API
#define MMC_API __attribute__((visibility("default")))
#endif

#define MMC_MAX_NODES 64        /* node numbers 0..63 */
#define MMC_NAME_MAX 32         /* bytes of an engine name, NUL included */
#define MMC_FRAME_BYTES 4096u   /* one frame */

/* What a detected misuse (bad free, double free, foreign pointer) does. */
enum mmc_misuse_mode {
    MMC_MISUSE_ABORT = 0,       /* diagnostic on stderr, then abort() (default) */
    MMC_MISUSE_WARN = 1,        /* diagnostic on stderr, counted, the call is ignored */
};

/* Configuration of mmc_init() and of each partition. Fill it with mmc_config_init(). */
struct mmc_config {
    uint64_t pool_bytes;        /* whole pool, split evenly over the nodes, rounded up to whole
                                   hugepages per node; 0 = 256 MiB per node. Default 0.
                                   Environment: MMC_POOL=512M | 8G */
    uint64_t node_pool_bytes[MMC_MAX_NODES]; /* bytes per node number; if any entry is non-zero
                                   these replace pool_bytes (a node with 0 gets no pool).
                                   Environment: MMC_POOL=0:4G,1:4G */
    uint64_t page_bytes;        /* hugepage size: 2 MiB (default) or 1 GiB. Environment:
                                   MMC_PAGE=2M | 1G */
    char algo[MMC_NAME_MAX];    /* search engine by name (mmc_engine_name()), default "linear".
                                   Environment: MMC_ALGO */
    int on_misuse;              /* enum mmc_misuse_mode, process-wide (read by mmc_init only).
                                   Environment: MMC_ON_MISUSE=abort | warn */
    int allow_topup;            /* 1: when a node's free hugepages are short and the process may
                                   write sysfs, raise its nr_hugepages and give exactly that back
                                   at destroy / mmc_fini; 0: fail instead. Default 1.
                                   Environment: MMC_TOPUP=0 | 1 */
};

/* Fill *cfg with the defaults, then apply the MMC_* environment variables. Returns 0, or
 * -EINVAL if a variable does not parse (cfg then holds the defaults for it). */
MMC_API int mmc_config_init(struct mmc_config *cfg);

/* Discover the topology and build the system partition. cfg NULL: mmc_config_init() values.
 * Returns 0, -EALREADY if already initialised, or a negative errno (mmc_last_error() says why:
 * too few hugepages on a node and the command that fixes it, no CAP_SYS_ADMIN for pagemap...).
 * The first NT routine called without mmc_init() initialises from the environment. */
MMC_API int mmc_init(const struct mmc_config *cfg);

/* Destroy every partition (live allocations are reported and released), give back every
 * hugepage the pool added to nr_hugepages. mmc_init() may be called again afterwards. */
MMC_API void mmc_fini(void);

/* The last error of this thread, a sentence naming cause and remedy ("" if none). */
MMC_API const char *mmc_last_error(void);

/* ---- partitions ---- */
typedef struct mmc_partition mmc_partition_t;

/* Create an independent pool with its own frame database and search engine. cfg NULL: the
 * defaults and environment. The handle is what MmAllocateContiguousMemoryEx takes as its
 * PartitionObject. Returns 0 and *out, or a negative errno. Requires mmc_init() (done
 * implicitly if needed). */
MMC_API int mmc_partition_create(const struct mmc_config *cfg, mmc_partition_t **out);

/* Destroy a partition made by mmc_partition_create(): live allocations are reported on stderr
 * and released, the hugepages given back. The system partition cannot be destroyed (misuse). */
MMC_API void mmc_partition_destroy(mmc_partition_t *part);

/* The system partition (PartitionObject NULL), initialising if needed; NULL if that fails. */
MMC_API mmc_partition_t *mmc_system_partition(void);

/* Counters and shape of a partition at one moment. */
struct mmc_stats {
    uint64_t page_bytes;            /* hugepage size of the pool */
    uint64_t hugepages;             /* hugepages in the pool */
    uint64_t pool_frames;           /* frames in the pool */
    uint64_t free_frames;           /* frames free now */
    uint64_t runs;                  /* runs (maximal physically adjacent frames on one node) */
    uint64_t largest_run_frames;    /* longest run, free or not */
    uint64_t largest_free_frames;   /* longest stretch of free frames inside one run */
    uint64_t live_blocks;           /* contiguous blocks allocated and not freed */
    uint64_t live_mdl_frames;       /* frames held by MDLs */
    uint64_t contiguous_ok;         /* contiguous allocations that succeeded */
    uint64_t contiguous_failed;     /* ... that found no run (invalid arguments not counted) */
    uint64_t mdl_calls;             /* MDL allocations attempted with valid arguments */
    uint64_t frees;                 /* blocks freed */
    uint64_t misuse;                /* misuse detected in this process since mmc_init, any
                                       partition (only > 0 under MMC_MISUSE_WARN) */
    uint64_t topup_hugepages;       /* hugepages this partition added to nr_hugepages */
    uint64_t node_free_frames[MMC_MAX_NODES]; /* free frames per node number */
    unsigned nnodes;                /* nodes of the machine (entries of node_free_frames used) */
    char algo[MMC_NAME_MAX];        /* search engine */
};
/* part NULL: the system partition. Returns 0 or a negative errno. */
MMC_API int mmc_partition_stats(mmc_partition_t *part, struct mmc_stats *st);

/* One run of the pool. */
struct mmc_run_info {
    uint64_t base_pfn;              /* first frame's PFN */
    uint64_t frames;                /* length in frames */
    uint64_t free_frames;           /* how many of them are free now */
    unsigned node;                  /* node number */
    void *va;                       /* its address in the partition's read-write view */
};
/* Copy up to max runs (ascending PFN) into runs[]; returns the number of runs the pool has
 * (call with max 0 to size the array), or a negative errno. part NULL: system partition. */
MMC_API long mmc_partition_runs(mmc_partition_t *part, struct mmc_run_info *runs, size_t max);

/* Print the pool's layout (hugepages per node, runs with PFN ranges and nodes) to f. */
MMC_API int mmc_partition_print_layout(mmc_partition_t *part, FILE *f);

/* ---- allocations ---- */
struct mmc_alloc_info {
    void *base;                 /* the block's base address as returned */
    uint64_t bytes;             /* its size, whole frames */
    uint64_t base_phys;         /* physical address of base */
    unsigned node;              /* node number of its frames */
    int cache_type;             /* MEMORY_CACHING_TYPE asked for (recorded; memory is write-back) */
    uint32_t protect;           /* PAGE_* protection asked for */
    uint32_t tag;               /* pool tag given to the Ex routine (0 for the other routines) */
    int executable;             /* 1 if mapped in the executable view */
    mmc_partition_t *partition; /* owner */
};
/* Describe the live contiguous block containing addr. Returns 0, or -ENOENT. */
MMC_API int mmc_query(const void *addr, struct mmc_alloc_info *info);

/* MmAllocatePagesForMdlEx from a given partition (NULL: system). Returns a PMDL (struct _MDL *)
 * or NULL, with the Windows rules. */
struct _MDL;
MMC_API struct _MDL *mmc_allocate_pages_for_mdl(mmc_partition_t *part, int64_t low_address,
                                                int64_t high_address, int64_t skip_bytes,
                                                uint64_t total_bytes, int cache_type,
                                                uint32_t flags);

/* ---- search engines ---- */
/* Name of engine i (0-based), or NULL past the last one. */
MMC_API const char *mmc_engine_name(size_t i);

/* Node count of the machine (1 before init). */
MMC_API unsigned mmc_node_count(void);

/* Print the NUMA topology (nodes, CPUs, memory, hugepages per size, distances, fallback order)
 * of the live machine, or of an hwloc XML file if xml_path is not NULL. 0 or -errno. */
MMC_API int mmc_print_topology(FILE *f, const char *xml_path);

/* ---- simulated partitions ----
 * A frame database and a search engine over a physical layout with no memory behind it: a
 * recorded lab server's layout (mmcontig layout --record FILE) or a synthetic one, at any size
 * (1 TiB and more), on any machine. Needs neither hugepages, nor root, nor mmc_init(). The
 * handle is a PartitionObject like any other: MmAllocateContiguousMemoryEx searches it,
 * MmFreeContiguousMemory frees, MmGetPhysicalAddress returns the simulated physical address,
 * mmc_partition_stats / runs / print_layout describe it. The returned addresses lie in
 * reserved address space that faults when touched: never read or write them. Node numbers are
 * the layout's own (0..63, whatever the machine has); a search for any node tries the
 * preferred node (0 for MM_ANY_NODE_OK) first, then the others by ascending number.
 * mmc_partition_destroy() or mmc_fini() releases it. */

/* How a synthetic layout deals its hugepages to nodes. */
enum mmc_sim_node_split {
    MMC_SIM_NODES_BLOCKS = 0,       /* contiguous PFN blocks, node 0 lowest (as real machines
                                       are); a run never spans two nodes */
    MMC_SIM_NODES_INTERLEAVED = 1,  /* runs dealt round-robin; a run may be physically adjacent
                                       to the next node's, which is still a separate run */
};

/* A simulated layout. Fill it with mmc_sim_config_init(), then change what you need. */
struct mmc_sim_config {
    uint64_t pool_bytes;        /* synthetic: pool size, rounded up to whole hugepages.
                                   Default 1 GiB */
    uint64_t page_bytes;        /* synthetic: hugepage size, 2 MiB or 1 GiB. Default 2 MiB */
    double mean_run_hugepages;  /* synthetic: mean run length in hugepages (lengths are
                                   geometric: each hugepage continues the run with probability
                                   1 - 1/mean; 1 = every hugepage alone); 0 = one run per node
                                   (all contiguous). Default 0 */
    unsigned nnodes;            /* synthetic: node numbers 0..nnodes-1, 1..64, at most one per
                                   hugepage. Default 1 */
    int node_split;             /* synthetic: enum mmc_sim_node_split. Default
                                   MMC_SIM_NODES_BLOCKS */
    uint64_t seed;              /* synthetic: PRNG seed; the same seed gives the same layout
                                   (run lengths, gaps between runs: 1 to 8 hugepages, 0 to 8 if
                                   interleaved; the pool starts near PFN 4 GiB). Default 1 */
    const char *layout_file;    /* non-NULL: replay this layout CSV (header
                                   `base_pfn,frames,node,page_bytes`, then one run per line,
                                   ascending, whole hugepages of one size; blank lines and
                                   lines starting with '#' ignored) and ignore every field above.
                                   Default NULL */
    char algo[MMC_NAME_MAX];    /* search engine (mmc_engine_name()). Default "linear", or
                                   MMC_ALGO from the environment */
};

/* Fill *cfg with the defaults above. Returns 0, or -EINVAL if cfg is NULL or MMC_ALGO names no
 * engine (cfg->algo then stays "linear"; mmc_last_error() says why). */
MMC_API int mmc_sim_config_init(struct mmc_sim_config *cfg);

/* Create a simulated partition (see above). Returns 0 and *out, or a negative errno with
 * mmc_last_error() naming the cause: -EINVAL for a field out of range, an unknown engine or a
 * layout file that does not parse (file:line: what is wrong), -ENOENT / -EACCES... when the
 * file cannot be opened, -ENOMEM when the tables (1 byte per frame plus the engine's index)
 * or the address space cannot be had. */
MMC_API int mmc_partition_create_simulated(const struct mmc_sim_config *cfg, mmc_partition_t **out);

#ifdef __cplusplus
}
#endif

#endif /* MMCONTIG_MMCONTIG_H */
