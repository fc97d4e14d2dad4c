/* alloc/frames.h: the frame database (frames.c); its layout and read accessors are the engine
 * interface's (mmcontig/engine.h). */
#ifndef MMC_FRAMES_H
#define MMC_FRAMES_H

#include "base.h"

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

#endif /* MMC_FRAMES_H */
