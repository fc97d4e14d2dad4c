/* mmcontig/testing.h: the calls that serve benchmarks and tests of mmcontig (installed, so
 * that outside benchmarks and engine plug-ins' tests can use them too).
 *
 * A driver developer needs mmcontig.h and wdm.h only. This header adds what a benchmark or a
 * test needs to set a partition up and look at it from outside: releasing everything at once
 * and switching engines on the same state; load frames (pages in use by something other than
 * the allocations under test, which trades move or drop); the aging trace, a seeded replayable
 * workload that fragments a partition; and the kernel's pagemap, read independently of the
 * frame database, to check what the library reports. Same error rules as mmcontig.h.
 */
#ifndef MMCONTIG_TESTING_H
#define MMCONTIG_TESTING_H

#include <stddef.h>
#include <stdint.h>

#include "mmcontig/mmcontig.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- partitions ---- */
/* Release every allocation of a partition at once (contiguous blocks, MDL pages, load frames),
 * silently: for benchmarks that age a partition and start again. Blocks, MDLs and load handles
 * of it are invalid afterwards (using them is misuse). Returns the frames released, or -errno. */
MMC_API long mmc_partition_clear(mmc_partition_t *part);

/* Search the partition with another engine from now on: its index is built over the frame
 * database as it is (O(frames / 64)), every allocation stays valid. For benchmarks that compare
 * engines on the very same pool and state. 0, or -EINVAL (no such engine) / -ENOMEM with the
 * old engine kept. */
MMC_API int mmc_partition_set_engine(mmc_partition_t *part, const char *algo);

/* ---- load: frames in use by something other than the allocations under test ---- */
/* A load frame's handle: its owner never holds an address, because a trade may move it. */
typedef uint64_t mmc_load_t;
/* What a load frame stands for. Its own values, not the frame states of engine.h (a load frame
 * is MMC_FRAME_MOVABLE or MMC_FRAME_STANDBY in the frame database, which may change apart). */
enum mmc_load_kind {
    MMC_LOAD_MOVABLE = 1,       /* in use, contents kept, may be moved (a working-set page) */
    MMC_LOAD_STANDBY = 2,       /* cached contents that may be dropped (the standby list) */
};
/* Take `count` frames of `kind` (on node `node`, -1: any, nearest first) by the partition's
 * placement, one handle each into out[]. Returns how many were taken (may be fewer when the
 * pool is short), or a negative errno. The frames are not zeroed. */
MMC_API long mmc_load_alloc(mmc_partition_t *part, enum mmc_load_kind kind, int node, size_t count,
                           mmc_load_t *out);
/* Free load frames. A stale handle (freed already) is misuse. 0 or -errno. */
MMC_API int mmc_load_free(mmc_partition_t *part, const mmc_load_t *handles, size_t count);
/* Copy len bytes at off (off + len <= 4096) out of / into a load frame, wherever it is now.
 * 0; -ENODATA for a standby frame a trade dropped; -EOPNOTSUPP on a simulated partition;
 * misuse for a stale handle. */
MMC_API int mmc_load_read(mmc_partition_t *part, mmc_load_t h, size_t off, void *buf, size_t len);
MMC_API int mmc_load_write(mmc_partition_t *part, mmc_load_t h, size_t off, const void *buf, size_t len);
/* The PFN a load frame occupies now; 0 if dropped or stale. */
MMC_API uint64_t mmc_load_pfn(mmc_partition_t *part, mmc_load_t h);

/* ---- the aging trace: a seeded, replayable workload that fragments a partition ---- */
/* The recipe (documented in full in results/README.md, "Aging recipes", A). */
struct mmc_aging {
    uint64_t seed;              /* seed of every thread's stream. Default 1 */
    double target_utilisation;  /* share of the pool's frames kept in use, 0..1. Default 0.7 */
    uint64_t ops;               /* operations (allocations and frees) in all. Default 20000 */
    unsigned threads;           /* K threads issuing them, 1..256. Default 1 */
    double mix_mdl;             /* weight of MDL allocations (log-normal pages). Default 0.25 */
    double mix_contig;          /* weight of contiguous blocks (4 KiB..8 MiB, constraints). 0.25 */
    double mix_movable;         /* weight of movable load (log-normal counts). Default 0.30 */
    double mix_standby;         /* weight of standby load (with churn). Default 0.20 */
    void (*progress)(void *arg, uint64_t done, uint64_t total); /* called after each operation
                                   (under the trace's lock), or NULL. Default NULL */
    void *progress_arg;         /* passed to progress */
    const volatile int *stop;   /* when not NULL and *stop becomes non-zero (a signal handler's
                                   flag), every thread ends after its current operation and the
                                   trace returns -EINTR. Default NULL */
};
/* Fill *cfg with the defaults above. */
MMC_API void mmc_aging_init(struct mmc_aging *cfg);
/* Run the recipe on a partition (NULL: system), recording every operation in order to
 * record_path if not NULL (a text file; its last line holds the frame database's state hash).
 * The objects it leaves allocated stay: the partition is left aged. 0 or -errno. */
MMC_API int mmc_aging_run(mmc_partition_t *part, const struct mmc_aging *cfg, const char *record_path);
/* Replay a recorded trace on a partition in the state the recording started from (same layout
 * and engine; for a real pool, the same node of the calling CPU). *recorded_hash gets the
 * recorded final state hash, to compare with mmc_partition_stats().state_hash. 0, -EILSEQ if an
 * operation's outcome differs from the recording (mmc_last_error() says where), or -errno. */
MMC_API int mmc_aging_replay(mmc_partition_t *part, const char *path, uint64_t *recorded_hash);


/* ---- the kernel's pagemap ---- */
/* Read /proc/self/pagemap for the `frames` frames from the one holding va: pfns[i] gets the PFN
 * the kernel maps frame i of them to now, or 0 when it is not present (never touched, swapped
 * out, a reserved range). The kernel's answer at the time of the call, through the library's
 * own reader (the one its pools are built with), never the frame database's record: a check of
 * what MmGetPhysicalAddress and mmc_query report. Needs no mmc_init(); reads in 64 KiB chunks.
 * Returns 0; -EINVAL (pfns NULL with frames > 0, or the range wraps); -EPERM when pagemap hides
 * frame numbers (the process lacks CAP_SYS_ADMIN; MMC_FAULT=pagemap_nopfn as of the last pool
 * built makes it so too); or the
 * -errno of opening or reading pagemap, with mmc_last_error() naming the cause. pfns[] is
 * undefined on failure. */
MMC_API int mmc_pagemap_read(const void *va, size_t frames, uint64_t *pfns);

#ifdef __cplusplus
}
#endif

#endif /* MMCONTIG_TESTING_H */
