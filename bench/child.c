/* bench/child.c: a part of the benchmark run in a process of its own, this binary exec'd again
 * as `mmcontig bench __NAME ARGS...` (internal subcommands, not in --help).
 *
 * Why: DPDK's EAL starts once per process and cannot start again after rte_eal_cleanup, and
 * the peers suite has had it already; a suite that needs DPDK later (scale, frag-kernel) runs
 * it in a child. The child gets one descriptor besides 0-2 (every other one is closed), dies
 * with the benchmark (bench_child_enter: PR_SET_PDEATHSIG, and it checks that its parent is
 * still the one that started it), and ignores SIGINT and SIGTERM, so that a Ctrl-C of the
 * benchmark lets it finish and give back what it took on its own: the parent waits at most
 * BENCH_CHILD_GRACE_S after the signal, then kills it, and settles what a killed child raised
 * from its ledger (mmc_hugepages_reclaim).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

int bench_child_run(const char *name, const char *const *args, int keep_fd, unsigned timeout_s)
{
    const char *argv[24];
    char ppid[24];
    unsigned n = 0;
    snprintf(ppid, sizeof(ppid), "%ld", (long)getpid());
    argv[n++] = "mmcontig";
    argv[n++] = "bench";
    argv[n++] = name;
    argv[n++] = ppid;
    for (; args && *args && n < sizeof(argv) / sizeof(argv[0]) - 1; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    fflush(NULL);
    const pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        for (int fd = 3; fd < 1024; fd++)
            if (fd != keep_fd)
                close(fd);
        if (keep_fd >= 0)
            fcntl(keep_fd, F_SETFD, 0);
        execv("/proc/self/exe", (char *const *)argv);
        _exit(127);
    }
    const uint64_t start = bench_now_ns();
    uint64_t stop_at = 0;
    int status = 0;
    for (;;) {
        const pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR)
            return -errno; /* not our child any more: nothing to wait for */
        struct timespec ms = {0, 100000000};
        nanosleep(&ms, NULL);
        const uint64_t now = bench_now_ns();
        if (bench_stop && !stop_at)
            stop_at = now;
        if (now - start > (uint64_t)timeout_s * 1000000000ull ||
            (stop_at && now - stop_at > BENCH_CHILD_GRACE_S * 1000000000ull))
            kill(pid, SIGKILL);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        mmc_hugepages_reclaim(NULL); /* what a dead child raised, from its ledger */
    return status;
}

int bench_child_enter(const char *ppid)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    prctl(PR_SET_NAME, "mmcontig"); /* exec'd as /proc/self/exe */
    if (!ppid || getppid() != (pid_t)atol(ppid))
        return -1; /* the benchmark died before the prctl */
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    return 0;
}

const char *bench_child_why(int status, char *buf, size_t len)
{
    if (status < 0)
        snprintf(buf, len, "could not start the child process: %s", strerror(-status));
    else if (WIFSIGNALED(status))
        snprintf(buf, len, "the child process was killed by signal %d (what it raised is given "
                 "back from its ledger)", WTERMSIG(status));
    else if (WEXITSTATUS(status) == 127)
        snprintf(buf, len, "the child process could not exec /proc/self/exe");
    else if (WEXITSTATUS(status) != 0)
        snprintf(buf, len, "the child process exited with %d", WEXITSTATUS(status));
    else
        return NULL;
    return buf;
}
