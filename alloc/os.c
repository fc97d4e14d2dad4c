/* alloc/os.c: the only code that talks to the kernel for memory.
 *
 * Owns: hugetlb memfds, their NUMA binding (libnuma's mbind), population, the check of each
 * hugepage's node (move_pages), pagemap reads, address-space reservation and fixed mappings,
 * and the sysfs hugepage counts (nr_hugepages top-up and give-back, under a file lock so that
 * concurrent mmcontig processes never give back each other's pages), which the public
 * mmc_hugepages_* (hugepages.c) offer to programs beside the pools.
 *
 * The bottom layer: it calls nothing of the library above it (only the leaf's assertions).
 * Everything returns a negative errno and fills a message naming the cause and the remedy;
 * the callers above decide what becomes the thread's last error.
 *
 * Fault injection: MMC_FAULT=NAME[,NAME...] (see fault_names[] below) makes the named
 * interaction fail as it fails on a machine that lacks what it needs, through the same code
 * and messages as the real failure (tests/test_envfail.c tries each). It is compiled in
 * always, so the binary tested is the binary shipped and a lab can rehearse a failure; it
 * costs one getenv per pool built (and per mmc_hugepages_* call, to which the top-up's points
 * apply too) and one predictable branch per fault point, all on the pool-building path except
 * the pagemap read behind MmGetPhysicalAddress of a non-pool address (a system call anyway). A message caused by an injected fault ends "[injected: MMC_FAULT]".
 */
#include <fcntl.h>
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "os.h"

#ifndef MFD_HUGETLB
#define MFD_HUGETLB 4U
#endif
#ifndef MFD_HUGE_SHIFT
#define MFD_HUGE_SHIFT 26
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define PAGEMAP_PRESENT (1ull << 63)
#define PAGEMAP_PFN_MASK ((1ull << 55) - 1)
#define PAGEMAP_CHUNK_ENTRIES 8192 /* 64 KiB of pagemap per read() */

/* ---- fault injection (MMC_FAULT) ---- */

static const char *const fault_names[] = {
    "memfd",                /* memfd_create(MFD_HUGETLB) unsupported (EINVAL) */
    "mmap",                 /* mapping the memfd fails (ENOMEM) */
    "mbind",                /* binding to the node refused (EINVAL: node not allowed) */
    "populate",             /* the node runs out of hugepages half-way (MADV_POPULATE_WRITE) */
    "move_pages_wrongnode", /* the last hugepage is found on another node */
    "pagemap_nopfn",        /* pagemap hides frame numbers (no CAP_SYS_ADMIN) */
    "topup_denied",         /* too few free; writing nr_hugepages refused (EACCES) */
    "hugepages_short",      /* too few free; the kernel finds half the shortfall (really
                               raised, then given back) */
    "nohugepages",          /* none free; the kernel finds none when asked */
    "1g_unavailable",       /* no 1 GiB hugepages on this machine (no sysfs directory) */
    "map_views",            /* mapping the pool's views fails (ENOMEM, as max_map_count) */
    "grow_refused",         /* growing the pool: the kernel gives no hugepage (ENOMEM) */
    "grow_map",             /* growing the pool: mapping the new hugepages in place fails */
    "compact_fail",         /* the slow path's compaction of a node fails (EIO) */
    NULL,
};
enum {
    F_MEMFD = 1u << 0, F_MMAP = 1u << 1, F_MBIND = 1u << 2, F_POPULATE = 1u << 3,
    F_WRONGNODE = 1u << 4, F_NOPFN = 1u << 5, F_TOPUP_DENIED = 1u << 6, F_SHORT = 1u << 7,
    F_NONE = 1u << 8, F_NO1G = 1u << 9, F_MAPVIEWS = 1u << 10, F_COMPACT = MMC_FAULT_COMPACT,
};
static unsigned fault_mask;               /* MMC_FAULT as of the last pool built */
static __thread unsigned fault_fired;     /* faults that fired in this thread's current call */

static void faults_load(bool warn)
{
    const char *v = getenv("MMC_FAULT");
    unsigned m = 0;
    for (const char *s = v ? v : ""; *s;) {
        size_t len = strcspn(s, ",");
        unsigned k = 0;
        while (fault_names[k] && (strlen(fault_names[k]) != len || strncmp(fault_names[k], s, len)))
            k++;
        if (fault_names[k])
            m |= 1u << k;
        else if (len && warn)
            fprintf(stderr, "mmcontig: MMC_FAULT: '%.*s' is no fault point (memfd, mmap, mbind, "
                    "populate, move_pages_wrongnode, pagemap_nopfn, topup_denied, "
                    "hugepages_short, nohugepages, 1g_unavailable, map_views, grow_refused, "
                    "grow_map, compact_fail); ignored\n",
                    (int)len, s);
        s += len + (s[len] == ',');
    }
    __atomic_store_n(&fault_mask, m, __ATOMIC_RELAXED);
    fault_fired = 0;
}

/* Does fault f fire? (One load and one branch when MMC_FAULT is unset.) */
static inline bool fault(unsigned f)
{
    unsigned hit = __atomic_load_n(&fault_mask, __ATOMIC_RELAXED) & f;
    if (__builtin_expect(!hit, 1))
        return false;
    fault_fired |= hit;
    return true;
}

bool _mmc_os_fault(unsigned f) { return fault(f); }

/* After a failure: say so if an injected fault caused it. */
static void fault_note(char *err, size_t errlen)
{
    if (!fault_fired || !err || !errlen)
        return;
    size_t n = strlen(err);
    for (unsigned k = 0; fault_names[k]; k++)
        if (fault_fired & (1u << k)) {
            snprintf(err + n, errlen - n, " [injected: MMC_FAULT=%s]", fault_names[k]);
            break;
        }
    fault_fired = 0;
}

static void fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static const char *size_name(uint64_t page_bytes)
{
    return page_bytes >= MMC_GIB ? "1 GiB" : "2 MiB";
}

/* ---- sysfs hugepage counts ---- */

/* os_node >= 0: the node's directory; -1: the machine-wide one (the kernel spreads a change
 * over the nodes). */
static void sysfs_path(char *buf, size_t len, int os_node, uint64_t page_bytes, const char *file)
{
    if (os_node < 0)
        snprintf(buf, len, "/sys/kernel/mm/hugepages/hugepages-%llukB/%s",
                 (unsigned long long)(page_bytes / 1024), file);
    else
        snprintf(buf, len, "/sys/devices/system/node/node%d/hugepages/hugepages-%llukB/%s", os_node,
                 (unsigned long long)(page_bytes / 1024), file);
}

/* "node 3" or "the machine" (os_node -1), for messages. */
static const char *where(char *buf, size_t len, int os_node)
{
    if (os_node < 0)
        snprintf(buf, len, "the machine");
    else
        snprintf(buf, len, "node %d", os_node);
    return buf;
}

static int sysfs_read(int os_node, uint64_t page_bytes, const char *file, uint64_t *val)
{
    char path[160], buf[32];
    if (page_bytes >= MMC_GIB && fault(F_NO1G))
        return -ENOENT; /* as on a machine without 1 GiB pages: no such directory */
    sysfs_path(path, sizeof(path), os_node, page_bytes, file);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    int e = errno;
    close(fd);
    if (n <= 0)
        return n < 0 ? -e : -EIO;
    buf[n] = 0;
    *val = strtoull(buf, NULL, 10);
    return 0;
}

/* Write val to the file; *write_ns (if not NULL): CLOCK_MONOTONIC time of the write(2) alone,
 * the file already open and the text formatted (for nr_hugepages: the kernel allocating or
 * freeing the hugepages), 0 if no write was made. */
static int sysfs_write_timed(int os_node, uint64_t page_bytes, const char *file, uint64_t val,
                             uint64_t *write_ns)
{
    char path[160], buf[32];
    if (write_ns)
        *write_ns = 0;
    sysfs_path(path, sizeof(path), os_node, page_bytes, file);
    int len = snprintf(buf, sizeof(buf), "%llu\n", (unsigned long long)val);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ssize_t n = write(fd, buf, (size_t)len);
    int e = errno;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    close(fd);
    if (write_ns)
        *write_ns = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000u + (uint64_t)t1.tv_nsec -
                    (uint64_t)t0.tv_nsec;
    return n == len ? 0 : (n < 0 ? -e : -EIO);
}


/* ---- the run directory: the lock and the ledger ----
 *
 * /run/mmcontig (root's, 0700, never followed through a symlink) holds:
 * - hugepages.lock: the lock that serialises every change of the hugepage counts between
 *   mmcontig processes, an open-file-description lock (F_OFD_SETLK) with the holder's pid
 *   written into the file. Nobody but root can open it, so nobody else can hold it up or
 *   redirect it; waiting for it times out (MMC_LOCK_TIMEOUT seconds, default 10) with a message
 *   naming the holder.
 * - pid-PID: the ledger of one live process: every raise it made of nr_hugepages or
 *   nr_overcommit_hugepages (per field, node and size) that it has not given back yet, and its
 *   start time (/proc/PID/stat field 22, so a reused pid is told apart). Whoever takes the lock
 *   next (any mmcontig process, or `mmcontig reclaim`) gives back the raises of a dead process
 *   and deletes its file, so a process killed with SIGKILL loses nothing for good.
 * Inside the process a recursive mutex is held around it, so that a thread holding it through
 * mmc_hugepages_lock() can still call what takes it. Without root (no run directory) nothing is
 * locked or recorded: such a process cannot change the counts anyway. */
#define RUN_DIR "/run/mmcontig"
#define LOCK_FILE "hugepages.lock"
#define LOCK_TIMEOUT_S 10
#define LEDGER_MAX 32

enum count_field { COUNT_NR, COUNT_OVERCOMMIT };
static const char *const count_file[] = {"nr_hugepages", "nr_overcommit_hugepages"};

static pthread_once_t lock_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t lock_mutex;
static int lock_fd = -1;      /* the locked descriptor while lock_depth > 0 (-1: unlocked) */
static int run_fd = -1;       /* the run directory while lock_depth > 0 */
static unsigned lock_depth;   /* nesting of sysfs_lock() in the owning thread */

struct ledger_entry {
    uint8_t field;            /* enum count_field */
    int os_node;              /* -1: machine-wide */
    uint64_t page_kb;         /* hugepage size */
    uint64_t added;           /* raised and not given back yet */
};
static struct ledger_entry ledger[LEDGER_MAX];
static unsigned nledger;
static pid_t ledger_pid;      /* the process the ledger is of (a forked child starts its own) */

static void lock_init(void)
{
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&lock_mutex, &a);
    pthread_mutexattr_destroy(&a);
}

/* The start time of a process (clock ticks since boot), 0 if it does not exist. */
static uint64_t proc_start(pid_t pid)
{
    char path[40], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    const char *s = strrchr(buf, ')'); /* the command may hold spaces and parentheses */
    unsigned long long start = 0;
    /* after ")": state (3) ... starttime (22): 19 fields to skip */
    if (!s || sscanf(s + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d "
                            "%*d %*d %*d %llu", &start) != 1)
        return 0;
    return start;
}

/* Open the run directory (made if missing): root's and 0700, or refused. -errno; why filled. */
static int run_dir_open(char *why, size_t whylen)
{
    if (mkdir(RUN_DIR, 0700) < 0 && errno != EEXIST) {
        int e = errno;
        fail(why, whylen, "cannot make %s (%s)%s", RUN_DIR, strerror(e),
             e == ENOENT ? ": /run does not exist; mount a tmpfs there (mount -t tmpfs tmpfs /run)"
                         : ": run as root");
        return -e;
    }
    int fd = open(RUN_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        fail(why, whylen, "cannot open %s (%s): it must be a directory, not a symlink; remove it "
             "(rm -rf %s) and run again as root", RUN_DIR, strerror(e), RUN_DIR);
        return -e;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_uid != 0 || (st.st_mode & 077)) {
        fail(why, whylen, "%s is owned by uid %u with mode %o; mmcontig keeps its lock there only "
             "if it is root's and 0700: remove it (rm -rf %s) and run again as root", RUN_DIR,
             (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777), RUN_DIR);
        close(fd);
        return -EPERM;
    }
    return fd;
}

/* Write this process's ledger file (or remove it when nothing is owed). Lock held. */
static void ledger_save(void)
{
    if (run_fd < 0)
        return;
    char name[32], tmp[40], buf[LEDGER_MAX * 80 + 64];
    snprintf(name, sizeof(name), "pid-%d", (int)ledger_pid);
    snprintf(tmp, sizeof(tmp), "%s.tmp", name);
    size_t n = (size_t)snprintf(buf, sizeof(buf), "start %llu\n",
                                (unsigned long long)proc_start(ledger_pid));
    bool owed = false;
    for (unsigned k = 0; k < nledger; k++) {
        if (!ledger[k].added)
            continue;
        owed = true;
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s %d %llu %llu\n",
                              count_file[ledger[k].field], ledger[k].os_node,
                              (unsigned long long)ledger[k].page_kb,
                              (unsigned long long)ledger[k].added);
    }
    if (!owed) {
        unlinkat(run_fd, name, 0);
        return;
    }
    int fd = openat(run_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    bool ok = write(fd, buf, n) == (ssize_t)n;
    close(fd);
    if (!ok || renameat(run_fd, tmp, run_fd, name) < 0)
        unlinkat(run_fd, tmp, 0);
}

/* This process changed a count by delta (what the kernel really did). Lock held. */
static void ledger_note(enum count_field field, int os_node, uint64_t page_bytes, int64_t delta)
{
    if (!delta)
        return;
    if (ledger_pid != getpid()) { /* a forked child: the entries are its parent's */
        nledger = 0;
        ledger_pid = getpid();
    }
    unsigned k = 0;
    while (k < nledger && !(ledger[k].field == field && ledger[k].os_node == os_node &&
                            ledger[k].page_kb == page_bytes / 1024))
        k++;
    if (k == nledger) {
        if (delta < 0 || nledger == LEDGER_MAX)
            return; /* a decrease of what this process did not raise is not owed back */
        ledger[nledger++] = (struct ledger_entry){field, os_node, page_bytes / 1024, 0};
    }
    ledger[k].added = delta < 0 && (uint64_t)-delta >= ledger[k].added ? 0 : ledger[k].added + (uint64_t)delta;
    ledger_save();
}

static int count_read(enum count_field field, int os_node, uint64_t page_bytes, uint64_t *val);
static int count_set(enum count_field field, int os_node, uint64_t page_bytes, uint64_t from,
                     uint64_t to, uint64_t *now, uint64_t *write_ns);

/* Give back what dead processes' ledgers say they added, and delete those ledgers. Lock held.
 * Returns how many processes were settled; a line per raise to report (may be NULL). */
static long ledger_settle(FILE *report)
{
    if (run_fd < 0)
        return 0;
    int dfd = dup(run_fd);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        return 0;
    }
    long settled = 0;
    for (struct dirent *e; (e = readdir(d));) {
        int pid = 0, used = 0;
        if (sscanf(e->d_name, "pid-%d%n", &pid, &used) != 1 || pid <= 0 || pid == (int)getpid())
            continue;
        bool tmp = !strcmp(e->d_name + used, ".tmp");
        if (e->d_name[used] && !tmp)
            continue;
        int fd = openat(run_fd, e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
        if (!f) {
            if (fd >= 0)
                close(fd);
            continue;
        }
        unsigned long long start = 0;
        if (fscanf(f, "start %llu\n", &start) != 1 || (start && proc_start(pid) == start) ||
            (!start && kill(pid, 0) == 0)) {
            fclose(f); /* alive (or not a ledger): not ours to settle */
            continue;
        }
        char name[32];
        int node;
        unsigned long long kb, added;
        while (!tmp && fscanf(f, "%31s %d %llu %llu\n", name, &node, &kb, &added) == 4) {
            enum count_field field = !strcmp(name, count_file[COUNT_OVERCOMMIT]) ? COUNT_OVERCOMMIT
                                                                               : COUNT_NR;
            uint64_t cur = 0, now = 0;
            if ((kb != 2048 && kb != 1048576) || node < -1 ||
                count_read(field, node, kb * 1024, &cur) < 0)
                continue;
            count_set(field, node, kb * 1024, cur, cur > added ? cur - added : 0, &now, NULL);
            char at[32];
            if (report)
                fprintf(report, "mmcontig: pid %d died owing a raise of %llu %s hugepages (%s): "
                        "%s %llu -> %llu\n", pid, added, kb == 2048 ? "2 MiB" : "1 GiB",
                        where(at, sizeof(at), field == COUNT_OVERCOMMIT ? -1 : node),
                        count_file[field], (unsigned long long)cur, (unsigned long long)now);
        }
        fclose(f);
        unlinkat(run_fd, e->d_name, 0);
        settled += !tmp;
    }
    closedir(d);
    return settled;
}

static unsigned lock_timeout_s(void)
{
    const char *v = getenv("MMC_LOCK_TIMEOUT");
    char *end;
    unsigned long s = v && *v ? strtoul(v, &end, 10) : LOCK_TIMEOUT_S;
    return v && *v && (*end || s == 0 || s > 3600) ? LOCK_TIMEOUT_S : (unsigned)s;
}

/* Take the lock (nested: only the outermost call waits). settle: give back dead processes'
 * ledgers at once. 0, or -ETIMEDOUT / -errno with err filled (nothing held then). */
static int lock_take(bool settle, char *err, size_t errlen)
{
    pthread_once(&lock_once, lock_init);
    pthread_mutex_lock(&lock_mutex);
    if (lock_depth++ > 0)
        return 0;
    if (geteuid() != 0)
        return 0; /* cannot change the counts: nothing to serialise or record */
    char why[400] = "";
    int dfd = run_dir_open(why, sizeof(why)), fd = -1, rc = 0;
    if (dfd >= 0)
        fd = openat(dfd, LOCK_FILE, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = dfd < 0 ? dfd : -errno;
        fail(err, errlen, "the hugepage lock %s/%s cannot be had: %s", RUN_DIR, LOCK_FILE,
             *why ? why : strerror(-rc));
    } else {
        struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        const unsigned timeout_s = lock_timeout_s();
        struct timespec t0, t;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        while (fcntl(fd, F_OFD_SETLK, &l) < 0) {
            clock_gettime(CLOCK_MONOTONIC, &t);
            if ((errno != EAGAIN && errno != EACCES && errno != EINTR) ||
                (uint64_t)(t.tv_sec - t0.tv_sec) * 1000000000u + (uint64_t)t.tv_nsec >=
                    (uint64_t)timeout_s * 1000000000u + (uint64_t)t0.tv_nsec) {
                char holder[32] = "";
                ssize_t n = pread(fd, holder, sizeof(holder) - 1, 0);
                holder[n > 0 ? n : 0] = 0;
                holder[strcspn(holder, "\n")] = 0;
                rc = errno == EAGAIN || errno == EACCES || errno == EINTR ? -ETIMEDOUT : -errno;
                fail(err, errlen, "the hugepage lock %s/%s is held by pid %s and was not released "
                     "in %u s: wait for that process to finish its pool or end it (kill %s); "
                     "MMC_LOCK_TIMEOUT=SECONDS waits longer", RUN_DIR, LOCK_FILE,
                     *holder ? holder : "(unknown)", timeout_s, *holder ? holder : "PID");
                break;
            }
            nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
        }
    }
    if (rc < 0) {
        if (fd >= 0)
            close(fd);
        if (dfd >= 0)
            close(dfd);
        lock_depth--;
        pthread_mutex_unlock(&lock_mutex);
        return rc;
    }
    char me[24];
    int n = snprintf(me, sizeof(me), "%d\n", (int)getpid());
    if (ftruncate(fd, 0) == 0 && pwrite(fd, me, (size_t)n, 0) != n)
        (void)0; /* the pid is for messages only */
    lock_fd = fd;
    run_fd = dfd;
    if (settle)
        ledger_settle(stderr);
    return 0;
}

static int sysfs_lock(char *err, size_t errlen)
{
    return lock_take(true, err, errlen);
}

static void sysfs_unlock(void)
{
    if (--lock_depth == 0 && lock_fd >= 0) {
        if (ftruncate(lock_fd, 0) < 0)
            (void)0;
        close(lock_fd); /* releases the lock */
        close(run_fd);
        lock_fd = run_fd = -1;
    }
    pthread_mutex_unlock(&lock_mutex);
}

/* The value a write of the field sets. nr_hugepages counts the surplus pages too, but a write
 * of it sets the persistent pages (and turns surplus ones persistent to get there): so it is
 * read as nr_hugepages - surplus_hugepages, or a raise would keep a live pool's surplus pages
 * for good. nr_overcommit_hugepages is machine-wide only. */
static int count_read(enum count_field field, int os_node, uint64_t page_bytes, uint64_t *val)
{
    if (field == COUNT_OVERCOMMIT)
        return sysfs_read(-1, page_bytes, count_file[field], val);
    uint64_t nr = 0, surplus = 0;
    int rc = sysfs_read(os_node, page_bytes, "nr_hugepages", &nr);
    if (rc == 0 && sysfs_read(os_node, page_bytes, "surplus_hugepages", &surplus) < 0)
        surplus = 0;
    *val = nr > surplus ? nr - surplus : 0;
    return rc;
}

/* Write `to` where count_read() gave `from`; *now: the value read back. What changed goes to
 * this process's ledger. Lock held. */
static int count_set(enum count_field field, int os_node, uint64_t page_bytes, uint64_t from,
                     uint64_t to, uint64_t *now, uint64_t *write_ns)
{
    if (field == COUNT_OVERCOMMIT)
        os_node = -1;
    int rc = sysfs_write_timed(os_node, page_bytes, count_file[field], to, write_ns);
    *now = from;
    int rd = count_read(field, os_node, page_bytes, now);
    if (rd == 0)
        ledger_note(field, os_node, page_bytes, (int64_t)(*now - from));
    return rc < 0 ? rc : rd;
}

/* The sum of the "KEY: N kB" fields of a meminfo file; UINT64_MAX if none is there. */
static uint64_t meminfo_kb(const char *path, const char *const *keys, unsigned nkeys)
{
    FILE *f = fopen(path, "re");
    char line[256];
    uint64_t kb = 0;
    bool found = false;
    while (f && fgets(line, sizeof(line), f))
        for (unsigned k = 0; k < nkeys; k++) {
            const char *at = strstr(line, keys[k]);
            unsigned long long v;
            if (at && sscanf(at + strlen(keys[k]), " %llu", &v) == 1)
                kb += v, found = true;
        }
    if (f)
        fclose(f);
    return found ? kb : UINT64_MAX;
}

/* Bytes of memory the kernel could still turn into hugepages on the node: the machine's
 * MemAvailable and, for a node of a machine with several (a node's meminfo has no
 * MemAvailable), no more than its MemFree + FilePages + SReclaimable. With one node the
 * machine's figure alone: on virtual machines with hot-added memory the node's meminfo can
 * count a quarter of what the kernel really makes hugepages from (see docs/ARCHITECTURE.md).
 * UINT64_MAX if unknown (no check then). */
uint64_t _mmc_os_available_bytes(int os_node, bool *one_node)
{
    char nodes[64] = "";
    int fd = open("/sys/devices/system/node/has_memory", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, nodes, sizeof(nodes) - 1);
        nodes[n > 0 ? n : 0] = 0;
        close(fd);
    }
    *one_node = !strpbrk(nodes, ",-");
    if (*one_node)
        os_node = -1;
    static const char *const machine[] = {"MemAvailable:"};
    static const char *const node[] = {"MemFree:", "FilePages:", "SReclaimable:"};
    uint64_t kb = meminfo_kb("/proc/meminfo", machine, 1);
    if (os_node >= 0) {
        char path[80];
        snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/meminfo", os_node);
        uint64_t n = meminfo_kb(path, node, 3);
        kb = n < kb ? n : kb;
    }
    return kb == UINT64_MAX ? UINT64_MAX : kb * 1024;
}

/* The failure to find `shortfall` more hugepages: the message (cause and remedy). found: how
 * many the kernel found, or -1 if unknown (surplus pages: the mapping failed). */
static void short_msg(char *err, size_t errlen, const char *at, uint64_t page_bytes,
                      uint64_t free_pages, uint64_t need, uint64_t persistent, int64_t found,
                      bool surplus, const char *path, const char *smaller)
{
    const uint64_t shortfall = need - free_pages;
    char what[160];
    if (surplus)
        snprintf(what, sizeof(what), "the kernel could not make the %llu missing as surplus "
                 "hugepages (nr_overcommit_hugepages raised by %llu)",
                 (unsigned long long)shortfall, (unsigned long long)(found < 0 ? shortfall : (uint64_t)found));
    else
        snprintf(what, sizeof(what), "the kernel found only %llu more when asked",
                 (unsigned long long)found);
    fail(err, errlen,
         "%s: %llu free %s hugepages, %llu needed (%llu short); %s (memory too fragmented or too "
         "small); reserve them at boot (hugepages=N on the kernel command line), or drop caches "
         "and compact first: echo 3 > /proc/sys/vm/drop_caches; echo 1 > "
         "/proc/sys/vm/compact_memory; echo %llu > %s, or %s",
         at, (unsigned long long)free_pages, size_name(page_bytes), (unsigned long long)need,
         (unsigned long long)shortfall, what, (unsigned long long)(persistent + shortfall), path,
         smaller);
}

/* topup's message when the node's counts cannot be read (rc): no such node, or no hugepages
 * of that size. pool: the remedy names MMC_TOPOLOGY_XML / MMC_POOL / MMC_PAGE. */
static void counts_unreadable(char *err, size_t errlen, int os_node, uint64_t page_bytes,
                              const char *at, int rc, bool pool)
{
    char dir[64];
    snprintf(dir, sizeof(dir), "/sys/devices/system/node/node%d", os_node);
    if (os_node >= 0 && access(dir, F_OK) != 0)
        fail(err, errlen,
             pool ? "node %d: this kernel has no such node (%s: %s): the topology mmcontig "
                    "loaded is not this machine's; unset MMC_TOPOLOGY_XML, or give MMC_POOL "
                    "sizes only for the nodes this machine has (mmcontig topology lists them)"
                  : "node %d: this kernel has no such node (%s: %s); the kernel's node "
                    "indexes are those of /sys/devices/system/node/node*",
             os_node, dir, strerror(errno));
    else
        fail(err, errlen,
             "%s: cannot read its %s hugepage counts (%s): this kernel or machine has no "
             "%s hugepages %s; %s",
             at, size_name(page_bytes), strerror(-rc), size_name(page_bytes),
             os_node < 0 ? "(see /sys/kernel/mm/hugepages)" : "on that node",
             pool ? "use MMC_PAGE=2M or a machine that supports them"
                  : "use 2 MiB hugepages or a machine that supports them");
}

/* Whether the node has the memory to make `shortfall` more hugepages, keeping 1/16 of what is
 * available and 128 MiB for everything else it runs: 0, or -ENOMEM with err saying how much
 * fits (nothing is taken). */
static int check_available(char *err, size_t errlen, int os_node, uint64_t page_bytes,
                           uint64_t free_pages, uint64_t need, const char *at, const char *smaller,
                           bool pool)
{
    const uint64_t shortfall = need - free_pages;
    bool one_node = false;
    const uint64_t avail = _mmc_os_available_bytes(os_node, &one_node);
    const uint64_t usable = avail == UINT64_MAX ? UINT64_MAX
                            : avail - avail / 16 > 128 * MMC_MIB ? avail - avail / 16 - 128 * MMC_MIB : 0;
    if (usable == UINT64_MAX || shortfall <= usable / page_bytes)
        return 0;
    const uint64_t fits_mib = (free_pages + usable / page_bytes) * (page_bytes / MMC_MIB);
    fail(err, errlen,
         "%s: %llu free %s hugepages, %llu needed (%llu short): making %llu MiB more would "
         "take more than the %llu MiB of memory %s has available (MemAvailable; nothing was "
         "taken); %s: at most about %llu MiB fits now%s",
         at, (unsigned long long)free_pages, size_name(page_bytes), (unsigned long long)need,
         (unsigned long long)shortfall,
         (unsigned long long)(shortfall * (page_bytes / MMC_MIB)),
         (unsigned long long)(avail / MMC_MIB), at, smaller, (unsigned long long)fits_mib,
         pool ? " on that node, e.g. " : "");
    if (pool)
        snprintf(err + strlen(err), errlen - strlen(err),
                 one_node ? "MMC_POOL=%lluM" : "%lluM as this node's share in MMC_POOL",
                 (unsigned long long)fits_mib);
    return -ENOMEM;
}

/* Make `need` hugepages of the node takeable, under the lock (held by the caller for a pool,
 * across the fault-in). If free_hugepages is short: surplus (a pool's 2 MiB pages): raise the
 * machine's nr_overcommit_hugepages by the shortfall, so the kernel allocates the pages when
 * they are mapped and frees them when the last mapping goes, however the process ends;
 * otherwise raise nr_hugepages by the shortfall and check the kernel found them. Before
 * anything is raised, the shortfall is checked against the memory the node has available.
 * Returns the raise (>= 0; recorded in this process's ledger) or a negative errno with err
 * filled; *free_out: the free pages seen. pool: messages name MMC_POOL / MMC_PAGE. */
static long topup(int os_node, uint64_t page_bytes, uint64_t need, bool allow, bool pool,
                  bool surplus, uint64_t *free_out, char *err, size_t errlen)
{
    char path[160], at[32];
    uint64_t nr = 0, free_pages = 0;
    sysfs_path(path, sizeof(path), os_node, page_bytes, "nr_hugepages");
    where(at, sizeof(at), os_node);
    const char *smaller = pool ? "ask for a smaller pool (MMC_POOL)" : "ask for fewer";
    faults_load(pool); /* the pool warns of unknown names (once per pool, not per call) */
    int rc = sysfs_lock(err, errlen);
    if (rc < 0)
        return rc;
    rc = sysfs_read(os_node, page_bytes, "free_hugepages", &free_pages);
    if (rc == 0)
        rc = count_read(COUNT_NR, os_node, page_bytes, &nr);
    /* free pages another mapping has reserved (not faulted in yet) are not free to take; the
     * kernel counts reservations machine-wide only */
    uint64_t resv = 0;
    if (rc == 0 && sysfs_read(-1, page_bytes, "resv_hugepages", &resv) == 0)
        free_pages = free_pages > resv ? free_pages - resv : 0;
    const bool short_fault = fault(F_TOPUP_DENIED | F_SHORT | F_NONE);
    if (short_fault)
        free_pages = 0; /* the node has none free: a top-up is needed */
    if (free_out)
        *free_out = free_pages;
    if (rc < 0) {
        sysfs_unlock();
        counts_unreadable(err, errlen, os_node, page_bytes, at, rc, pool);
        fault_note(err, errlen);
        return rc;
    }
    if (free_pages >= need) {
        sysfs_unlock();
        return 0;
    }
    uint64_t shortfall = need - free_pages;
    if (!allow) {
        sysfs_unlock();
        fail(err, errlen,
             "%s: %llu free %s hugepages, %llu needed (%llu short) and top-up is off "
             "(MMC_TOPUP=0); run as root: echo %llu > %s",
             at, (unsigned long long)free_pages, size_name(page_bytes),
             (unsigned long long)need, (unsigned long long)shortfall,
             (unsigned long long)(nr + shortfall), path);
        fault_note(err, errlen);
        return -ENOMEM;
    }
    if ((rc = check_available(err, errlen, os_node, page_bytes, free_pages, need, at, smaller, pool)) < 0) {
        sysfs_unlock();
        fault_note(err, errlen);
        return rc;
    }
    const enum count_field field = surplus ? COUNT_OVERCOMMIT : COUNT_NR;
    uint64_t base = nr, now = nr;
    if (surplus && (rc = count_read(COUNT_OVERCOMMIT, -1, page_bytes, &base)) < 0)
        now = base;
    else if (fault(F_TOPUP_DENIED))
        rc = -EACCES;
    else if (fault(F_NONE))
        rc = 0, now = base; /* the kernel found none: the count stays */
    else { /* F_SHORT: the kernel finds half the shortfall (a real raise, given back below) */
        /* A raise of the persistent count first turns live surplus pages (another pool's, in
         * use) persistent, and makes new pages only past them: raise by them too, so that the
         * shortfall is really made (given back alike, they turn surplus again). */
        uint64_t live_surplus = 0;
        if (!surplus && sysfs_read(os_node, page_bytes, "surplus_hugepages", &live_surplus) < 0)
            live_surplus = 0;
        rc = count_set(field, os_node, page_bytes, base,
                       base + live_surplus + (fault(F_SHORT) ? shortfall / 2 : shortfall), &now, NULL);
    }
    long added = now > base ? (long)(now - base) : 0;
    uint64_t free_after = free_pages;
    if (surplus) /* the pages are made when mapped: the kernel answers at the mapping */
        free_after = rc < 0 || fault(F_NONE | F_SHORT) ? free_pages : need;
    else if (short_fault)
        free_after = free_pages + (uint64_t)added;
    else
        sysfs_read(os_node, page_bytes, "free_hugepages", &free_after);
    if (rc < 0 || free_after < need) {
        if (added)
            count_set(field, os_node, page_bytes, now, now - (uint64_t)added, &now, NULL);
        sysfs_unlock();
        if (rc == -EACCES || rc == -EPERM || rc == -EROFS)
            fail(err, errlen,
                 "%s: %llu free %s hugepages, %llu needed (%llu short), and this process may "
                 "not raise %s (%s); run as root: echo %llu > %s, or %s",
                 at, (unsigned long long)free_pages, size_name(page_bytes),
                 (unsigned long long)need, (unsigned long long)shortfall, count_file[field],
                 strerror(-rc), (unsigned long long)(nr + shortfall), path, smaller);
        else
            short_msg(err, errlen, at, page_bytes, free_pages, need, nr,
                      free_after > free_pages ? (int64_t)(free_after - free_pages) : surplus ? added : 0,
                      surplus, path, smaller);
        fault_note(err, errlen);
        return -ENOMEM;
    }
    sysfs_unlock();
    return added;
}

void _mmc_os_hugepages_giveback(int os_node, uint64_t page_bytes, uint64_t added, bool surplus)
{
    if (!added)
        return;
    char err[512];
    const enum count_field field = surplus ? COUNT_OVERCOMMIT : COUNT_NR;
    if (sysfs_lock(err, sizeof(err)) < 0) {
        /* the ledger still holds it: the next mmcontig process gives it back */
        fprintf(stderr, "mmcontig: giving back %llu hugepages of %s later: %s\n",
                (unsigned long long)added, count_file[field], err);
        return;
    }
    uint64_t cur = 0, now = 0;
    if (count_read(field, os_node, page_bytes, &cur) == 0)
        count_set(field, os_node, page_bytes, cur, cur > added ? cur - added : 0, &now, NULL);
    sysfs_unlock();
}

/* ---- the hugepage counts behind mmc_hugepages_* (hugepages.c checks the arguments and sets
 * the last error; these fill err) ---- */

int _mmc_os_hugepages_count(int os_node, uint64_t page_bytes, uint64_t *total,
                            uint64_t *free_pages, char *err, size_t errlen)
{
    faults_load(false);
    uint64_t nr = 0, fr = 0;
    int rc = sysfs_read(os_node, page_bytes, "nr_hugepages", &nr);
    if (rc == 0)
        rc = sysfs_read(os_node, page_bytes, "free_hugepages", &fr);
    if (rc < 0) {
        char path[160], at[32];
        sysfs_path(path, sizeof(path), os_node, page_bytes, "nr_hugepages");
        fail(err, errlen,
             "%s: cannot read %s (%s): %s", where(at, sizeof(at), os_node), path, strerror(-rc),
             rc == -ENOENT ? "no such node, or no hugepages of that size on this kernel (see "
                             "/sys/kernel/mm/hugepages and /sys/devices/system/node)"
                           : "check that sysfs is mounted and readable");
        fault_note(err, errlen);
        return rc;
    }
    if (total)
        *total = nr;
    if (free_pages)
        *free_pages = fr;
    return 0;
}

long _mmc_os_hugepages_reserve(int os_node, uint64_t page_bytes, uint64_t need, char *err,
                               size_t errlen)
{
    return topup(os_node, page_bytes, need, true, false, false, NULL, err, errlen);
}

int _mmc_os_hugepages_adjust(int os_node, uint64_t page_bytes, int64_t delta, uint64_t *write_ns,
                             char *msg, size_t msglen)
{
    int rc;
    char path[160], at[32];
    sysfs_path(path, sizeof(path), os_node, page_bytes, "nr_hugepages");
    where(at, sizeof(at), os_node);
    faults_load(false);
    char why[512];
    if ((rc = sysfs_lock(why, sizeof(why))) < 0) {
        snprintf(msg, msglen, "mmc_hugepages_adjust: %s", why);
        return rc;
    }
    uint64_t nr = 0, nr_after = 0;
    rc = count_read(COUNT_NR, os_node, page_bytes, &nr);
    if (rc < 0) {
        sysfs_unlock();
        fail(msg, msglen, "%s: cannot read %s (%s): no such node, or no %s hugepages on "
             "this kernel (see /sys/kernel/mm/hugepages)", at, path, strerror(-rc),
             size_name(page_bytes));
        fault_note(msg, msglen);
        return rc;
    }
    const uint64_t mag = delta < 0 ? (uint64_t)-(delta + 1) + 1 : (uint64_t)delta;
    if (delta > 0 && nr + mag < nr) {
        sysfs_unlock();
        snprintf(msg, msglen, "mmc_hugepages_adjust: nr_hugepages %llu + %lld overflows",
                 (unsigned long long)nr, (long long)delta);
        return -EINVAL;
    }
    const uint64_t target = delta >= 0 ? nr + mag : (nr > mag ? nr - mag : 0);
    if (target == nr) {
        sysfs_unlock();
        return 0;
    }
    if (delta > 0 && fault(F_TOPUP_DENIED))
        rc = -EACCES;
    else if (delta > 0 && fault(F_NONE))
        rc = 0; /* the kernel found none: nr_hugepages stays */
    else /* F_SHORT: the kernel finds half (a real raise, given back below) */
        rc = count_set(COUNT_NR, os_node, page_bytes, nr,
                       delta > 0 && fault(F_SHORT) ? nr + mag / 2 : target, &nr_after, write_ns);
    if (rc == 0 && nr_after == target) {
        sysfs_unlock();
        return 0;
    }
    /* Failed, or the kernel found fewer: back to nr_hugepages as it was. */
    uint64_t found = rc == 0 && nr_after > nr ? nr_after - nr : 0;
    if (found)
        count_set(COUNT_NR, os_node, page_bytes, nr_after, nr, &nr_after, NULL);
    sysfs_unlock();
    if (rc == -EACCES || rc == -EPERM || rc == -EROFS)
        fail(msg, msglen, "%s: this process may not change nr_hugepages (%s): run as root "
             "(echo %llu > %s)", at, strerror(-rc), (unsigned long long)target, path);
    else if (rc < 0)
        fail(msg, msglen, "%s: writing %llu to %s failed (%s)", at,
             (unsigned long long)target, path, strerror(-rc));
    else if (delta > 0)
        fail(msg, msglen,
             "%s: the kernel found only %llu of %llu more %s hugepages when asked (memory too "
             "fragmented or too small; nr_hugepages left at %llu); drop caches and compact "
             "first: echo 3 > /proc/sys/vm/drop_caches; echo 1 > /proc/sys/vm/compact_memory, "
             "or reserve them at boot (hugepages=N on the kernel command line)",
             at, (unsigned long long)found, (unsigned long long)mag, size_name(page_bytes),
             (unsigned long long)nr);
    else
        fail(msg, msglen, "%s: nr_hugepages is %llu after writing %llu to %s",
             at, (unsigned long long)nr_after, (unsigned long long)target, path);
    fault_note(msg, msglen);
    return rc < 0 ? rc : delta > 0 ? -ENOMEM : -EIO;
}

int _mmc_os_hugepages_lock(char *err, size_t errlen) { return sysfs_lock(err, errlen); }

long _mmc_os_hugepages_reclaim(FILE *report, char *err, size_t errlen)
{
    int rc = lock_take(false, err, errlen);
    if (rc < 0)
        return rc;
    long n = ledger_settle(report);
    sysfs_unlock();
    return n;
}

void _mmc_os_hugepages_unlock(void)
{
    pthread_once(&lock_once, lock_init);
    if (pthread_mutex_trylock(&lock_mutex) != 0)
        return; /* another thread holds it: not ours to release */
    const bool held = lock_depth > 0; /* by this thread, since the trylock succeeded */
    pthread_mutex_unlock(&lock_mutex);
    if (held)
        sysfs_unlock();
}

/* ---- pagemap ---- */

static int pagemap_open(void)
{
    return open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
}

/* Read the pagemap entries of [va, va + n frames) into out[] in chunks. */
static int pagemap_read(int fd, uintptr_t va, uint64_t n, uint64_t *out)
{
    for (uint64_t done = 0; done < n;) {
        uint64_t k = n - done < PAGEMAP_CHUNK_ENTRIES ? n - done : PAGEMAP_CHUNK_ENTRIES;
        off_t off = (off_t)(((va >> MMC_FRAME_SHIFT) + done) * sizeof(uint64_t));
        ssize_t got = pread(fd, out + done, k * sizeof(uint64_t), off);
        if (got < 0)
            return -errno;
        if ((size_t)got != k * sizeof(uint64_t))
            return -EIO;
        done += k;
    }
    return 0;
}

static int pagemap_fd = -1; /* for _mmc_os_virt_to_phys: opened once, pread from any thread */

void _mmc_os_fini(void)
{
    int fd = __atomic_exchange_n(&pagemap_fd, -1, __ATOMIC_ACQ_REL);
    if (fd >= 0)
        close(fd);
}

/* The shared pagemap descriptor, opened by the first caller: >= 0, or -errno. */
static int pagemap_shared(void)
{
    int cur = __atomic_load_n(&pagemap_fd, __ATOMIC_ACQUIRE);
    if (cur < 0) {
        int nfd = pagemap_open();
        if (nfd < 0)
            return -errno;
        int expected = -1;
        if (!__atomic_compare_exchange_n(&pagemap_fd, &expected, nfd, false, __ATOMIC_ACQ_REL,
                                         __ATOMIC_ACQUIRE))
            close(nfd);
        cur = __atomic_load_n(&pagemap_fd, __ATOMIC_ACQUIRE);
    }
    return cur;
}

int _mmc_os_pagemap_pfns(const void *va, uint64_t n, uint64_t *pfn)
{
    const int fd = pagemap_shared();
    if (fd < 0)
        return fd;
    int rc = pagemap_read(fd, (uintptr_t)va, n, pfn);
    if (rc < 0)
        return rc;
    const bool hide = fault(F_NOPFN);
    for (uint64_t i = 0; i < n; i++) {
        const uint64_t e = pfn[i];
        if (!(e & PAGEMAP_PRESENT)) {
            pfn[i] = 0;
            continue;
        }
        if (hide || !(e & PAGEMAP_PFN_MASK))
            return -EPERM;
        pfn[i] = e & PAGEMAP_PFN_MASK;
    }
    return 0;
}

int _mmc_os_virt_to_phys(const void *va, uint64_t *phys)
{
    const int cur = pagemap_shared();
    if (cur < 0)
        return cur;
    uint64_t e = 0;
    int rc = pagemap_read(cur, (uintptr_t)va, 1, &e);
    if (rc < 0)
        return rc;
    if (fault(F_NOPFN))
        e &= ~PAGEMAP_PFN_MASK;
    if (!(e & PAGEMAP_PRESENT)) {
        *phys = 0;
        return 0;
    }
    if ((e & PAGEMAP_PFN_MASK) == 0)
        return -EPERM;
    *phys = ((e & PAGEMAP_PFN_MASK) << MMC_FRAME_SHIFT) | ((uintptr_t)va & 0xfff);
    return 0;
}

/* ---- taking hugepages on a node ---- */

/* Bind this thread's own policy to the node around the mapping: the kernel makes the surplus
 * pages a mapping reserves at mmap time, by the task's policy (the mapping's own mbind comes
 * after). Returns whether the old policy must be restored. */
static bool bind_thread(unsigned os_index, int *old_mode, unsigned long *old_mask, unsigned long maxnode)
{
    unsigned long mask[MMC_MAX_NODES * 4 / (8 * sizeof(unsigned long)) + 1] = {0};
    if (numa_available() < 0 || os_index >= 8 * sizeof(mask) ||
        get_mempolicy(old_mode, old_mask, maxnode, NULL, 0) < 0)
        return false;
    mask[os_index / (8 * sizeof(unsigned long))] |= 1ul << (os_index % (8 * sizeof(unsigned long)));
    return set_mempolicy(MPOL_BIND, mask, 8 * sizeof(mask)) == 0;
}

/* The steps of _mmc_os_take_hugepages, each 0 or a negative errno with err filled. */

/* A hugetlb memfd of len bytes of page_bytes pages, named for the node. */
static int memfd_open(struct mmc_os_batch *c, unsigned os_index, uint64_t page_bytes, uint64_t len,
                      char *err, size_t errlen)
{
    char name[32];
    snprintf(name, sizeof(name), "mmcontig-node%u", os_index);
    if (fault(F_MEMFD) || (page_bytes >= MMC_GIB && fault(F_NO1G)))
        c->fd = -1, errno = EINVAL; /* as a kernel without hugetlb memfds (or that size) */
    else
        c->fd = memfd_create(name, MFD_CLOEXEC | MFD_HUGETLB |
                                       ((unsigned)__builtin_ctzll(page_bytes) << MFD_HUGE_SHIFT));
    if (c->fd < 0) {
        fail(err, errlen,
             "memfd_create(MFD_HUGETLB, %s) failed: %s; the kernel needs CONFIG_HUGETLBFS and "
             "hugepages of that size (see /sys/kernel/mm/hugepages)",
             size_name(page_bytes), strerror(errno));
        return -errno;
    }
    if (ftruncate(c->fd, (off_t)len) < 0) {
        int e = errno;
        fail(err, errlen, "sizing the hugetlb memfd to %llu bytes failed: %s",
             (unsigned long long)len, strerror(e));
        return -e;
    }
    return 0;
}

/* Map the memfd with the thread bound to the node (surplus pages are made on the node the
 * mapping's task runs under); free_seen: the node's free hugepages the top-up saw. */
static int map_on_node(const struct mmc_os_batch *c, unsigned os_index, uint64_t free_seen,
                       char **addr, char *err, size_t errlen)
{
    const uint64_t len = c->npages * c->page_bytes;
    const bool mmap_fault = fault(F_MMAP);
    *addr = MAP_FAILED;
    if (mmap_fault) {
        errno = ENOMEM;
    } else {
        int old_mode = 0;
        unsigned long old_mask[MMC_MAX_NODES * 4 / (8 * sizeof(unsigned long)) + 1] = {0};
        bool bound = bind_thread(os_index, &old_mode, old_mask, 8 * sizeof(old_mask));
        *addr = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
        int e = errno;
        if (bound)
            set_mempolicy(old_mode, old_mode == MPOL_DEFAULT ? NULL : old_mask, 8 * sizeof(old_mask));
        errno = e;
    }
    if (*addr != MAP_FAILED)
        return 0;
    const int rc = -errno;
    char at[32];
    if (c->surplus && free_seen < c->npages && rc == -ENOMEM && !mmap_fault) {
        char path[160];
        uint64_t nr = 0;
        sysfs_path(path, sizeof(path), (int)os_index, c->page_bytes, "nr_hugepages");
        count_read(COUNT_NR, (int)os_index, c->page_bytes, &nr);
        short_msg(err, errlen, where(at, sizeof(at), (int)os_index), c->page_bytes, free_seen,
                  c->npages, nr, (int64_t)c->topup, true, path, "ask for a smaller pool (MMC_POOL)");
    } else {
        fail(err, errlen,
             "mapping %llu %s hugepages for node %u failed: %s; the kernel's free hugepage "
             "pool is smaller than that (see HugePages_Free in /proc/meminfo)",
             (unsigned long long)c->npages, size_name(c->page_bytes), os_index, strerror(-rc));
    }
    return rc;
}

/* Bind the mapping to the node (before the first touch: the node is decided at fault time),
 * then fault every hugepage in. */
static int bind_and_populate(char *addr, uint64_t npages, uint64_t page_bytes, unsigned os_index,
                             char *err, size_t errlen)
{
    const uint64_t len = npages * page_bytes;
    if (numa_available() >= 0) {
        unsigned long mask[MMC_MAX_NODES * 4 / (8 * sizeof(unsigned long)) + 1];
        memset(mask, 0, sizeof(mask));
        if (os_index >= 8 * sizeof(mask)) {
            fail(err, errlen, "node %u is beyond the %zu nodes mmcontig can bind", os_index, 8 * sizeof(mask));
            return -EINVAL;
        }
        mask[os_index / (8 * sizeof(unsigned long))] |= 1ul << (os_index % (8 * sizeof(unsigned long)));
        if ((fault(F_MBIND) && (errno = EINVAL)) ||
            mbind(addr, len, MPOL_BIND, mask, 8 * sizeof(mask), MPOL_MF_STRICT) < 0) {
            int e = errno;
            fail(err, errlen, "binding the pool's memory to node %u (mbind) failed: %s; the node "
                 "is not allowed to this process (check cpuset.mems of its cgroup, numactl "
                 "--show) or the kernel lacks NUMA support",
                 os_index, strerror(e));
            return -e;
        }
    }
    /* Fault the hugepages in from the last to the first: the kernel's free hugepage lists are
     * LIFO, so this order tends to give ascending PFNs for ascending offsets, which keeps the
     * pool's views in few mappings. MADV_POPULATE_WRITE reports a shortage as an error
     * instead of a SIGBUS. */
    for (uint64_t h = npages; h-- > 0;) {
        if ((h == npages / 2 && fault(F_POPULATE) && (errno = ENOMEM)) ||
            madvise(addr + h * page_bytes, page_bytes, MADV_POPULATE_WRITE) < 0) {
            int e = errno;
            fail(err, errlen,
                 "node %u ran out of free %s hugepages after %llu of %llu (%s); another process "
                 "took them, or they are on another node: check "
                 "/sys/devices/system/node/node%u/hugepages/*/free_hugepages",
                 os_index, size_name(page_bytes), (unsigned long long)(npages - 1 - h),
                 (unsigned long long)npages, strerror(e), os_index);
            return -e;
        }
    }
    /* hugetlb memory cannot be swapped; the lock is for RLIMIT accounting tools and to say so. */
    (void)mlock(addr, len);
    return 0;
}

/* Each hugepage's node, one system call for all: every one must be on the bound node. */
static int check_nodes(char *addr, uint64_t npages, uint64_t page_bytes, unsigned os_index,
                       char *err, size_t errlen)
{
    if (numa_available() < 0)
        return 0;
    void **pages = calloc(npages, sizeof(*pages));
    int *status = calloc(npages, sizeof(*status)), rc = 0;
    if (!pages || !status) {
        fail(err, errlen, "out of memory for the tables of %llu hugepages", (unsigned long long)npages);
        rc = -ENOMEM;
        goto out;
    }
    for (uint64_t h = 0; h < npages; h++)
        pages[h] = addr + h * page_bytes;
    if (move_pages(0, npages, pages, NULL, status, 0) < 0) {
        rc = -errno;
        fail(err, errlen, "reading the node of the pool's hugepages (move_pages) failed: %s",
             strerror(-rc));
        goto out;
    }
    if (fault(F_WRONGNODE))
        status[npages - 1] = (int)os_index + 1;
    for (uint64_t h = 0; h < npages; h++) {
        if (status[h] != (int)os_index) {
            rc = -EXDEV;
            fail(err, errlen,
                 "hugepage %llu of node %u's pool landed on %s%d although bound to node %u; "
                 "the kernel ignored the binding (check cpuset.mems of this process's cgroup "
                 "and that node %u has free hugepages)",
                 (unsigned long long)h, os_index, status[h] < 0 ? "error " : "node ",
                 status[h], os_index, os_index);
            break;
        }
    }
out:
    free(pages);
    free(status);
    return rc;
}

/* One pagemap entry per hugepage checked: present and with a frame number. */
static int entry_pfn(uint64_t e, uint64_t h, unsigned os_index, uint64_t *pfn, char *err, size_t errlen)
{
    *pfn = e & PAGEMAP_PFN_MASK;
    if (!(e & PAGEMAP_PRESENT)) {
        fail(err, errlen, "hugepage %llu on node %u is not present after populating it",
             (unsigned long long)h, os_index);
        return -EFAULT;
    }
    if (*pfn == 0) {
        fail(err, errlen,
             "/proc/self/pagemap shows no frame numbers: reading them needs the "
             "CAP_SYS_ADMIN capability; run as root (or grant it: setcap "
             "cap_sys_admin,cap_ipc_lock+ep on the program)");
        return -EPERM;
    }
    return 0;
}

/* PFNs from pagemap into c->pfn. 2 MiB pages: every entry, read in 64 KiB chunks, so that the
 * physical contiguity inside each hugepage is checked too; 1 GiB pages: the first entry of
 * each (a 1 GiB page is contiguous by construction). */
static int read_pfns(struct mmc_os_batch *c, char *addr, unsigned os_index, char *err, size_t errlen)
{
    const uint64_t npages = c->npages, page_bytes = c->page_bytes, hp_frames = page_bytes >> MMC_FRAME_SHIFT;
    int pm = pagemap_open(), rc = 0;
    if (pm < 0) {
        rc = -errno;
        fail(err, errlen, "cannot open /proc/self/pagemap: %s", strerror(-rc));
        return rc;
    }
    const uint64_t per_read = hp_frames <= 512 ? hp_frames : 1;
    uint64_t *entries = malloc((npages * per_read < PAGEMAP_CHUNK_ENTRIES ? npages * per_read : PAGEMAP_CHUNK_ENTRIES) * sizeof(uint64_t));
    if (!entries) {
        close(pm);
        fail(err, errlen, "out of memory for reading pagemap");
        return -ENOMEM;
    }
    const uint64_t pages_per_chunk = PAGEMAP_CHUNK_ENTRIES / per_read;
    for (uint64_t h0 = 0; h0 < npages && rc == 0; h0 += pages_per_chunk) {
        uint64_t k = npages - h0 < pages_per_chunk ? npages - h0 : pages_per_chunk;
        if (per_read == hp_frames) {
            rc = pagemap_read(pm, (uintptr_t)(addr + h0 * page_bytes), k * hp_frames, entries);
        } else {
            for (uint64_t j = 0; j < k && rc == 0; j++)
                rc = pagemap_read(pm, (uintptr_t)(addr + (h0 + j) * page_bytes), 1, &entries[j]);
        }
        if (rc < 0) {
            fail(err, errlen, "reading /proc/self/pagemap failed: %s", strerror(-rc));
            break;
        }
        if (fault(F_NOPFN))
            for (uint64_t j = 0; j < k * per_read; j++)
                entries[j] &= ~PAGEMAP_PFN_MASK;
        for (uint64_t j = 0; j < k && rc == 0; j++) {
            const uint64_t *e = &entries[j * per_read];
            uint64_t pfn;
            if ((rc = entry_pfn(e[0], h0 + j, os_index, &pfn, err, errlen)) < 0)
                break;
            for (uint64_t i = 1; i < per_read; i++) {
                if ((e[i] & PAGEMAP_PFN_MASK) != pfn + i) {
                    rc = -EIO;
                    fail(err, errlen, "hugepage at PFN %#llx is not physically contiguous in pagemap",
                         (unsigned long long)pfn);
                    break;
                }
            }
            c->pfn[h0 + j] = pfn;
        }
    }
    close(pm);
    free(entries);
    return rc;
}

int _mmc_os_take_hugepages(struct mmc_os_batch *c, unsigned node, unsigned os_index,
                           uint64_t page_bytes, uint64_t npages, bool allow_topup, char *err,
                           size_t errlen)
{
    const uint64_t len = npages * page_bytes;
    char *addr = MAP_FAILED;
    int rc = 0;

    memset(c, 0, sizeof(*c));
    c->fd = -1;
    /* The lock is held from the top-up until every hugepage is faulted in, so that a
     * concurrent pool never counts this one's fresh pages as free. 2 MiB pages are taken as
     * surplus pages (the kernel frees them with the last mapping, however the process ends);
     * the kernel has no surplus 1 GiB pages: those raise nr_hugepages (ledgered). */
    bool one_node = true;
    (void)_mmc_os_available_bytes(-1, &one_node);
    /* Several nodes: the 6.1 kernel of the NUMA VMs (scripts/numa-vm) could not make a mapping's
     * surplus pages on the bound node (the mapping failed with ENOMEM on a node with hundreds of
     * MiB free), so there the node's nr_hugepages is raised instead, ledgered like 1 GiB pages:
     * after kill -9 the next mmcontig process or `mmcontig reclaim` gives it back. */
    c->surplus = page_bytes < MMC_GIB && one_node;
    uint64_t free_seen = 0;
    if ((rc = sysfs_lock(err, errlen)) < 0)
        return rc;
    long added = topup((int)os_index, page_bytes, npages, allow_topup, true, c->surplus,
                       &free_seen, err, errlen);
    if (added < 0) {
        sysfs_unlock();
        return (int)added;
    }
    c->topup = (uint64_t)added;
    c->node = node;
    c->page_bytes = page_bytes;
    c->npages = npages;
    c->pfn = calloc(npages, sizeof(*c->pfn));
    if (!c->pfn) {
        rc = -ENOMEM;
        fail(err, errlen, "out of memory for the tables of %llu hugepages", (unsigned long long)npages);
    }
    if (rc == 0)
        rc = memfd_open(c, os_index, page_bytes, len, err, errlen);
    if (rc == 0)
        rc = map_on_node(c, os_index, free_seen, &addr, err, errlen);
    if (rc == 0)
        rc = bind_and_populate(addr, npages, page_bytes, os_index, err, errlen);
    if (rc == 0)
        rc = check_nodes(addr, npages, page_bytes, os_index, err, errlen);
    if (rc == 0)
        rc = read_pfns(c, addr, os_index, err, errlen);
    if (addr != MAP_FAILED)
        munmap(addr, len); /* the memfd holds the pages; the pool maps its own views */
    if (rc == 0) {
        sysfs_unlock();
        return 0;
    }
    fault_note(err, errlen);
    if (c->fd >= 0)
        close(c->fd); /* the pages go back before the raise does */
    c->fd = -1;
    _mmc_os_hugepages_giveback((int)os_index, page_bytes, c->topup, c->surplus);
    c->topup = 0;
    sysfs_unlock();
    _mmc_os_batch_release(c);
    return rc;
}

void _mmc_os_batch_release(struct mmc_os_batch *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->pfn);
    c->pfn = NULL;
}

uint64_t _mmc_os_mem_total_bytes(void)
{
    static const char *const key[] = {"MemTotal:"};
    uint64_t kb = meminfo_kb("/proc/meminfo", key, 1);
    return kb == UINT64_MAX ? UINT64_MAX : kb * 1024;
}

/* ---- compaction ---- */

int _mmc_os_compact_node(unsigned os_index)
{
    char path[80];
    snprintf(path, sizeof(path), "/sys/devices/system/node/node%u/compact", os_index);
    if (fault(F_COMPACT))
        return -EIO;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t w = write(fd, "1", 1); /* synchronous: returns when the node was compacted */
    int rc = w == 1 ? 0 : -errno;
    close(fd);
    return rc;
}

/* ---- address space ---- */

int _mmc_os_phys_span(uint64_t *start_pfn, uint64_t *end_pfn)
{
    FILE *zi = fopen("/proc/zoneinfo", "re");
    if (!zi)
        return -errno;
    char line[256];
    uint64_t spanned = 0, lo = UINT64_MAX, hi = 0;
    while (fgets(line, sizeof(line), zi)) {
        unsigned long long v;
        if (sscanf(line, " spanned %llu", &v) == 1) {
            spanned = v; /* comes before its zone's start_pfn */
        } else if (sscanf(line, " start_pfn: %llu", &v) == 1 && spanned) {
            if (v < lo)
                lo = v;
            if (v + spanned > hi)
                hi = v + spanned;
            spanned = 0;
        }
    }
    fclose(zi);
    if (hi == 0)
        return -ENOENT;
    *start_pfn = lo;
    *end_pfn = hi;
    return 0;
}

void *_mmc_os_reserve(uint64_t size, uint64_t align)
{
    char *p = mmap(NULL, size + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    uintptr_t a = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
    if (a > (uintptr_t)p)
        munmap(p, a - (uintptr_t)p);
    uintptr_t end = (uintptr_t)p + size + align;
    if (end > a + size)
        munmap((void *)(a + size), end - (a + size));
    return (void *)a;
}

int _mmc_os_map_fixed(void *addr, uint64_t len, int fd, uint64_t offset, int prot)
{
    if (fault(F_MAPVIEWS))
        return -ENOMEM;
    /* MAP_POPULATE: the page tables are filled now, not by the mlock below, which may fail
     * (RLIMIT_MEMLOCK) or be a no-op (AddressSanitizer intercepts it): move_pages and pagemap
     * must see every pool page present from the start. */
    void *p = mmap(addr, len, prot, MAP_SHARED | MAP_FIXED | MAP_POPULATE, fd, (off_t)offset);
    if (p == MAP_FAILED)
        return -errno;
    (void)mlock(p, len);
    return 0;
}

void _mmc_os_hole(void *addr, uint64_t len)
{
    /* the mapping goes, the address space stays reserved (MAP_FIXED over it) */
    (void)mmap(addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
}

void _mmc_os_unmap(void *addr, uint64_t len)
{
    if (addr)
        munmap(addr, len);
}
