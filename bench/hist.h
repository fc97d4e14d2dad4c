/* bench/hist.h: a log-bucketed latency histogram (HDR-like), one per outcome of a case.
 *
 * Owns the bucket layout and the percentile rule. Values are nanoseconds (uint64_t).
 *
 * Layout: values below 128 have a bucket each (exact). Above, every power of two [2^e, 2^(e+1))
 * is cut into 64 equal sub-buckets of width 2^(e-6), so a bucket's width is at most 1/64 of its
 * lower bound. A percentile is reported as the midpoint of its bucket (clamped to the exact
 * min and max), hence its relative error is at most 1/128 (<= 1/64, as results/README.md
 * promises). max, min and mean are exact.
 *
 * Percentile rule (nearest rank): p-quantile = the smallest recorded value v such that at
 * least ceil(p * count) values are <= v; the same rule as a sorted array's element
 * [ceil(p * n) - 1].
 */
#ifndef MMC_BENCH_HIST_H
#define MMC_BENCH_HIST_H

#include <stdbool.h>
#include <stdint.h>

#define HIST_SUB_BITS 6                                  /* 64 sub-buckets per power of two */
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_EXACT (2u * HIST_SUB)                       /* values 0..127 are exact */
#define HIST_BUCKETS (HIST_EXACT + (63 - HIST_SUB_BITS) * HIST_SUB) /* up to 2^64 - 1 */

struct hist {
    uint64_t count;                 /* values recorded */
    uint64_t min_ns;                /* smallest value (UINT64_MAX when empty) */
    uint64_t max_ns;                /* largest value (0 when empty) */
    long double sum_ns;             /* exact enough: 64-bit mantissa */
    uint64_t bucket[HIST_BUCKETS];  /* counts per bucket */
};

/* Empty the histogram. */
void hist_reset(struct hist *h);
/* Record one value in nanoseconds. O(1). */
void hist_record(struct hist *h, uint64_t value_ns);
/* Add every value of src into dst. */
void hist_merge(struct hist *dst, const struct hist *src);
/* Nearest-rank percentile, p in (0, 1]; 0 when empty. */
uint64_t hist_percentile(const struct hist *h, double p);
/* The value of nearest rank `rank` (1 = the smallest, count = the largest), reported as
 * hist_percentile reports it (its bucket's midpoint, clamped to min and max); rank is clamped
 * to [1, count]; 0 when empty. */
uint64_t hist_at_rank(const struct hist *h, uint64_t rank);
/* 95 % confidence interval of the p-quantile from the recorded values, distribution-free (the
 * order statistics whose ranks bracket n*p by 1.96 binomial standard deviations, the normal
 * approximation of the binomial; as exact as a bootstrap over the values and without its
 * resampling): *lo_ns <= hist_percentile(h, p) <= *hi_ns. Assumes independent values. 0, 0
 * when empty. */
void hist_quantile_ci(const struct hist *h, double p, uint64_t *lo_ns, uint64_t *hi_ns);
/* Mean in nanoseconds; 0 when empty. */
double hist_mean(const struct hist *h);

/* Bucket arithmetic, exposed for the tests: index of a value, and the bucket's range
 * [lo, lo + width). */
unsigned hist_bucket_of(uint64_t value_ns);
void hist_bucket_range(unsigned bucket, uint64_t *lo_ns, uint64_t *width_ns);

#endif /* MMC_BENCH_HIST_H */
