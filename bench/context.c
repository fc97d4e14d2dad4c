/* bench/context.c: context.json, the facts of the run beside its CSVs (results/README.md).
 *
 * Owns the reading of the machine's description (uname, /proc/cpuinfo, the clock source, hwloc
 * through mmc_print_topology, every /sys/kernel/mm/hugepages setting, /proc/buddyinfo, the git
 * commit the program was built from, bench/commit.h) and the JSON writer. The file is written at the start (end fields
 * null) and again at the end, each time to a temporary file renamed over the old one, so it
 * always parses, also after Ctrl-C.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bench.h"
#include "commit.h"
#include "peer_dpdk.h"

static char *buddyinfo_before;

/* The library's measures (mmc_frag_from_blocks) of each /proc/buddyinfo line: a list of
 * {node, zone, free_frames, u9, u11, fi9, fi11} (FI -1: a block of that order is free), so
 * that the report reads the kernel's U(j) rather than computing it. null without the text. */
static void buddyinfo_frag_json(FILE *f, const char *text)
{
    if (!text) {
        fputs("null", f);
        return;
    }
    fputc('[', f);
    unsigned n = 0;
    for (const char *line = text; *line;) {
        const char *eol = strchr(line, '\n');
        const size_t len = eol ? (size_t)(eol - line) : strlen(line);
        char buf[512], zone[32];
        unsigned node;
        int used = 0;
        snprintf(buf, sizeof(buf), "%.*s", (int)(len < sizeof(buf) ? len : sizeof(buf) - 1), line);
        line += len + (eol ? 1 : 0);
        if (sscanf(buf, "Node %u, zone %31s%n", &node, zone, &used) != 2)
            continue;
        uint64_t blocks[MMC_FRAG_MAX_ORDER + 1] = {0};
        const char *p = buf + used;
        for (unsigned k = 0; k <= MMC_FRAG_MAX_ORDER; k++) {
            char *end;
            unsigned long long v = strtoull(p, &end, 10);
            if (end == p)
                break;
            blocks[k] = v;
            p = end;
        }
        struct mmc_frag m;
        mmc_frag_from_blocks(blocks, &m);
        fprintf(f, "%s{\"node\": %u, \"zone\": \"%s\", \"free_frames\": %" PRIu64 ", \"u9\": %.6f, "
                "\"u11\": %.6f, \"fi9\": %.6f, \"fi11\": %.6f}", n++ ? ", " : "", node, zone,
                m.free_frames, m.unusable[9], m.unusable[11], m.fragmentation[9], m.fragmentation[11]);
    }
    fputc(']', f);
}
static char *hugepages_before; /* a JSON object */

/* Whole file as a string (malloc'ed), or NULL. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *s = malloc(cap);
    size_t n;
    while (s && (n = fread(s + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len + 1 == cap) {
            char *t = realloc(s, cap *= 2);
            if (!t)
                free(s);
            s = t;
        }
    }
    fclose(f);
    if (s)
        s[len] = 0;
    return s;
}

static void json_str(FILE *f, const char *s)
{
    if (!s) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static char *trim(char *s)
{
    if (!s)
        return s;
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = 0;
    return s;
}

/* Every readable file of every /sys/kernel/mm/hugepages/hugepages-* directory, as JSON. */
static char *hugepage_settings(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    fputc('{', f);
    DIR *d = opendir("/sys/kernel/mm/hugepages");
    int nd = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strncmp(e->d_name, "hugepages-", 10))
            continue;
        char dir[300];
        snprintf(dir, sizeof(dir), "/sys/kernel/mm/hugepages/%s", e->d_name);
        DIR *d2 = opendir(dir);
        fprintf(f, "%s\"%s\": {", nd++ ? ", " : "", e->d_name);
        int nf = 0;
        struct dirent *e2;
        while (d2 && (e2 = readdir(d2))) {
            if (e2->d_name[0] == '.')
                continue;
            char path[600];
            snprintf(path, sizeof(path), "%s/%s", dir, e2->d_name);
            char *v = trim(slurp(path));
            if (!v)
                continue;
            fprintf(f, "%s\"%s\": ", nf++ ? ", " : "", e2->d_name);
            json_str(f, v);
            free(v);
        }
        if (d2)
            closedir(d2);
        fputc('}', f);
    }
    if (d)
        closedir(d);
    fputc('}', f);
    fclose(f);
    return buf;
}

void context_snapshot_start(void)
{
    buddyinfo_before = slurp("/proc/buddyinfo");
    hugepages_before = hugepage_settings();
}

void context_utc_now(char *buf, size_t len, bool compact)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, compact ? "%Y%m%dT%H%M%SZ" : "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static char *cpu_model(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    while (f && fgets(line, sizeof(line), f)) {
        if (!strncmp(line, "model name", 10)) {
            fclose(f);
            char *c = strchr(line, ':');
            return trim(strdup(c ? c + 2 : line));
        }
    }
    if (f)
        fclose(f);
    return NULL;
}

static void preset_json(FILE *f, const struct bench_preset *p)
{
    fprintf(f, "{\"name\": \"%s\", \"calls\": %" PRId64 ", \"sim_calls\": %" PRId64
            ", \"repetitions\": %d, \"case_budget_s\": %.1f, \"warmup_calls\": %u"
            ", \"peer_calls\": [%" PRId64 ", %" PRId64 ", %" PRId64 "], \"kernel_calls\": [%" PRId64
            ", %" PRId64 "]}",
            p->name, p->calls, p->sim_calls, p->repetitions, p->case_budget_s, p->warmup_calls,
            p->peer_calls_small, p->peer_calls_medium, p->peer_calls_large, p->kernel_calls_2m,
            p->kernel_calls_1g);
}

/* context.json's machine: from "kernel" to "topology" (uname, the CPU, the build's commit, the
 * library's version, the topology). */
static void json_machine(FILE *f)
{
    struct utsname u;
    uname(&u);
    char *model = cpu_model();
    /* the commit recorded at build time (commit.h): HASH or HASH-dirty, "" outside git */
    const size_t commit_len = strcspn(MMC_BUILD_COMMIT, "-");
    const char *commit = commit_len ? MMC_BUILD_COMMIT : NULL;
    const bool dirty = commit && MMC_BUILD_COMMIT[commit_len] == '-';
    char *topo = NULL;
    size_t topo_len = 0;
    FILE *tf = open_memstream(&topo, &topo_len);
    if (tf) {
        if (mmc_print_topology(tf, NULL) < 0)
            fprintf(tf, "unavailable: %s", mmc_last_error());
        fclose(tf);
    }
    fputs(",\n  \"kernel\": {\"sysname\": ", f);
    json_str(f, u.sysname);
    fputs(", \"release\": ", f);
    json_str(f, u.release);
    fputs(", \"version\": ", f);
    json_str(f, u.version);
    fputs(", \"machine\": ", f);
    json_str(f, u.machine);
    fputs("},\n  \"cpu\": {\"model\": ", f);
    json_str(f, model);
    fprintf(f, ", \"cores\": %ld, \"cores_configured\": %ld},\n",
            sysconf(_SC_NPROCESSORS_ONLN), sysconf(_SC_NPROCESSORS_CONF));
    fputs("  \"git_commit\": ", f);
    if (commit)
        fprintf(f, "\"%.*s\"", (int)commit_len, commit); /* hex digits: nothing to escape */
    else
        fputs("null", f);
    fprintf(f, ",\n  \"git_dirty\": %s,\n", !commit ? "null" : dirty ? "true" : "false");
    fputs("  \"mmcontig_version\": ", f);
    json_str(f, mmc_version());
    fprintf(f, ",\n  \"topology\": {\"nodes_with_memory\": %u, \"text\": ", hugetlb_node_count());
    json_str(f, topo);
    fputc('}', f);
    free(model);
    free(topo);
}

/* context.json's memory: "hugepages" and the buddyinfo before and (in the final file) after. */
static void json_memory(FILE *f, bool final)
{
    char *buddy_after = final ? slurp("/proc/buddyinfo") : NULL;
    fprintf(f, ",\n  \"hugepages\": %s,\n", hugepages_before ? hugepages_before : "null");
    fputs("  \"buddyinfo_before\": ", f);
    json_str(f, buddyinfo_before);
    fputs(",\n  \"buddyinfo_after\": ", f);
    json_str(f, buddy_after);
    fputs(",\n  \"buddyinfo_frag\": {\"before\": ", f);
    buddyinfo_frag_json(f, buddyinfo_before);
    fputs(", \"after\": ", f);
    buddyinfo_frag_json(f, buddy_after);
    fputc('}', f);
    free(buddy_after);
}

/* context.json's settings: from "seeds" to "command_line". */
static void json_settings(FILE *f)
{
    fprintf(f, ",\n  \"seeds\": {\"seed\": %" PRIu64 ", \"aging\": \"splitmix64 (alloc/rand.h) seeded with "
            "_mmc_rand_mix(seed, 0xa6e0000 + fill_pct) (bench/shadow.c)\", \"churn\": \"per case "
            "and repetition: _mmc_rand_mix over (seed, pool, fill_pct, request_bytes, constraint, "
            "node, repetition), the same for every engine and for search and fastonly "
            "(bench/measure.c)\", \"simulated_layouts\": %" PRIu64 "},\n",
            bench_g.opt.seed, bench_g.opt.seed);
    fputs("  \"preset\": ", f);
    json_str(f, bench_g.opt.preset->name);
    fputs(",\n  \"preset_values\": ", f);
    preset_json(f, bench_g.opt.preset);
    fprintf(f, ",\n  \"frag_ops\": %" PRIu64, suite_frag_ops());
    fputs(",\n  \"command_line\": [", f);
    for (int i = 0; i < bench_g.opt.argc; i++) {
        if (i)
            fputs(", ", f);
        json_str(f, bench_g.opt.argv[i]);
    }
    fputc(']', f);
}

/* context.json's engines: from "engines" to "fast_only_work_bound". */
static void json_engines(FILE *f)
{
    fputs(",\n  \"engines\": [", f);
    for (unsigned i = 0; i < bench_g.opt.nengines; i++) {
        if (i)
            fputs(", ", f);
        json_str(f, bench_g.opt.engines[i]);
    }
    fputs("],\n  \"engine_plugins\": {", f); /* engines loaded by --plugin: name -> path */
    for (unsigned i = 0; i < bench_g.opt.nplugins; i++) {
        if (i)
            fputs(", ", f);
        json_str(f, bench_g.opt.plugin_name[i]);
        fputs(": ", f);
        json_str(f, bench_g.opt.plugin_path[i]);
    }
    fputs("},\n  \"engine_work_units\": {", f); /* the unit of work_p50 / work_p99 / work_max */
    for (unsigned i = 0; i < bench_g.opt.nengines; i++) {
        fputs(i ? ", " : "", f);
        json_str(f, bench_g.opt.engines[i]);
        fputs(": ", f);
        json_str(f, mmc_engine_work_unit(bench_g.opt.engines[i]));
    }
    /* FAST_ONLY's work bound per engine, in the engine's unit (mmc_engine_fast_only_work) */
    fputs("},\n  \"fast_only_work_bound\": {", f);
    for (unsigned i = 0; i < bench_g.opt.nengines; i++) {
        fputs(i ? ", " : "", f);
        json_str(f, bench_g.opt.engines[i]);
        fprintf(f, ": %" PRIu64, mmc_engine_fast_only_work(bench_g.opt.engines[i]));
    }
    fputs("}", f);
}

int context_write(bool final, int exit_code)
{
    char path[PATH_MAX + 32], tmp[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/context.json", bench_g.opt.out_dir);
    snprintf(tmp, sizeof(tmp), "%s/.context.json.tmp", bench_g.opt.out_dir);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -errno;
    char *clocksource = trim(slurp("/sys/devices/system/clocksource/clocksource0/current_clocksource"));
    char end_utc[32] = "";
    if (final)
        context_utc_now(end_utc, sizeof(end_utc), false);

    fputs("{\n  \"run_id\": ", f);
    json_str(f, bench_g.run_id);
    fputs(",\n  \"host\": ", f);
    json_str(f, bench_g.host);
    json_machine(f);
    json_memory(f, final);
    json_settings(f);
    json_engines(f);
    fputs(",\n  \"start_utc\": ", f);
    json_str(f, bench_g.start_utc);
    fputs(",\n  \"end_utc\": ", f);
    json_str(f, final ? end_utc : NULL);
    fputs(",\n  \"timer\": {\"source\": \"clock_gettime(CLOCK_MONOTONIC) around each call\", "
          "\"clocksource\": ", f);
    json_str(f, clocksource);
    fprintf(f, ", \"overhead_ns\": %.0f},\n", bench_g.timer_overhead_ns);
    noise_json(f, final);
    fprintf(f, "  \"partitions\": [%s\n  ],\n", bench_g.pools_json ? bench_g.pools_json : "");
    fprintf(f, "  \"aging\": [%s\n  ],\n", bench_g.aging_json ? bench_g.aging_json : "");
    fputs("  \"dpdk\": ", f);
    json_str(f, bench_g.dpdk_status[0] ? bench_g.dpdk_status
                                        : MMC_BENCH_HAVE_DPDK ? "built in, not run"
                                                              : "not built (libdpdk-dev missing)");
    fputs(",\n  \"gbench_json\": \"gbench.json\",\n", f);
    fprintf(f, "  \"cases\": {\"registered\": %zu, \"errors\": %" PRIu64 ", \"budget_stops\": %" PRIu64
            ", \"write_errors\": %" PRIu64 "},\n",
            bench_g.ncases, bench_g.case_errors, bench_g.budget_stops, bench_g.write_errors);
    fputs("  \"interrupted\": ", f);
    json_str(f, bench_stop == SIGINT ? "SIGINT" : bench_stop == SIGTERM ? "SIGTERM" : NULL);
    if (final)
        fprintf(f, ",\n  \"exit_code\": %d\n}\n", exit_code);
    else
        fputs(",\n  \"exit_code\": null\n}\n", f);
    int rc = fclose(f) == 0 ? 0 : -errno;
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -errno;
    free(clocksource);
    return rc;
}
