/* bench/measure.c: the measured loop of every case, its histograms, its Google Benchmark
 * counters and its CSV row.
 *
 * Timing: every call is timed on its own with clock_gettime(CLOCK_MONOTONIC), not rdtsc:
 * it reads nanoseconds directly (no calibration to get wrong when the TSC rate is not what
 * /proc/cpuinfo says, as in VMs), it is a vDSO call (no system call) with the tsc and kvm-clock
 * clock sources, and its cost is measured at start-up and recorded in context.json
 * (timer.overhead_ns, ~20-40 ns here): it is included in every latency, as it is the same for
 * every engine and peer. Only the allocation call is timed; the free of a successful block
 * (immediately after it), the pagemap checks, the oracle and the churn are not.
 *
 * Work: right after the clock stops, mmc_last_search_work() gives what the engine examined for
 * that call (its own unit, context.json engine_work_units; summed over the nodes tried,
 * failures included); a per-case histogram of it (all calls) gives work_p50 / work_p99 /
 * work_max. Work does not depend on the clock, so engines can be compared by it where
 * latencies are noise.
 *
 * Google Benchmark sees one iteration per measured call (Iterations fixed by the preset, so it
 * runs each case exactly once per repetition, without its estimation runs) and the sum of the
 * call latencies as manual time, batch by batch; our own histograms give the percentiles.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define BATCH_CALLS 16      /* calls per KeepRunningBatch: one C-to-C++ crossing per batch */

const char *const bench_csv_columns[] = {
    "run_id", "host", "suite", "engine", "peer", "pool_bytes", "simulated", "page_bytes",
    "request_bytes", "constraint", "state", "lowest", "highest", "boundary", "node", "fill_pct",
    "largest_free_bytes", "flags", "calls", "budget_stopped", "successes", "false_negatives", "trades",
    "frames_moved", "frames_dropped", "hugepages_added", "compactions", "grow_ns", "p50_ns", "p90_ns", "p99_ns", "p999_ns",
    "reps", "p50_ci_lo_ns", "p50_ci_hi_ns", "p99_ci_lo_ns", "p99_ci_hi_ns", "rep_p50_ns", "rep_p99_ns",
    "max_ns", "mean_ns", "fail_p50_ns", "fail_p99_ns", "fail_max_ns", "work_p50", "work_p99",
    "work_max", "violations", "metadata_bytes_per_frame", "metadata_bytes_per_span_frame", "seed",
};
const unsigned bench_csv_ncolumns = sizeof(bench_csv_columns) / sizeof(bench_csv_columns[0]);

struct case_acc {
    struct hist ok, fail;           /* every repetition so far: the row */
    struct hist rep_ok, rep_fail;   /* this repetition: the Google Benchmark counters */
    struct hist work, rep_work;     /* mmc_last_search_work() of every call, successful or not
                                       (mmcontig rows; the histogram holds units, not ns) */
    uint64_t fn, viol;              /* false negatives, violations: every repetition */
    uint64_t rep_fn, rep_viol;
    struct slow_counters slow, rep_slow; /* the slow path's counters over the case */
    uint64_t rep_p50[BENCH_MAX_REPS], rep_p99[BENCH_MAX_REPS]; /* each repetition's p50 and
                                       p99 of its successful calls (0: none succeeded) */
    unsigned nreps;                 /* repetitions measured so far (entries of rep_p50/p99) */
    bool budget_stopped;            /* this repetition ran out of time: the row is written now */
    bool interrupted;               /* a signal stopped it: no row */
};

void slow_delta(struct slow_counters *d, const struct mmc_stats *after, const struct mmc_stats *before)
{
    d->trades += after->trades - before->trades;
    d->frames_moved += after->frames_moved - before->frames_moved;
    d->frames_dropped += after->frames_dropped - before->frames_dropped;
    d->hugepages_added += after->hugepages_added - before->hugepages_added;
    d->compactions += after->compactions - before->compactions;
    d->grow_ns += after->grow_ns - before->grow_ns;
}

void slow_add(struct slow_counters *d, const struct slow_counters *s)
{
    d->trades += s->trades;
    d->frames_moved += s->frames_moved;
    d->frames_dropped += s->frames_dropped;
    d->hugepages_added += s->hugepages_added;
    d->compactions += s->compactions;
    d->grow_ns += s->grow_ns;
}

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

double bench_timer_overhead_ns(void)
{
    enum { N = 10001 };
    static uint64_t d[N];
    for (int i = 0; i < N; i++) {
        uint64_t a = bench_now_ns();
        uint64_t b = bench_now_ns();
        d[i] = b - a;
    }
    qsort(d, N, sizeof(d[0]), cmp_u64);
    return (double)d[N / 2];
}

/* ---- CSV ---- */

int bench_open_csvs(void)
{
    for (int s = 0; s < SUITE_COUNT; s++) {
        if (!bench_g.opt.suite[s])
            continue;
        char path[PATH_MAX + 32];
        snprintf(path, sizeof(path), "%s/%s.csv", bench_g.opt.out_dir, bench_suite_name[s]);
        int rc = csv_open(&bench_g.csv[s], path, bench_csv_columns, bench_csv_ncolumns);
        if (rc < 0) {
            fprintf(stderr, "mmcontig bench: cannot create %s: %s\n", path, strerror(-rc));
            return rc;
        }
        bench_g.csv_ok[s] = true;
    }
    return 0;
}

void bench_close_csvs(void)
{
    for (int s = 0; s < SUITE_COUNT; s++)
        if (bench_g.csv_ok[s])
            csv_close(&bench_g.csv[s]);
}

/* Student's t, two-sided 95 %, by degrees of freedom (1..30; beyond, 1.96 + 2.4 / df is within
 * 0.002 of it). */
static double t975(unsigned df)
{
    static const double t[31] = {0, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306,
                                 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110,
                                 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
                                 2.052, 2.048, 2.045, 2.042};
    return df <= 30 ? t[df ? df : 1] : 1.96 + 2.4 / df;
}

/* The 95 % interval of the row's p-quantile (p50 or p99 of the successful calls): the hull of
 * (a) the distribution-free interval over the pooled calls (hist_quantile_ci: order statistics,
 * assumes independent calls) and (b) the spread between repetitions, which catches what
 * changes between repetitions (drift of the machine, caches, the churned states). (b), over
 * the R repetitions with successes: R >= 3, Student's t on the logarithms of their own
 * quantiles, exp(mean +- t * sd / sqrt(R)) (latencies are positive and spread by factors: a
 * linear interval over 3 repetitions reached below 0 ns); R = 2 (a time budget or a signal
 * ended the case), the two values' hull: t(0.975, 1) = 12.7 would stretch the interval by
 * e^(9 sd) and say nothing; R < 2, none. The upper end is kept below 2^62 ns. */
static void quantile_interval(const struct case_acc *a, double p, const uint64_t *rep,
                              uint64_t *lo, uint64_t *hi)
{
    hist_quantile_ci(&a->ok, p, lo, hi);
    double sum = 0, sum2 = 0, vmin = INFINITY, vmax = 0;
    unsigned n = 0;
    for (unsigned r = 0; r < a->nreps; r++)
        if (rep[r]) {
            const double v = (double)rep[r], l = log(v);
            sum += l;
            sum2 += l * l;
            vmin = v < vmin ? v : vmin;
            vmax = v > vmax ? v : vmax;
            n++;
        }
    if (n < 2)
        return;
    double rlo = vmin, rhi = vmax;
    if (n >= 3) {
        const double mean = sum / n, var = (sum2 - sum * sum / n) / (n - 1);
        const double half = t975(n - 1) * sqrt(var > 0 ? var : 0) / sqrt((double)n);
        rlo = exp(mean - half);
        rhi = exp(mean + half);
    }
    const double cap = 0x1p62;
    if (rlo < (double)*lo)
        *lo = (uint64_t)rlo;
    if (rhi > (double)*hi)
        *hi = (uint64_t)ceil(rhi < cap ? rhi : cap);
}

/* reps, p50_ci_lo_ns, p50_ci_hi_ns, p99_ci_lo_ns, p99_ci_hi_ns, rep_p50_ns, rep_p99_ns
 * (results/README.md): the lists are the repetitions' values in run order joined by ';'
 * (an empty entry: no call of that repetition succeeded). */
static void write_intervals(struct csv *w, const struct case_acc *a)
{
    csv_u64(w, a->nreps);
    for (int k = 0; k < 2; k++) {
        if (!a->ok.count) {
            csv_empty(w);
            csv_empty(w);
            continue;
        }
        uint64_t lo, hi;
        quantile_interval(a, k ? 0.99 : 0.50, k ? a->rep_p99 : a->rep_p50, &lo, &hi);
        csv_u64(w, lo);
        csv_u64(w, hi);
    }
    for (int k = 0; k < 2; k++) {
        char list[BENCH_MAX_REPS * 21 + 1] = "";
        size_t off = 0;
        const uint64_t *rep = k ? a->rep_p99 : a->rep_p50;
        for (unsigned r = 0; r < a->nreps && off < sizeof(list); r++) {
            if (r)
                list[off++] = ';';
            if (rep[r])
                off += (size_t)snprintf(list + off, sizeof(list) - off, "%" PRIu64, rep[r]);
        }
        list[off < sizeof(list) ? off : sizeof(list) - 1] = 0;
        csv_str(w, list);
    }
}

/* The columns that describe case c, from run_id to flags. */
static void write_case_columns(struct csv *w, const struct bench_case *c)
{
    const bool mm = c->peer == PEER_MMCONTIG;
    csv_str(w, bench_g.run_id);
    csv_str(w, bench_g.host);
    csv_str(w, bench_suite_name[c->suite]);
    csv_str(w, mm ? bench_g.opt.engines[c->engine] : "");
    csv_str(w, bench_peer_name[c->peer]);
    csv_u64(w, c->pool_bytes);
    csv_u64(w, c->simulated);
    csv_u64(w, c->page_bytes);
    csv_u64(w, c->request_bytes);
    csv_str(w, bench_constraint_name[c->constraint]);
    csv_str(w, mm ? bench_state_name[c->state] : "");
    csv_u64(w, c->lowest);
    csv_u64(w, c->highest);
    csv_u64(w, c->boundary);
    if (c->node == BENCH_ANY_NODE)
        csv_str(w, "any");
    else
        csv_u64(w, c->node);
    csv_u64(w, c->fill_pct);
    if (mm)
        csv_u64(w, c->largest_free_bytes);
    else
        csv_empty(w);
    csv_u64(w, c->flags);
}

/* The columns of case c's results, from calls to the metadata's bytes per frame. */
static void write_result_columns(struct csv *w, const struct bench_case *c)
{
    const struct case_acc *a = c->acc;
    const bool mm = c->peer == PEER_MMCONTIG;
    csv_u64(w, a->ok.count + a->fail.count);
    csv_u64(w, a->budget_stopped);
    csv_u64(w, a->ok.count);
    if (c->measured_fn)
        csv_u64(w, a->fn);
    else
        csv_empty(w);
    /* mmc_stats deltas over the case: trades, frames_moved, frames_dropped, hugepages_added,
     * compactions, grow_ns (all 0 under FAST_ONLY) */
    const uint64_t slow[6] = {a->slow.trades, a->slow.frames_moved, a->slow.frames_dropped,
                              a->slow.hugepages_added, a->slow.compactions, a->slow.grow_ns};
    for (int i = 0; i < 6; i++) {
        if (mm && c->measured_trades)
            csv_u64(w, slow[i]);
        else
            csv_empty(w);
    }
    if (a->ok.count) {
        csv_u64(w, hist_percentile(&a->ok, 0.50));
        csv_u64(w, hist_percentile(&a->ok, 0.90));
        csv_u64(w, hist_percentile(&a->ok, 0.99));
        csv_u64(w, hist_percentile(&a->ok, 0.999));
    } else {
        for (int i = 0; i < 4; i++)
            csv_empty(w);
    }
    write_intervals(w, a);
    if (a->ok.count) {
        csv_u64(w, a->ok.max_ns);
        csv_f64(w, hist_mean(&a->ok), 1);
    } else {
        for (int i = 0; i < 2; i++)
            csv_empty(w);
    }
    if (a->fail.count) {
        csv_u64(w, hist_percentile(&a->fail, 0.50));
        csv_u64(w, hist_percentile(&a->fail, 0.99));
        csv_u64(w, a->fail.max_ns);
    } else {
        for (int i = 0; i < 3; i++)
            csv_empty(w);
    }
    if (mm && a->work.count) {
        csv_u64(w, hist_percentile(&a->work, 0.50));
        csv_u64(w, hist_percentile(&a->work, 0.99));
        csv_u64(w, a->work.max_ns);
    } else {
        for (int i = 0; i < 3; i++)
            csv_empty(w);
    }
    if (c->measured_viol)
        csv_u64(w, a->viol);
    else
        csv_empty(w);
    if (c->have_meta) {
        csv_f64(w, c->meta_bytes_per_frame, 4);
        csv_f64(w, c->meta_bytes_per_span_frame, 6);
    } else {
        csv_empty(w);
        csv_empty(w);
    }
}

/* Case c's row of its suite's CSV (unless that CSV is not open), and its result kept in c. */
static void write_row(struct bench_case *c)
{
    if (!bench_g.csv_ok[c->suite])
        return;
    struct csv *w = &bench_g.csv[c->suite];
    const struct case_acc *a = c->acc;
    write_case_columns(w, c);
    write_result_columns(w, c);
    csv_u64(w, bench_g.opt.seed);
    int rc = csv_row_end(w);
    if (rc < 0) {
        bench_g.write_errors++;
        fprintf(stderr, "mmcontig bench: writing a row of %s.csv failed: %s\n",
                bench_suite_name[c->suite], strerror(-rc));
    }
    c->have_result = true;
    c->r_calls = a->ok.count + a->fail.count;
    c->r_ok = a->ok.count;
    c->r_p50_ns = hist_percentile(&a->ok, 0.50);
    c->r_p99_ns = hist_percentile(&a->ok, 0.99);
}

/* ---- the case protocol, shared with the peers suite ---- */

bool case_begin(gbench_state_t *st, struct bench_case *c)
{
    progress_case_begin(c);
    if (bench_stop) {
        gbench_skip_with_error(st, bench_stop == SIGTERM ? "interrupted by SIGTERM"
                                                          : "interrupted by SIGINT");
        return false;
    }
    if (c->finished) {
        gbench_skip_with_error(st, "not repeated: an earlier repetition ended the case (see above)");
        progress_case_end(c, "skipped");
        return false;
    }
    if (!c->acc) {
        c->acc = malloc(sizeof(*c->acc));
        if (!c->acc) {
            case_fail(st, c, "out of memory for the histograms");
            return false;
        }
        memset(c->acc, 0, sizeof(*c->acc));
        hist_reset(&c->acc->ok);
        hist_reset(&c->acc->fail);
        hist_reset(&c->acc->work);
    }
    hist_reset(&c->acc->rep_ok);
    hist_reset(&c->acc->rep_fail);
    hist_reset(&c->acc->rep_work);
    c->acc->rep_fn = c->acc->rep_viol = 0;
    memset(&c->acc->rep_slow, 0, sizeof(c->acc->rep_slow));
    return true;
}

void case_record(struct bench_case *c, bool ok, uint64_t ns, bool false_negative, bool violation,
                 int64_t work)
{
    struct case_acc *a = c->acc;
    hist_record(ok ? &a->rep_ok : &a->rep_fail, ns);
    if (work >= 0)
        hist_record(&a->rep_work, (uint64_t)work);
    a->rep_fn += false_negative;
    a->rep_viol += violation;
}

bool case_must_stop(gbench_state_t *st, struct bench_case *c, uint64_t started_ns)
{
    struct case_acc *a = c->acc;
    if (bench_stop) {
        a->interrupted = true;
        gbench_skip_with_error(st, bench_stop == SIGTERM ? "interrupted by SIGTERM"
                                                          : "interrupted by SIGINT");
        return true;
    }
    double s = (double)(bench_now_ns() - started_ns) * 1e-9;
    if (s > bench_g.opt.preset->case_budget_s) {
        char msg[200];
        a->budget_stopped = true;
        snprintf(msg, sizeof(msg), "stopped after %" PRIu64 " of %" PRId64 " calls: the case's "
                 "time budget of %.0f s ran out (its row is kept with the calls made)",
                 a->rep_ok.count + a->rep_fail.count, c->calls, bench_g.opt.preset->case_budget_s);
        gbench_skip_with_error(st, msg);
        return true;
    }
    return false;
}

void case_fail(gbench_state_t *st, struct bench_case *c, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    gbench_skip_with_error(st, msg);
    if (bench_stop || !strcmp(msg, "interrupted")) { /* a signal, not a failure */
        progress_case_end(c, "interrupted");
        return;
    }
    bench_g.case_errors++;
    progress_clear(NULL);
    fprintf(stderr, "mmcontig bench: %s: %s\n", c->name, msg);
    c->finished = true;
    free(c->acc);
    c->acc = NULL;
    progress_case_end(c, "error");
}

void case_end(gbench_state_t *st, struct bench_case *c, bool ran)
{
    struct case_acc *a = c->acc;
    if (!ran || !a)
        return;
    if (a->interrupted) {
        progress_case_end(c, "interrupted");
        return;
    }
    hist_merge(&a->ok, &a->rep_ok);
    hist_merge(&a->fail, &a->rep_fail);
    hist_merge(&a->work, &a->rep_work);
    a->fn += a->rep_fn;
    a->viol += a->rep_viol;
    slow_add(&a->slow, &a->rep_slow);
    if (a->nreps < BENCH_MAX_REPS) {
        a->rep_p50[a->nreps] = a->rep_ok.count ? hist_percentile(&a->rep_ok, 0.50) : 0;
        a->rep_p99[a->nreps] = a->rep_ok.count ? hist_percentile(&a->rep_ok, 0.99) : 0;
        if (a->rep_ok.count && !a->rep_p50[a->nreps]) /* 0 ns means "none": a 0 is 1 */
            a->rep_p50[a->nreps] = 1;
        if (a->rep_ok.count && !a->rep_p99[a->nreps])
            a->rep_p99[a->nreps] = 1;
        a->nreps++;
    }
    const uint64_t calls = a->rep_ok.count + a->rep_fail.count;
    gbench_set_counter(st, "calls", (double)calls, 0);
    gbench_set_counter(st, "success_rate", calls ? (double)a->rep_ok.count / (double)calls : 0, 0);
    if (a->rep_ok.count) {
        gbench_set_counter(st, "p50_ns", (double)hist_percentile(&a->rep_ok, 0.50), 0);
        gbench_set_counter(st, "p99_ns", (double)hist_percentile(&a->rep_ok, 0.99), 0);
        gbench_set_counter(st, "p999_ns", (double)hist_percentile(&a->rep_ok, 0.999), 0);
        gbench_set_counter(st, "max_ns", (double)a->rep_ok.max_ns, 0);
    }
    if (a->rep_fail.count)
        gbench_set_counter(st, "fail_p50_ns", (double)hist_percentile(&a->rep_fail, 0.50), 0);
    if (a->rep_work.count) {
        gbench_set_counter(st, "work_p50", (double)hist_percentile(&a->rep_work, 0.50), 0);
        gbench_set_counter(st, "work_max", (double)a->rep_work.max_ns, 0);
    }
    if (c->measured_fn)
        gbench_set_counter(st, "false_negatives", (double)a->rep_fn, 0);
    if (c->measured_viol)
        gbench_set_counter(st, "violations", (double)a->rep_viol, 0);
    if (c->peer == PEER_MMCONTIG && c->measured_trades) {
        gbench_set_counter(st, "trades", (double)a->rep_slow.trades, 0);
        gbench_set_counter(st, "frames_moved", (double)a->rep_slow.frames_moved, 0);
        gbench_set_counter(st, "hugepages_added", (double)a->rep_slow.hugepages_added, 0);
    }
    c->reps_done++;
    const bool budget = a->budget_stopped;
    if (budget)
        bench_g.budget_stops++;
    if (c->reps_done >= c->reps || budget) {
        write_row(c);
        c->finished = true;
        free(c->acc);
        c->acc = NULL;
    }
    progress_case_end(c, budget ? "time budget" : "ok");
}

/* ---- mmcontig's own rows ---- */

uint64_t bench_next_pow2_bytes(uint64_t v)
{
    uint64_t p = MMC_FRAME_BYTES;
    while (p < v)
        p <<= 1;
    return p;
}

uint64_t bench_cut_boundary_frames(uint64_t frames)
{
    return 4 * bench_next_pow2_bytes(frames * MMC_FRAME_BYTES) / MMC_FRAME_BYTES;
}

void bench_case_request(struct bench_case *c, const struct target *t)
{
    const struct bench_pool *p = &bench_g.pools[t->pool];
    const uint64_t n = t->pool_frames;
    c->pool_bytes = n * MMC_FRAME_BYTES;
    c->page_bytes = p->page_bytes;
    c->simulated = p->simulated;
    c->have_meta = t->have_meta;
    c->meta_bytes_per_frame = t->meta_bytes_per_frame;
    c->meta_bytes_per_span_frame = t->meta_bytes_per_span_frame;
    c->largest_free_bytes = t->largest_free_frames * MMC_FRAME_BYTES;
    if (c->state == STATE_NEEDLE || c->state == STATE_CUT) /* the share the state has in use */
        c->fill_pct = (unsigned)((shadow_used_frames(t->sh) * 100 + n / 2) / n);
    if (c->state == STATE_NEAR_LARGEST) { /* a share of the largest free stretch, whole frames */
        uint64_t f = t->largest_free_frames * c->share_pct / 100;
        c->request_bytes = (f ? f : 1) * MMC_FRAME_BYTES;
    }
    c->lowest = 0;
    c->highest = c->constraint == CON_DMA32 ? BENCH_DMA32_HIGHEST : UINT64_MAX;
    c->boundary = 0;
    if (c->constraint == CON_RANGE || c->constraint == CON_RANGE_BOUNDARY) {
        /* the middle half of the pool's frames by PFN rank */
        c->lowest = shadow_pfn_of_rank(t->sh, n / 4) * MMC_FRAME_BYTES;
        c->highest = (shadow_pfn_of_rank(t->sh, n - n / 4 - 1) + 1) * MMC_FRAME_BYTES - 1;
    }
    if (c->constraint == CON_BOUNDARY || c->constraint == CON_RANGE_BOUNDARY)
        c->boundary = bench_next_pow2_bytes(c->request_bytes); /* the request's own size, rounded up */
    if (c->state == STATE_CUT)
        c->boundary = bench_cut_boundary_frames(c->request_bytes / MMC_FRAME_BYTES) * MMC_FRAME_BYTES;
}

struct state_spec bench_case_state(const struct bench_case *c)
{
    struct state_spec s = {.kind = c->state == STATE_NEAR_LARGEST ? STATE_AGED : c->state,
                           .constraint = CON_NONE};
    if (s.kind == STATE_AGED) {
        s.fill_pct = c->fill_pct;
        return s;
    }
    s.frames = c->request_bytes / MMC_FRAME_BYTES;
    if (s.kind == STATE_NEEDLE)
        s.constraint = c->constraint;
    else
        s.boundary_frames = bench_cut_boundary_frames(s.frames);
    return s;
}

/* The seed of a case's churn: the same for every engine and for search and fastonly, so all
 * of them see the same sequence of states. */
static uint64_t case_seed(const struct bench_case *c)
{
    uint64_t s = _mmc_rand_mix(bench_g.opt.seed, c->pool);
    s = _mmc_rand_mix(s, c->fill_pct);
    s = _mmc_rand_mix(s, c->request_bytes);
    s = _mmc_rand_mix(s, (uint64_t)c->constraint);
    s = _mmc_rand_mix(s, c->node);
    return _mmc_rand_mix(s, (uint64_t)c->reps_done);
}

/* The untimed warm-up calls of run_mmcontig's case c on t; false when the case failed (told). */
static bool warm_up(gbench_state_t *st, struct bench_case *c, struct target *t,
                    PHYSICAL_ADDRESS lo, PHYSICAL_ADDRESS hi, PHYSICAL_ADDRESS bd, ULONG node)
{
    char err[600];
    for (unsigned w = 0; w < bench_g.opt.preset->warmup_calls; w++) { /* untimed */
        SIZE_T bytes = c->request_bytes;
        void *va = NULL;
        if (MmAllocateContiguousMemoryEx(&bytes, lo, hi, bd, node, PAGE_READWRITE, t->part,
                                         BENCH_TAG, c->flags, &va) == STATUS_SUCCESS) {
            if (shadow_note_block(t->sh, va, bytes, err, sizeof(err)) < 0) {
                MmFreeContiguousMemory(va);
                case_fail(st, c, "%s", err);
                target_invalidate(t);
                return false;
            }
            MmFreeContiguousMemory(va);
        }
    }
    return true;
}

/* After run_mmcontig's timed calls (untimed): the slow-path counters' deltas since st0 (when
 * not NULL), t back to the state built, and the case's end. */
static void finish_mmcontig(gbench_state_t *st, struct bench_case *c, struct target *t,
                            const struct mmc_stats *st0)
{
    char err[600];
    struct mmc_stats st1;
    if (st0 && mmc_partition_stats(t->part, &st1) == 0)
        slow_delta(&c->acc->rep_slow, &st1, st0);
    /* back to the state built: undo the churn; load a trade moved cannot be put back, so then
     * the state is built again for the next case (after checking the shadow followed it) */
    const bool moved = shadow_load_moved(t->sh);
    if ((!moved && shadow_revert(t->sh, err, sizeof(err)) < 0) ||
        shadow_check(t->sh, err, sizeof(err)) < 0) {
        target_invalidate(t);
        case_fail(st, c, "%s", err);
        return;
    }
    if (moved)
        target_invalidate(t);
    case_end(st, c, true);
}

/* A case of mmcontig's own: the timed loop of calls (the clock read around each call only). */
static void run_mmcontig(gbench_state_t *st, struct bench_case *c)
{
    if (!case_begin(st, c))
        return;
    char err[600];
    const struct state_spec spec = bench_case_state(c);
    struct target *t = target_mmcontig(c->engine, c->pool, &spec, err, sizeof(err));
    if (!t) {
        case_fail(st, c, "%s", err);
        return;
    }
    bench_case_request(c, t);
    c->measured_fn = true;
    const uint64_t frames = c->request_bytes / MMC_FRAME_BYTES;
    const uint64_t lo_pfn = c->lowest / MMC_FRAME_BYTES, hi_pfn = c->highest / MMC_FRAME_BYTES;
    const uint64_t b_frames = c->boundary / MMC_FRAME_BYTES;
    PHYSICAL_ADDRESS lo = {.QuadPart = (LONGLONG)c->lowest};
    PHYSICAL_ADDRESS hi = {.QuadPart = (LONGLONG)c->highest};
    PHYSICAL_ADDRESS bd = {.QuadPart = (LONGLONG)c->boundary};
    const ULONG node = c->node == BENCH_ANY_NODE ? MM_ANY_NODE_OK : c->node;
    uint64_t rng = case_seed(c);
    const bool churn = c->state == STATE_AGED && c->fill_pct; /* scenarios hold their state */

    if (!warm_up(st, c, t, lo, hi, bd, node))
        return;

    /* trades over the case: mmc_partition_stats is O(frames) (it hashes the frame database),
     * ~1 s at 1 TiB, so above BENCH_TRADES_MAX_FRAMES the column stays empty */
    struct mmc_stats st0;
    c->measured_trades = t->pool_frames <= BENCH_TRADES_MAX_FRAMES;
    const bool have_st = c->measured_trades && mmc_partition_stats(t->part, &st0) == 0;
    const uint64_t started = bench_now_ns();
    const int64_t max = gbench_max_iterations(st);
    int64_t done = 0;
    bool failed = false;
    for (;;) {
        int64_t b = max - done < BATCH_CALLS ? max - done : BATCH_CALLS;
        if (!gbench_keep_running(st, b > 0 ? b : 1))
            break;
        uint64_t batch_ns = 0;
        for (int64_t i = 0; i < b && !failed; i++) {
            SIZE_T bytes = c->request_bytes;
            void *va = NULL;
            uint64_t t0 = bench_now_ns();
            NTSTATUS s = MmAllocateContiguousMemoryEx(&bytes, lo, hi, bd, node, PAGE_READWRITE,
                                                      t->part, BENCH_TAG, c->flags, &va);
            uint64_t ns = bench_now_ns() - t0;
            const uint64_t work = mmc_last_search_work(); /* untimed: read after the clock */
            batch_ns += ns;
            const bool ok = s == STATUS_SUCCESS && va;
            bool fn = false, viol = false;
            if (ok) {
                if (shadow_note_block(t->sh, va, bytes, err, sizeof(err)) < 0) /* a trade? */
                    failed = true;
                if (c->measured_viol) {
                    uint64_t phys = 0;
                    const char *why;
                    int r = pagemap_check(va, bytes, 0, c->boundary, &phys, &why);
                    viol = r != 0 || phys < c->lowest || phys + bytes - 1 > c->highest;
                }
                MmFreeContiguousMemory(va);
            } else {
                fn = shadow_exists(t->sh, frames, lo_pfn, hi_pfn, b_frames);
            }
            case_record(c, ok, ns, fn, viol, (int64_t)work);
            if (churn && shadow_churn(t->sh, &rng, err, sizeof(err)) < 0)
                failed = true;
        }
        done += b;
        gbench_set_iteration_time(st, (double)batch_ns * 1e-9);
        progress_tick();
        if (failed) {
            case_fail(st, c, "%s", err);
            target_invalidate(t); /* its state is not the one built: build it again */
            return;
        }
        if (case_must_stop(st, c, started))
            break;
    }
    finish_mmcontig(st, c, t, have_st ? &st0 : NULL);
}

/* A grow case (state grow): each call on a fresh small pool with every frame in use, so the
 * ordinary path must take hugepages from the kernel and FAST_ONLY must fail; the pool is given
 * back after each call (untimed, as its creation), so every call measures a growth. The
 * slow-path counters are the partition's own over each call. No warm-up: a warm-up would grow
 * a pool that is given back at once. */
static void run_grow(gbench_state_t *st, struct bench_case *c)
{
    if (!case_begin(st, c))
        return;
    char err[600];
    const struct bench_pool *p = &bench_g.pools[c->pool];
    c->pool_bytes = p->pool_bytes;
    c->page_bytes = p->page_bytes;
    c->simulated = false;
    c->lowest = c->boundary = 0;
    c->highest = UINT64_MAX;
    c->fill_pct = 100;
    c->largest_free_bytes = 0;
    c->measured_fn = true; /* the pool is full: no free block exists, a failure is never a false negative */
    c->measured_trades = true;
    const PHYSICAL_ADDRESS lo = {.QuadPart = 0}, hi = {.QuadPart = -1}, none = {.QuadPart = 0};
    const uint64_t started = bench_now_ns();
    bool failed = false;
    while (!failed && gbench_keep_running(st, 1)) {
        mmc_partition_t *part = target_grow_partition(c->engine, c->pool, err, sizeof(err));
        struct mmc_stats st0, st1;
        if (!part || mmc_partition_stats(part, &st0) < 0) {
            if (part)
                snprintf(err, sizeof(err), "mmc_partition_stats: %s", mmc_last_error());
            target_grow_release(part);
            failed = true;
            gbench_set_iteration_time(st, 0);
            break;
        }
        if (!c->have_meta) {
            c->have_meta = st0.pool_frames > 0;
            c->meta_bytes_per_frame = c->have_meta ? (double)st0.engine_metadata_bytes / (double)st0.pool_frames : 0;
            c->meta_bytes_per_span_frame =
                c->have_meta && st0.span_frames ? (double)st0.engine_metadata_bytes / (double)st0.span_frames : 0;
        }
        SIZE_T bytes = c->request_bytes;
        void *va = NULL;
        const uint64_t t0 = bench_now_ns();
        NTSTATUS s = MmAllocateContiguousMemoryEx(&bytes, lo, hi, none, MM_ANY_NODE_OK, PAGE_READWRITE,
                                                  part, BENCH_TAG, c->flags, &va);
        const uint64_t ns = bench_now_ns() - t0;
        const uint64_t work = mmc_last_search_work();
        const bool ok = s == STATUS_SUCCESS && va;
        bool viol = false;
        if (ok && c->measured_viol) {
            uint64_t phys = 0;
            const char *why;
            viol = pagemap_check(va, bytes, 0, 0, &phys, &why) != 0;
        }
        if (mmc_partition_stats(part, &st1) == 0)
            slow_delta(&c->acc->rep_slow, &st1, &st0);
        target_grow_release(part); /* the block too: the whole pool goes back to the kernel */
        case_record(c, ok, ns, false, viol, (int64_t)work);
        gbench_set_iteration_time(st, (double)ns * 1e-9);
        progress_tick();
        if (case_must_stop(st, c, started))
            break;
    }
    if (failed) {
        case_fail(st, c, "%s", err);
        return;
    }
    case_end(st, c, true);
}

void bench_case_fn(gbench_state_t *st, void *user)
{
    struct bench_case *c = user;
    if (c->peer == PEER_MMCONTIG && c->state == STATE_GROW)
        run_grow(st, c);
    else if (c->peer == PEER_MMCONTIG)
        run_mmcontig(st, c);
    else
        suite_peers_case(st, c);
}
