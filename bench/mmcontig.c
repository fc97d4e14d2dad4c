/* bench/mmcontig.c: the mmcontig command-line program.
 *
 * Subcommands: `layout` (the pool's physical layout per node, optionally recorded to a file),
 * `topology` (what hwloc sees, live or from an XML file), `demo` (every NT routine called
 * once, each result checked against /proc/self/pagemap read at that moment through
 * mmc_pagemap_read: the kernel's answer, not the frame database's), `reclaim` (give back the hugepage raises of processes that died owing them),
 * `bench` (the benchmark suites: bench/bench.c), `check-engine` (an engine against the oracle:
 * bench/check_engine.c, the one white-box part), and `plot`, `report`, `merge`, `compare`,
 * which run the Python scripts installed beside the program (PREFIX/share/mmcontig/scripts;
 * the source tree's for the build tree's program). This file uses the public headers only.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mmcontig/mmcontig.h"
#include "mmcontig/testing.h"
#include "mmcontig/wdm.h"

#include "bench_cli.h"
#include "check_engine.h"

static const char usage[] =
    "usage: mmcontig COMMAND [OPTIONS]\n"
    "\n"
    "Windows contiguous-memory routines over real hugepages (see README.md).\n"
    "\n"
    "commands:\n"
    "  layout [--record FILE]   build the pool and print its layout: hugepages per node, runs\n"
    "                           (physically adjacent frames) with their PFN ranges, and its\n"
    "                           fragmentation (U(j), FI(j), buddyinfo); --record writes the\n"
    "                           runs as CSV (base_pfn,frames,node,page_bytes)\n"
    "  topology [--xml FILE]    print the NUMA topology hwloc sees (or an hwloc XML file):\n"
    "                           nodes, CPUs, memory, hugepages, distances, fallback order\n"
    "  demo                     call every NT routine once and check each result against\n"
    "                           /proc/self/pagemap (contiguity, range, boundary)\n"
    "  reclaim                  give back the raises of nr_hugepages and nr_overcommit_hugepages\n"
    "                           that dead mmcontig processes recorded in /run/mmcontig (any\n"
    "                           mmcontig process does it when it first takes the lock)\n"
    "  bench [OPTIONS]          the benchmark suites (search, fastonly, peers, frag): CSV rows\n"
    "                           per case under results/; `mmcontig bench --help` for the options\n"
    "                           (--plugin PATH.so adds an engine from a shared object)\n"
    "  check-engine NAME|PATH.so  a search engine (built in, or a plugin) against an exhaustive\n"
    "                           oracle on seeded operations, with a verdict; a failure is shrunk\n"
    "                           to a short sequence written to a file (--replay FILE runs it);\n"
    "                           `mmcontig check-engine --help` for the options\n"
    "  plot RUN_DIR             the charts of a run (PNG, SVG) into RUN_DIR/charts\n"
    "  report RUN_DIR           a self-contained RUN_DIR/report.html\n"
    "  merge RUN_DIR... --out DIR   many hosts' runs drawn together\n"
    "  compare RUN_A RUN_B      case by case: ratios, Mann-Whitney U over the repetitions,\n"
    "                           geometric means, a chart; exit 1 on a regression beyond\n"
    "                           --threshold (default 0.10)\n"
    "                           (these four run the Python scripts installed beside mmcontig,\n"
    "                           PREFIX/share/mmcontig/scripts, or the source tree's for the\n"
    "                           build tree's mmcontig; they need python3 and Debian's\n"
    "                           python3-matplotlib; `mmcontig plot --help` and so on)\n"
    "\n"
    "environment (see README.md):\n"
    "  MMC_POOL       pool size: 512M, 8G (split over nodes), or per node 0:4G,1:4G\n"
    "                 (default 256M per node)\n"
    "  MMC_PAGE       hugepage size: 2M (default) or 1G\n"
    "  MMC_ALGO       search engine (default tree)\n"
    "  MMC_ENGINE_PLUGIN  search engines from shared objects: path.so[,path.so]\n"
    "  MMC_ON_MISUSE  abort (default) or warn\n"
    "  MMC_TOPUP      1 (default): take missing hugepages as surplus pages (raise\n"
    "                 nr_overcommit_hugepages; 1G: nr_hugepages), give the raise back\n"
    "  MMC_LOCK_TIMEOUT  seconds to wait for the hugepage lock (default 10)\n"
    "\n"
    "Needs root (or CAP_SYS_ADMIN) to read physical frame numbers from pagemap.\n";

static int init_or_die(void)
{
    int rc = mmc_init(NULL);
    if (rc < 0) {
        fprintf(stderr, "mmcontig: %s\n", mmc_last_error());
        return 1;
    }
    return 0;
}

static int cmd_layout(int argc, char **argv)
{
    static const struct option opts[] = {{"record", required_argument, 0, 'r'},
                                         {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *record = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "r:h", opts, NULL)) != -1) {
        if (c == 'r')
            record = optarg;
        else {
            fputs(usage, c == 'h' ? stdout : stderr);
            return c == 'h' ? 0 : 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "mmcontig layout: unexpected argument '%s'\n\n%s", argv[optind], usage);
        return 2;
    }
    /* the file first: a path that cannot be written fails before the pool is built */
    FILE *f = record ? fopen(record, "w") : NULL;
    if (record && !f) {
        fprintf(stderr, "mmcontig: cannot write %s: %s\n", record, strerror(errno));
        return 1;
    }
    if (init_or_die()) {
        if (f) {
            fclose(f);
            unlink(record);
        }
        return 1;
    }
    mmc_partition_print_layout(NULL, stdout);
    struct mmc_frag m;
    if (mmc_partition_frag(NULL, -1, &m) == 0) {
        printf("fragmentation (the kernel's measures; FI -1: a block of that order is free):\n");
        printf("  order          0      4      9     12     15     18\n  U(j)    ");
        static const int orders[] = {0, 4, 9, 12, 15, 18};
        for (int k = 0; k < 6; k++)
            printf(" %6.3f", m.unusable[orders[k]]);
        printf("\n  FI(j)   ");
        for (int k = 0; k < 6; k++)
            printf(" %6.3f", m.fragmentation[orders[k]]);
        printf("\n  largest free stretch %" PRIu64 " frames; the largest 32/64/128/256 stretches hold "
               "%.0f%%/%.0f%%/%.0f%%/%.0f%% of free memory\n", m.largest_free_frames,
               100 * m.coverage[0], 100 * m.coverage[1], 100 * m.coverage[2], 100 * m.coverage[3]);
        printf("buddyinfo (orders 0..10, /proc/buddyinfo format):\n");
        mmc_partition_print_buddyinfo(NULL, stdout);
    }
    int rc = 0;
    if (record) {
        long n = mmc_partition_runs(NULL, NULL, 0);
        struct mmc_run_info *runs = calloc((size_t)n, sizeof(*runs));
        struct mmc_stats st;
        mmc_partition_stats(NULL, &st);
        if (!runs) {
            fprintf(stderr, "mmcontig: cannot write %s: %s\n", record, strerror(errno));
            rc = 1;
        } else {
            mmc_partition_runs(NULL, runs, (size_t)n);
            fprintf(f, "base_pfn,frames,node,page_bytes\n");
            for (long i = 0; i < n; i++)
                fprintf(f, "%" PRIu64 ",%" PRIu64 ",%u,%" PRIu64 "\n", runs[i].base_pfn,
                        runs[i].frames, runs[i].node, st.page_bytes);
            if (fclose(f) != 0) {
                fprintf(stderr, "mmcontig: writing %s failed: %s\n", record, strerror(errno));
                rc = 1;
            } else {
                printf("recorded %ld runs to %s\n", n, record);
            }
            f = NULL;
        }
        if (f)
            fclose(f);
        free(runs);
    }
    mmc_fini();
    return rc;
}

static int cmd_topology(int argc, char **argv)
{
    static const struct option opts[] = {{"xml", required_argument, 0, 'x'},
                                         {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *xml = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "x:h", opts, NULL)) != -1) {
        if (c == 'x')
            xml = optarg;
        else {
            fputs(usage, c == 'h' ? stdout : stderr);
            return c == 'h' ? 0 : 2;
        }
    }
    if (mmc_print_topology(stdout, xml) < 0) {
        fprintf(stderr, "mmcontig: %s\n", mmc_last_error());
        return 1;
    }
    return 0;
}

/* ---- demo: every routine once, checked against pagemap read now ---- */

/* PFN of va from the kernel's pagemap now (mmc_pagemap_read, not the frame database), 0 if
 * absent or unreadable. */
static uint64_t pfn_of(const void *va)
{
    uint64_t pfn = 0;
    return mmc_pagemap_read(va, 1, &pfn) == 0 ? pfn : 0;
}

/* Touch every frame, then check contiguity, range and boundary in pagemap. */
static const char *check_block(const char *p, uint64_t bytes, uint64_t low, uint64_t high,
                               uint64_t boundary, uint64_t *phys)
{
    static char why[160];
    uint64_t first = 0;
    for (uint64_t off = 0; off < bytes; off += 4096) {
        ((volatile char *)p)[off] = 1;
        uint64_t pfn = pfn_of(p + off);
        if (off == 0)
            first = pfn;
        if (!pfn || pfn != first + off / 4096) {
            snprintf(why, sizeof(why), "NOT contiguous at +%#" PRIx64, off);
            return why;
        }
    }
    uint64_t s = first * 4096, e = s + bytes - 1;
    *phys = s;
    if (s < low || e > high)
        return "OUT OF RANGE";
    if (boundary && s / boundary != e / boundary)
        return "CROSSES BOUNDARY";
    return NULL;
}

static int report(const char *routine, const char *args, void *p, uint64_t bytes, uint64_t low,
                  uint64_t high, uint64_t boundary)
{
    uint64_t phys = 0;
    if (!p) {
        printf("  %-44s %-26s FAILED (no memory)\n", routine, args);
        return 1;
    }
    const char *bad = check_block(p, bytes, low, high, boundary, &phys);
    struct mmc_alloc_info info = {0};
    mmc_query(p, &info);
    printf("  %-44s %-26s %#012" PRIx64 " node %u %s%s\n", routine, args, phys, info.node,
           info.executable ? "rwx " : "rw  ", bad ? bad : "contiguous, in range (pagemap)");
    return bad != NULL;
}

static int cmd_demo(void)
{
    int failed = 0;
    if (init_or_die())
        return 1;
    struct mmc_stats st;
    mmc_partition_stats(NULL, &st);
    const uint64_t top = ~0ull, MiB = 1 << 20;
    PHYSICAL_ADDRESS lo0 = {.QuadPart = 0}, hi_any = {.QuadPart = -1}, none = {.QuadPart = 0};
    PHYSICAL_ADDRESS b2m = {.QuadPart = 2 * (LONGLONG)MiB};

    printf("every routine once, checked against /proc/self/pagemap:\n");
    void *p = MmAllocateContiguousMemory(MiB, hi_any);
    failed += report("MmAllocateContiguousMemory", "1 MiB", p, MiB, 0, top, 0);
    PHYSICAL_ADDRESS pa = MmGetPhysicalAddress(p);
    void *back = MmGetVirtualForPhysical(pa);
    printf("  %-44s %-26s %#012" PRIx64 " %s\n", "MmGetPhysicalAddress/MmGetVirtualForPhysical",
           "its base", (uint64_t)pa.QuadPart, back == p && (uint64_t)pa.QuadPart == pfn_of(p) * 4096
           ? "round trip exact" : "MISMATCH");
    failed += !(back == p && (uint64_t)pa.QuadPart == pfn_of(p) * 4096);
    MmFreeContiguousMemory(p);

    p = MmAllocateContiguousMemorySpecifyCache(3 * MiB / 2, lo0, hi_any, b2m, MmWriteCombined);
    failed += report("MmAllocateContiguousMemorySpecifyCache", "1.5 MiB, 2 MiB boundary, WC", p,
                     3 * MiB / 2, 0, top, 2 * MiB);
    MmFreeContiguousMemorySpecifyCache(p, 3 * MiB / 2, MmWriteCombined);

    p = MmAllocateContiguousMemorySpecifyCacheNode(64 * 1024, lo0, hi_any, none, MmNonCached, 0);
    failed += report("MmAllocateContiguousMemorySpecifyCacheNode", "64 KiB, node 0, uncached", p,
                     64 * 1024, 0, top, 0);
    MmFreeContiguousMemory(p);

    p = MmAllocateContiguousNodeMemory(512 * 1024, lo0, hi_any, none, PAGE_READWRITE, MM_ANY_NODE_OK);
    failed += report("MmAllocateContiguousNodeMemory", "512 KiB, any node, RW", p, 512 * 1024, 0, top, 0);
    MmFreeContiguousMemory(p);

    SIZE_T n = 4 * MiB - 100;
    NTSTATUS s = MmAllocateContiguousMemoryEx(&n, lo0, hi_any, none, 0, PAGE_READWRITE, NULL,
                                              0x6e6d6d63 /* 'cmmn' */, 0, &p);
    failed += report("MmAllocateContiguousMemoryEx", "4 MiB - 100 -> rounded", s == STATUS_SUCCESS ? p : NULL,
                     n, 0, top, 0);
    if (s == STATUS_SUCCESS)
        MmFreeContiguousMemory(p);
    n = 16 * 1024;
    s = MmAllocateContiguousMemoryEx(&n, lo0, hi_any, none, MM_ANY_NODE_OK, PAGE_EXECUTE_READWRITE,
                                     NULL, 0x6e6d6d63, MM_ALLOCATE_CONTIGUOUS_MEMORY_FAST_ONLY, &p);
    failed += report("MmAllocateContiguousMemoryEx", "16 KiB, FAST_ONLY, RWX", s == STATUS_SUCCESS ? p : NULL,
                     n, 0, top, 0);
    if (s == STATUS_SUCCESS)
        MmFreeContiguousMemory(p);

    PHYSICAL_ADDRESS skip0 = {.QuadPart = 0};
    PMDL mdl = MmAllocatePagesForMdl(lo0, hi_any, skip0, 256 * 1024);
    printf("  %-44s %-26s %s\n", "MmAllocatePagesForMdl", "256 KiB",
           mdl ? "ok" : "FAILED");
    if (mdl) {
        printf("  %-44s %-26s ByteCount %u, first PFN %#" PRIx64 "\n", "", "", (unsigned)mdl->ByteCount,
               (uint64_t)MmGetMdlPfnArray(mdl)[0]);
        MmFreePagesFromMdl(mdl);
        ExFreePool(mdl);
    }
    failed += !mdl;
    PHYSICAL_ADDRESS chunk = {.QuadPart = 64 * 1024};
    mdl = MmAllocatePagesForMdlEx(lo0, hi_any, chunk, MiB, MmCached,
                                  MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS | MM_ALLOCATE_FULLY_REQUIRED);
    printf("  %-44s %-26s %s\n", "MmAllocatePagesForMdlEx", "1 MiB in 64 KiB chunks",
           mdl ? "ok" : "FAILED");
    failed += !mdl;
    if (mdl) {
        MmFreePagesFromMdl(mdl);
        ExFreePool(mdl);
    }
    mmc_fini();
    printf("%s\n", failed ? "demo: some routines FAILED" : "demo: every routine ok");
    return failed ? 1 : 0;
}

/* ---- plot, report, merge, compare: the Python scripts ---- */

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The value of "key": "..." in a JSON text, into out; false if absent, or escaped (a path with
 * a quote or backslash: then the program is not taken for the build tree's). */
static bool json_string_field(const char *text, const char *key, char *out, size_t outlen)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\": \"", key);
    const char *p = strstr(text, pat);
    if (!p)
        return false;
    p += strlen(pat);
    const size_t n = strcspn(p, "\"\\");
    if (p[n] != '"' || n >= outlen)
        return false;
    memcpy(out, p, n);
    out[n] = 0;
    return true;
}

/* If the program in directory exe_dir is a meson build tree's (BUILD/bench/mmcontig: meson
 * writes BUILD/meson-info/meson-info.json naming that build directory and its source), the
 * source directory into src. Read at run time, so no path of the build machine is compiled
 * into the program that is installed. */
static bool build_tree_source(const char *exe_dir, char *src, size_t srclen)
{
    char path[PATH_MAX], text[4096], build[PATH_MAX], here[PATH_MAX], there[PATH_MAX];
    snprintf(path, sizeof(path), "%s/../meson-info/meson-info.json", exe_dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    const size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = 0;
    snprintf(path, sizeof(path), "%s/..", exe_dir);
    return json_string_field(text, "build", build, sizeof(build)) && realpath(path, here) &&
           realpath(build, there) && !strcmp(here, there) &&
           json_string_field(text, "source", src, srclen);
}

/* The directory of the scripts: PREFIX/DATADIR/mmcontig/scripts, PREFIX found from this
 * program's own path (/proc/self/exe, less BINDIR's components), so that a copy installed
 * anywhere (or staged with DESTDIR) finds its own; for the build tree's program
 * (build_tree_source), the source tree's scripts/. 0, or -1 with why in err. */
static int scripts_dir(char *dir, size_t len, char *err, size_t errlen)
{
    char exe[PATH_MAX - 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0) {
        snprintf(err, errlen, "cannot read /proc/self/exe (%s): is /proc mounted?", strerror(errno));
        return -1;
    }
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = 0; /* the program's directory */
    char src[PATH_MAX - 64];
    if (build_tree_source(exe, src, sizeof(src))) {
        snprintf(dir, len, "%s/scripts", src);
        if (is_dir(dir))
            return 0;
        snprintf(err, errlen, "this is the build tree's mmcontig, but its source tree's scripts/ "
                 "(%s) is gone: run an installed copy (meson install)", dir);
        return -1;
    }
    /* PREFIX = the program's directory less as many components as BINDIR has */
    unsigned up = 1;
    for (const char *p = MMC_BINDIR; *p; p++)
        up += *p == '/' && p[1] && p[1] != '/';
    char prefix[PATH_MAX];
    snprintf(prefix, sizeof(prefix), "%s", exe);
    for (unsigned i = 0; i < up; i++) {
        char *s = strrchr(prefix, '/');
        if (!s)
            break;
        *s = 0;
    }
    snprintf(dir, len, "%s/%s/mmcontig/scripts", prefix, MMC_DATADIR);
    if (is_dir(dir))
        return 0;
    snprintf(err, errlen, "the Python scripts are not installed beside this mmcontig (looked in "
             "%s): install them with `meson install -C BUILD_DIR` (they come with the program)", dir);
    return -1;
}

static int cmd_script(const char *name, int argc, char **argv)
{
    char dir[PATH_MAX + 64], err[PATH_MAX + 300], path[PATH_MAX + 96];
    if (scripts_dir(dir, sizeof(dir), err, sizeof(err)) < 0) {
        fprintf(stderr, "mmcontig %s: %s\n", name, err);
        return 2;
    }
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    char **args = calloc((size_t)argc + 3, sizeof(char *));
    if (!args) {
        fprintf(stderr, "mmcontig %s: out of memory\n", name);
        return 2;
    }
    /* the script itself (#!/usr/bin/python3: Debian's, where python3-matplotlib installs);
     * each script checks for matplotlib and names the package when it is missing */
    args[0] = path;
    for (int i = 1; i < argc; i++)
        args[i] = argv[i];
    execv(path, args);
    fprintf(stderr, "mmcontig %s: cannot run %s (%s): it needs Debian's python3 "
            "(/usr/bin/python3) and python3-matplotlib: apt-get install python3-matplotlib\n",
            name, path, strerror(errno));
    free(args);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        fputs(usage, stdout);
        return 0;
    }
    if (!strcmp(cmd, "layout"))
        return cmd_layout(argc - 1, argv + 1);
    if (!strcmp(cmd, "topology"))
        return cmd_topology(argc - 1, argv + 1);
    if ((!strcmp(cmd, "demo") || !strcmp(cmd, "reclaim")) && argc > 2) {
        fprintf(stderr, "mmcontig %s: unexpected argument '%s' (it takes none)\n\n%s", cmd,
                argv[2], usage);
        return 2;
    }
    if (!strcmp(cmd, "demo"))
        return cmd_demo();
    if (!strcmp(cmd, "reclaim")) {
        long n = mmc_hugepages_reclaim(stdout);
        if (n < 0) {
            fprintf(stderr, "mmcontig: %s\n", mmc_last_error());
            return 1;
        }
        printf("reclaim: %ld dead process%s settled\n", n, n == 1 ? "" : "es");
        return 0;
    }
    if (!strcmp(cmd, "bench"))
        return mmc_bench_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "check-engine"))
        return mmc_check_engine_main(argc - 1, argv + 1);
    static const char *const scripts[] = {"plot", "report", "merge", "compare"};
    for (size_t i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++)
        if (!strcmp(cmd, scripts[i]))
            return cmd_script(cmd, argc - 1, argv + 1);
    fprintf(stderr, "mmcontig: unknown command '%s'\n\n%s", cmd, usage);
    return 2;
}
