/* bench/progress.c: the progress report on stderr.
 *
 * On a terminal: one line redrawn in place (bar, cases done of expected, elapsed, ETA, the
 * running case), cleared before Google Benchmark prints a result so the two never mix. Not on
 * a terminal (a log file, CI): one line per finished case. The ETA is the mean time of the
 * finished cases times the cases left; the expected count is the cases matching
 * --benchmark_filter, predicted with POSIX extended regexes as Google Benchmark's own filter
 * does, times the repetitions.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

static struct {
    bool tty;
    bool drawn;                 /* a line is on the terminal */
    size_t total, done;         /* case runs (repetitions count) */
    uint64_t start_ns, last_draw_ns, case_start_ns;
    char current[160];
} pg;

static void fmt_dur(char *buf, size_t len, double s)
{
    if (s < 0)
        snprintf(buf, len, "?");
    else if (s < 60)
        snprintf(buf, len, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, len, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else
        snprintf(buf, len, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
}

static double eta_s(void)
{
    if (!pg.done || pg.done >= pg.total)
        return pg.done >= pg.total && pg.done ? 0 : -1;
    double el = (double)(bench_now_ns() - pg.start_ns) * 1e-9;
    return el / (double)pg.done * (double)(pg.total - pg.done);
}

static void draw(void)
{
    char el[16], eta[16];
    fmt_dur(el, sizeof(el), (double)(bench_now_ns() - pg.start_ns) * 1e-9);
    fmt_dur(eta, sizeof(eta), eta_s());
    const int width = 24;
    int fill = pg.total ? (int)((double)pg.done / (double)pg.total * width) : 0;
    if (fill > width)
        fill = width;
    char bar[32];
    memset(bar, '#', (size_t)fill);
    memset(bar + fill, '.', (size_t)(width - fill));
    bar[width] = 0;
    fprintf(stderr, "\r\033[K[%s] %zu/%zu  %s elapsed, ETA %s  %.70s", bar, pg.done, pg.total, el,
            eta, pg.current);
    fflush(stderr);
    pg.drawn = true;
    pg.last_draw_ns = bench_now_ns();
}

void progress_start(size_t total)
{
    pg.tty = isatty(STDERR_FILENO);
    pg.total = total;
    pg.done = 0;
    pg.start_ns = bench_now_ns();
}

void progress_case_begin(const struct bench_case *c)
{
    snprintf(pg.current, sizeof(pg.current), "%s", c->name);
    pg.case_start_ns = bench_now_ns();
    if (pg.total < pg.done + 1)
        pg.total = pg.done + 1; /* the prediction was short: never show done > total */
    if (pg.tty)
        draw();
}

void progress_tick(void)
{
    if (pg.tty && bench_now_ns() - pg.last_draw_ns > 200000000ull)
        draw();
}

void progress_case_end(const struct bench_case *c, const char *status)
{
    pg.done++;
    noise_sample(); /* between cases: a frequency sample, at most once a second */
    if (pg.tty) {
        draw();
        return;
    }
    char eta[16];
    fmt_dur(eta, sizeof(eta), eta_s());
    fprintf(stderr, "[%zu/%zu] %s: %s in %.2f s, ETA %s\n", pg.done, pg.total, c->name, status,
            (double)(bench_now_ns() - pg.case_start_ns) * 1e-9, eta);
}

void progress_clear(void *unused)
{
    (void)unused;
    if (pg.tty && pg.drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        pg.drawn = false;
    }
}

void progress_finish(void)
{
    progress_clear(NULL);
    if (!pg.done)
        return;
    char el[16];
    fmt_dur(el, sizeof(el), (double)(bench_now_ns() - pg.start_ns) * 1e-9);
    fprintf(stderr, "mmcontig bench: %zu case runs in %s\n", pg.done, el);
}
