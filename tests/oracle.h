/* tests/oracle.h: an exhaustive oracle for contiguous searches, written apart from the library.
 *
 * Given a layout (hugepage PFNs and nodes, as the frame database holds them) and the test's own
 * map of which frames are free, it answers: does ANY block satisfy the request, and which one
 * has the highest PFN (the placement of the top-down first-fit engines), and the lowest
 * (bottom-up first fit)? It shares no code with
 * alloc/: its runs are derived here from the hugepages, its predicate is written out here, and
 * it looks at every start frame of every run in the range (O(frames in the range)); a run is
 * only skipped as a whole when its node is not allowed or it lies outside the range.
 */
#ifndef MMC_TESTS_ORACLE_H
#define MMC_TESTS_ORACLE_H

#include <stdbool.h>
#include <stdint.h>

struct oracle_run {
    uint64_t base_pfn;          /* PFN of its first frame */
    uint64_t first;             /* frame index of its first frame */
    uint64_t frames;            /* length */
    unsigned node;
};

struct oracle {
    uint64_t nframes;
    uint64_t hp_frames;
    const uint64_t *hp_pfn;     /* borrowed: first PFN of each hugepage */
    const uint8_t *hp_node;     /* borrowed */
    const uint8_t *used;        /* borrowed: the test's ownership map, 0 = free */
    struct oracle_run *runs;    /* maximal: adjacent PFNs and the same node */
    uint64_t nruns;
};

/* The request, as the engines see it (struct mmc_search's fields, restated here). */
struct oracle_rq {
    uint64_t frames, lowest_pfn, highest_pfn, boundary_frames, node_mask;
};

/* Derive the runs. used[] is read at each query. 0 or -1 (no memory). */
int oracle_init(struct oracle *o, uint64_t hp_frames, uint64_t nhugepages, const uint64_t *hp_pfn,
                const uint8_t *hp_node, const uint8_t *used);
void oracle_fini(struct oracle *o);

/* PFN and node of frame i. */
uint64_t oracle_pfn(const struct oracle *o, uint64_t i);
unsigned oracle_node(const struct oracle *o, uint64_t i);

/* Does the block of rq->frames frames starting at frame index `first` satisfy rq: inside one
 * run, every frame free, node allowed, inside [lowest, highest], not crossing a boundary? */
bool oracle_fits(const struct oracle *o, const struct oracle_rq *rq, uint64_t first);

/* Highest-PFN satisfying block: true and *first, or false if none exists. */
bool oracle_find_highest(const struct oracle *o, const struct oracle_rq *rq, uint64_t *first);
/* Lowest-PFN satisfying block (the placement of bottom-up first fit): true and *first, or
 * false if none exists. */
bool oracle_find_lowest(const struct oracle *o, const struct oracle_rq *rq, uint64_t *first);

#endif
