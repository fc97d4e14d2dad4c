/* bench/check_engine.c: `mmcontig check-engine NAME|PATH.so`, the differential test of a search
 * engine against the exhaustive oracle (tests/engine_check.c, the driver tests/test_engines.c
 * runs on the built-in engines), with a verdict; on failure the shortest failing sequence of
 * operations the shrinker finds in its time budget, written to a file that
 * `mmcontig check-engine --replay FILE` replays. Unlike the rest of the program it is a white
 * box: the driver builds frame databases itself, through the few internal functions
 * libmmcontig exports for it (MMC_TOOL in alloc/internal.h).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_engine.h"
#include "engine_check.h"

static const char usage[] =
    "usage: mmcontig check-engine [OPTIONS] NAME|PATH.so\n"
    "       mmcontig check-engine --replay FILE [NAME|PATH.so]\n"
    "\n"
    "Checks a search engine (a built-in one by name, or a plugin: a path with a '/' or ending\n"
    "in .so) against an exhaustive oracle, the rules of <mmcontig/engine.h>: every block it\n"
    "returns satisfies the request (range, boundary, node, one run, free); it fails only when no\n"
    "block exists (unless its summary says \"incomplete\"); its placement, if its summary names\n"
    "\"top-down first fit\" or \"bottom-up first fit\", is the oracle's highest or lowest block;\n"
    "its work stays within max_work; it follows take and give (of its blocks and of scattered\n"
    "frames, as MDL pages are taken), growth (reserve, add) and a rebuild;\n"
    "its index follows the pool, not the span (the memory rule). The operations are seeded:\n"
    "the layouts of tests/test_engines.c (one run, small runs, 2-4 nodes, interleaved, 1 GiB\n"
    "hugepages, the edges of the span, 128 lone hugepages over 4 TiB; >= 10^5 operations at\n"
    "scale 1), a simulated partition through the NT routines, and a simulated 1 TiB one.\n"
    "No hugepages, no root.\n"
    "\n"
    "On the first failure the sequence of operations that led to it is shrunk (chunks removed\n"
    "while it still fails) and written to a trace file; --replay runs a trace file again.\n"
    "\n"
    "options:\n"
    "  --seed N          seed of the layouts and operations (default 1)\n"
    "  --scale F         operations per layout x F (default 1; 0.1 for a quick check)\n"
    "  --layout I        only internal-mode layout I (0..8)\n"
    "  --no-tib          skip the simulated 1 TiB partition\n"
    "  --out FILE        the failing trace (default check-engine-NAME-seedN.trace)\n"
    "  --shrink-time S   seconds the shrinker may take (default 60; 0: no shrinking)\n"
    "  --replay FILE     replay a trace (its engine, or the one given)\n"
    "  -h, --help        this text\n"
    "\n"
    "Exit status: 0 the engine passes, 1 it fails (or the replayed trace fails), 2 usage or\n"
    "the engine cannot be loaded.\n";

/* The engine named by arg: a built-in or loaded name, or a plugin to load. */
static const struct mmc_engine_ops *resolve(const char *arg, const char **plugin)
{
    *plugin = NULL;
    if (mmc_engine_plugin_error()) {
        fprintf(stderr, "mmcontig check-engine: %s\n", mmc_engine_plugin_error());
        return NULL;
    }
    size_t n = strlen(arg);
    if (strchr(arg, '/') || (n > 3 && !strcmp(arg + n - 3, ".so"))) {
        const char *name = NULL;
        if (mmc_engine_load(arg, &name) < 0) {
            fprintf(stderr, "mmcontig check-engine: %s\n", mmc_last_error());
            return NULL;
        }
        *plugin = arg;
        arg = name;
    }
    const struct mmc_engine_ops *e = _mmc_engine_lookup(arg);
    if (!e) {
        fprintf(stderr, "mmcontig check-engine: '%s' names no search engine: give one of", arg);
        for (size_t i = 0; mmc_engine_name(i); i++)
            fprintf(stderr, "%s %s", i ? "," : "", mmc_engine_name(i));
        fprintf(stderr, ", or the path of a plugin (./x.so)\n");
    }
    return e;
}

static int replay_file(const char *path, const char *arg)
{
    struct ec_trace tr;
    char engine[MMC_NAME_MAX + 32], plugin[1024], err[1400];
    int rc = ec_trace_read(path, &tr, engine, sizeof(engine), plugin, sizeof(plugin), err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "mmcontig check-engine: %s\n", err);
        return 2;
    }
    const char *loaded = NULL;
    const struct mmc_engine_ops *e = NULL;
    if (arg)
        e = resolve(arg, &loaded);
    else if (*plugin && !_mmc_engine_lookup(engine))
        e = resolve(plugin, &loaded);
    else
        e = resolve(engine, &loaded);
    if (!e) {
        ec_trace_free(&tr);
        return 2;
    }
    printf("check-engine: replaying %s: %" PRIu64 " operations on layout %zu (%s), seed %" PRIu64
           ", engine %s\n", path, tr.n, tr.layout, ec_layouts[tr.layout].name, tr.seed, e->name);
    ec_trace_print(&tr, 40);
    struct ec_tally t = {0};
    bool good = ec_replay(e, &tr, &t);
    if (good)
        printf("verdict: PASS: engine %s keeps every rule on the trace's %" PRIu64 " operations\n",
               e->name, tr.n);
    else
        printf("verdict: FAIL: engine %s fails at operation %" PRIu64 ": %s\n", e->name,
               tr.fail_op, tr.what);
    ec_trace_free(&tr);
    return good ? 0 : 1;
}

/* The options of a check */
struct ce_opts {
    uint64_t seed;
    double scale, shrink_s;
    long only_layout;
    bool tib;
    const char *out, *replay;
};

/* Read the options into o; returns -1 to go on, or an exit code. */
static int parse_args(int argc, char **argv, struct ce_opts *o)
{
    static const struct option opts[] = {
        {"seed", required_argument, 0, 's'},   {"scale", required_argument, 0, 'c'},
        {"layout", required_argument, 0, 'l'}, {"no-tib", no_argument, 0, 'T'},
        {"out", required_argument, 0, 'o'},    {"shrink-time", required_argument, 0, 't'},
        {"replay", required_argument, 0, 'r'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int c;
    char *end;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            o->seed = strtoull(optarg, &end, 0);
            if (*end || end == optarg) {
                fprintf(stderr, "mmcontig check-engine: --seed '%s' is not a number\n", optarg);
                return 2;
            }
            break;
        case 'c':
            o->scale = strtod(optarg, &end);
            if (*end || end == optarg || !(o->scale > 0) || o->scale > 100) {
                fprintf(stderr, "mmcontig check-engine: --scale '%s': give a number above 0, at "
                        "most 100\n", optarg);
                return 2;
            }
            break;
        case 'l':
            o->only_layout = strtol(optarg, &end, 10);
            if (*end || end == optarg || o->only_layout < 0 || (size_t)o->only_layout >= ec_nlayouts) {
                fprintf(stderr, "mmcontig check-engine: --layout '%s': give 0..%zu\n", optarg,
                        ec_nlayouts - 1);
                return 2;
            }
            break;
        case 'T': o->tib = false; break;
        case 'o': o->out = optarg; break;
        case 't':
            o->shrink_s = strtod(optarg, &end);
            if (*end || end == optarg || o->shrink_s < 0) {
                fprintf(stderr, "mmcontig check-engine: --shrink-time '%s': give seconds >= 0\n", optarg);
                return 2;
            }
            break;
        case 'r': o->replay = optarg; break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    return -1;
}

/* The lines that say what is checked: the engine, its placement, its seed and scale. */
static void print_header(const struct mmc_engine_ops *e, const char *plugin, const struct ce_opts *o)
{
    const bool top = ec_engine_top_down(e), bottom = ec_engine_bottom_up(e);
    printf("check-engine: engine %s%s%s: %s\n", e->name, plugin ? " from " : " (built in)",
           plugin ? plugin : "", e->summary);
    printf("  placement checked: %s\n",
           top ? "top-down first fit (exactly the oracle's highest block)"
           : bottom ? "bottom-up first fit (exactly the oracle's lowest block)"
                    : "none named in the summary: exactness and completeness only");
    if (ec_engine_incomplete(e))
        printf("  declares itself incomplete: false failures are counted, not failed\n");
    printf("  seed %" PRIu64 ", scale %g (rerun: mmcontig check-engine --seed %" PRIu64 " %s)\n",
           o->seed, o->scale, o->seed, plugin ? plugin : e->name);
    fflush(stdout);
}

/* Internal-mode layout ci failed with tr: shrink the trace, print it and write it to out. */
static void report_failure(const struct mmc_engine_ops *e, const char *plugin, size_t ci,
                           struct ec_trace *tr, double shrink_s, const char *out)
{
    printf("  FAILED: layout %zu (%s) at operation %" PRIu64 " of the run: %s\n", ci,
           ec_layouts[ci].name, tr->fail_op, tr->what);
    const uint64_t n0 = tr->n;
    double s0 = ec_now();
    uint64_t replays = shrink_s > 0 ? ec_shrink(e, tr, shrink_s) : 0;
    if (shrink_s > 0)
        printf("  shrunk: %" PRIu64 " operations -> %" PRIu64 " in %.1f s (%" PRIu64
               " replays); it fails with: %s\n", n0, tr->n, ec_now() - s0, replays, tr->what);
    ec_trace_print(tr, 40);
    int wrc = ec_trace_write(out, tr, e->name, plugin);
    if (wrc < 0)
        printf("  the trace could not be written to %s: %s (give --out FILE)\n", out,
               strerror(-wrc));
    else
        printf("  written to %s: replay with mmcontig check-engine --replay %s\n", out, out);
}

/* The internal-mode layouts (or only --layout's), to the first failure; adds to ops and checks
 * and returns whether all passed. */
static bool check_layouts(const struct mmc_engine_ops *e, const char *plugin,
                          const struct ce_opts *o, const char *out, uint64_t *ops, uint64_t *checks)
{
    bool good = true;
    for (size_t ci = 0; ci < ec_nlayouts && good; ci++) {
        if (o->only_layout >= 0 && (size_t)o->only_layout != ci)
            continue;
        struct ec_tally t = {0};
        struct ec_trace tr = {0};
        double t0 = ec_now();
        good = ec_run_internal(e, ci, o->seed, o->scale, &t, &tr);
        *ops += t.ops;
        (*checks)++;
        if (good) {
            printf("  ok: layout %zu (%s): %" PRIu64 " operations, %" PRIu64 " found, %" PRIu64
                   " none, %" PRIu64 " -EAGAIN (%.1f s)\n", ci, ec_layouts[ci].name, t.ops, t.found,
                   t.none, t.eagain, ec_now() - t0);
            if (ec_engine_incomplete(e))
                printf("      %" PRIu64 " false failures in %" PRIu64 " searches\n", t.false_fail,
                       t.allocs);
        } else {
            report_failure(e, plugin, ci, &tr, o->shrink_s, out);
        }
        ec_trace_free(&tr);
    }
    return good;
}

int mmc_check_engine_main(int argc, char **argv)
{
    struct ce_opts o = {.seed = 1, .scale = 1.0, .shrink_s = 60, .only_layout = -1, .tib = true};
    int prc = parse_args(argc, argv, &o);
    if (prc >= 0)
        return prc;
    const uint64_t seed = o.seed;
    const double scale = o.scale;
    if (o.replay) {
        if (argc - optind > 1) {
            fprintf(stderr, "mmcontig check-engine: --replay takes at most one engine\n\n%s", usage);
            return 2;
        }
        return replay_file(o.replay, optind < argc ? argv[optind] : NULL);
    }
    if (argc - optind != 1) {
        fprintf(stderr, "mmcontig check-engine: give one engine (a name or the path of a plugin)\n\n%s",
                usage);
        return 2;
    }
    const char *plugin = NULL;
    const struct mmc_engine_ops *e = resolve(argv[optind], &plugin);
    if (!e)
        return 2;
    char out_buf[256];
    const char *out = o.out;
    if (!out) {
        snprintf(out_buf, sizeof(out_buf), "check-engine-%s-seed%" PRIu64 ".trace", e->name, seed);
        out = out_buf;
    }
    print_header(e, plugin, &o);

    uint64_t ops = 0, checks = 0;
    bool good = check_layouts(e, plugin, &o, out, &ops, &checks);
    if (good && o.only_layout < 0) {
        struct ec_pub_case pc = ec_pub_256m(seed, scale);
        struct ec_pub_out po = {0};
        good = ec_run_public(e, &pc, ec_case_seed(seed, 101), "public API, 256 MiB, 3 nodes", &po);
        checks++;
        ops += pc.ops;
        printf("  %s: a simulated 256 MiB partition through the NT routines, %" PRIu64 " operations\n",
               good ? "ok" : "FAILED", pc.ops);
    }
    if (good && o.tib && o.only_layout < 0) {
        struct ec_pub_case pc = ec_pub_1tib(seed);
        struct ec_pub_out po = {0};
        double t0 = ec_now();
        good = ec_run_public(e, &pc, ec_case_seed(seed, 201), "1 TiB", &po);
        checks++;
        ops += pc.ops;
        printf("  %s: a simulated 1 TiB partition, %" PRIu64 " operations (%.1f s); index %.4f bytes "
               "per frame of pool, %.6f per frame of span\n", good ? "ok" : "FAILED", pc.ops,
               ec_now() - t0, po.bytes_per_frame, po.bytes_per_span_frame);
    }
    if (good)
        printf("verdict: PASS: engine %s keeps the rules of <mmcontig/engine.h> on %" PRIu64
               " operations in %" PRIu64 " checks (seed %" PRIu64 ")\n", e->name, ops, checks, seed);
    else
        printf("verdict: FAIL: engine %s breaks a rule of <mmcontig/engine.h> (seed %" PRIu64 ")\n",
               e->name, seed);
    mmc_fini();
    return good ? 0 : 1;
}
