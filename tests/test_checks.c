/* tests/test_checks.c: the library's assertion layer (alloc/check.h) catches what it claims,
 * at the level this build has (-Ddebug_checks: 0 off, 1 on, 2 expensive), and nothing at the
 * levels that do not check it.
 *
 * Each case breaks one thing in a child process and expects, by the level, either an abort
 * whose message names the broken condition, or a normal exit:
 *   a liar engine (find answers a frame the database holds taken)       caught at 1 and 2
 *   take() of a range the caller left free in the database                caught at 1 and 2
 *   a pageblock counter corrupted, then any change to its hugepage        caught at 2
 *   an engine that forgets a give (find no longer sees the freed block)   caught at 2
 * and a run of ordinary changes on a correct database and engine never aborts.
 */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "internal.h"

#define HP 512u
#define NHP 8u

static struct mmc_frames db;
static const struct mmc_engine_ops *ops;
static void *st;

static void setup(const struct mmc_engine_ops *e)
{
    uint64_t pfn[NHP];
    uint8_t node[NHP] = {0};
    for (unsigned k = 0; k < NHP; k++)
        pfn[k] = 0x100000 + (uint64_t)k * HP;
    if (_mmc_frames_init(&db, 0x100000, NHP * HP, HP, NHP, pfn, node) < 0 ||
        _mmc_engine_open(e, &db, &ops, &st) < 0)
        _exit(99);
}

/* ---- broken engines: a built-in one with one operation replaced (the forgetful one is
 * bitmap's: linear keeps no index of its own, so a give it ignored would change nothing) ---- */

static int liar_find(void *e, const struct mmc_search *rq, uint64_t *first, uint64_t *work)
{
    (void)e, (void)rq;
    *first = 0; /* always frame 0, free or not */
    *work = 1;
    return 0;
}
static void forgetful_give(void *e, uint64_t first, uint64_t n) { (void)e, (void)first, (void)n; }

static struct mmc_engine_ops broken(int which)
{
    struct mmc_engine_ops o = which == 0 ? _mmc_engine_linear : _mmc_engine_bitmap;
    if (which == 0)
        o.find = liar_find;
    else
        o.give = forgetful_give;
    return o;
}

/* ---- the cases (each runs in a child) ---- */

static void case_liar(void)
{
    static struct mmc_engine_ops o;
    o = broken(0);
    setup(&o);
    _mmc_frames_set(&db, 0, 1, MMC_FRAME_CONTIG | MMC_FRAME_HEAD);
    struct mmc_search rq = {.frames = 1, .lowest_pfn = 0, .highest_pfn = UINT64_MAX, .node_mask = 1};
    uint64_t first, work;
    ops->find(st, &rq, &first, &work);
}

static void case_take_free(void)
{
    setup(&_mmc_engine_linear);
    ops->take(st, 100, 4); /* the database was not told first */
}

static void case_counter(void)
{
    setup(&_mmc_engine_linear);
    db.pb_used[3]++; /* hugepage 3's only pageblock */
    _mmc_frames_set(&db, 3 * HP + 7, 1, MMC_FRAME_MOVABLE);
}

static void case_forgetful(void)
{
    static struct mmc_engine_ops o;
    o = broken(1);
    setup(&o);
    for (unsigned k = 0; k < 64; k++) { /* a small pool: every give is searched after */
        _mmc_frames_set(&db, 2 * HP, HP, MMC_FRAME_CONTIG | MMC_FRAME_HEAD);
        ops->take(st, 2 * HP, HP);
        _mmc_frames_set(&db, 2 * HP, HP, MMC_FRAME_FREE | MMC_FRAME_HEAD);
        ops->give(st, 2 * HP, HP);
    }
}

static void case_correct(void)
{
    setup(&_mmc_engine_linear);
    uint64_t x = 12345;
    for (unsigned k = 0; k < 2000; k++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        const uint64_t hp = (x >> 33) % NHP, off = (x >> 20) % HP, n = 1 + (x >> 45) % (HP - off);
        const uint64_t i = hp * HP + off;
        if (_mmc_frames_count_free(&db, i, i + n) == n) {
            _mmc_frames_set(&db, i, n, MMC_FRAME_MOVABLE);
            ops->take(st, i, n);
        } else if (_mmc_frames_count_free(&db, i, i + n) == 0) {
            _mmc_frames_set(&db, i, n, MMC_FRAME_FREE);
            ops->give(st, i, n);
        }
    }
    _exit(_mmc_frames_verify(&db) ? 0 : 3);
}

/* Run fn in a child; its stderr into buf. Returns the signal it died of (0: exited 0). */
static int run(void (*fn)(void), char *buf, size_t len)
{
    int fd[2];
    if (pipe(fd) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        dup2(fd[1], 2);
        fn();
        _exit(0);
    }
    close(fd[1]);
    size_t got = t_read_all(fd[0], buf, len - 1);
    while (got && (buf[got - 1] == '\n' || buf[got - 1] == '\r'))
        got--; /* the TAP line that quotes it stays one line */
    buf[got] = '\0';
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status))
        return WTERMSIG(status);
    return WEXITSTATUS(status) ? -WEXITSTATUS(status) : 0;
}

static void expect(const char *what, void (*fn)(void), int level, const char *needle)
{
    char buf[4096];
    const int sig = run(fn, buf, sizeof(buf));
    if (MMC_DEBUG_CHECKS >= level)
        t_ok(sig == SIGABRT && strstr(buf, needle) != NULL,
             "level %d: %s is caught (signal %d; stderr: %.200s)", MMC_DEBUG_CHECKS, what, sig, buf);
    else
        t_ok(sig == 0, "level %d: %s goes unchecked, as documented (exit %d)", MMC_DEBUG_CHECKS,
             what, sig);
}

int main(void)
{
    printf("# -Ddebug_checks level %d\n", MMC_DEBUG_CHECKS);
    expect("an engine's find answering a taken frame", case_liar, 1, "mmc_search_fits");
    expect("take() of frames the database still holds free", case_take_free, 1, "_mmc_frames_count_free");
    expect("a corrupted pageblock counter", case_counter, 2, "pageblock counters differ");
    expect("an engine that ignores give()", case_forgetful, 2, "finds_exactly");
    char buf[4096];
    int rc = run(case_correct, buf, sizeof(buf));
    t_ok(rc == 0, "2000 random takes and gives on a correct database and engine pass every check "
         "(exit %d; stderr: %.200s)", rc, buf);
    return t_done();
}
