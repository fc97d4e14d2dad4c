/* tests/test_bench.c: the benchmark's parts (bench/).
 *
 *   shim       a C function registered through bench/gbench.h runs under Google Benchmark with
 *              its integer arguments, exact iteration count, manual time and counters, which
 *              appear in Google Benchmark's JSON output with the custom context; a benchmark
 *              that skips with an error is reported as such.
 *   histogram  percentiles of random data (log-uniform over 1 ns..10 s, and small exact
 *              values) against a sorted reference, within the stated relative error; bucket
 *              arithmetic; merge; the 95 % quantile intervals hold the true quantile about
 *              95 % of the time (log-uniform samples of 400).
 *   reps       the quick preset's 3 repetitions, registered repetition-major within a pool
 *              state, merged into one row per case with its intervals (simulated pools).
 *   csv        rows are on disk as soon as csv_row_end returns; quoting round-trips; a child
 *              writing rows as fast as it can and stopped by SIGINT (handled as the benchmark
 *              does) leaves a file that parses and holds every row it reported complete; killed
 *              by SIGKILL, every completed row is whole (at most a partial last line to drop).
 *   schema     the columns the benchmark writes are those results/README.md documents, in order.
 *   cli        `mmcontig bench` on simulated pools (no hugepages needed) interrupted by SIGINT
 *              after its first rows: exit 130, search.csv parses with every row it had, and
 *              context.json says so.
 *
 * Arguments: the mmcontig program, the source root.
 */
#include <math.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "common.h"
#include "csv.h"
#include "gbench.h"
#include "hist.h"

static char tmpdir[] = "/tmp/mmcontig-test-bench-XXXXXX";

/* ---- helpers ---- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s)
        s[n] = 0;
    fclose(f);
    return s;
}

/* The number after "key": inside the JSON object that contains `anchor` (a crude but
 * sufficient reader for Google Benchmark's flat benchmark objects). NAN if absent. */
static double json_number_near(const char *json, const char *anchor, const char *key)
{
    const char *a = strstr(json, anchor);
    if (!a)
        return NAN;
    const char *end = strchr(a, '}');
    char k[128];
    snprintf(k, sizeof(k), "\"%s\":", key);
    const char *p = strstr(a, k);
    if (!p || (end && p > end))
        return NAN;
    return strtod(p + strlen(k), NULL);
}

static bool json_has_near(const char *json, const char *anchor, const char *text)
{
    const char *a = strstr(json, anchor);
    if (!a)
        return false;
    const char *end = strchr(a, '}');
    const char *p = strstr(a, text);
    return p && (!end || p < end);
}

/* ---- shim ---- */

static int64_t seen_args[3];
static int64_t seen_iterations, seen_max;

static void bm_counters(gbench_state_t *st, void *user)
{
    (void)user;
    seen_args[0] = gbench_arg(st, 0);
    seen_args[1] = gbench_arg(st, 1);
    seen_args[2] = gbench_arg(st, 5); /* past nargs: 0 */
    seen_max = gbench_max_iterations(st);
    int64_t done = 0;
    for (;;) {
        int64_t b = seen_max - done < 16 ? seen_max - done : 16;
        if (!gbench_keep_running(st, b > 0 ? b : 1))
            break;
        done += b;
        gbench_set_iteration_time(st, (double)b * 1e-6); /* 1 us per iteration */
    }
    seen_iterations = gbench_iterations(st);
    gbench_set_counter(st, "answer", 42, GBENCH_COUNTER_DEFAULT);
    gbench_set_counter(st, "calls", (double)done, GBENCH_COUNTER_DEFAULT);
    gbench_set_label(st, "shim-label");
}

static void bm_skip(gbench_state_t *st, void *user)
{
    (void)user;
    gbench_skip_with_error(st, "deliberate skip");
    while (gbench_keep_running(st, 1))
        ;
}

static void bm_auto(gbench_state_t *st, void *user)
{
    volatile uint64_t x = 0;
    (void)user;
    while (gbench_keep_running(st, 64))
        for (int i = 0; i < 64; i++)
            x += (uint64_t)i;
}

static void test_shim(void)
{
    char out[256], outflag[300];
    snprintf(out, sizeof(out), "%s/gbench.json", tmpdir);
    snprintf(outflag, sizeof(outflag), "--benchmark_out=%s", out);
    int pfd[2];
    if (pipe(pfd) < 0)
        return;
    pid_t pid = fork();
    if (pid == 0) { /* Google Benchmark prints to stdout: keep it out of the TAP stream */
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, STDOUT_FILENO);
        close(pfd[0]);
        char *argv[] = {"test_bench", outflag, "--benchmark_out_format=json",
                        "--benchmark_min_time=0.01", "--not_a_benchmark_flag", NULL};
        int argc = 5;
        int rc = gbench_initialize(&argc, argv);
        /* Google Benchmark keeps what it does not know, in order */
        int left_ok = rc == 0 && argc == 2 && !strcmp(argv[1], "--not_a_benchmark_flag");
        struct gbench_def d = {.name = "shim/counters", .fn = bm_counters, .args = {7, 3},
                               .nargs = 2, .iterations = 100, .manual_time = true};
        int r1 = gbench_register(&d);
        struct gbench_def s = {.name = "shim/skip", .fn = bm_skip, .iterations = 10};
        int r2 = gbench_register(&s);
        struct gbench_def a = {.name = "shim/auto", .fn = bm_auto};
        int r3 = gbench_register(&a);
        struct gbench_def bad = {.name = NULL, .fn = bm_auto};
        int r4 = gbench_register(&bad);
        gbench_add_context("mmc_test_key", "mmc-test-value");
        long ran = gbench_run(NULL);
        gbench_shutdown();
        int64_t msg[8] = {left_ok, r1 == 0 && r2 == 0 && r3 == 0, r4 == -EINVAL, ran,
                          seen_args[0] == 7 && seen_args[1] == 3 && seen_args[2] == 0,
                          seen_max, seen_iterations, 0};
        ssize_t w = write(pfd[1], msg, sizeof(msg));
        _exit(w == sizeof(msg) ? 0 : 1);
    }
    close(pfd[1]);
    int64_t msg[8] = {0};
    ssize_t got = read(pfd[0], msg, sizeof(msg));
    close(pfd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    t_ok(got == sizeof(msg) && WIFEXITED(status) && WEXITSTATUS(status) == 0,
         "shim: the child ran Google Benchmark and exited 0 (status %#x)", status);
    t_ok(msg[0] == 1, "shim: gbench_initialize consumed the --benchmark_* flags, kept the rest");
    t_ok(msg[1] == 1 && msg[2] == 1, "shim: registration: 0 for good definitions, -EINVAL for a bad one");
    t_ok(msg[3] == 3, "shim: gbench_run ran the 3 registered benchmarks (%" PRId64 ")", msg[3]);
    t_ok(msg[4] == 1, "shim: the C function saw its integer arguments (7, 3; 0 past the last)");
    t_ok(msg[5] == 100 && msg[6] == 100, "shim: exactly the fixed iterations, in batches "
         "(max %" PRId64 ", done %" PRId64 ")", msg[5], msg[6]);
    char *json = slurp(out);
    t_ok(json != NULL, "shim: --benchmark_out wrote %s", out);
    if (!json)
        return;
    const char *anchor = "\"name\": \"shim/counters/7/3/iterations:100/manual_time\"";
    t_ok(strstr(json, anchor) != NULL, "shim: the JSON names the benchmark with its arguments");
    t_ok(json_number_near(json, anchor, "answer") == 42, "shim: counter 'answer' = 42 in the JSON");
    t_ok(json_number_near(json, anchor, "calls") == 100, "shim: counter 'calls' = 100 in the JSON");
    t_ok(json_number_near(json, anchor, "iterations") == 100, "shim: iterations = 100 in the JSON");
    double rt = json_number_near(json, anchor, "real_time");
    t_ok(fabs(rt - 1000.0) < 1e-6, "shim: manual time: 1 us per iteration reported (%g ns)", rt);
    t_ok(json_has_near(json, anchor, "\"label\": \"shim-label\""), "shim: the label is in the JSON");
    const char *skip = "\"name\": \"shim/skip/iterations:10\"";
    t_ok(json_has_near(json, skip, "\"error_occurred\": true") &&
             json_has_near(json, skip, "\"error_message\": \"deliberate skip\""),
         "shim: skip with error is reported as an error with its message");
    t_ok(strstr(json, "\"name\": \"shim/auto\"") != NULL,
         "shim: a benchmark without fixed iterations runs (Google Benchmark estimates)");
    t_ok(strstr(json, "\"mmc_test_key\": \"mmc-test-value\"") != NULL,
         "shim: the custom context is in the JSON context");
    free(json);
}

/* ---- histogram ---- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t rng_state = 12345;
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void test_hist(void)
{
    static struct hist h, h1, h2;
    enum { N = 200000 };
    uint64_t *v = malloc(N * sizeof(*v));
    if (!v)
        return;
    hist_reset(&h);
    hist_reset(&h1);
    hist_reset(&h2);
    long double sum = 0;
    for (int i = 0; i < N; i++) {
        if (i % 10 == 0)
            v[i] = rnd() % 200; /* small values: exact buckets and the first log buckets */
        else {
            double u = (double)(rnd() >> 11) * 0x1p-53;
            v[i] = (uint64_t)exp2(u * log2(1e10)); /* log-uniform 1 ns .. 10 s */
        }
        hist_record(&h, v[i]);
        hist_record(i % 2 ? &h1 : &h2, v[i]);
        sum += v[i];
    }
    qsort(v, N, sizeof(*v), cmp_u64);
    static const double ps[] = {0.5, 0.9, 0.99, 0.999, 0.9999, 1.0};
    bool all_within = true;
    double worst = 0;
    for (unsigned k = 0; k < sizeof(ps) / sizeof(ps[0]); k++) {
        size_t rank = (size_t)ceil(ps[k] * N);
        uint64_t ref = v[rank - 1], got = hist_percentile(&h, ps[k]);
        double err = ref ? fabs((double)got - (double)ref) / (double)ref : (double)got;
        if (err > worst)
            worst = err;
        /* the bound: 1/128 of the value (bucket midpoint), plus integer rounding */
        if (fabs((double)got - (double)ref) > (double)ref / 128.0 + 1.0)
            all_within = false;
        t_ok(fabs((double)got - (double)ref) <= (double)ref / 64.0 + 1.0,
             "histogram: p%g = %" PRIu64 " ns vs sorted reference %" PRIu64 " ns (within 1/64)",
             ps[k] * 100, got, ref);
    }
    t_ok(all_within, "histogram: every percentile within 1/128 (+1 ns) of the reference "
         "(worst relative error %.5f)", worst);
    t_ok(h.max_ns == v[N - 1] && h.min_ns == v[0] && h.count == N,
         "histogram: count, min and max exact");
    t_ok(fabs(hist_mean(&h) - (double)(sum / N)) < 1e-6 * (double)(sum / N), "histogram: mean exact");
    hist_merge(&h1, &h2);
    t_ok(!memcmp(h1.bucket, h.bucket, sizeof(h.bucket)) && h1.count == h.count &&
             h1.max_ns == h.max_ns && h1.min_ns == h.min_ns,
         "histogram: merging two halves gives the whole");
    bool buckets_ok = true;
    for (int i = 0; i < 100000 && buckets_ok; i++) {
        uint64_t x = rnd() >> (rnd() % 64);
        uint64_t lo, w;
        unsigned b = hist_bucket_of(x);
        hist_bucket_range(b, &lo, &w);
        buckets_ok = b < HIST_BUCKETS && lo <= x && x - lo < w && (x < 128 ? w == 1 : w * 64 <= lo);
    }
    uint64_t lo, w;
    hist_bucket_range(hist_bucket_of(UINT64_MAX), &lo, &w);
    t_ok(buckets_ok && hist_bucket_of(UINT64_MAX) == HIST_BUCKETS - 1 && lo + (w - 1) == UINT64_MAX,
         "histogram: every value lies in its bucket, width <= 1/64 of its lower bound, up to 2^64-1");
    struct hist e;
    hist_reset(&e);
    t_ok(hist_percentile(&e, 0.5) == 0 && hist_mean(&e) == 0, "histogram: empty gives 0");
    free(v);
}

/* The quantile intervals: over many samples of 400 values drawn from a known distribution
 * (log-uniform from 1 us to 1 ms, so the true p-quantile is exp2(p * log2(1000)) us), the
 * interval of p50 and of p99 holds the true quantile about 95 % of the time, and always the
 * estimate itself. */
static void test_hist_ci(void)
{
    static struct hist h;
    enum { TRIALS = 1000, N = 400 };
    static const double ps[] = {0.5, 0.99};
    for (unsigned k = 0; k < 2; k++) {
        const double truth = 1000.0 * exp2(ps[k] * log2(1000.0));
        unsigned covered = 0;
        bool brackets = true;
        for (int t = 0; t < TRIALS; t++) {
            hist_reset(&h);
            for (int i = 0; i < N; i++) {
                double u = (double)(rnd() >> 11) * 0x1p-53;
                hist_record(&h, (uint64_t)(1000.0 * exp2(u * log2(1000.0))));
            }
            uint64_t lo, hi, est = hist_percentile(&h, ps[k]);
            hist_quantile_ci(&h, ps[k], &lo, &hi);
            brackets &= lo <= est && est <= hi;
            /* the histogram's own resolution (1/128) widens what "holds" means a little */
            covered += (double)lo <= truth * (1 + 1.0 / 128) && truth * (1 - 1.0 / 128) <= (double)hi;
        }
        const double share = (double)covered / TRIALS;
        t_ok(brackets && share >= 0.92 && share <= 0.995,
             "histogram: the 95 %% interval of p%g over %d calls holds the true quantile in %.1f %% "
             "of %d samples (0.92..0.995 expected), and always the estimate", ps[k] * 100, N,
             100 * share, TRIALS);
    }
    struct hist e;
    hist_reset(&e);
    uint64_t lo = 1, hi = 1;
    hist_quantile_ci(&e, 0.5, &lo, &hi);
    t_ok(lo == 0 && hi == 0 && hist_at_rank(&e, 1) == 0, "histogram: empty interval is 0, 0");
}

/* ---- csv ---- */

static volatile sig_atomic_t child_stop;
static void on_sigint(int sig)
{
    (void)sig;
    child_stop = 1;
}

static unsigned rows_seen;
static char last_fields[4][64];
static void count_row(void *user, unsigned n, char **f)
{
    (void)user;
    rows_seen++;
    for (unsigned i = 0; i < n && i < 4; i++)
        snprintf(last_fields[i], sizeof(last_fields[i]), "%s", f[i]);
}

static long count_lines(const char *path)
{
    char *s = slurp(path);
    long n = 0;
    for (char *p = s; p && *p; p++)
        n += *p == '\n';
    free(s);
    return n;
}

static void test_csv(void)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/t.csv", tmpdir);
    static const char *const cols[] = {"a", "b", "c"};
    struct csv w;
    t_ok(csv_open(&w, path, cols, 3) == 0 && count_lines(path) == 1,
         "csv: the header is on disk as soon as the file is open");
    bool flushed = true;
    for (int i = 0; i < 20; i++) {
        csv_u64(&w, (uint64_t)i);
        csv_str(&w, "x");
        csv_f64(&w, i * 0.5, 2);
        flushed &= csv_row_end(&w) == 0 && count_lines(path) == i + 2;
    }
    t_ok(flushed, "csv: every row is on disk when csv_row_end returns (read back by another fd)");
    csv_u64(&w, 1);
    t_ok(csv_row_end(&w) == -EINVAL && count_lines(path) == 21,
         "csv: a row with the wrong field count is refused and nothing is written");
    csv_str(&w, "has,comma");
    csv_str(&w, "has \"quote\"");
    csv_str(&w, "");
    t_ok(csv_row_end(&w) == 0, "csv: a row needing quotes is written");
    csv_close(&w);
    rows_seen = 0;
    long rows = csv_parse_file(path, count_row, NULL);
    t_ok(rows == 22 && !strcmp(last_fields[0], "has,comma") && !strcmp(last_fields[1], "has \"quote\"") &&
             last_fields[2][0] == 0,
         "csv: the file parses (RFC 4180) and quoted fields round-trip (%ld rows)", rows);

    /* a child writing rows as fast as it can, interrupted by SIGINT as the benchmark is (a
     * handler sets a flag, the loop stops between rows, the file is closed), then one killed
     * outright by SIGKILL mid-write */
    for (int hard = 0; hard < 2; hard++) {
        int pfd[2];
        if (pipe(pfd) < 0)
            return;
        snprintf(path, sizeof(path), "%s/killed%d.csv", tmpdir, hard);
        pid_t pid = fork();
        if (pid == 0) {
            close(pfd[0]);
            if (!hard) {
                struct sigaction sa;
                memset(&sa, 0, sizeof(sa));
                sa.sa_handler = on_sigint;
                sa.sa_flags = SA_RESTART;
                sigaction(SIGINT, &sa, NULL);
            }
            static const char *const c4[] = {"run_id", "n", "payload", "value"};
            struct csv k;
            if (csv_open(&k, path, c4, 4) < 0)
                _exit(2);
            char payload[600];
            memset(payload, 'p', sizeof(payload) - 1);
            payload[sizeof(payload) - 1] = 0;
            for (uint32_t n = 1; !child_stop; n++) {
                csv_str(&k, "run");
                csv_u64(&k, n);
                csv_str(&k, payload);
                csv_f64(&k, n * 1.5, 3);
                if (csv_row_end(&k) < 0)
                    _exit(3);
                if (write(pfd[1], &n, sizeof(n)) != sizeof(n)) /* "row n is complete" */
                    _exit(4);
            }
            csv_close(&k);
            _exit(130);
        }
        close(pfd[1]);
        uint32_t n = 0, last = 0;
        while (last < 2000 && read(pfd[0], &n, sizeof(n)) == sizeof(n))
            last = n;
        kill(pid, hard ? SIGKILL : SIGINT);
        while (read(pfd[0], &n, sizeof(n)) == sizeof(n)) /* rows completed before it stopped */
            last = n;
        close(pfd[0]);
        int status;
        waitpid(pid, &status, 0);
        if (hard) { /* a reader drops a last line without its '\n' */
            char *text = slurp(path);
            char *nl = text ? strrchr(text, '\n') : NULL;
            if (nl) {
                FILE *f = fopen(path, "w");
                fwrite(text, 1, (size_t)(nl - text + 1), f);
                fclose(f);
            }
            free(text);
        }
        rows_seen = 0;
        rows = csv_parse_file(path, count_row, NULL);
        if (!hard)
            t_ok(WIFEXITED(status) && WEXITSTATUS(status) == 130 && rows >= 1 &&
                     (uint32_t)(rows - 1) == last,
                 "csv: a child stopped by SIGINT mid-run (handled, as the benchmark does) leaves a "
                 "file that parses with every completed row (%u reported, %ld in the file)",
                 last, rows - 1);
        else
            t_ok(WIFSIGNALED(status) && rows >= 1 && (uint32_t)(rows - 1) >= last &&
                     (uint32_t)(rows - 1) <= last + 1,
                 "csv: a child killed by SIGKILL mid-write leaves every completed row whole (%u "
                 "reported, %ld in the file once a partial last line is dropped)", last, rows - 1);
    }
}

/* ---- schema: results/README.md against the header the benchmark wrote ---- */

static char header[64][64];
static unsigned header_n;
static void grab_header(void *user, unsigned n, char **f)
{
    (void)user;
    if (header_n)
        return;
    for (unsigned i = 0; i < n && i < 64; i++)
        snprintf(header[i], sizeof(header[i]), "%s", f[i]);
    header_n = n;
}

static void test_schema(const char *root, const char *csv_path)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/results/README.md", root);
    char *doc = slurp(path);
    header_n = 0;
    csv_parse_file(csv_path, grab_header, NULL);
    t_ok(doc != NULL && header_n > 0, "schema: %s and the header of %s are readable", path, csv_path);
    if (!doc || !header_n) {
        free(doc);
        return;
    }
    /* the first column of the table after "| column |"; a cell may name several columns
     * ("p50_ns, p90_ns, ...") */
    char *line = strstr(doc, "| column |");
    unsigned i = 0;
    bool same = line != NULL;
    line = line ? strchr(line, '\n') : NULL;
    while (same && line && line[1] == '|') {
        char cell[200];
        if (sscanf(line + 1, "| %199[^|]", cell) == 1 && strncmp(cell, "---", 3)) {
            for (char *save = NULL, *c = strtok_r(cell, ", ", &save); c; c = strtok_r(NULL, ", ", &save))
                same &= i < header_n && !strcmp(c, header[i++]);
        }
        line = strchr(line + 1, '\n');
    }
    t_ok(same && i == header_n, "schema: results/README.md documents the %u columns the writer "
         "writes, in its order (%u matched)", header_n, i);
    free(doc);
}

/* ---- repetitions: interleaved, merged, with intervals ---- */

struct reps_check {
    int col_reps, col_calls, col_p50, col_lo, col_hi, col_p99, col_lo99, col_hi99, col_rep50;
    unsigned rows, good;
    char bad[300];
};

static int col_of(unsigned n, char **f, const char *name)
{
    for (unsigned i = 0; i < n; i++)
        if (!strcmp(f[i], name))
            return (int)i;
    return -1;
}

static void reps_row(void *user, unsigned n, char **f)
{
    struct reps_check *r = user;
    if (r->col_reps < 0 && !r->rows && !r->good) { /* the header */
        r->col_reps = col_of(n, f, "reps");
        r->col_calls = col_of(n, f, "calls");
        r->col_p50 = col_of(n, f, "p50_ns");
        r->col_lo = col_of(n, f, "p50_ci_lo_ns");
        r->col_hi = col_of(n, f, "p50_ci_hi_ns");
        r->col_p99 = col_of(n, f, "p99_ns");
        r->col_lo99 = col_of(n, f, "p99_ci_lo_ns");
        r->col_hi99 = col_of(n, f, "p99_ci_hi_ns");
        r->col_rep50 = col_of(n, f, "rep_p50_ns");
        return;
    }
    r->rows++;
    if (r->col_reps < 0 || r->col_rep50 < 0 || r->col_hi99 < 0)
        return;
    unsigned semis = 0;
    for (const char *c = f[r->col_rep50]; *c; c++)
        semis += *c == ';';
    const unsigned long long p50 = strtoull(f[r->col_p50], NULL, 10), lo = strtoull(f[r->col_lo], NULL, 10),
                             hi = strtoull(f[r->col_hi], NULL, 10), p99 = strtoull(f[r->col_p99], NULL, 10),
                             lo99 = strtoull(f[r->col_lo99], NULL, 10), hi99 = strtoull(f[r->col_hi99], NULL, 10);
    bool ok = !strcmp(f[r->col_reps], "3") && !strcmp(f[r->col_calls], "90") && semis == 2 &&
              (!*f[r->col_p50] || (lo <= p50 && p50 <= hi && lo99 <= p99 && p99 <= hi99));
    if (ok)
        r->good++;
    else if (!r->bad[0])
        snprintf(r->bad, sizeof(r->bad), "reps %s calls %s p50 %s [%s, %s] p99 %s [%s, %s] rep_p50 %s",
                 f[r->col_reps], f[r->col_calls], f[r->col_p50], f[r->col_lo], f[r->col_hi],
                 f[r->col_p99], f[r->col_lo99], f[r->col_hi99], f[r->col_rep50]);
}

static void test_reps(const char *exe)
{
    char out[256], cmd[900], path[320];
    snprintf(out, sizeof(out), "%s/reps", tmpdir);
    /* the order Google Benchmark will run: every case's rep 1 before any case's rep 2 */
    snprintf(cmd, sizeof(cmd), "'%s' bench --suite search,fastonly --algo linear,tree --sim-pools 1G "
             "--benchmark_filter=sim-1G/ --calls 30 --benchmark_list_tests=true 2>/dev/null", exe);
    FILE *p = popen(cmd, "r");
    char line[400];
    unsigned n = 0, first_rep2 = 0, last_rep1 = 0;
    while (p && fgets(line, sizeof(line), p)) {
        n++;
        if (strstr(line, "/fill:0/") && strstr(line, "/rep:1/"))
            last_rep1 = n;
        if (strstr(line, "/fill:0/") && strstr(line, "/rep:2/") && !first_rep2)
            first_rep2 = n;
    }
    if (p)
        pclose(p);
    /* 2 engines x 3 sizes (1G needs a 2 GiB pool: 2) x 2 suites = 8 cases per fill */
    t_ok(n == 2 * 8 * 3 && last_rep1 == 8 && first_rep2 == 9,
         "reps: the quick preset registers 3 repetitions per case, repetition-major within a "
         "pool state (%u registrations; the fill 0 block's last rep 1 at %u, first rep 2 at %u)",
         n, last_rep1, first_rep2);
    snprintf(cmd, sizeof(cmd), "'%s' bench --suite search,fastonly --algo linear,tree --sim-pools 1G "
             "--benchmark_filter=sim-1G/ --calls 30 --out '%s' >'%s.log' 2>&1", exe, out, out);
    int rc = system(cmd);
    snprintf(path, sizeof(path), "%s/search.csv", out);
    struct reps_check r = {.col_reps = -1};
    long rows = csv_parse_file(path, reps_row, &r);
    t_ok(rc == 0 && rows > 1 && r.good == r.rows && r.rows == 8,
         "reps: each of the %u rows merges 3 repetitions of 30 calls, lists each one's p50, and its "
         "95 %% intervals hold p50 and p99 (%u good; first bad: %s)", r.rows, r.good,
         r.bad[0] ? r.bad : "none");
}

/* ---- cli: mmcontig bench interrupted ---- */

static void test_cli(const char *exe)
{
    char out[256], csvp[300], ctx[300], log[300];
    snprintf(out, sizeof(out), "%s/run", tmpdir);
    snprintf(csvp, sizeof(csvp), "%s/search.csv", out);
    snprintf(ctx, sizeof(ctx), "%s/context.json", out);
    snprintf(log, sizeof(log), "%s/bench.log", tmpdir);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        /* simulated pools only: no hugepages; enough cases to be interrupted in the middle */
        execl(exe, exe, "bench", "--suite", "search", "--algo", "linear", "--sim-pools", "1G,4G",
              "--calls", "2000", "--benchmark_filter=sim", "--out", out, (char *)NULL);
        _exit(127);
    }
    /* how many cases that run has */
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "'%s' bench --suite search --algo linear --sim-pools 1G,4G "
             "--benchmark_filter=sim --benchmark_list_tests=true 2>/dev/null | wc -l", exe);
    FILE *p = popen(cmd, "r");
    long total = 0;
    if (!p || fscanf(p, "%ld", &total) != 1)
        total = 0;
    if (p)
        pclose(p);
    /* wait for the first rows, then interrupt */
    long lines = 0;
    for (int i = 0; i < 600 && lines < 4; i++) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
        lines = count_lines(csvp);
    }
    long before = count_lines(csvp) - 1;
    kill(pid, SIGINT);
    int status = 0;
    waitpid(pid, &status, 0);
    t_ok(WIFEXITED(status) && WEXITSTATUS(status) == 130,
         "cli: mmcontig bench exits 130 after SIGINT (status %#x; log %s)", status, log);
    rows_seen = 0;
    long rows = csv_parse_file(csvp, count_row, NULL);
    t_ok(rows - 1 >= before && before >= 3 && rows - 1 < total,
         "cli: search.csv parses with every completed row (%ld before the signal, %ld after; "
         "the run has %ld cases)", before, rows - 1, total);
    char *c = slurp(ctx);
    t_ok(c && strstr(c, "\"interrupted\": \"SIGINT\"") && strstr(c, "\"exit_code\": 130") &&
             strstr(c, "\"end_utc\": \"") && strstr(c, "\"buddyinfo_after\""),
         "cli: context.json is complete and says the run was interrupted by SIGINT");
    free(c);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_bench MMCONTIG_PROGRAM SOURCE_ROOT\n");
        return 2;
    }
    if (!mkdtemp(tmpdir)) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    test_hist();
    test_hist_ci();
    test_csv();
    test_shim();
    test_cli(argv[1]);
    test_reps(argv[1]);
    char csvp[300];
    snprintf(csvp, sizeof(csvp), "%s/run/search.csv", tmpdir);
    test_schema(argv[2], csvp);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (!t_failed && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return t_done();
}
