/* mmcontig/mmcontig.h: the native API of mmcontig.
 *
 * Set-up (mmc_init / mmc_fini), partitions (independent pools, each with its own frame database
 * and search engine), their statistics and physical layout, queries on allocations, node
 * numbers, and the version. The NT routines themselves are in mmcontig/wdm.h; the calls that
 * serve benchmarks and tests (load frames, the aging trace, clearing a partition, switching its
 * engine, reading pagemap) in mmcontig/testing.h.
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

#include "mmcontig/version.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef MMC_API
#define MMC_API __attribute__((visibility("default")))
#endif

#define MMC_MAX_NODES 64        /* node numbers 0..63 */
#define MMC_NAME_MAX 32         /* bytes of an engine name, NUL included */
#define MMC_FRAME_BYTES 4096u   /* one frame */

/* The version of the library the program runs with (the headers' is MMC_VERSION, version.h):
 * MMC_VERSION_CHECK(major, minor, patch) of it, and "MAJOR.MINOR.PATCH". */
MMC_API unsigned mmc_version_number(void);
MMC_API const char *mmc_version(void);

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
    char algo[MMC_NAME_MAX];    /* search engine by name (mmc_engine_name()), default "tree".
                                   Environment: MMC_ALGO */
    enum mmc_misuse_mode on_misuse; /* process-wide (read by mmc_init only). Default
                                   MMC_MISUSE_ABORT. Environment: MMC_ON_MISUSE=abort | warn */
    int allow_topup;            /* 1: when a node's free hugepages are short and the process may
                                   write sysfs, raise its nr_hugepages and give exactly that back
                                   at destroy / mmc_fini; 0: fail instead. Default 1.
                                   Environment: MMC_TOPUP=0 | 1 */
    int grow;                   /* 1: an allocation without FAST_ONLY that finds no free run (and
                                   none to trade) takes more hugepages from the kernel and maps
                                   them into the pool at their physical place; 0: never.
                                   Default 1. Environment: MMC_GROW=0 | 1 */
    uint64_t pool_max_bytes;    /* the most the pool may hold after growing, all nodes; 0 = what
                                   the kernel will give, less a reserve (README, "Configuration").
                                   Environment: MMC_POOL_MAX=4G */
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

/* The last error of this thread, a sentence naming cause and remedy: "" if none, and "" again
 * once an allocation (contiguous or MDL), mmc_init or a partition's creation succeeds (queries
 * and statistics leave it as it is, so it still names a misuse reported before them). */
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
    uint64_t live_movable;          /* load frames: movable, live */
    uint64_t live_standby;          /* load frames: standby, live and not dropped */
    uint64_t trades;                /* contiguous allocations served by trading load away */
    uint64_t frames_moved;          /* movable frames copied elsewhere by trades */
    uint64_t frames_dropped;        /* standby frames dropped by trades */
    uint64_t trade_ns;              /* time spent trading, nanoseconds */
    uint64_t hugepages_added;       /* hugepages (of page_bytes) the slow path added to the pool
                                       since the partition was made, by `grows` growths (a 1 GiB
                                       page taken for a 2 MiB pool counts 512); 0 while the pool
                                       has not grown, always 0 with mmc_config.grow 0 */
    uint64_t grows;                 /* allocations that grew the pool */
    uint64_t grow_failed;           /* growths that could not help (cap, kernel, no adjacent
                                       hugepages within the bound): mmc_last_error() says which */
    uint64_t compactions;           /* times the slow path asked the kernel to compact a node */
    uint64_t grow_ns;               /* time spent growing (taking, faulting, mapping hugepages,
                                       compacting, entering the new frames), nanoseconds */
    uint64_t span_frames;           /* frames of the physical span the views are addressed over
                                       (engine_metadata_bytes / span_frames: index bytes per frame
                                       of span; / pool_frames: per frame of pool) */
    uint64_t pool_max_frames;       /* the cap on the pool's frames: pool_max_bytes; the pool itself
                                       when it may not grow; UINT64_MAX: what the kernel gives,
                                       less the reserve (README) */
    uint64_t state_hash;            /* FNV-1a over the frame database's state, in PFN order: two
                                       frame databases in the same state have the same hash */
    uint64_t engine_metadata_bytes; /* bytes of the search engine's index (beyond the frame
                                       database's own, frames_bytes) */
    uint64_t frames_bytes;          /* bytes of the frame database: per hugepage of the pool its
                                       state (~0.8 byte per frame) and a directory over the span
                                       (12 bytes per GiB of span, 2 KiB per GiB holding any of
                                       the pool) */
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
/* Describe the live contiguous block containing addr. Returns 0, -ENOENT if no live block
 * holds addr, or -EINVAL if info is NULL (mmc_last_error() says which). */
MMC_API int mmc_query(const void *addr, struct mmc_alloc_info *info);

/* MmAllocatePagesForMdlEx from a given partition (NULL: system). Returns a PMDL (struct _MDL *)
 * or NULL, with the Windows rules. */
struct _MDL;
MMC_API struct _MDL *mmc_allocate_pages_for_mdl(mmc_partition_t *part, int64_t low_address,
                                                int64_t high_address, int64_t skip_bytes,
                                                uint64_t total_bytes, int cache_type,
                                                uint32_t flags);

/* ---- search engines ---- */
/* Name of engine i (0-based), or NULL past the last one: the built-in engines first, then the
 * plugins in the order they were loaded (MMC_ENGINE_PLUGIN, mmc_engine_load). */
MMC_API const char *mmc_engine_name(size_t i);
/* An engine's one-line summary (algorithm and placement), or NULL for a name that is no
 * engine. */
MMC_API const char *mmc_engine_summary(const char *name);
/* Load a search engine from a shared object (mmcontig/engine.h, docs/engines.md): it is then
 * chosen by its name (stored in *name if name is not NULL) like the built-in engines. Loading
 * the same object again does nothing.
 * MMC_ENGINE_PLUGIN=path.so[,path.so] loads them from the environment at the first lookup of
 * an engine. 0, or -ENOENT (does not load), -ENOEXEC (no mmc_engine_plugin symbol, or
 * incomplete operations), -EPROTO (another interface version), -EEXIST (its name is taken),
 * -EINVAL (a bad name), -ENOSPC (too many plugins), with mmc_last_error() naming the file,
 * the reason and the remedy. */
MMC_API int mmc_engine_load(const char *path, const char **name);
/* Why MMC_ENGINE_PLUGIN was refused (its first plugin that did not load: the file, the reason,
 * the remedy), or NULL if every plugin it names loaded or it is unset. mmc_init() and
 * mmc_config_init() fail with this message too. */
MMC_API const char *mmc_engine_plugin_error(void);
/* The unit an engine counts its search work in (for example "frames examined" for linear),
 * or NULL for a name that is no engine. */
MMC_API const char *mmc_engine_work_unit(const char *name);
/* The work bound of a FAST_ONLY allocation with this engine, in its unit (0 for a name that is
 * no engine): past it the call fails rather than search on. */
MMC_API uint64_t mmc_engine_fast_only_work(const char *name);
/* The search work of the calling thread's last contiguous allocation (any NT routine or the
 * native API, successful or not): what its partition's engine examined, summed over every
 * node tried, in that engine's unit (mmc_engine_work_unit). A work bound (FAST_ONLY) is a
 * bound on this number. 0 before the thread's first allocation. */
MMC_API uint64_t mmc_last_search_work(void);

/* Node count of the machine (1 before init). */
MMC_API unsigned mmc_node_count(void);

/* Node numbers: mmcontig numbers the machine's nodes with memory 0..n-1 in ascending order of
 * the kernel's node index (N of /sys/devices/system/node/nodeN); a node without memory has no
 * number. On a dense machine the two are equal; on a sparse one (kernel nodes 0 and 2) they are
 * not, and every call of this header and wdm.h that takes a node means mmcontig's number, while
 * mmc_hugepages_* (below) and the kernel's interfaces (numactl, move_pages, sysfs) take the
 * kernel's index.
 * Store the kernel's index of node number i into os_node[i] for i < min(max, n) and return n,
 * the number of nodes (call with max 0 to size the array), or a negative errno with
 * mmc_last_error() naming the cause (-EINVAL: os_node NULL with max > 0). After mmc_init() the
 * topology it discovered is used; before, the one mmc_init() would discover (the live machine,
 * or MMC_TOPOLOGY_XML) is loaded for the call. */
MMC_API int mmc_node_map(int *os_node, size_t max);

/* Print the NUMA topology (nodes, CPUs, memory, hugepages per size, distances, fallback order)
 * of the live machine, or of an hwloc XML file if xml_path is not NULL. 0 or -errno. */
MMC_API int mmc_print_topology(FILE *f, const char *xml_path);

/* ---- the kernel's hugepage counts ----
 * The sysfs accounting a pool's top-up uses, for a program that needs hugepages of its own
 * beside mmcontig's pools (the benchmark's peers: DPDK's hugepages, the kernel allocating
 * one). nr_hugepages is only ever changed by read-modify-write of its persistent pages
 * (nr_hugepages - surplus_hugepages) under the lock every mmcontig process takes for it
 * (/run/mmcontig/hugepages.lock, root's, 0700; waiting times out after MMC_LOCK_TIMEOUT
 * seconds, default 10, naming the holder), so concurrent processes never give back each
 * other's hugepages. Every raise is also written to the process's ledger
 * (/run/mmcontig/pid-PID) until given back: if the process dies first (SIGKILL, abort), the
 * next mmcontig process, or mmc_hugepages_reclaim(), gives it back. None of these needs mmc_init(); changing a count needs root. The MMC_FAULT points
 * of the top-up (topup_denied, hugepages_short, nohugepages, 1g_unavailable) apply to them as
 * to a pool.
 *
 * Common parameters:
 *   os_node     the kernel's node index (N of /sys/devices/system/node/nodeN; not mmcontig's
 *               node number, which counts only the nodes with memory), or -1: the machine-wide
 *               count of /sys/kernel/mm/hugepages (a raise there is spread over the nodes by
 *               the kernel). Below -1: -EINVAL; a node the kernel does not have: -ENOENT.
 *   page_bytes  hugepage size in bytes: 2097152 (2 MiB) or 1073741824 (1 GiB); else -EINVAL.
 * Errors are negative errnos with mmc_last_error() naming cause and remedy. */

/* Read the hugepage counts of a node.
 *   total       out, may be NULL: nr_hugepages (persistent hugepages, in use or free), pages
 *   free_pages  out, may be NULL: free_hugepages (hugepages no one has faulted in), pages
 * Returns 0, -EINVAL (arguments), -ENOENT (no such node, or no hugepages of that size on this
 * kernel) or another -errno of reading sysfs; the outputs are untouched on failure. */
MMC_API int mmc_hugepages_count(int os_node, uint64_t page_bytes, uint64_t *total,
                                uint64_t *free_pages);

/* Make at least `need` hugepages free on a node, under the lock: if free_hugepages is short,
 * nr_hugepages is raised by the shortfall (the pool's top-up, same code and messages).
 *   need        free hugepages wanted, pages; 0: nothing to do
 * Returns the number of hugepages added to nr_hugepages (>= 0; 0 if enough were free): give
 * exactly that back with mmc_hugepages_giveback() once done with them. On failure nothing
 * stays added: -EINVAL (arguments), -ENOENT (no such node or size), -ENOMEM (the kernel found
 * too few; or the raise was refused: not root), or another -errno. */
MMC_API long mmc_hugepages_reserve(int os_node, uint64_t page_bytes, uint64_t need);

/* nr_hugepages += delta on a node, under the lock; a decrease stops at 0.
 *   delta       hugepages to add (> 0: the kernel allocates them) or remove (< 0: the kernel
 *               frees free ones; in-use ones become surplus and go when freed), pages; 0: no
 *               write is made
 *   write_ns    out, may be NULL: nanoseconds (CLOCK_MONOTONIC) of the write(2) to
 *               nr_hugepages alone (the file already open, the number formatted): the time
 *               the kernel took to allocate or free the hugepages; 0 if no write was made. Set
 *               on failure too when the write was made
 * Returns 0 when nr_hugepages moved by exactly delta (or down to 0); on failure nr_hugepages
 * is as it was (what the kernel found of a raise is given back): -EINVAL (arguments),
 * -ENOENT (no such node or size), -EACCES (not root), -ENOMEM (a raise for which the kernel
 * found fewer hugepages), or another -errno. The caller undoes a change with the opposite
 * delta (a relative change, so others' changes in between are kept). */
MMC_API int mmc_hugepages_adjust(int os_node, uint64_t page_bytes, int64_t delta,
                                 uint64_t *write_ns);

/* Give back hugepages mmc_hugepages_reserve() added: nr_hugepages -= added under the lock
 * (stopping at 0).
 *   added       the value mmc_hugepages_reserve() returned, pages; 0: nothing to do
 * Invalid arguments are ignored (mmc_last_error() says so). */
MMC_API void mmc_hugepages_giveback(int os_node, uint64_t page_bytes, uint64_t added);

/* Hold the lock across several calls and what happens between them, so that no mmcontig
 * process changes nr_hugepages meanwhile, e.g. from mmc_hugepages_reserve() until another
 * library has faulted in the hugepages reserved. Waits up to MMC_LOCK_TIMEOUT seconds (10):
 * 0, or -ETIMEDOUT with mmc_last_error() naming the holder's pid (not held then). It nests: the calls above
 * (and a pool's top-up in this thread) take it again inside. Other threads of the process
 * wait for it as other processes do. mmc_hugepages_unlock() releases one level; it must be
 * called from the thread that locked (from another thread it does nothing). */
MMC_API int mmc_hugepages_lock(void);
MMC_API void mmc_hugepages_unlock(void);

/* Give back every raise of nr_hugepages and nr_overcommit_hugepages that processes now dead
 * recorded in their ledgers (/run/mmcontig/pid-PID; a pid is matched with its start time, so a
 * reused pid is not mistaken for the dead one), and delete those ledgers. Any mmcontig process
 * does this when it first takes the lock; this call (`mmcontig reclaim`) does it on demand.
 *   report      may be NULL: one line per raise given back
 * Returns the number of dead processes settled (>= 0), or -ETIMEDOUT / -errno (the lock could
 * not be had; mmc_last_error() names the holder). */
MMC_API long mmc_hugepages_reclaim(FILE *report);

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
    enum mmc_sim_node_split node_split; /* synthetic: how nodes are dealt. Default
                                   MMC_SIM_NODES_BLOCKS */
    uint64_t seed;              /* synthetic: PRNG seed; the same seed gives the same layout
                                   (run lengths, gaps between runs: 1 to 8 hugepages, 0 to 8 if
                                   interleaved; the pool starts near PFN 4 GiB). Default 1 */
    const char *layout_file;    /* non-NULL: replay this layout CSV (header
                                   `base_pfn,frames,node,page_bytes`, then one run per line,
                                   ascending, whole hugepages of one size; blank lines and
                                   lines starting with '#' ignored) and ignore every field above.
                                   Default NULL */
    char algo[MMC_NAME_MAX];    /* search engine (mmc_engine_name()). Default "tree", or
                                   MMC_ALGO from the environment */
};

/* Fill *cfg with the defaults above. Returns 0, or -EINVAL if cfg is NULL or MMC_ALGO names no
 * engine (cfg->algo then stays "tree"; mmc_last_error() says why). */
MMC_API int mmc_sim_config_init(struct mmc_sim_config *cfg);

/* Create a simulated partition (see above). Returns 0 and *out, or a negative errno with
 * mmc_last_error() naming the cause: -EINVAL for a field out of range, an unknown engine or a
 * layout file that does not parse (file:line: what is wrong), -ENOENT / -EACCES... when the
 * file cannot be opened, -ENOMEM when the tables (1 byte per frame plus the engine's index)
 * or the address space cannot be had. */
MMC_API int mmc_partition_create_simulated(const struct mmc_sim_config *cfg, mmc_partition_t **out);

/* ---- fragmentation (the kernel's measures, from the frame database) ---- */
#define MMC_FRAG_MAX_ORDER 18   /* orders 0..18: 4 KiB .. 1 GiB blocks */

/* Free memory cut as a buddy allocator would hold it: each free stretch (maximal free frames
 * inside one run) split from its start into the largest PFN-aligned power-of-two blocks. */
struct mmc_frag {
    uint64_t free_frames;       /* F: free frames measured */
    uint64_t blocks[MMC_FRAG_MAX_ORDER + 1]; /* n_k: free aligned blocks of order k */
    double unusable[MMC_FRAG_MAX_ORDER + 1]; /* U(j) = (F - S_j 2^j) / F, the kernel's unusable
                                   free space index; 1 when F = 0 */
    double fragmentation[MMC_FRAG_MAX_ORDER + 1]; /* FI(j) = 1 - (1 + F/2^j) / B when no block of
                                   order >= j is free; -1 when one is (the kernel's -1000) */
    uint64_t largest_free_frames; /* longest free stretch */
    uint64_t free_stretches;    /* number of free stretches */
    uint64_t stretch_histogram[64]; /* free stretches with floor(log2(length in frames)) = i */
    double coverage[4];         /* share of free frames in the largest 32, 64, 128, 256 stretches */
};
/* Measure node `node` (-1: all nodes) of a partition (NULL: system). O(frames). 0 or -errno. */
MMC_API int mmc_partition_frag(mmc_partition_t *part, int node, struct mmc_frag *out);
/* The same formulas over block counts from elsewhere (a /proc/buddyinfo line: blocks[k] = free
 * blocks of order k, orders above the kernel's 10 left 0): fills out->free_frames, blocks,
 * unusable and fragmentation; the stretch fields are left 0. The one home of the formulas, so
 * that the benchmark and its report give the kernel's numbers as the library computes them. */
MMC_API void mmc_frag_from_blocks(const uint64_t blocks[MMC_FRAG_MAX_ORDER + 1], struct mmc_frag *out);
/* One /proc/buddyinfo-format line per node ("Node 0, zone mmcontig n_0 ... n_10"), orders
 * above 10 counted as order-10 blocks, so other tools' scripts can read it. 0 or -errno. */
MMC_API int mmc_partition_print_buddyinfo(mmc_partition_t *part, FILE *f);

/* ---- placement ----
 * Where scattered frames (MDL pages, load frames) go. */
enum mmc_placement {
    MMC_PLACE_PLAIN = 0,        /* the lowest free frames first (default) */
    MMC_PLACE_CLUSTERED = 1,    /* packed into the 2 MiB pageblocks that already hold the most
                                   MDL and load frames, apart from those contiguous blocks use,
                                   as Linux groups pages by migrate type;
                                   MM_ALLOCATE_PREFER_CONTIGUOUS asks for it */
};
/* Set a partition's placement policy (NULL: system). 0 or -EINVAL. */
MMC_API int mmc_partition_set_placement(mmc_partition_t *part, enum mmc_placement placement);

#ifdef __cplusplus
}
#endif

#endif /* MMCONTIG_MMCONTIG_H */
