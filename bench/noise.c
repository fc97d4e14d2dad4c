/* bench/noise.c: how noisy the machine was during the run (context.json `noise`;
 * results/README.md).
 *
 * Owns the facts that decide whether a run's latencies can be trusted, read from the kernel:
 * the CPUs the process may run on (sched_getaffinity: taskset or a cgroup's cpuset) and whether
 * that pins it; SMT (/sys/devices/system/cpu/smt); the frequency governor, driver and boost
 * state (cpufreq in sysfs; absent in most VMs); the frequency of those CPUs over the run
 * (scaling_cur_freq sampled at most once a second between cases, or /proc/cpuinfo's "cpu MHz"
 * at the start and the end where cpufreq is absent: it is slow to read on large machines);
 * steal time over the run (/proc/stat: the time the hypervisor ran others on this guest's
 * CPUs), machine-wide and on the CPUs of the affinity; and the cost of the timer (a
 * distribution of back-to-back clock_gettime pairs and clock_getres). Nothing here is timed
 * with the calls: samples are taken between cases.
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define NOISE_MAX_CPUS 1024

struct stat_ticks {
    bool ok;
    uint64_t steal, total;          /* all CPUs */
    uint64_t aff_steal, aff_total;  /* the CPUs of the affinity */
};

static struct {
    bool started;
    int cpus[NOISE_MAX_CPUS];
    unsigned ncpus;
    long online;
    struct stat_ticks t0, t1;
    bool have_cpufreq;
    /* frequency in kHz: the first and last sample's min and max over the CPUs, and over all */
    unsigned samples;
    uint64_t f_start_min, f_start_max, f_end_min, f_end_max, f_min, f_max;
    const char *f_source;
    uint64_t last_sample_ns;
    double pair_p50, pair_p99, pair_max, res_ns;
} nz;

static char *read_line(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *r = fgets(buf, (int)len, f);
    fclose(f);
    if (!r)
        return NULL;
    buf[strcspn(buf, "\n")] = 0;
    return buf;
}

static bool in_affinity(int cpu)
{
    for (unsigned i = 0; i < nz.ncpus; i++)
        if (nz.cpus[i] == cpu)
            return true;
    return false;
}

static struct stat_ticks read_stat(void)
{
    struct stat_ticks t = {0};
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return t;
    char line[512];
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "cpu", 3))
            break;
        unsigned long long v[10] = {0};
        int cpu = -1;
        const char *p = line + 3;
        if (*p != ' ')
            cpu = (int)strtol(p, (char **)&p, 10);
        int n = sscanf(p, " %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
                       &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
        if (n < 8)
            continue;
        uint64_t total = 0; /* guest and guest_nice are already in user and nice */
        for (int i = 0; i < 8; i++)
            total += v[i];
        if (cpu < 0) {
            t.steal = v[7];
            t.total = total;
            t.ok = true;
        } else if (in_affinity(cpu)) {
            t.aff_steal += v[7];
            t.aff_total += total;
        }
    }
    fclose(f);
    return t;
}

/* min and max frequency (kHz) over the affinity's CPUs now; false if none can be read */
static bool read_freq(uint64_t *mn, uint64_t *mx, bool cpuinfo)
{
    *mn = UINT64_MAX;
    *mx = 0;
    if (!cpuinfo) {
        char path[96], buf[64];
        for (unsigned i = 0; i < nz.ncpus; i++) {
            snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/cpufreq/scaling_cur_freq",
                     nz.cpus[i]);
            if (!read_line(path, buf, sizeof(buf)))
                continue;
            uint64_t k = strtoull(buf, NULL, 10);
            *mn = k < *mn ? k : *mn;
            *mx = k > *mx ? k : *mx;
        }
        return *mx > 0;
    }
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return false;
    char line[256];
    int cpu = -1;
    while (fgets(line, sizeof(line), f)) {
        if (!strncmp(line, "processor", 9)) {
            const char *c = strchr(line, ':');
            cpu = c ? atoi(c + 1) : -1;
        } else if (!strncmp(line, "cpu MHz", 7) && in_affinity(cpu)) {
            const char *c = strchr(line, ':');
            if (!c)
                continue;
            uint64_t k = (uint64_t)(strtod(c + 1, NULL) * 1000.0);
            *mn = k < *mn ? k : *mn;
            *mx = k > *mx ? k : *mx;
        }
    }
    fclose(f);
    return *mx > 0;
}

static void take_sample(bool last)
{
    uint64_t mn, mx;
    if (!read_freq(&mn, &mx, !nz.have_cpufreq))
        return;
    if (!nz.samples) {
        nz.f_start_min = mn;
        nz.f_start_max = mx;
        nz.f_min = mn;
        nz.f_max = mx;
    }
    if (last || !nz.samples) {
        nz.f_end_min = mn;
        nz.f_end_max = mx;
    }
    nz.f_min = mn < nz.f_min ? mn : nz.f_min;
    nz.f_max = mx > nz.f_max ? mx : nz.f_max;
    nz.samples++;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void noise_start(void)
{
    memset(&nz, 0, sizeof(nz));
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0)
        for (int c = 0; c < CPU_SETSIZE && nz.ncpus < NOISE_MAX_CPUS; c++)
            if (CPU_ISSET(c, &set))
                nz.cpus[nz.ncpus++] = c;
    nz.online = sysconf(_SC_NPROCESSORS_ONLN);
    char buf[64], path[96];
    snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/cpufreq/scaling_cur_freq",
             nz.ncpus ? nz.cpus[0] : 0);
    nz.have_cpufreq = read_line(path, buf, sizeof(buf)) != NULL;
    nz.f_source = nz.have_cpufreq ? "scaling_cur_freq" : "/proc/cpuinfo cpu MHz";
    nz.t0 = read_stat();
    take_sample(false);
    nz.last_sample_ns = bench_now_ns();
    /* the timer's cost: a distribution of back-to-back pairs (the median is timer.overhead_ns) */
    enum { N = 20001 };
    static uint64_t d[N];
    for (int i = 0; i < N; i++) {
        uint64_t a = bench_now_ns();
        d[i] = bench_now_ns() - a;
    }
    qsort(d, N, sizeof(d[0]), cmp_u64);
    nz.pair_p50 = (double)d[N / 2];
    nz.pair_p99 = (double)d[N * 99 / 100];
    nz.pair_max = (double)d[N - 1];
    struct timespec res;
    nz.res_ns = clock_getres(CLOCK_MONOTONIC, &res) == 0 ? (double)res.tv_sec * 1e9 + (double)res.tv_nsec : -1;
    nz.started = true;
}

void noise_sample(void)
{
    if (!nz.started || !nz.have_cpufreq) /* /proc/cpuinfo: start and end only */
        return;
    uint64_t now = bench_now_ns();
    if (now - nz.last_sample_ns < 1000000000ull)
        return;
    nz.last_sample_ns = now;
    take_sample(false);
}

void noise_end(void)
{
    if (!nz.started)
        return;
    nz.t1 = read_stat();
    take_sample(true);
}

static void json_line(FILE *f, const char *path)
{
    char buf[128];
    if (read_line(path, buf, sizeof(buf))) {
        fputc('"', f);
        for (const char *p = buf; *p; p++)
            if (*p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
                fputc(*p, f);
        fputc('"', f);
    } else {
        fputs("null", f);
    }
}

static void pct(FILE *f, uint64_t part, uint64_t whole)
{
    if (whole)
        fprintf(f, "%.3f", 100.0 * (double)part / (double)whole);
    else
        fputs("null", f);
}

void noise_json(FILE *f, bool final)
{
    fputs("  \"noise\": {\"affinity_cpus\": [", f);
    for (unsigned i = 0; i < nz.ncpus; i++)
        fprintf(f, "%s%d", i ? ", " : "", nz.cpus[i]);
    fprintf(f, "], \"online_cpus\": %ld, \"pinned\": %s,\n", nz.online,
            nz.ncpus && (long)nz.ncpus < nz.online ? "true" : "false");
    fputs("    \"smt\": {\"active\": ", f);
    json_line(f, "/sys/devices/system/cpu/smt/active");
    fputs(", \"control\": ", f);
    json_line(f, "/sys/devices/system/cpu/smt/control");
    fputs("},\n    \"cpufreq\": {\"available\": ", f);
    fputs(nz.have_cpufreq ? "true" : "false", f);
    char path[128];
    const int c0 = nz.ncpus ? nz.cpus[0] : 0;
    fputs(", \"driver\": ", f);
    snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/cpufreq/scaling_driver", c0);
    json_line(f, path);
    fputs(", \"governors\": {", f); /* governor -> CPUs of the affinity */
    char govs[8][32];
    unsigned ngov = 0;
    for (unsigned i = 0; i < nz.ncpus && nz.have_cpufreq; i++) {
        char buf[32];
        snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/cpufreq/scaling_governor",
                 nz.cpus[i]);
        if (!read_line(path, buf, sizeof(buf)))
            continue;
        unsigned g = 0;
        while (g < ngov && strcmp(govs[g], buf))
            g++;
        if (g == ngov && ngov < 8)
            snprintf(govs[ngov++], sizeof(govs[0]), "%s", buf);
    }
    for (unsigned g = 0; g < ngov; g++) {
        fprintf(f, "%s\"%s\": [", g ? ", " : "", govs[g]);
        unsigned k = 0;
        for (unsigned i = 0; i < nz.ncpus; i++) {
            char buf[32];
            snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/cpufreq/scaling_governor",
                     nz.cpus[i]);
            if (read_line(path, buf, sizeof(buf)) && !strcmp(buf, govs[g]))
                fprintf(f, "%s%d", k++ ? ", " : "", nz.cpus[i]);
        }
        fputc(']', f);
    }
    fputs("}, \"boost\": ", f); /* acpi-cpufreq, amd-pstate: 1 on */
    json_line(f, "/sys/devices/system/cpu/cpufreq/boost");
    fputs(", \"intel_pstate_no_turbo\": ", f); /* intel_pstate: 1 = turbo off */
    json_line(f, "/sys/devices/system/cpu/intel_pstate/no_turbo");
    fputs("},\n    \"frequency_khz\": ", f);
    if (nz.samples) {
        fprintf(f, "{\"source\": \"%s\", \"samples\": %u, \"start_min\": %" PRIu64
                ", \"start_max\": %" PRIu64 ", ", nz.f_source, nz.samples, nz.f_start_min,
                nz.f_start_max);
        if (final)
            fprintf(f, "\"end_min\": %" PRIu64 ", \"end_max\": %" PRIu64 ", ", nz.f_end_min,
                    nz.f_end_max);
        else
            fputs("\"end_min\": null, \"end_max\": null, ", f);
        fprintf(f, "\"min\": %" PRIu64 ", \"max\": %" PRIu64 "}", nz.f_min, nz.f_max);
    } else {
        fputs("null", f);
    }
    fputs(",\n    \"steal\": ", f);
    if (final && nz.t0.ok && nz.t1.ok) {
        const uint64_t ds = nz.t1.steal - nz.t0.steal, dt = nz.t1.total - nz.t0.total;
        const uint64_t as = nz.t1.aff_steal - nz.t0.aff_steal, at = nz.t1.aff_total - nz.t0.aff_total;
        fprintf(f, "{\"source\": \"/proc/stat\", \"steal_ticks\": %" PRIu64 ", \"total_ticks\": %"
                PRIu64 ", \"steal_pct\": ", ds, dt);
        pct(f, ds, dt);
        fprintf(f, ", \"affinity_steal_ticks\": %" PRIu64 ", \"affinity_total_ticks\": %" PRIu64
                ", \"affinity_steal_pct\": ", as, at);
        pct(f, as, at);
        fputc('}', f);
    } else {
        fputs("null", f);
    }
    fprintf(f, ",\n    \"timer\": {\"pair_p50_ns\": %.0f, \"pair_p99_ns\": %.0f, \"pair_max_ns\": %.0f, "
            "\"resolution_ns\": %.0f}},\n", nz.pair_p50, nz.pair_p99, nz.pair_max, nz.res_ns);
}
