/* tests/test_reliability_hugepages.c: hugepages taken from the kernel come back, whatever
 * happens to the process that took them (issue 17, items 2 to 6).
 *
 * Each property is read back from sysfs, never from the library: the persistent hugepages
 * (nr_hugepages - surplus_hugepages), the surplus ones, nr_overcommit_hugepages, and the
 * ledgers in /run/mmcontig.
 * - fork: with hugepages reserved by someone else, a pool holder's forked child exits (atexit
 *   runs in it): nothing changes; the holder's mmc_fini gives back exactly its own raise.
 * - deaths: a pool holder killed by SIGKILL, SIGTERM, or its own abort() on misuse: its
 *   surplus pages are gone with it, nr_hugepages is as before; its ledger stays until
 *   mmc_hugepages_reclaim() (or the next process) gives back its nr_overcommit_hugepages raise.
 *   A holder that exits without mmc_fini gives it back itself, once.
 * - three pools of 256 MiB started at the same moment all get their pages.
 * - the lock: an unprivileged user can neither open it nor plant a file in its directory, and
 *   an unprivileged flock on the old lock file holds up nobody; a holder that does not let go
 *   makes mmc_init fail after MMC_LOCK_TIMEOUT, naming its pid, with nothing taken.
 * - 100 GiB on this machine: refused before anything is taken, with a size that fits; the
 *   failure is remembered by the implicit initialisation until the environment changes.
 * Every case restores what it changed (nr_hugepages of "someone else" included).
 */
#include "common.h"
#include "mmcontig/wdm.h"
#include "reliability.h"

#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#define H2M "/sys/kernel/mm/hugepages/hugepages-2048kB/"
#define RUN_DIR "/run/mmcontig"

static PHYSICAL_ADDRESS A(uint64_t v) { return (PHYSICAL_ADDRESS){.QuadPart = (LONGLONG)v}; }

struct counts {
    uint64_t persistent, surplus, overcommit;
};
static struct counts counts(void)
{
    uint64_t nr = t_sysfs_u64(H2M "nr_hugepages"), s = t_sysfs_u64(H2M "surplus_hugepages");
    return (struct counts){nr - s, s, t_sysfs_u64(H2M "nr_overcommit_hugepages")};
}
static bool counts_eq(struct counts a, struct counts b)
{
    return a.persistent == b.persistent && a.surplus == b.surplus && a.overcommit == b.overcommit;
}
#define C3(c) (unsigned long long)(c).persistent, (unsigned long long)(c).surplus, \
              (unsigned long long)(c).overcommit

static void write_u64(const char *path, uint64_t v)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "%llu\n", (unsigned long long)v);
        fclose(f);
    }
}

/* The kernel frees a dead process's pages shortly after it is reaped: wait up to 2 s. */
static struct counts counts_settled(struct counts want)
{
    struct counts c = counts();
    for (int i = 0; i < 200 && !counts_eq(c, want); i++) {
        usleep(10000);
        c = counts();
    }
    return c;
}

static bool ledger_exists(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), RUN_DIR "/pid-%d", (int)pid);
    return access(path, F_OK) == 0;
}

/* fork() with a pipe: in the child *fd is the write end, in the parent the read end. */
static pid_t fork_piped(int *fd)
{
    int p[2];
    if (pipe(p) < 0)
        return -1;
    pid_t pid = fork();
    close(p[pid == 0 ? 0 : 1]);
    *fd = p[pid == 0 ? 1 : 0];
    return pid;
}

static double secs_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* misuse (a free of an address mmcontig never handed out): the library's default abort() */
static void misuse_on_signal(int sig)
{
    (void)sig;
    MmFreeContiguousMemory((void *)8);
}

/* A child that builds a pool (MMC_POOL=pool), says so on the pipe, then does `then`. */
enum then { THEN_WAIT, THEN_ABORT, THEN_EXIT };
static pid_t pool_holder(const char *pool, enum then then, int *ready_fd)
{
    int w = -1;
    pid_t pid = fork_piped(&w);
    if (pid == 0) {
        setenv("MMC_POOL", pool, 1);
        setenv("MMC_ON_MISUSE", "abort", 1);
        if (then == THEN_ABORT)
            signal(SIGUSR1, misuse_on_signal);
        int rc = mmc_init(NULL);
        dprintf(w, "%d\n", rc);
        close(w);
        if (rc < 0)
            _exit(2);
        if (then == THEN_EXIT)
            exit(0); /* no mmc_fini: the exit handler gives back */
        pause();
        _exit(0);
    }
    *ready_fd = w;
    return pid;
}

static int read_rc(int fd)
{
    char buf[32] = "";
    t_read_all(fd, buf, sizeof(buf));
    close(fd);
    return buf[0] ? atoi(buf) : -9999;
}

static void deaths(void)
{
    static const struct {
        const char *how;
        int sig;
        enum then then;
    } ways[] = {
        {"SIGKILL", SIGKILL, THEN_WAIT},
        {"SIGTERM (as timeout sends)", SIGTERM, THEN_WAIT},
        {"abort() on misuse (the default reaction)", SIGUSR1, THEN_ABORT},
    };
    for (size_t w = 0; w < sizeof(ways) / sizeof(ways[0]); w++) {
        const struct counts before = counts();
        int fd;
        pid_t pid = pool_holder("64M", ways[w].then, &fd);
        int rc = read_rc(fd);
        const struct counts alive = counts();
        bool ledgered = ledger_exists(pid);
        if (ways[w].sig)
            kill(pid, ways[w].sig);
        int st = 0;
        waitpid(pid, &st, 0);
        const struct counts dead = counts_settled((struct counts){before.persistent, before.surplus,
                                                                  alive.overcommit});
        /* it took its 32 pages from the free ones and as surplus pages (a raise, ledgered) */
        t_ok(rc == 0 && alive.surplus >= before.surplus &&
                 ledgered == (alive.overcommit > before.overcommit) && WIFSIGNALED(st) &&
                 dead.persistent == before.persistent && dead.surplus == before.surplus &&
                 ledger_exists(pid) == ledgered,
             "%s of a 64 MiB pool holder: while alive persistent/surplus/overcommit %llu/%llu/%llu "
             "(ledger %s); after death %llu/%llu/%llu (before %llu/%llu/%llu): its pages are gone "
             "with it, nr_hugepages is as before, the ledger remains",
             ways[w].how, C3(alive), ledgered ? "written" : "MISSING", C3(dead), C3(before));
        FILE *rep = tmpfile();
        long settled = mmc_hugepages_reclaim(rep);
        char line[512] = "";
        rewind(rep);
        if (!fgets(line, sizeof(line), rep))
            line[0] = 0;
        line[strcspn(line, "\n")] = 0; /* one TAP line */
        fclose(rep);
        const struct counts after = counts();
        t_ok(settled == ledgered && counts_eq(after, before) && !ledger_exists(pid) &&
                 (!ledgered || strstr(line, "nr_overcommit_hugepages")),
             "%s: mmc_hugepages_reclaim settles %ld dead process, nr_overcommit_hugepages back to "
             "%llu (now %llu/%llu/%llu), ledger removed (%s)", ways[w].how, settled,
             (unsigned long long)before.overcommit, C3(after), line);
    }
    /* An exit without mmc_fini gives back in the exit handler, once. */
    const struct counts before = counts();
    int fd = -1;
    pid_t pid = pool_holder("64M", THEN_EXIT, &fd);
    int rc = read_rc(fd), st = 0;
    waitpid(pid, &st, 0);
    const struct counts after = counts_settled(before);
    t_ok(rc == 0 && WIFEXITED(st) && counts_eq(after, before) && !ledger_exists(pid),
         "exit(0) without mmc_fini: counts back to %llu/%llu/%llu (now %llu/%llu/%llu), no "
         "ledger left", C3(before), C3(after));
}

static void fork_child_exit(void)
{
    const struct counts base = counts();
    const uint64_t others = base.persistent + 10; /* someone else's reservation */
    write_u64(H2M "nr_hugepages", others);
    const struct counts before = counts();
    if (before.persistent != others) {
        t_ok(false, "could not reserve 10 hugepages for someone else (%llu persistent)",
             (unsigned long long)before.persistent);
        return;
    }
    t_init_pool("64M");
    const struct counts held = counts();
    pid_t pid = fork();
    if (pid == 0)
        exit(0); /* runs the atexit handlers of a copy of the pool */
    int st = 0;
    waitpid(pid, &st, 0);
    const struct counts after_child = counts();
    void *p = MmAllocateContiguousMemory(1 << 20, A(UINT64_MAX >> 1));
    bool works = p && t_contiguous(p, 1 << 20, NULL);
    MmFreeContiguousMemory(p);
    t_ok(WIFEXITED(st) && counts_eq(after_child, held) && works,
         "a forked child of a pool holder exits: persistent/surplus/overcommit %llu/%llu/%llu as "
         "before it (%llu/%llu/%llu), the pool still serves memory", C3(after_child), C3(held));
    mmc_fini();
    const struct counts after = counts();
    t_ok(counts_eq(after, before),
         "the holder's mmc_fini: %llu/%llu/%llu, as before the pool (%llu/%llu/%llu): someone "
         "else's 10 hugepages stay", C3(after), C3(before));
    write_u64(H2M "nr_hugepages", base.persistent);
}

static void concurrent_starts(void)
{
    const struct counts before = counts();
    int go[2];
    if (pipe(go) < 0)
        return;
    pid_t pid[3];
    int fd[3];
    for (int k = 0; k < 3; k++) {
        int p[2];
        if (pipe(p) < 0)
            return;
        pid[k] = fork();
        if (pid[k] == 0) {
            close(go[1]);
            close(p[0]);
            char c;
            if (read(go[0], &c, 1) != 0) /* all start when the pipe closes */
                _exit(3);
            setenv("MMC_POOL", "256M", 1);
            int rc = mmc_init(NULL);
            dprintf(p[1], "%d %s\n", rc, rc ? mmc_last_error() : "");
            mmc_fini();
            _exit(0);
        }
        close(p[1]);
        fd[k] = p[0];
    }
    close(go[0]);
    close(go[1]);
    int ok = 0;
    char why[3][512];
    for (int k = 0; k < 3; k++) {
        t_read_all(fd[k], why[k], sizeof(why[k]));
        close(fd[k]);
        ok += why[k][0] == '0';
        waitpid(pid[k], NULL, 0);
    }
    const struct counts after = counts_settled(before);
    t_ok(ok == 3 && counts_eq(after, before),
         "three 256 MiB pools started at the same moment: %d of 3 built (%s%s%s), counts back to "
         "%llu/%llu/%llu", ok, why[0][0] == '0' ? "" : why[0], why[1][0] == '0' ? "" : why[1],
         why[2][0] == '0' ? "" : why[2], C3(after));
}

/* In a child as nobody: what it can do to the lock. */
static void unprivileged(void)
{
    int fd = -1;
    /* the old lock file in world-writable /run/lock, which an unprivileged flock held up */
    int old = open("/run/lock/mmcontig-hugepages.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (old >= 0)
        fchmod(old, 0644);
    pid_t pid = fork_piped(&fd);
    if (pid == 0) {
        if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
            _exit(9);
        int lock = open(RUN_DIR "/hugepages.lock", O_RDONLY | O_CLOEXEC);
        int lock_e = errno;
        int sym = symlink("/etc/mmcontig-planted", RUN_DIR "/hugepages.lock2");
        int sym_e = errno;
        int oldfd = open("/run/lock/mmcontig-hugepages.lock", O_RDONLY | O_CLOEXEC);
        bool flocked = oldfd >= 0 && flock(oldfd, LOCK_EX) == 0;
        dprintf(fd, "%d %d %d %d %d\n", lock, lock_e, sym, sym_e, flocked);
        close(fd);
        pause(); /* holds the old flock */
        _exit(0);
    }
    char buf[128] = "";
    t_read_all(fd, buf, sizeof(buf));
    close(fd);
    int lock = 0, lock_e = 0, sym = 0, sym_e = 0, flocked = 0;
    sscanf(buf, "%d %d %d %d %d", &lock, &lock_e, &sym, &sym_e, &flocked);
    struct stat st;
    bool dir_ok = lstat(RUN_DIR, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == 0 &&
                  (st.st_mode & 07777) == 0700;
    t_ok(dir_ok && lock < 0 && lock_e == EACCES && sym < 0 && sym_e == EACCES,
         "as nobody: " RUN_DIR " is root's and 0700; opening the lock fails (%s), planting a "
         "symlink beside it fails (%s)", strerror(lock_e), strerror(sym_e));
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    setenv("MMC_LOCK_TIMEOUT", "3", 1);
    int rc = mmc_init(NULL);
    const double s = secs_since(&t0);
    t_ok(rc == 0 && s < 2.5, "an unprivileged flock -x on the old /run/lock file (taken: %d) "
         "holds up nobody: mmc_init took %.2f s (%s)", flocked, s, rc ? mmc_last_error() : "ok");
    if (rc == 0)
        mmc_fini();
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    if (old >= 0)
        close(old);
    unlink("/run/lock/mmcontig-hugepages.lock");
}

static void holder_times_out(void)
{
    int fd = -1;
    pid_t pid = fork_piped(&fd);
    if (pid == 0) {
        int rc = mmc_hugepages_lock();
        dprintf(fd, "%d\n", rc);
        close(fd);
        pause();
        _exit(0);
    }
    int rc0 = read_rc(fd);
    const struct counts before = counts();
    setenv("MMC_LOCK_TIMEOUT", "1", 1);
    setenv("MMC_POOL", "16M", 1);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = mmc_init(NULL);
    const double s = secs_since(&t0);
    char msg[1024], holder[32];
    snprintf(msg, sizeof(msg), "%s", mmc_last_error());
    snprintf(holder, sizeof(holder), "pid %d", (int)pid);
    if (rc == 0)
        mmc_fini();
    t_ok(rc0 == 0 && rc == -ETIMEDOUT && s >= 0.9 && s < 3 && strstr(msg, holder) &&
             strstr(msg, "MMC_LOCK_TIMEOUT") && counts_eq(counts(), before),
         "a holder that keeps the lock: mmc_init fails with -ETIMEDOUT after %.2f s naming the "
         "holder (%s), nothing taken (\"%s\")", s, holder, msg);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    unsetenv("MMC_LOCK_TIMEOUT");
}

/* HugePages_Total of /proc/meminfo, sampled while a start is tried: its peak. */
static volatile int sampling;
static uint64_t peak_total;
static void *sampler(void *arg)
{
    (void)arg;
    while (__atomic_load_n(&sampling, __ATOMIC_ACQUIRE)) {
        uint64_t t = t_sysfs_u64(H2M "nr_hugepages");
        if (t > peak_total)
            peak_total = t;
        usleep(1000);
    }
    return NULL;
}

static void too_big(void)
{
    const struct counts before = counts();
    const uint64_t nr0 = t_sysfs_u64(H2M "nr_hugepages");
    peak_total = nr0;
    sampling = 1;
    pthread_t th;
    pthread_create(&th, NULL, sampler, NULL);
    setenv("MMC_POOL", "100G", 1);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = mmc_init(NULL);
    const double s = secs_since(&t0);
    __atomic_store_n(&sampling, 0, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    char msg[1024];
    snprintf(msg, sizeof(msg), "%s", mmc_last_error());
    if (rc == 0)
        mmc_fini();
    const char *fit = strstr(msg, "MMC_POOL=");
    unsigned long long fit_mib = fit ? strtoull(fit + 9, NULL, 10) : 0;
    const uint64_t avail_kb = t_status_kb("/proc/meminfo", "MemAvailable");
    t_ok(rc == -ENOMEM && s < 0.5 && peak_total == nr0 && counts_eq(counts(), before) &&
             strstr(msg, "available") && fit_mib > 0 && fit_mib * 1024 <= avail_kb,
         "MMC_POOL=100G: -ENOMEM in %.3f s before anything is taken (nr_hugepages peaked at %llu, "
         "was %llu), suggesting MMC_POOL=%lluM, within MemAvailable %llu MiB (\"%s\")", s,
         (unsigned long long)peak_total, (unsigned long long)nr0, fit_mib,
         (unsigned long long)(avail_kb / 1024), msg);

    /* The implicit start fails once and is remembered: ten NT calls, one attempt. */
    int fd = -1;
    pid_t pid = fork_piped(&fd);
    if (pid == 0) {
        dup2(fd, 2);
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        int nulls = 0;
        for (int k = 0; k < 10; k++)
            nulls += MmAllocateContiguousMemory(4096, A(UINT64_MAX >> 1)) == NULL;
        clock_gettime(CLOCK_MONOTONIC, &b);
        bool remembered = strstr(mmc_last_error(), "MMC_POOL") != NULL;
        setenv("MMC_POOL", "16M", 1); /* the environment changes: tried again */
        void *q = MmAllocateContiguousMemory(4096, A(UINT64_MAX >> 1));
        fprintf(stderr, "RESULT %d %d %d %.3f\n", nulls, remembered, q != NULL,
                (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
        MmFreeContiguousMemory(q);
        mmc_fini();
        _exit(0);
    }
    static char out[16384];
    t_read_all(fd, out, sizeof(out));
    close(fd);
    waitpid(pid, NULL, 0);
    unsigned attempts = 0;
    for (const char *q = out; (q = strstr(q, "initialisation from the environment failed")); q++)
        attempts++;
    int nulls = 0, remembered = 0, later = 0;
    double secs = 0;
    const char *r = strstr(out, "RESULT ");
    if (r)
        sscanf(r, "RESULT %d %d %d %lf", &nulls, &remembered, &later, &secs);
    t_ok(nulls == 10 && attempts == 1 && remembered && later && secs < 0.5,
         "ten NT calls under MMC_POOL=100G: ten NULLs in %.3f s from one attempt (%u reported), the "
         "error kept; with MMC_POOL changed to 16M the next call succeeds (%d)", secs, attempts,
         later);
    unsetenv("MMC_POOL");
}

int main(void)
{
    if (geteuid() != 0 || access(H2M "nr_overcommit_hugepages", W_OK) != 0) {
        const char *ci = getenv("CI");
        printf(ci && !strcmp(ci, "true") ? "Bail out! needs root and 2 MiB hugepages\n"
                                         : "1..0 # SKIP needs root and 2 MiB hugepages\n");
        return ci && !strcmp(ci, "true");
    }
    unsetenv("MMC_TOPUP");
    mmc_hugepages_reclaim(NULL); /* dead processes of earlier runs: not this test's to count */
    const struct counts start = counts();
    fork_child_exit();
    deaths();
    concurrent_starts();
    unprivileged();
    holder_times_out();
    too_big();
    const struct counts end = counts();
    t_ok(counts_eq(end, start), "at the end persistent/surplus/overcommit %llu/%llu/%llu as at the "
         "start (%llu/%llu/%llu)", C3(end), C3(start));
    return t_done();
}
