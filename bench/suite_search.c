/* bench/suite_search.c: the `search` suite (and the matrix `fastonly` shares), and the fitted
 * slope of latency against pool size.
 *
 * Matrix, in registration (= run) order: pool (the real pool, then the simulated ones of the
 * sweep, smallest first) x fill level x engine x request size x constraint (node: once per
 * node of --nodes; simulated pools have one node, 0). The aged state of a (pool, fill) is
 * computed once and made in each engine's partition in turn (aging.c). A 1 GiB request is measured only on a
 * pool of at least 2 GiB ("where the pool allows"). Each measured call is
 * MmAllocateContiguousMemoryEx on the case's partition, timed alone, the block freed at once
 * (untimed); see measure.c.
 *
 * Constraints: range = the middle half of the pool's frames by PFN rank (Lowest = the first
 * byte of the frame of rank N/4, Highest = the last byte of the frame of rank N - N/4 - 1);
 * boundary = the request size rounded up to a power of two (so the block also lands aligned
 * to its size when that is a power of two); node = PreferredNode n (Ex tries n first, then the
 * others nearest first); none = [0, 2^64 - 1], no boundary, MM_ANY_NODE_OK.
 *
 * pool_sweep_fit.csv: for every (suite, engine, request, constraint, fill) measured on at least
 * three simulated pool sizes, the least-squares line log2(latency_ns) = intercept + slope *
 * log2(pool_bytes), for p50 and p99 of the successful calls: slope 0 = independent of the pool
 * size, 1 = proportional to it.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static struct bench_case *add(int suite, uint32_t flags, int engine, unsigned pool,
                              unsigned fill_pct, uint64_t size, int con, uint32_t node, int64_t calls)
{
    struct bench_case c = {0};
    c.suite = suite;
    c.peer = PEER_MMCONTIG;
    c.engine = engine;
    c.pool = pool;
    c.fill_pct = fill_pct;
    c.request_bytes = size;
    c.constraint = con;
    c.node = node;
    c.flags = flags;
    c.calls = calls;
    c.reps = bench_g.opt.repetitions;
    char sz[16], cons[40];
    bench_size_label(sz, sizeof(sz), size);
    if (con == CON_NODE)
        snprintf(cons, sizeof(cons), "node:%u", node);
    else
        snprintf(cons, sizeof(cons), "%s", bench_constraint_name[con]);
    snprintf(c.name, sizeof(c.name), "%s/%s/%s/req:%s/%s/fill:%u", bench_suite_name[suite],
             bench_g.opt.engines[engine], bench_g.pools[pool].label, sz, cons, fill_pct);
    return bench_add_case(&c);
}

void suite_register_matrix(int suite, uint32_t flags)
{
    const struct bench_preset *ps = bench_g.opt.preset;
    for (unsigned p = 0; p < bench_g.npools; p++) {
        const struct bench_pool *pool = &bench_g.pools[p];
        const bool sim = pool->simulated;
        const uint64_t *sizes = sim ? ps->sim_sizes_bytes : ps->sizes_bytes;
        const unsigned nsizes = sim ? ps->nsim_sizes : ps->nsizes;
        const unsigned *fills = sim ? ps->sim_fills_pct : ps->fills_pct;
        const unsigned nfills = sim ? ps->nsim_fills : ps->nfills;
        const unsigned cons = sim ? ps->sim_constraints : (1u << CON_COUNT) - 1;
        const int64_t calls = bench_calls(sim ? ps->sim_calls : ps->calls);
        for (unsigned f = 0; f < nfills; f++)
            for (unsigned e = 0; e < bench_g.opt.nengines; e++)
                for (unsigned s = 0; s < nsizes; s++) {
                    if (sizes[s] >= GIB && pool->pool_bytes < 2 * sizes[s])
                        continue; /* 1 GiB only where the pool allows */
                    for (int con = 0; con < CON_COUNT; con++) {
                        if (!(cons & (1u << con)))
                            continue;
                        if (con != CON_NODE) {
                            add(suite, flags, (int)e, p, fills[f], sizes[s], con, BENCH_ANY_NODE, calls);
                            continue;
                        }
                        if (sim) {
                            add(suite, flags, (int)e, p, fills[f], sizes[s], con, 0, calls);
                            continue;
                        }
                        for (unsigned n = 0; n < bench_g.opt.nnodes; n++)
                            add(suite, flags, (int)e, p, fills[f], sizes[s], con,
                                bench_g.opt.nodes[n], calls);
                    }
                }
    }
}

void suite_search_register(void) { suite_register_matrix(SUITE_SEARCH, 0); }

/* ---- the fit ---- */

static const char *const fit_columns[] = {
    "run_id", "suite", "engine", "request_bytes", "constraint", "fill_pct", "flags", "metric",
    "points", "pool_bytes_min", "pool_bytes_max", "slope", "intercept_log2_ns", "r2",
};

int suite_search_write_fit(void)
{
    if (!bench_g.opt.suite[SUITE_SEARCH] && !bench_g.opt.suite[SUITE_FASTONLY])
        return 0;
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/pool_sweep_fit.csv", bench_g.opt.out_dir);
    struct csv w;
    int rc = csv_open(&w, path, fit_columns, sizeof(fit_columns) / sizeof(fit_columns[0]));
    if (rc < 0)
        return rc;
    bool *used = calloc(bench_g.ncases ? bench_g.ncases : 1, sizeof(bool));
    if (!used) {
        csv_close(&w);
        return -ENOMEM;
    }
    for (size_t i = 0; i < bench_g.ncases; i++) {
        const struct bench_case *a = &bench_g.cases[i];
        if (used[i] || a->peer != PEER_MMCONTIG || !bench_g.pools[a->pool].simulated)
            continue;
        /* the group of a: same everything but the simulated pool */
        double x[BENCH_MAX_POOLS], y50[BENCH_MAX_POOLS], y99[BENCH_MAX_POOLS];
        unsigned n = 0;
        uint64_t pmin = UINT64_MAX, pmax = 0;
        for (size_t j = i; j < bench_g.ncases; j++) {
            const struct bench_case *b = &bench_g.cases[j];
            if (b->peer != PEER_MMCONTIG || !bench_g.pools[b->pool].simulated ||
                b->suite != a->suite || b->engine != a->engine ||
                b->request_bytes != a->request_bytes || b->constraint != a->constraint ||
                b->node != a->node || b->fill_pct != a->fill_pct || b->flags != a->flags)
                continue;
            used[j] = true;
            if (!b->have_result || !b->r_ok || n == BENCH_MAX_POOLS)
                continue;
            x[n] = log2((double)b->pool_bytes);
            y50[n] = log2((double)(b->r_p50_ns ? b->r_p50_ns : 1));
            y99[n] = log2((double)(b->r_p99_ns ? b->r_p99_ns : 1));
            if (b->pool_bytes < pmin)
                pmin = b->pool_bytes;
            if (b->pool_bytes > pmax)
                pmax = b->pool_bytes;
            n++;
        }
        if (n < 3)
            continue;
        for (int m = 0; m < 2; m++) {
            const double *y = m ? y99 : y50;
            double sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0;
            for (unsigned k = 0; k < n; k++) {
                sx += x[k];
                sy += y[k];
                sxx += x[k] * x[k];
                sxy += x[k] * y[k];
                syy += y[k] * y[k];
            }
            double d = n * sxx - sx * sx;
            if (d == 0)
                continue;
            double slope = (n * sxy - sx * sy) / d, icpt = (sy - slope * sx) / n;
            double vy = n * syy - sy * sy;
            double r2 = vy > 0 ? (n * sxy - sx * sy) * (n * sxy - sx * sy) / (d * vy) : 1.0;
            csv_str(&w, bench_g.run_id);
            csv_str(&w, bench_suite_name[a->suite]);
            csv_str(&w, bench_g.opt.engines[a->engine]);
            csv_u64(&w, a->request_bytes);
            csv_str(&w, bench_constraint_name[a->constraint]);
            csv_u64(&w, a->fill_pct);
            csv_u64(&w, a->flags);
            csv_str(&w, m ? "p99_ns" : "p50_ns");
            csv_u64(&w, n);
            csv_u64(&w, pmin);
            csv_u64(&w, pmax);
            csv_f64(&w, slope, 4);
            csv_f64(&w, icpt, 4);
            csv_f64(&w, r2, 4);
            if ((rc = csv_row_end(&w)) < 0)
                break;
        }
    }
    free(used);
    csv_close(&w);
    return rc < 0 ? rc : 0;
}
