/* bench/bench.c: `mmcontig bench`: the command line, the presets, the signals, and the run
 * (registration with Google Benchmark, the run, the files at the end, the exit code).
 *
 * Flow: parse options (ours; --benchmark_* go to Google Benchmark untouched) -> make the output
 * directory, open one CSV per suite, write context.json -> register every case of the selected
 * suites -> gbench_run() runs them in order, each case writing its row when it completes ->
 * pool_sweep_fit.csv, peers_ratio.csv, partitions and DPDK released, context.json rewritten
 * with the end fields -> exit code.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "peer_dpdk.h"

struct bench_run bench_g;
volatile sig_atomic_t bench_stop;

const char *const bench_suite_name[SUITE_COUNT] = {"search", "fastonly", "peers"};
const char *const bench_constraint_name[CON_COUNT] = {"none", "range", "boundary",
                                                      "range+boundary", "node", "dma32"};
const char *const bench_state_name[STATE_COUNT] = {"aged", "needle", "cut", "near-largest", "grow"};
const char *const bench_peer_name[PEER_COUNT] = {"mmcontig", "dpdk", "kernel-hugetlb-2M",
                                                 "kernel-hugetlb-1G"};

/* quick: every suite in a few minutes on a 2-core VM; the numbers were sized by measuring it
 * with one repetition of 1000 calls per case (3m50s), then split into 3 repetitions (the least
 * that gives an interval over repetitions) of 400 calls, so that about as many calls are
 * measured (1200); the per-case overhead (warm-up, the engine's index set, the stats) is paid
 * per repetition; the run with repetitions takes 4m20s with the charts here (committed run). */
static const struct bench_preset preset_quick = {
    .name = "quick",
    .pool_bytes = 512 * MIB,
    .sizes_bytes = {4 * KIB, 12 * KIB, 64 * KIB, 1 * MIB, 1536 * KIB, 8 * MIB, 12 * MIB, 64 * MIB},
    .nsizes = 8, /* 12K, 1.5M, 12M: not powers of two */
    .fills_pct = {0, 50, 70, 90}, .nfills = 4,
    .calls = 400,
    .sim_pools_bytes = {1 * GIB, 4 * GIB, 16 * GIB, 64 * GIB, 1 * TIB}, .nsim = 5,
    .sim_sizes_bytes = {64 * KIB, 8 * MIB, 1 * GIB}, .nsim_sizes = 3,
    /* 70 and 90 %: the real pool; making a 1 TiB pool's aged blocks costs ~10 s per engine
     * at 50 %, twice that at 70 % */
    .sim_fills_pct = {0, 50}, .nsim_fills = 2,
    .sim_constraints = 1u << CON_NONE,
    .sim_calls = 40,
    .peer_sizes_bytes = {4 * KIB, 64 * KIB, 1 * MIB, 2 * MIB, 8 * MIB, 64 * MIB}, .npeer_sizes = 6,
    .peer_calls_small = 200, .peer_calls_medium = 20, .peer_calls_large = 4,
    .kernel_calls_2m = 20, .kernel_calls_1g = 1,
    .grow_calls = 2,
    .repetitions = 3,
    .case_budget_s = 5,
    .warmup_calls = 4,
    .scale_point_s = 0.25,
    .scale_sim_bytes = 8 * GIB,
};

/* full: for lab servers: more sizes, pools to 1 TiB, nine repetitions (the fewest with which a
 * Mann-Whitney U test over repetitions, `mmcontig compare`, can reach p < 0.05 comfortably; as
 * Google Benchmark's compare.py advises), 500 calls per case and repetition. */
static const struct bench_preset preset_full = {
    .name = "full",
    .pool_bytes = 4 * GIB,
    .sizes_bytes = {4 * KIB, 12 * KIB, 16 * KIB, 64 * KIB, 256 * KIB, 1 * MIB, 1536 * KIB,
                    2 * MIB, 4 * MIB, 8 * MIB, 12 * MIB, 16 * MIB, 32 * MIB, 64 * MIB, 1 * GIB},
    .nsizes = 15,
    .fills_pct = {0, 50, 70, 90}, .nfills = 4,
    .calls = 500,
    .sim_pools_bytes = {1 * GIB, 4 * GIB, 16 * GIB, 64 * GIB, 256 * GIB, 1 * TIB}, .nsim = 6,
    .sim_sizes_bytes = {4 * KIB, 64 * KIB, 1 * MIB, 8 * MIB, 64 * MIB, 1 * GIB}, .nsim_sizes = 6,
    .sim_fills_pct = {0, 50, 70, 90}, .nsim_fills = 4,
    .sim_constraints = (1u << CON_NONE) | (1u << CON_RANGE_BOUNDARY),
    .sim_calls = 100,
    .peer_sizes_bytes = {4 * KIB, 64 * KIB, 1 * MIB, 2 * MIB, 8 * MIB, 64 * MIB, 1 * GIB},
    .npeer_sizes = 7,
    .peer_calls_small = 300, .peer_calls_medium = 30, .peer_calls_large = 4,
    .kernel_calls_2m = 60, .kernel_calls_1g = 2,
    .grow_calls = 3,
    .repetitions = 9,
    .case_budget_s = 60,
    .warmup_calls = 16,
    .scale_point_s = 2,
    .scale_sim_bytes = 64 * GIB,
};

static const char usage[] =
    "usage: mmcontig bench [OPTIONS] [--benchmark_FLAG=VALUE ...]\n"
    "\n"
    "Measures mmcontig's contiguous-search engines call by call over real hugepages (and\n"
    "simulated pools), beside DPDK and the kernel, and writes one CSV row per case\n"
    "(schema: results/README.md). Needs root for the real pool, DPDK and the kernel peer\n"
    "(pagemap frame numbers, nr_hugepages); simulated pools run anywhere.\n"
    "\n"
    "suites (--suite, comma separated; default search,fastonly,peers,frag,frag-kernel,scale):\n"
    "  search    every engine x request size x constraint (none, range, boundary,\n"
    "            range+boundary, node) x fill level (aged by the seeded recipe of\n"
    "            results/README.md; on the real pool half of the aged blocks are movable\n"
    "            or standby load frames, so ordinary calls trade where no free block is\n"
    "            left) on the real pool, and the pool-size sweep on simulated pools\n"
    "            (pool_sweep_fit.csv: slope of latency against pool size); then the\n"
    "            scenarios: needle, cut (boundary), near-largest, dma32, and grow (a full\n"
    "            64 MiB real pool per call, growth allowed to 2 GiB, 2M..256M requests).\n"
    "            One partition per pool: every engine searches the same state in turn\n"
    "            (mmc_partition_set_engine). Per case latency, the engine's search work\n"
    "            (work_p50/p99/max) and the slow path's counters (trades, frames_moved,\n"
    "            frames_dropped, hugepages_added, compactions, grow_ns)\n"
    "  fastonly  the same cases with MM_ALLOCATE_CONTIGUOUS_MEMORY_FAST_ONLY, each right after\n"
    "            its search twin on the same state: time and work to decide (against each\n"
    "            engine's own bound, mmc_engine_fast_only_work), success rate, false negatives\n"
    "            against an exhaustive oracle; it never trades or grows (those columns 0)\n"
    "  peers     DPDK rte_memzone_reserve_bounded(IOVA_CONTIG) on its own hugepages, the\n"
    "            kernel allocating a fresh 2 MiB and 1 GiB hugepage, and every engine on the\n"
    "            same requests (fill 0, and growing a full 64 MiB pool: state grow); every\n"
    "            block checked against pagemap; peers_ratio.csv%s\n"
    "  frag      fragmentation under load to steady state: per engine and placement policy\n"
    "            (plain, clustered), a real pool (one 1 GiB hugepage; full: four) aged by the\n"
    "            load model's aging trace (MDLs, blocks, movable and standby load) for\n"
    "            --frag-ops operations, sampled on a log scale of operations: U(j), FI(j), the\n"
    "            largest free stretch, and 2, 8, 64 MiB probes with and without FAST_ONLY with\n"
    "            the ordinary path's cost (frag.csv)\n"
    "  frag-kernel the real kernel's fragmentation (about 20 s in quick): a helper\n"
    "            process holds a share of MemAvailable (quick 1/8, at most 2 GiB;\n"
    "            MMC_FRAG_KERNEL_MAX=MiB caps it) keeping one 4 KiB page of every 2 MiB, then\n"
    "            2 MiB..1 GiB blocks by growth, ordinary and FAST_ONLY, and DPDK's\n"
    "            IOVA-contiguous memzones of the same sizes (dynamic memory, --legacy-mem;\n"
    "            a child process each, the kernel's raise of nr_hugepages timed apart), with\n"
    "            the kernel's compaction counters (frag_kernel.csv, frag_kernel.json)\n"
    "  scale     throughput and latency against threads (--threads), each pinned to a CPU:\n"
    "            a simulated 2-node pool (quick 8G, full 64G) and the real pool, per engine;\n"
    "            mixes small (4K-64K), medium (1M-8M under a range and a 16M boundary), mdl\n"
    "            (64K-1M MDLs, real pool); placements own (thread i on node i mod nodes) and\n"
    "            one (all on node 0); DPDK's memzones in the same shapes as a peer (small,\n"
    "            medium without the range; a child process); each point runs quick 0.25 s,\n"
    "            full 2 s, every series 3 times over, rows the medians (scale.csv)\n"
    "\n"
    "options:\n"
    "  --suite LIST        suites to run (see above)\n"
    "  --algo LIST         engines (default all: %s)\n"
    "  --pool SIZE         the real pool: 512M, 8G (split over --nodes), or per node 0:4G,1:4G\n"
    "                      (default: quick 512M, full 4G)\n"
    "  --page 2M|1G        hugepage size of the real pool (default 2M)\n"
    "  --nodes LIST        nodes of the real pool and of the node constraint (default all)\n"
    "  --frag-ops N        operations of the aging trace per engine and placement in the frag\n"
    "                      suite (default: quick 1000000, full 100000000)\n"
    "  --seed N            seed of the aging, the churn and the simulated layouts (default 1)\n"
    "  --out DIR           output directory (default results/<host>/<UTC time>/)\n"
    "  --preset quick|full quick (default): every suite in a few minutes on a 2-core VM\n"
    "                      (real pool 512M: 4K 12K 64K 1M 1.5M 8M 12M 64M x 5 constraints x\n"
    "                      fill 0 50 70 90, 3 repetitions of 400 calls per case; simulated 1G\n"
    "                      4G 16G 64G 1T: 64K 8M 1G x fill 0 50, 3 x 40 calls, every engine;\n"
    "                      the scenarios; peers 4K..64M; 5 s budget per case and repetition);\n"
    "                      full: lab servers (15 sizes to 1G, simulated to 1T at fill 0 50 70\n"
    "                      90, 9 repetitions of 500 calls, 60 s budget)\n"
    "                      Repetitions run interleaved: within each block of cases that share\n"
    "                      a pool state, every case's repetition 1, then every case's\n"
    "                      repetition 2, ... (names end in /rep:K); a case's row merges its\n"
    "                      repetitions and carries 95 %% intervals of p50 and p99\n"
    "  --calls N           measured calls per case and repetition (overrides the preset)\n"
    "  --threads LIST      thread counts of the scale suite, e.g. 1,2,4,8 (default 1, 2, 4 ...\n"
    "                      below the CPUs this process may use, then their count)\n"
    "  --scale-seconds S   how long each thread count of the scale suite runs (default: quick\n"
    "                      0.25, full 2)\n"
    "  --sim-pools LIST    simulated pool sizes of the sweep, e.g. 1G,16G,256G (0: none)\n"
    "  --plugin PATH.so    load a search engine from a shared object (docs/engines.md; may be\n"
    "                      given again): it joins the engines above, in every suite and CSV\n"
    "                      (MMC_ENGINE_PLUGIN=a.so,b.so does the same)\n"
    "  -h, --help          this text\n"
    "\n"
    "Google Benchmark 1.7.1 flags pass through (always in the --flag=value form), e.g.\n"
    "  --benchmark_filter=REGEX         run the cases whose name matches (names look like\n"
    "                                   search/linear/real-512M/req:64K/range/fill:50/...)\n"
    "  --benchmark_list_tests=true      list the case names and exit (nothing is written)\n"
    "  --benchmark_repetitions=N        repetitions of each case, 1..64 (default: the\n"
    "                                   preset's); one CSV row per case: the calls of all\n"
    "                                   repetitions, each one's p50 and p99; Google\n"
    "                                   Benchmark's JSON has each repetition (NAME/rep:K)\n"
    "  --benchmark_out=FILE             Google Benchmark's own report (default:\n"
    "                                   OUT/gbench.json, --benchmark_out_format=json)\n"
    "  --benchmark_format=console|json|csv   what goes to stdout\n"
    "--benchmark_min_time has no effect: each case makes a fixed number of calls.\n"
    "\n"
    "output (OUT/): search.csv fastonly.csv peers.csv (a row per case, written as it\n"
    "completes), frag.csv (a row per sample and probe), scale.csv (a row per thread count),\n"
    "pool_sweep_fit.csv, peers_ratio.csv,\n"
    "context.json, gbench.json. A progress\n"
    "line with ETA goes to stderr (a line per case when stderr is not a terminal). Ctrl-C or\n"
    "SIGTERM stops at the next call, keeps every completed row and closes every file; a\n"
    "second one kills at once (the rows written so far still parse).\n"
    "\n"
    "exit codes: 0 every selected case ran; 1 some cases could not run (named on stderr and in\n"
    "gbench.json) or a file could not be written; 2 bad usage; 130 / 143 interrupted by\n"
    "SIGINT / SIGTERM.\n";

static void print_usage(FILE *f)
{
    char engines[256] = "";
    size_t off = 0;
    for (size_t i = 0; mmc_engine_name(i) && off < sizeof(engines); i++)
        off += (size_t)snprintf(engines + off, sizeof(engines) - off, "%s%s", i ? "," : "",
                                mmc_engine_name(i));
    fprintf(f, usage,
            MMC_BENCH_HAVE_DPDK ? "" : "\n            (DPDK NOT BUILT: libdpdk-dev was missing at configure time)",
            engines);
}

/* ---- small helpers ---- */

int64_t bench_calls(int64_t preset_calls)
{
    return bench_g.opt.calls_override > 0 ? bench_g.opt.calls_override : preset_calls;
}

void bench_size_label(char *buf, size_t len, uint64_t b)
{
    if (b >= TIB && b % TIB == 0)
        snprintf(buf, len, "%" PRIu64 "T", (uint64_t)(b / TIB));
    else if (b >= GIB && b % GIB == 0)
        snprintf(buf, len, "%" PRIu64 "G", (uint64_t)(b / GIB));
    else if (b >= MIB && b % MIB == 0)
        snprintf(buf, len, "%" PRIu64 "M", (uint64_t)(b / MIB));
    else if (b >= KIB && b % KIB == 0)
        snprintf(buf, len, "%" PRIu64 "K", (uint64_t)(b / KIB));
    else
        snprintf(buf, len, "%" PRIu64 "B", b);
}

/* "512M", "8G", "4096", "1T" -> bytes; 0 on error. */
static uint64_t parse_size(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return 0;
    uint64_t m = 1;
    switch (*end) {
    case 'k': case 'K': m = KIB; end++; break;
    case 'm': case 'M': m = MIB; end++; break;
    case 'g': case 'G': m = GIB; end++; break;
    case 't': case 'T': m = TIB; end++; break;
    default: break;
    }
    if (*end == 'i' && end[1] == 'B')
        end += 2;
    else if (*end == 'B')
        end++;
    if (*end || v > UINT64_MAX / m)
        return 0;
    return v * m;
}

struct bench_case *bench_add_case(const struct bench_case *c)
{
    if (bench_g.ncases == bench_g.cases_cap) {
        size_t cap = bench_g.cases_cap ? bench_g.cases_cap * 2 : 1024;
        struct bench_case *t = realloc(bench_g.cases, cap * sizeof(*t));
        if (!t)
            return NULL;
        bench_g.cases = t;
        bench_g.cases_cap = cap;
    }
    bench_g.cases[bench_g.ncases] = *c;
    return &bench_g.cases[bench_g.ncases++];
}

/* ---- signals ---- */

static void on_signal(int sig)
{
    if (bench_stop) { /* the second one: die now, as the user asks */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    bench_stop = sig;
    static const char msg[] = "\nmmcontig bench: stopping at the next call; every completed row "
                              "is kept (again to kill at once)\n";
    ssize_t r = write(STDERR_FILENO, msg, sizeof(msg) - 1);
    (void)r;
}

void bench_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* ---- options ---- */

static int parse_list(const char *arg, char items[][MMC_NAME_MAX], unsigned max, unsigned *n)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", arg);
    *n = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (*n == max)
            return -1;
        snprintf(items[(*n)++], MMC_NAME_MAX, "%s", t);
    }
    return *n ? 0 : -1;
}

static int usage_error(const char *fmt, const char *arg)
{
    fputs("mmcontig bench: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs(" (mmcontig bench --help)\n", stderr);
    return BENCH_EXIT_USAGE;
}

/* The arguments of the options that are read after the whole command line (parse_options) */
struct raw_opts {
    const char *suites, *algo, *pool, *page, *nodes, *preset, *sims, *threads;
};

/* Set Google Benchmark's flags aside into gargv and return the rest in ours (argv[0] kept), or
 * NULL when out of memory. */
static char **split_gbench_flags(struct bench_opts *o, int argc, char **argv, int *gargc,
                                 char **gargv, int *nours)
{
    char **ours = calloc((size_t)argc + 1, sizeof(char *));
    *nours = 0;
    if (!ours)
        return NULL;
    for (int i = 0; i < argc; i++) {
        if (i > 0 && (!strncmp(argv[i], "--benchmark_", 12) || !strncmp(argv[i], "--v=", 4))) {
            gargv[(*gargc)++] = argv[i];
            if (!strncmp(argv[i], "--benchmark_list_tests", 22) && !strstr(argv[i], "=false") &&
                !strstr(argv[i], "=0"))
                o->list_only = true;
            if (!strncmp(argv[i], "--benchmark_repetitions=", 24))
                o->repetitions = atoi(argv[i] + 24);
        } else {
            ours[(*nours)++] = argv[i];
        }
    }
    return ours;
}

/* One option of getopt_long: kept in r, or read into o at once; returns -1 to go on, or an
 * exit code. */
static int parse_one(struct bench_opts *o, struct raw_opts *r, int c, const char *arg)
{
    int rc = -1;
    switch (c) {
    case 's': r->suites = arg; break;
    case 'a': r->algo = arg; break;
    case 'p': r->pool = arg; break;
    case 'g': r->page = arg; break;
    case 'n': r->nodes = arg; break;
    case 'S': {
        char *end;
        o->seed = strtoull(arg, &end, 0);
        if (*end || end == arg)
            rc = usage_error("--seed '%s' is not a number", arg);
        break;
    }
    case 'o': snprintf(o->out_dir, sizeof(o->out_dir), "%s", arg); break;
    case 'P': r->preset = arg; break;
    case 'c':
        o->calls_override = strtoll(arg, NULL, 10);
        if (o->calls_override <= 0)
            rc = usage_error("--calls '%s': give a positive count", arg);
        break;
    case 'm': r->sims = arg; break;
    case 'T': r->threads = arg; break;
    case 'D': {
        char *end;
        o->scale_seconds = strtod(arg, &end);
        if (*end || end == arg || !(o->scale_seconds > 0 && o->scale_seconds <= 3600))
            rc = usage_error("--scale-seconds '%s': give seconds, above 0 and at most 3600", arg);
        break;
    }
    case 'F': { /* the frag suite's length */
        char *end;
        o->frag_ops = strtoull(arg, &end, 0);
        if (*end || end == arg || !o->frag_ops)
            rc = usage_error("--frag-ops '%s': give a positive count of operations", arg);
        break;
    }
    case 'L': {
        /* loaded at once, so that --algo and --help see the engine whatever the order */
        const char *name = NULL;
        if (o->nplugins == BENCH_MAX_ENGINES)
            rc = usage_error("--plugin '%s': at most 16 plugins", arg);
        else if (mmc_engine_load(arg, &name) < 0)
            rc = usage_error("--plugin: %s", mmc_last_error());
        else
            o->plugin_path[o->nplugins] = arg, o->plugin_name[o->nplugins++] = name;
        break;
    }
    case 'h': print_usage(stdout); rc = BENCH_EXIT_OK; break;
    default: rc = usage_error("%s", "unknown option"); break;
    }
    return rc;
}

/* The preset and the repetitions it implies; returns -1 to go on, or an exit code. */
static int parse_preset(struct bench_opts *o, const char *preset)
{
    if (!strcmp(preset, "quick"))
        o->preset = &preset_quick;
    else if (!strcmp(preset, "full"))
        o->preset = &preset_full;
    else
        return usage_error("--preset '%s': quick or full", preset);
    if (o->repetitions <= 0)
        o->repetitions = o->preset->repetitions;
    if (o->repetitions > BENCH_MAX_REPS) {
        char n[16];
        snprintf(n, sizeof(n), "%d", o->repetitions);
        return usage_error("--benchmark_repetitions=%s: at most 64 (each case's row keeps every "
                           "repetition's p50 and p99)", n);
    }
    return -1;
}

/* --suite: the suites to run; returns -1 to go on, or an exit code. */
static int parse_suites(struct bench_opts *o, const char *suites)
{
    char items[BENCH_MAX_LIST][MMC_NAME_MAX];
    unsigned n;
    if (parse_list(suites, items, BENCH_MAX_LIST, &n) < 0)
        return usage_error("--suite '%s': give a comma separated list", suites);
    for (unsigned i = 0; i < n; i++) {
        int s;
        if (!strcmp(items[i], "all")) {
            for (s = 0; s < SUITE_COUNT; s++)
                o->suite[s] = true;
            o->frag = true;
            o->scale = true;
            o->frag_kernel = true;
            continue;
        }
        if (!strcmp(items[i], "frag-kernel")) {
            o->frag_kernel = true;
            continue;
        }
        if (!strcmp(items[i], "frag")) {
            o->frag = true;
            continue;
        }
        if (!strcmp(items[i], "scale")) {
            o->scale = true;
            continue;
        }
        for (s = 0; s < SUITE_COUNT && strcmp(items[i], bench_suite_name[s]); s++)
            ;
        if (s == SUITE_COUNT)
            return usage_error("unknown suite '%s' (search, fastonly, peers, frag, frag-kernel, scale)", items[i]);
        o->suite[s] = true;
    }
    return -1;
}

/* --threads: the scale suite's thread counts; returns -1 to go on, or an exit code. */
static int parse_threads(struct bench_opts *o, const char *threads)
{
    if (threads) {
        char titems[BENCH_MAX_LIST][MMC_NAME_MAX];
        if (parse_list(threads, titems, BENCH_MAX_LIST, &o->nthreads) < 0)
            return usage_error("--threads '%s': give a comma separated list of counts", threads);
        for (unsigned i = 0; i < o->nthreads; i++) {
            char *end;
            unsigned long v = strtoul(titems[i], &end, 10);
            if (*end || end == titems[i] || v == 0 || v > 4096)
                return usage_error("--threads: '%s' is not a thread count (1..4096)", titems[i]);
            o->threads[i] = (unsigned)v;
        }
    } else {
        o->nthreads = suite_scale_default_threads(o->threads, BENCH_MAX_LIST);
    }
    return -1;
}

/* --algo: the engines, by the registry, never a fixed list; returns -1 to go on, or an exit
 * code. */
static int parse_engines(struct bench_opts *o, const char *algo)
{
    if (mmc_engine_plugin_error())
        return usage_error("%s", mmc_engine_plugin_error());
    if (algo) {
        if (parse_list(algo, o->engines, BENCH_MAX_ENGINES, &o->nengines) < 0)
            return usage_error("--algo '%s': give a comma separated list", algo);
        for (unsigned i = 0; i < o->nengines; i++) {
            size_t k = 0;
            while (mmc_engine_name(k) && strcmp(mmc_engine_name(k), o->engines[i]))
                k++;
            if (!mmc_engine_name(k))
                return usage_error("unknown engine '%s' (mmcontig bench --help lists them)",
                                   o->engines[i]);
        }
    } else {
        for (size_t k = 0; mmc_engine_name(k) && o->nengines < BENCH_MAX_ENGINES; k++)
            snprintf(o->engines[o->nengines++], MMC_NAME_MAX, "%s", mmc_engine_name(k));
    }
    if (!o->nengines)
        return usage_error("%s", "no search engine is registered");
    return -1;
}

/* --nodes: the nodes of this machine to use; returns -1 to go on, or an exit code. */
static int parse_nodes(struct bench_opts *o, const char *nodes, unsigned machine_nodes)
{
    char items[BENCH_MAX_LIST][MMC_NAME_MAX];
    unsigned n;
    if (nodes) {
        if (parse_list(nodes, items, BENCH_MAX_LIST, &n) < 0)
            return usage_error("--nodes '%s': give a comma separated list", nodes);
        for (unsigned i = 0; i < n; i++) {
            char *end;
            unsigned long v = strtoul(items[i], &end, 10);
            if (*end || v >= machine_nodes)
                return usage_error("--nodes: '%s' is not a node of this machine", items[i]);
            o->nodes[o->nnodes++] = (unsigned)v;
        }
    } else {
        for (unsigned i = 0; i < machine_nodes && i < MMC_MAX_NODES; i++)
            o->nodes[o->nnodes++] = i;
    }
    return -1;
}

/* --pool: the real pool's configuration, and the real pool as bench_g's first pool; returns -1
 * to go on, or an exit code. */
static int parse_real_pool(struct bench_opts *o, const char *pool, const char *nodes,
                           unsigned machine_nodes)
{
    char items[BENCH_MAX_LIST][MMC_NAME_MAX];
    unsigned n;
    mmc_config_init(&o->pool_cfg);
    memset(o->pool_cfg.node_pool_bytes, 0, sizeof(o->pool_cfg.node_pool_bytes));
    o->pool_cfg.page_bytes = o->page_bytes;
    o->pool_cfg.allow_topup = 1;
    uint64_t total = 0;
    if (pool && strchr(pool, ':')) {
        if (parse_list(pool, items, BENCH_MAX_LIST, &n) < 0)
            return usage_error("--pool '%s': SIZE or NODE:SIZE,...", pool);
        for (unsigned i = 0; i < n; i++) {
            char *colon = strchr(items[i], ':');
            unsigned long nd = colon ? strtoul(items[i], NULL, 10) : MMC_MAX_NODES;
            uint64_t b = colon ? parse_size(colon + 1) : 0;
            if (nd >= machine_nodes || !b)
                return usage_error("--pool: '%s' is not NODE:SIZE of a node here", items[i]);
            o->pool_cfg.node_pool_bytes[nd] = b;
            total += b;
        }
    } else {
        total = pool ? parse_size(pool) : o->preset->pool_bytes;
        if (!total)
            return usage_error("--pool '%s': a size such as 512M or 8G", pool);
        if (nodes) {
            for (unsigned i = 0; i < o->nnodes; i++)
                o->pool_cfg.node_pool_bytes[o->nodes[i]] = (total / o->nnodes + o->page_bytes - 1) /
                                                           o->page_bytes * o->page_bytes;
        } else {
            o->pool_cfg.pool_bytes = total;
        }
    }
    snprintf(o->pool_arg, sizeof(o->pool_arg), "%s", pool ? pool : "");
    struct bench_pool *rp = &bench_g.pools[bench_g.npools++];
    char sz[16];
    bench_size_label(sz, sizeof(sz), total);
    snprintf(rp->label, sizeof(rp->label), "real-%s", sz);
    rp->pool_bytes = total;
    rp->page_bytes = o->page_bytes;
    memcpy(rp->node_pool_bytes, o->pool_cfg.node_pool_bytes, sizeof(rp->node_pool_bytes));
    return -1;
}

/* --sim-pools: the simulated pools of the sweep, then the grow and dma32 pools, after the real
 * pool in bench_g; returns -1 to go on, or an exit code. */
static int parse_other_pools(struct bench_opts *o, const char *sims)
{
    char items[BENCH_MAX_LIST][MMC_NAME_MAX];
    unsigned n;
    char sz[16];
    if (sims) {
        if (parse_list(sims, items, BENCH_MAX_LIST, &n) < 0)
            return usage_error("--sim-pools '%s': a list of sizes, or 0", sims);
        for (unsigned i = 0; i < n; i++) {
            uint64_t b = parse_size(items[i]);
            if (!strcmp(items[i], "0"))
                continue;
            if (!b || o->nsim == BENCH_MAX_LIST)
                return usage_error("--sim-pools: '%s' is not a size", items[i]);
            o->sim_pools_bytes[o->nsim++] = b;
        }
    } else {
        memcpy(o->sim_pools_bytes, o->preset->sim_pools_bytes, sizeof(o->sim_pools_bytes));
        o->nsim = o->preset->nsim;
    }
    for (unsigned i = 0; i < o->nsim && bench_g.npools < BENCH_MAX_POOLS - 1; i++) {
        struct bench_pool *sp = &bench_g.pools[bench_g.npools++];
        bench_size_label(sz, sizeof(sz), o->sim_pools_bytes[i]);
        snprintf(sp->label, sizeof(sp->label), "sim-%s", sz);
        sp->simulated = true;
        sp->pool_bytes = o->sim_pools_bytes[i];
        sp->page_bytes = 2 * MIB;
    }
    /* the grow cases' pool: 64 MiB of the real pool's page size, all in use, growth to 2 GiB */
    if (bench_g.npools < BENCH_MAX_POOLS) {
        struct bench_pool *gp = &bench_g.pools[bench_g.npools++];
        snprintf(gp->label, sizeof(gp->label), "real-64M-grow");
        gp->grow = true;
        gp->pool_bytes = o->page_bytes > 64 * MIB ? o->page_bytes : 64 * MIB;
        gp->page_bytes = o->page_bytes;
        gp->grow_max_bytes = 2 * GIB > 2 * gp->pool_bytes ? 2 * GIB : 4 * gp->pool_bytes; /* room
                                                     for a 1 GiB hugepage beside the pool */
    }
    /* the scenario pool of the dma32 constraint: mostly above 4 GiB (target.c writes it) */
    if (bench_g.npools < BENCH_MAX_POOLS) {
        struct bench_pool *dp = &bench_g.pools[bench_g.npools++];
        snprintf(dp->label, sizeof(dp->label), "sim-dma32-8G");
        dp->simulated = dp->dma32_layout = true;
        dp->pool_bytes = 8 * GIB;
        dp->page_bytes = 2 * MIB;
    }
    return -1;
}

/* Fill bench_g.opt; returns -1 to go on, or an exit code. */
static int parse_options(int argc, char **argv, int *gargc, char **gargv)
{
    struct bench_opts *o = &bench_g.opt;
    static const struct option opts[] = {
        {"suite", required_argument, 0, 's'}, {"algo", required_argument, 0, 'a'},
        {"pool", required_argument, 0, 'p'},  {"page", required_argument, 0, 'g'},
        {"nodes", required_argument, 0, 'n'}, {"seed", required_argument, 0, 'S'},
        {"out", required_argument, 0, 'o'},   {"preset", required_argument, 0, 'P'},
        {"calls", required_argument, 0, 'c'}, {"sim-pools", required_argument, 0, 'm'},
        {"plugin", required_argument, 0, 'L'}, {"help", no_argument, 0, 'h'},
        {"threads", required_argument, 0, 'T'}, {"scale-seconds", required_argument, 0, 'D'},
        {"frag-ops", required_argument, 0, 'F'},
        {0, 0, 0, 0}};
    /* Google Benchmark's flags are set aside first */
    int nours;
    char **ours = split_gbench_flags(o, argc, argv, gargc, gargv, &nours);
    if (!ours)
        return BENCH_EXIT_CASE_ERRORS;
    struct raw_opts r = {.suites = "search,fastonly,peers,frag,frag-kernel,scale", .page = "2M",
                         .preset = "quick"};
    int c, rc = -1;
    optind = 1;
    while (rc < 0 && (c = getopt_long(nours, ours, "h", opts, NULL)) != -1)
        rc = parse_one(o, &r, c, optarg);
    if (rc < 0 && optind < nours)
        rc = usage_error("unexpected argument '%s'", ours[optind]);
    free(ours);
    if (rc >= 0)
        return rc;

    if ((rc = parse_preset(o, r.preset)) >= 0 || (rc = parse_suites(o, r.suites)) >= 0 ||
        (rc = parse_threads(o, r.threads)) >= 0 || (rc = parse_engines(o, r.algo)) >= 0)
        return rc;

    /* page */
    o->page_bytes = parse_size(r.page);
    if (o->page_bytes != 2 * MIB && o->page_bytes != GIB)
        return usage_error("--page '%s': 2M or 1G", r.page);

    const unsigned machine_nodes = hugetlb_node_count();
    if ((rc = parse_nodes(o, r.nodes, machine_nodes)) >= 0 ||
        (rc = parse_real_pool(o, r.pool, r.nodes, machine_nodes)) >= 0)
        return rc;
    return parse_other_pools(o, r.sims);
}

/* ---- repetitions: interleaved, block by block ---- */

/* Two consecutive cases are in one block when they meet the same state of the same pool with
 * the same kind of caller: a block's state is built once, whatever the order of its cases. */
static bool same_block(const struct bench_case *a, const struct bench_case *b)
{
    if (a->peer != b->peer || a->pool != b->pool || a->state != b->state)
        return false;
    if (a->peer != PEER_MMCONTIG || a->state == STATE_GROW) /* a fresh pool per call */
        return true;
    const struct state_spec x = bench_case_state(a), y = bench_case_state(b);
    return x.kind == y.kind && x.fill_pct == y.fill_pct && x.frames == y.frames &&
           x.boundary_frames == y.boundary_frames && x.constraint == y.constraint;
}

/* Register every case's repetitions with Google Benchmark, repetition-major within each block
 * of cases (same_block): the block's cases in their order for repetition 1, then again for
 * repetition 2, and so on, so that drift over the run (the machine, the kernel, caches) hits
 * every engine of a block alike, while each state is still built once per block. Google
 * Benchmark runs one registration's repetitions back to back, so each repetition is a
 * registration of its own ("NAME/rep:K", Repetitions(1)); the case's histograms are merged
 * over its repetitions and its row written after the last (measure.c). */
static int register_repetitions(void)
{
    bench_g.nregs = 0;
    for (size_t b0 = 0; b0 < bench_g.ncases;) {
        size_t b1 = b0 + 1;
        while (b1 < bench_g.ncases && same_block(&bench_g.cases[b1 - 1], &bench_g.cases[b1]))
            b1++;
        int maxr = 0;
        for (size_t i = b0; i < b1; i++)
            if (bench_g.cases[i].reps > maxr)
                maxr = bench_g.cases[i].reps;
        for (int r = 0; r < maxr; r++)
            for (size_t i = b0; i < b1; i++) {
                struct bench_case *c = &bench_g.cases[i];
                if (r >= c->reps)
                    continue;
                char name[sizeof(c->name) + 16];
                snprintf(name, sizeof(name), "%s/rep:%d", c->name, r + 1);
                struct gbench_def d = {0};
                d.name = name;
                d.fn = bench_case_fn;
                d.user = c; /* the array is complete: pointers stay valid */
                d.iterations = c->calls;
                d.repetitions = 1;
                d.manual_time = true;
                d.unit = GBENCH_NS;
                if (gbench_register(&d) < 0) {
                    fprintf(stderr, "mmcontig bench: cannot register %s: out of memory (fewer "
                            "cases: --suite, --algo, --sim-pools)\n", name);
                    return -1;
                }
                bench_g.nregs++;
            }
        b0 = b1;
    }
    return 0;
}

/* ---- progress prediction: Google Benchmark's filter, applied to our names ---- */

static size_t predict_cases(void)
{
    char filter[1024];
    gbench_filter(filter, sizeof(filter));
    bool negate = filter[0] == '-';
    const char *re = negate ? filter + 1 : filter;
    regex_t rx;
    bool all = !*re || !strcmp(re, "all") || !strcmp(re, ".");
    if (!all && regcomp(&rx, re, REG_EXTENDED | REG_NOSUB) != 0)
        return bench_g.nregs; /* cannot tell: assume all */
    size_t n = 0;
    for (size_t i = 0; i < bench_g.ncases; i++) {
        const struct bench_case *c = &bench_g.cases[i];
        for (int r = 0; r < c->reps; r++) {
            char full[320];
            snprintf(full, sizeof(full), "%s/rep:%d/iterations:%" PRId64 "/repeats:1/manual_time",
                     c->name, r + 1, c->calls);
            bool m = all || regexec(&rx, full, 0, NULL, 0) == 0;
            if (m != negate || all)
                n++;
        }
    }
    if (!all)
        regfree(&rx);
    return n;
}

static int mkdir_p(const char *path)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, 0755) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

/* The run's identity (host, start, run id), its output directory, and Google Benchmark's output
 * flags added to gargv unless the caller gave --benchmark_out. */
static void set_identity(int *gargc, char **gargv)
{
    gethostname(bench_g.host, sizeof(bench_g.host) - 1);
    for (char *p = bench_g.host; *p; p++)
        if (*p == ',' || *p == '/' || *p == '"' || *p == ' ')
            *p = '_';
    char utc[32];
    context_utc_now(utc, sizeof(utc), true);
    context_utc_now(bench_g.start_utc, sizeof(bench_g.start_utc), false);
    snprintf(bench_g.run_id, sizeof(bench_g.run_id), "%s-%s", bench_g.host, utc);
    if (!bench_g.opt.out_dir[0])
        snprintf(bench_g.opt.out_dir, sizeof(bench_g.opt.out_dir), "results/%s/%s", bench_g.host, utc);
    static char out_flag[PATH_MAX + 32];
    bool user_out = false;
    for (int i = 1; i < *gargc; i++)
        user_out |= !strncmp(gargv[i], "--benchmark_out=", 16);
    if (!user_out && !bench_g.opt.list_only) {
        snprintf(out_flag, sizeof(out_flag), "--benchmark_out=%s/gbench.json", bench_g.opt.out_dir);
        gargv[(*gargc)++] = out_flag;
        gargv[(*gargc)++] = "--benchmark_out_format=json";
    }
    gargv[*gargc] = NULL;
}

/* Before the cases run: the output directory, the CSVs, the logs, the noise and context
 * snapshots, the first context.json and Google Benchmark's context; -1 on an error (told). */
static int open_outputs(void)
{
    int e = mkdir_p(bench_g.opt.out_dir);
    if (e < 0) {
        fprintf(stderr, "mmcontig bench: cannot create %s: %s\n", bench_g.opt.out_dir, strerror(-e));
        return -1;
    }
    if (bench_open_csvs() < 0)
        return -1;
    bench_g.aging_log = open_memstream(&bench_g.aging_json, &bench_g.aging_json_len);
    bench_g.pools_log = open_memstream(&bench_g.pools_json, &bench_g.pools_json_len);
    bench_g.timer_overhead_ns = bench_timer_overhead_ns();
    noise_start();
    context_snapshot_start();
    context_write(false, 0);
    char seed[32];
    snprintf(seed, sizeof(seed), "%" PRIu64, bench_g.opt.seed);
    gbench_add_context("mmcontig_run_id", bench_g.run_id);
    gbench_add_context("mmcontig_preset", bench_g.opt.preset->name);
    gbench_add_context("mmcontig_seed", seed);
    gbench_add_context("mmcontig_out", bench_g.opt.out_dir);
    return 0;
}

/* After the cases of a run that is not --benchmark_list_tests: the derived files and the suites
 * that run outside Google Benchmark, the CSVs and logs closed, the final context.json and the
 * summary line; returns the exit code. */
static int finish_run(long ran)
{
    if (suite_search_write_fit() < 0 || suite_peers_write_ratios() < 0)
        bench_g.write_errors++;
    if ((bench_g.opt.frag || bench_g.opt.frag_kernel) && !bench_stop && suite_frag_run() < 0)
        bench_g.write_errors++;
    if (bench_g.opt.scale && !bench_stop && suite_scale_run() < 0)
        bench_g.write_errors++;
    bench_close_csvs();
    int code = bench_stop == SIGINT    ? BENCH_EXIT_SIGINT
               : bench_stop == SIGTERM ? BENCH_EXIT_SIGTERM
               : (ran < 0 || bench_g.case_errors || bench_g.write_errors) ? BENCH_EXIT_CASE_ERRORS
                                                                          : BENCH_EXIT_OK;
    if (bench_g.aging_log)
        fclose(bench_g.aging_log);
    if (bench_g.pools_log)
        fclose(bench_g.pools_log);
    bench_g.aging_log = bench_g.pools_log = NULL;
    noise_end();
    if (context_write(true, code) < 0 && code == BENCH_EXIT_OK)
        code = BENCH_EXIT_CASE_ERRORS;
    fprintf(stderr, "mmcontig bench: %s: %" PRIu64 " case errors, %" PRIu64 " stopped by their "
            "time budget; results in %s/\n",
            code == BENCH_EXIT_OK ? "done" : bench_stop ? "interrupted" : "done with errors",
            bench_g.case_errors, bench_g.budget_stops, bench_g.opt.out_dir);
    return code;
}

int mmc_bench_main(int argc, char **argv)
{
    memset(&bench_g, 0, sizeof(bench_g));
    if (argc > 1 && !strcmp(argv[1], "__frag-kernel-dpdk")) /* internal: frag_kernel.c's child */
        return frag_kernel_dpdk_child(argc - 1, argv + 1);
    if (argc > 1 && !strcmp(argv[1], "__scale-dpdk")) /* internal: suite_scale.c's child */
        return suite_scale_dpdk_child(argc - 1, argv + 1);
    bench_g.opt.seed = 1;
    bench_g.opt.argc = argc;
    bench_g.opt.argv = argv;
    char **gargv = calloc((size_t)argc + 4, sizeof(char *));
    int gargc = 0;
    if (!gargv)
        return BENCH_EXIT_CASE_ERRORS;
    gargv[gargc++] = "mmcontig-bench";
    int rc = parse_options(argc, argv, &gargc, gargv);
    if (rc >= 0) {
        free(gargv);
        return rc;
    }

    set_identity(&gargc, gargv);
    if (gbench_initialize(&gargc, gargv) < 0) {
        free(gargv);
        return BENCH_EXIT_CASE_ERRORS;
    }
    if (gargc > 1) {
        fprintf(stderr, "mmcontig bench: Google Benchmark does not know '%s' (give its flags "
                        "as --benchmark_FLAG=VALUE)\n", gargv[1]);
        free(gargv);
        return BENCH_EXIT_USAGE;
    }

    /* the cases */
    if (bench_g.opt.suite[SUITE_SEARCH] || bench_g.opt.suite[SUITE_FASTONLY])
        suite_search_register(); /* both suites, twin by twin */
    if (bench_g.opt.suite[SUITE_PEERS])
        suite_peers_register();
    if (register_repetitions() < 0) {
        free(gargv);
        return BENCH_EXIT_CASE_ERRORS;
    }

    if (!bench_g.opt.list_only) {
        if (open_outputs() < 0) {
            free(gargv);
            return BENCH_EXIT_CASE_ERRORS;
        }
    }
    bench_g.predicted_cases = predict_cases();
    if (!bench_g.opt.list_only)
        fprintf(stderr, "mmcontig bench: %zu cases registered (%s preset), %zu case runs selected, "
                "results in %s/\n", bench_g.ncases, bench_g.opt.preset->name,
                bench_g.predicted_cases, bench_g.opt.out_dir);
    bench_signals_install();
    progress_start(bench_g.predicted_cases);
    struct gbench_run_opts ro = {.before_report = progress_clear, .hide_error_prefix = "interrupted"};
    long ran = gbench_run(&ro);
    progress_finish();

    /* the end: derived files, memory back, context */
    target_release_all();
    if (bench_g.opt.list_only) {
        gbench_shutdown();
        free(gargv);
        return ran < 0 ? BENCH_EXIT_CASE_ERRORS : BENCH_EXIT_OK;
    }
    int code = finish_run(ran);
    gbench_shutdown();
    free(gargv);
    free(bench_g.aging_json);
    free(bench_g.pools_json);
    return code;
}
