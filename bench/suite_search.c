/* bench/suite_search.c: the `search` suite and its FAST_ONLY twin `fastonly`: the matrix, the
 * scenarios, and the fitted slope of latency against pool size.
 *
 * Matrix, in registration (= run) order: pool (the real pool, then the simulated ones of the
 * sweep, smallest first) x fill level x request size x constraint (node: once per node of
 * --nodes; simulated pools have one node, 0) x engine on the real pool, engines innermost so
 * that drift hits every engine alike; on a simulated pool fill x engine x size x constraint (its
 * index, up to 1 TiB, is rebuilt once per engine). Every case is registered with its twin of the
 * other suite right after it (search without flags, fastonly with FAST_ONLY), so the two meet
 * the same state. Each pool has ONE partition; the state of a (pool, fill) is built in it once
 * and every engine searches it in turn (mmc_partition_set_engine rebuilds the index over the
 * same frame database, every allocation kept: the same hugepages, the same free map). A 1 GiB
 * request is measured only on a pool of at least 2 GiB ("where the pool allows"). Each
 * measured call is MmAllocateContiguousMemoryEx on the partition, timed alone, the block freed
 * at once (untimed); see measure.c.
 *
 * Constraints: range = the middle half of the pool's frames by PFN rank (Lowest = the first
 * byte of the frame of rank N/4, Highest = the last byte of the frame of rank N - N/4 - 1);
 * boundary = the request size rounded up to a power of two (so the block also lands aligned
 * to its size when that is a power of two); node = PreferredNode n (Ex tries n first, then the
 * others nearest first); none = [0, 2^64 - 1], no boundary, MM_ANY_NODE_OK.
 *
 * Scenarios (results/README.md "Scenarios"): states in which the engines' costs differ, each
 * built from the seed once on the pool's one partition and held fixed over the case (no churn),
 * after the matrix, every engine in turn on it:
 *   needle        on the real pool, 64K and 1.5M, constraints none and range;
 *   cut           on the real pool, 12K, 64K and 1.5M, boundary = 4 x the request rounded up
 *                 to a power of two (constraint `boundary`);
 *   near-largest  on the real pool aged to 70 %, requests of 90 % and 100 % of its largest
 *                 free stretch, no constraint;
 *   dma32         (state aged, constraint dma32: Highest = 0xFFFFFFFF) on the dma32 layout,
 *                 8 GiB of which 512 MiB below 4 GiB, fill 0 and 50, 64K 2M 12M.
 * Each runs in both suites when both are selected.
 *
 * pool_sweep_fit.csv: for every (suite, engine, request, constraint, fill) of the matrix
 * measured on at least three simulated pool sizes, the least-squares line log2(latency_ns) =
 * intercept + slope * log2(pool_bytes), for p50 and p99 of the successful calls: slope 0 =
 * independent of the pool size, 1 = proportional to it.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* One case of the search matrix or a scenario, and its FAST_ONLY twin (each if its suite is
 * selected), one after the other. */
static void add_pair(int engine, unsigned pool, unsigned fill_pct, uint64_t size, int con,
                     uint32_t node, int64_t calls, int state, unsigned share_pct)
{
    static const int suites[] = {SUITE_SEARCH, SUITE_FASTONLY};
    for (unsigned k = 0; k < 2; k++) {
        if (!bench_g.opt.suite[suites[k]])
            continue;
        struct bench_case c = {0};
        c.suite = suites[k];
        c.peer = PEER_MMCONTIG;
        c.engine = engine;
        c.pool = pool;
        c.fill_pct = fill_pct;
        c.request_bytes = size;
        c.constraint = con;
        c.node = node;
        c.flags = suites[k] == SUITE_FASTONLY ? suite_fastonly_flags : 0;
        c.calls = calls;
        c.reps = bench_g.opt.repetitions;
        c.state = state;
        c.share_pct = share_pct;
        char sz[24], cons[40], st[32] = "";
        if (state == STATE_NEAR_LARGEST)
            snprintf(sz, sizeof(sz), "largest-%u%%", share_pct);
        else
            bench_size_label(sz, sizeof(sz), size);
        if (con == CON_NODE)
            snprintf(cons, sizeof(cons), "node:%u", node);
        else
            snprintf(cons, sizeof(cons), "%s", bench_constraint_name[con]);
        if (state != STATE_AGED)
            snprintf(st, sizeof(st), "/state:%s", bench_state_name[state]);
        char fill[16] = ""; /* needle, cut, grow: the state says how full */
        if (state == STATE_AGED || state == STATE_NEAR_LARGEST)
            snprintf(fill, sizeof(fill), "/fill:%u", fill_pct);
        snprintf(c.name, sizeof(c.name), "%s/%s/%s/req:%s/%s%s%s", bench_suite_name[c.suite],
                 bench_g.opt.engines[engine], bench_g.pools[pool].label, sz, cons, fill, st);
        bench_add_case(&c);
    }
}

static void register_matrix(void)
{
    const struct bench_preset *ps = bench_g.opt.preset;
    for (unsigned p = 0; p < bench_g.npools; p++) {
        const struct bench_pool *pool = &bench_g.pools[p];
        if (pool->dma32_layout || pool->grow)
            continue; /* a scenario's pool */
        const bool sim = pool->simulated;
        const uint64_t *sizes = sim ? ps->sim_sizes_bytes : ps->sizes_bytes;
        const unsigned nsizes = sim ? ps->nsim_sizes : ps->nsizes;
        const unsigned *fills = sim ? ps->sim_fills_pct : ps->fills_pct;
        const unsigned nfills = sim ? ps->nsim_fills : ps->nfills;
        const unsigned cons = sim ? ps->sim_constraints : (1u << CON_COUNT_MATRIX) - 1;
        const int64_t calls = bench_calls(sim ? ps->sim_calls : ps->calls);
        /* real pool: engines innermost (interleaved: drift hits all alike); simulated: engines
         * outermost within a fill (a 1 TiB index is rebuilt per engine, not per case) */
        const unsigned ne = bench_g.opt.nengines, outer = sim ? ne : 1, inner = sim ? 1 : ne;
        for (unsigned f = 0; f < nfills; f++)
            for (unsigned eo = 0; eo < outer; eo++)
                for (unsigned s = 0; s < nsizes; s++) {
                    if (sizes[s] >= GIB && pool->pool_bytes < 2 * sizes[s])
                        continue; /* 1 GiB only where the pool allows */
                    for (int con = 0; con < CON_COUNT_MATRIX; con++) {
                        if (!(cons & (1u << con)))
                            continue;
                        const unsigned nn = con == CON_NODE && !sim ? bench_g.opt.nnodes : 1;
                        for (unsigned n = 0; n < nn; n++) {
                            uint32_t node = con != CON_NODE ? BENCH_ANY_NODE
                                            : sim           ? 0
                                                            : bench_g.opt.nodes[n];
                            for (unsigned ei = 0; ei < inner; ei++)
                                add_pair((int)(eo + ei), p, fills[f], sizes[s], con, node, calls,
                                         STATE_AGED, 0);
                        }
                    }
                }
    }
}

static void register_scenarios(void)
{
    const struct bench_preset *ps = bench_g.opt.preset;
    const int64_t calls = bench_calls(ps->calls), sim_calls = bench_calls(ps->sim_calls);
    static const uint64_t needle_sizes[] = {64 * KIB, 1536 * KIB};
    static const uint64_t cut_sizes[] = {12 * KIB, 64 * KIB, 1536 * KIB};
    static const uint64_t dma32_sizes[] = {64 * KIB, 2 * MIB, 12 * MIB};
    static const unsigned dma32_fills[] = {0, 50};
    unsigned dma32_pool = 0;
    for (unsigned p = 0; p < bench_g.npools; p++)
        if (bench_g.pools[p].dma32_layout)
            dma32_pool = p;
    /* each state built once on the real pool's one partition, the engines in turn on it */
    const unsigned ne = bench_g.opt.nengines;
    for (unsigned s = 0; s < sizeof(needle_sizes) / sizeof(needle_sizes[0]); s++)
        for (int k = 0; k < 2; k++)
            for (unsigned e = 0; e < ne; e++)
                add_pair((int)e, 0, 0, needle_sizes[s], k ? CON_RANGE : CON_NONE, BENCH_ANY_NODE,
                         calls, STATE_NEEDLE, 0);
    for (unsigned s = 0; s < sizeof(cut_sizes) / sizeof(cut_sizes[0]); s++)
        for (unsigned e = 0; e < ne; e++)
            add_pair((int)e, 0, 0, cut_sizes[s], CON_BOUNDARY, BENCH_ANY_NODE, calls, STATE_CUT, 0);
    for (unsigned share = 90; share <= 100; share += 10)
        for (unsigned e = 0; e < ne; e++)
            add_pair((int)e, 0, 70, 0, CON_NONE, BENCH_ANY_NODE, calls, STATE_NEAR_LARGEST, share);
    /* growth: the small full pool, requests larger than all of it but the first */
    static const uint64_t grow_sizes[] = {2 * MIB, 8 * MIB, 64 * MIB, 256 * MIB};
    for (unsigned p = 0; p < bench_g.npools; p++)
        if (bench_g.pools[p].grow)
            for (unsigned s = 0; s < sizeof(grow_sizes) / sizeof(grow_sizes[0]); s++)
                for (unsigned e = 0; e < ne; e++)
                    add_pair((int)e, p, 100, grow_sizes[s], CON_NONE, BENCH_ANY_NODE,
                             bench_calls(ps->grow_calls), STATE_GROW, 0);
    if (!dma32_pool)
        return;
    for (unsigned f = 0; f < sizeof(dma32_fills) / sizeof(dma32_fills[0]); f++)
        for (unsigned e = 0; e < bench_g.opt.nengines; e++)
            for (unsigned s = 0; s < sizeof(dma32_sizes) / sizeof(dma32_sizes[0]); s++)
                add_pair((int)e, dma32_pool, dma32_fills[f], dma32_sizes[s], CON_DMA32,
                         BENCH_ANY_NODE, sim_calls, STATE_AGED, 0);
}

void suite_search_register(void)
{
    register_matrix();
    register_scenarios();
}

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
        if (used[i] || a->peer != PEER_MMCONTIG || !bench_g.pools[a->pool].simulated ||
            bench_g.pools[a->pool].dma32_layout || a->state != STATE_AGED)
            continue;
        /* the group of a: same everything but the simulated pool */
        double x[BENCH_MAX_POOLS], y50[BENCH_MAX_POOLS], y99[BENCH_MAX_POOLS];
        unsigned n = 0;
        uint64_t pmin = UINT64_MAX, pmax = 0;
        for (size_t j = i; j < bench_g.ncases; j++) {
            const struct bench_case *b = &bench_g.cases[j];
            if (b->peer != PEER_MMCONTIG || !bench_g.pools[b->pool].simulated ||
                bench_g.pools[b->pool].dma32_layout || b->state != STATE_AGED ||
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
