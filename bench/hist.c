/* bench/hist.c: the log-bucketed latency histogram (layout and percentile rule in hist.h).
 *
 * Invariant: sum of bucket[] == count; min_ns <= every value <= max_ns.
 */
#include "hist.h"

#include <math.h>
#include <string.h>

void hist_reset(struct hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min_ns = UINT64_MAX;
}

unsigned hist_bucket_of(uint64_t v)
{
    if (v < HIST_EXACT)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);  /* 2^e <= v < 2^(e+1), e >= 7 */
    unsigned shift = e - HIST_SUB_BITS;                 /* sub-bucket width is 2^shift */
    unsigned sub = (unsigned)(v >> shift) - HIST_SUB;   /* 0..63 */
    return HIST_EXACT + (e - HIST_SUB_BITS - 1) * HIST_SUB + sub;
}

void hist_bucket_range(unsigned b, uint64_t *lo, uint64_t *width)
{
    if (b < HIST_EXACT) {
        *lo = b;
        *width = 1;
        return;
    }
    unsigned k = b - HIST_EXACT;
    unsigned e = k / HIST_SUB + HIST_SUB_BITS + 1;
    unsigned shift = e - HIST_SUB_BITS;
    *lo = (uint64_t)(HIST_SUB + k % HIST_SUB) << shift;
    *width = 1ull << shift;
}

void hist_record(struct hist *h, uint64_t v)
{
    h->bucket[hist_bucket_of(v)]++;
    h->count++;
    h->sum_ns += (long double)v;
    if (v < h->min_ns)
        h->min_ns = v;
    if (v > h->max_ns)
        h->max_ns = v;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
    if (!src->count)
        return;
    for (unsigned b = 0; b < HIST_BUCKETS; b++)
        dst->bucket[b] += src->bucket[b];
    dst->count += src->count;
    dst->sum_ns += src->sum_ns;
    if (src->min_ns < dst->min_ns)
        dst->min_ns = src->min_ns;
    if (src->max_ns > dst->max_ns)
        dst->max_ns = src->max_ns;
}

uint64_t hist_at_rank(const struct hist *h, uint64_t rank)
{
    if (!h->count)
        return 0;
    if (rank < 1)
        rank = 1;
    if (rank >= h->count)
        return h->max_ns;
    uint64_t seen = 0;
    for (unsigned b = 0; b < HIST_BUCKETS; b++) {
        seen += h->bucket[b];
        if (seen >= rank) {
            uint64_t lo, w;
            hist_bucket_range(b, &lo, &w);
            uint64_t mid = lo + (w - 1) / 2; /* midpoint of [lo, lo + w - 1] */
            if (mid < h->min_ns)
                mid = h->min_ns;
            if (mid > h->max_ns)
                mid = h->max_ns;
            return mid;
        }
    }
    return h->max_ns;
}

uint64_t hist_percentile(const struct hist *h, double p)
{
    if (!h->count)
        return 0;
    if (p >= 1.0)
        return h->max_ns;
    /* rank = ceil(p * count), at least 1 */
    double r = p * (double)h->count;
    uint64_t rank = (uint64_t)r;
    if ((double)rank < r)
        rank++;
    return hist_at_rank(h, rank);
}

void hist_quantile_ci(const struct hist *h, double p, uint64_t *lo_ns, uint64_t *hi_ns)
{
    *lo_ns = *hi_ns = 0;
    if (!h->count)
        return;
    const double n = (double)h->count, z = 1.959964;
    const double sd = sqrt(n * p * (1 - p));
    double lo = floor(n * p - z * sd), hi = ceil(n * p + z * sd) + 1; /* 1-based ranks */
    uint64_t est = hist_percentile(h, p);
    *lo_ns = hist_at_rank(h, lo < 1 ? 1 : (uint64_t)lo);
    *hi_ns = hist_at_rank(h, hi >= n ? h->count : (uint64_t)hi);
    if (*lo_ns > est)
        *lo_ns = est;
    if (*hi_ns < est)
        *hi_ns = est;
}

double hist_mean(const struct hist *h)
{
    return h->count ? (double)(h->sum_ns / (long double)h->count) : 0.0;
}
