/* alloc/os.c: the only code that talks to the kernel for memory.
 *
 * Owns: hugetlb memfds, their NUMA binding (libnuma's mbind), population, the check of each
 * hugepage's node (move_pages), pagemap reads, address-space reservation and fixed mappings,
 * and the sysfs hugepage counts (nr_hugepages top-up and give-back, under a file lock so that
 * concurrent mmcontig processes never give back each other's pages), which mmc_hugepages_*
 * (mmcontig.h) offer to programs beside the pools, such as the benchmark's peers.
 *
 * Everything returns a negative errno and fills a message naming the cause and the remedy.
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
#include <sys/file.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

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
    NULL,
};
enum {
    F_MEMFD = 1u << 0, F_MMAP = 1u << 1, F_MBIND = 1u << 2, F_POPULATE = 1u << 3,
    F_WRONGNODE = 1u << 4, F_NOPFN = 1u << 5, F_TOPUP_DENIED = 1u << 6, F_SHORT = 1u << 7,
    F_NONE = 1u << 8, F_NO1G = 1u << 9, F_MAPVIEWS = 1u << 10,
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
                    "hugepages_short, nohugepages, 1g_unavailable, map_views); ignored\n",
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

static int sysfs_write(int os_node, uint64_t page_bytes, const char *file, uint64_t val)
{
    return sysfs_write_timed(os_node, page_bytes, file, val, NULL);
}

/* The lock that serialises read-modify-write of nr_hugepages between mmcontig processes: an
 * flock on /run/lock/mmcontig-hugepages.lock (else /tmp/...), and, inside this process, a
 * recursive mutex around it, so that a thread holding it through mmc_hugepages_lock() can
 * still call what takes it (a pool's top-up, mmc_hugepages_reserve...). Threads of one
 * process are serialised as before (two flocks on two descriptors exclude each other too). */
static pthread_once_t lock_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t lock_mutex;
static int lock_fd = -1;      /* the flocked descriptor while lock_depth > 0 (-1: none could
                                 be opened; the counts are then changed unlocked, as before) */
static unsigned lock_depth;   /* nesting of sysfs_lock() in the owning thread */

static void lock_init(void)
{
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&lock_mutex, &a);
    pthread_mutexattr_destroy(&a);
}

static void sysfs_lock(void)
{
    pthread_once(&lock_once, lock_init);
    pthread_mutex_lock(&lock_mutex);
    if (lock_depth++ == 0) {
        int fd = open("/run/lock/mmcontig-hugepages.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (fd < 0)
            fd = open("/tmp/mmcontig-hugepages.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (fd >= 0)
            while (flock(fd, LOCK_EX) < 0 && errno == EINTR)
                ;
        lock_fd = fd;
    }
}

static void sysfs_unlock(void)
{
    if (--lock_depth == 0 && lock_fd >= 0) {
        close(lock_fd); /* releases the flock */
        lock_fd = -1;
    }
    pthread_mutex_unlock(&lock_mutex);
}

/* The top-up of a pool (pool: messages name MMC_POOL / MMC_PAGE) or of mmc_hugepages_reserve. */
static long topup(int os_node, uint64_t page_bytes, uint64_t need, bool allow, bool pool,
                  char *err, size_t errlen)
{
    char path[160], at[32];
    uint64_t nr = 0, free_pages = 0;
    sysfs_path(path, sizeof(path), os_node, page_bytes, "nr_hugepages");
    where(at, sizeof(at), os_node);
    const char *smaller = pool ? "ask for a smaller pool (MMC_POOL)" : "ask for fewer";
    faults_load(pool); /* the pool warns of unknown names (once per pool, not per call) */
    sysfs_lock();
    int rc = sysfs_read(os_node, page_bytes, "free_hugepages", &free_pages);
    if (rc == 0)
        rc = sysfs_read(os_node, page_bytes, "nr_hugepages", &nr);
    const bool short_fault = fault(F_TOPUP_DENIED | F_SHORT | F_NONE);
    if (short_fault)
        free_pages = 0; /* the node has none free: a top-up is needed */
    if (rc < 0) {
        sysfs_unlock();
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
    if (fault(F_TOPUP_DENIED))
        rc = -EACCES;
    else if (fault(F_NONE))
        rc = 0; /* the kernel found none: nr_hugepages stays */
    else /* F_SHORT: the kernel finds half the shortfall (a real raise, given back below) */
        rc = sysfs_write(os_node, page_bytes, "nr_hugepages",
                         nr + (fault(F_SHORT) ? shortfall / 2 : shortfall));
    uint64_t nr_after = nr, free_after = free_pages;
    sysfs_read(os_node, page_bytes, "nr_hugepages", &nr_after);
    sysfs_read(os_node, page_bytes, "free_hugepages", &free_after);
    long added = nr_after > nr ? (long)(nr_after - nr) : 0;
    if (short_fault)
        free_after = free_pages + (uint64_t)added;
    if (rc < 0 || free_after < need) {
        if (added)
            sysfs_write(os_node, page_bytes, "nr_hugepages", nr_after - (uint64_t)added);
        sysfs_unlock();
        if (rc == -EACCES || rc == -EPERM || rc == -EROFS)
            fail(err, errlen,
                 "%s: %llu free %s hugepages, %llu needed (%llu short), and this process may "
                 "not raise nr_hugepages (%s); run as root: echo %llu > %s, or %s",
                 at, (unsigned long long)free_pages, size_name(page_bytes),
                 (unsigned long long)need, (unsigned long long)shortfall, strerror(-rc),
                 (unsigned long long)(nr + shortfall), path, smaller);
        else
            fail(err, errlen,
                 "%s: %llu free %s hugepages, %llu needed (%llu short); the kernel found only "
                 "%llu more when asked (memory too fragmented or too small); reserve them at boot "
                 "(hugepages=N on the kernel command line), or drop caches and compact first: "
                 "echo 3 > /proc/sys/vm/drop_caches; echo 1 > /proc/sys/vm/compact_memory; "
                 "echo %llu > %s, or %s",
                 at, (unsigned long long)free_pages, size_name(page_bytes),
                 (unsigned long long)need, (unsigned long long)shortfall,
                 (unsigned long long)(free_after > free_pages ? free_after - free_pages : 0),
                 (unsigned long long)(nr + shortfall), path, smaller);
        fault_note(err, errlen);
        return -ENOMEM;
    }
    sysfs_unlock();
    return added;
}

long _mmc_os_hugepages_topup(int os_node, uint64_t page_bytes, uint64_t need, bool allow,
                             char *err, size_t errlen)
{
    return topup(os_node, page_bytes, need, allow, true, err, errlen);
}

void _mmc_os_hugepages_giveback(int os_node, uint64_t page_bytes, uint64_t added)
{
    if (!added)
        return;
    sysfs_lock();
    uint64_t nr = 0;
    if (sysfs_read(os_node, page_bytes, "nr_hugepages", &nr) == 0)
        sysfs_write(os_node, page_bytes, "nr_hugepages", nr > added ? nr - added : 0);
    sysfs_unlock();
}

/* ---- the public hugepage-count API (mmcontig.h, "the kernel's hugepage counts") ---- */

/* The arguments every mmc_hugepages_* call takes. 0 or -EINVAL with the error set. */
static int hp_args(const char *fn, int os_node, uint64_t page_bytes)
{
    if (page_bytes != 2 * MMC_MIB && page_bytes != MMC_GIB) {
        _mmc_set_error("%s: page_bytes %llu is no hugepage size: give 2097152 (2 MiB) or "
                       "1073741824 (1 GiB)", fn, (unsigned long long)page_bytes);
        return -EINVAL;
    }
    if (os_node < -1) {
        _mmc_set_error("%s: os_node %d is no node: give the kernel's node index (0, 1...: "
                       "/sys/devices/system/node/nodeN) or -1 for the whole machine", fn, os_node);
        return -EINVAL;
    }
    return 0;
}

MMC_API int mmc_hugepages_count(int os_node, uint64_t page_bytes, uint64_t *total,
                                uint64_t *free_pages)
{
    int rc = hp_args("mmc_hugepages_count", os_node, page_bytes);
    if (rc < 0)
        return rc;
    faults_load(false);
    uint64_t nr = 0, fr = 0;
    rc = sysfs_read(os_node, page_bytes, "nr_hugepages", &nr);
    if (rc == 0)
        rc = sysfs_read(os_node, page_bytes, "free_hugepages", &fr);
    if (rc < 0) {
        char path[160], at[32], msg[400];
        sysfs_path(path, sizeof(path), os_node, page_bytes, "nr_hugepages");
        fail(msg, sizeof(msg),
             "%s: cannot read %s (%s): %s", where(at, sizeof(at), os_node), path, strerror(-rc),
             rc == -ENOENT ? "no such node, or no hugepages of that size on this kernel (see "
                             "/sys/kernel/mm/hugepages and /sys/devices/system/node)"
                           : "check that sysfs is mounted and readable");
        fault_note(msg, sizeof(msg));
        _mmc_set_error("%s", msg);
        return rc;
    }
    if (total)
        *total = nr;
    if (free_pages)
        *free_pages = fr;
    return 0;
}

MMC_API long mmc_hugepages_reserve(int os_node, uint64_t page_bytes, uint64_t need)
{
    int rc = hp_args("mmc_hugepages_reserve", os_node, page_bytes);
    if (rc < 0)
        return rc;
    char err[768];
    long added = topup(os_node, page_bytes, need, true, false, err, sizeof(err));
    if (added < 0)
        _mmc_set_error("%s", err);
    return added;
}

MMC_API int mmc_hugepages_adjust(int os_node, uint64_t page_bytes, int64_t delta,
                                 uint64_t *write_ns)
{
    if (write_ns)
        *write_ns = 0;
    int rc = hp_args("mmc_hugepages_adjust", os_node, page_bytes);
    if (rc < 0)
        return rc;
    char path[160], at[32], msg[768];
    sysfs_path(path, sizeof(path), os_node, page_bytes, "nr_hugepages");
    where(at, sizeof(at), os_node);
    faults_load(false);
    sysfs_lock();
    uint64_t nr = 0, nr_after = 0;
    rc = sysfs_read(os_node, page_bytes, "nr_hugepages", &nr);
    if (rc < 0) {
        sysfs_unlock();
        fail(msg, sizeof(msg), "%s: cannot read %s (%s): no such node, or no %s hugepages on "
             "this kernel (see /sys/kernel/mm/hugepages)", at, path, strerror(-rc),
             size_name(page_bytes));
        fault_note(msg, sizeof(msg));
        _mmc_set_error("%s", msg);
        return rc;
    }
    const uint64_t mag = delta < 0 ? (uint64_t)-(delta + 1) + 1 : (uint64_t)delta;
    if (delta > 0 && nr + mag < nr) {
        sysfs_unlock();
        _mmc_set_error("mmc_hugepages_adjust: nr_hugepages %llu + %lld overflows",
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
        rc = sysfs_write_timed(os_node, page_bytes, "nr_hugepages",
                               delta > 0 && fault(F_SHORT) ? nr + mag / 2 : target, write_ns);
    rc = rc < 0 ? rc : sysfs_read(os_node, page_bytes, "nr_hugepages", &nr_after);
    if (rc == 0 && nr_after == target) {
        sysfs_unlock();
        return 0;
    }
    /* Failed, or the kernel found fewer: back to nr_hugepages as it was. */
    uint64_t found = rc == 0 && nr_after > nr ? nr_after - nr : 0;
    if (found)
        sysfs_write(os_node, page_bytes, "nr_hugepages", nr);
    sysfs_unlock();
    if (rc == -EACCES || rc == -EPERM || rc == -EROFS)
        fail(msg, sizeof(msg), "%s: this process may not change nr_hugepages (%s): run as root "
             "(echo %llu > %s)", at, strerror(-rc), (unsigned long long)target, path);
    else if (rc < 0)
        fail(msg, sizeof(msg), "%s: writing %llu to %s failed (%s)", at,
             (unsigned long long)target, path, strerror(-rc));
    else if (delta > 0)
        fail(msg, sizeof(msg),
             "%s: the kernel found only %llu of %llu more %s hugepages when asked (memory too "
             "fragmented or too small; nr_hugepages left at %llu); drop caches and compact "
             "first: echo 3 > /proc/sys/vm/drop_caches; echo 1 > /proc/sys/vm/compact_memory, "
             "or reserve them at boot (hugepages=N on the kernel command line)",
             at, (unsigned long long)found, (unsigned long long)mag, size_name(page_bytes),
             (unsigned long long)nr);
    else
        fail(msg, sizeof(msg), "%s: nr_hugepages is %llu after writing %llu to %s",
             at, (unsigned long long)nr_after, (unsigned long long)target, path);
    fault_note(msg, sizeof(msg));
    _mmc_set_error("%s", msg);
    return rc < 0 ? rc : delta > 0 ? -ENOMEM : -EIO;
}

MMC_API void mmc_hugepages_giveback(int os_node, uint64_t page_bytes, uint64_t added)
{
    if (added && hp_args("mmc_hugepages_giveback", os_node, page_bytes) == 0)
        _mmc_os_hugepages_giveback(os_node, page_bytes, added);
}

MMC_API void mmc_hugepages_lock(void)
{
    sysfs_lock();
}

MMC_API void mmc_hugepages_unlock(void)
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

int _mmc_os_virt_to_phys(const void *va, uint64_t *phys)
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

int _mmc_os_take_hugepages(struct mmc_os_chunk *c, unsigned node, unsigned os_index,
                           uint64_t page_bytes, uint64_t npages, char *err, size_t errlen)
{
    const uint64_t len = npages * page_bytes, hp_frames = page_bytes >> MMC_FRAME_SHIFT;
    char *addr = MAP_FAILED;
    void **pages = NULL;
    int *status = NULL, pm = -1, rc = 0;
    uint64_t *entries = NULL;

    memset(c, 0, sizeof(*c));
    faults_load(false); /* warned by the top-up just before */
    c->fd = -1;
    c->node = node;
    c->page_bytes = page_bytes;
    c->npages = npages;
    c->pfn = calloc(npages, sizeof(*c->pfn));
    pages = calloc(npages, sizeof(*pages));
    status = calloc(npages, sizeof(*status));
    if (!c->pfn || !pages || !status) {
        rc = -ENOMEM;
        fail(err, errlen, "out of memory for the tables of %llu hugepages", (unsigned long long)npages);
        goto error;
    }

    char name[32];
    snprintf(name, sizeof(name), "mmcontig-node%u", os_index);
    if (fault(F_MEMFD) || (page_bytes >= MMC_GIB && fault(F_NO1G)))
        c->fd = -1, errno = EINVAL; /* as a kernel without hugetlb memfds (or that size) */
    else
        c->fd = memfd_create(name, MFD_CLOEXEC | MFD_HUGETLB |
                                       ((unsigned)__builtin_ctzll(page_bytes) << MFD_HUGE_SHIFT));
    if (c->fd < 0) {
        rc = -errno;
        fail(err, errlen,
             "memfd_create(MFD_HUGETLB, %s) failed: %s; the kernel needs CONFIG_HUGETLBFS and "
             "hugepages of that size (see /sys/kernel/mm/hugepages)",
             size_name(page_bytes), strerror(errno));
        goto error;
    }
    if (ftruncate(c->fd, (off_t)len) < 0) {
        rc = -errno;
        fail(err, errlen, "sizing the hugetlb memfd to %llu bytes failed: %s",
             (unsigned long long)len, strerror(errno));
        goto error;
    }
    if (fault(F_MMAP))
        errno = ENOMEM;
    else
        addr = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
    if (addr == MAP_FAILED) {
        rc = -errno;
        fail(err, errlen,
             "mapping %llu %s hugepages for node %u failed: %s; the kernel's free hugepage pool "
             "is smaller than that (see HugePages_Free in /proc/meminfo)",
             (unsigned long long)npages, size_name(page_bytes), os_index, strerror(errno));
        goto error;
    }
    /* Bind before the first touch: the node is decided at fault time. */
    if (numa_available() >= 0) {
        unsigned long mask[MMC_MAX_NODES * 4 / (8 * sizeof(unsigned long)) + 1];
        memset(mask, 0, sizeof(mask));
        if (os_index >= 8 * sizeof(mask)) {
            rc = -EINVAL;
            fail(err, errlen, "node %u is beyond the %zu nodes mmcontig can bind", os_index, 8 * sizeof(mask));
            goto error;
        }
        mask[os_index / (8 * sizeof(unsigned long))] |= 1ul << (os_index % (8 * sizeof(unsigned long)));
        if ((fault(F_MBIND) && (errno = EINVAL)) ||
            mbind(addr, len, MPOL_BIND, mask, 8 * sizeof(mask), MPOL_MF_STRICT) < 0) {
            rc = -errno;
            fail(err, errlen, "binding the pool's memory to node %u (mbind) failed: %s; the node "
                 "is not allowed to this process (check cpuset.mems of its cgroup, numactl "
                 "--show) or the kernel lacks NUMA support",
                 os_index, strerror(errno));
            goto error;
        }
    }
    /* Fault the hugepages in from the last to the first: the kernel's free hugepage lists are
     * LIFO, so this order tends to give ascending PFNs for ascending offsets, which keeps the
     * pool's window in few mappings. MADV_POPULATE_WRITE reports a shortage as an error
     * instead of a SIGBUS. */
    for (uint64_t h = npages; h-- > 0;) {
        if ((h == npages / 2 && fault(F_POPULATE) && (errno = ENOMEM)) ||
            madvise(addr + h * page_bytes, page_bytes, MADV_POPULATE_WRITE) < 0) {
            rc = -errno;
            fail(err, errlen,
                 "node %u ran out of free %s hugepages after %llu of %llu (%s); another process "
                 "took them, or they are on another node: check "
                 "/sys/devices/system/node/node%u/hugepages/*/free_hugepages",
                 os_index, size_name(page_bytes), (unsigned long long)(npages - 1 - h),
                 (unsigned long long)npages, strerror(errno), os_index);
            goto error;
        }
    }
    /* hugetlb memory cannot be swapped; the lock is for RLIMIT accounting tools and to say so. */
    (void)mlock(addr, len);

    /* Each hugepage's node, one system call for all. */
    for (uint64_t h = 0; h < npages; h++)
        pages[h] = addr + h * page_bytes;
    if (numa_available() >= 0) {
        if (move_pages(0, npages, pages, NULL, status, 0) < 0) {
            rc = -errno;
            fail(err, errlen, "reading the node of the pool's hugepages (move_pages) failed: %s",
                 strerror(errno));
            goto error;
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
                goto error;
            }
        }
    }

    /* PFNs from pagemap. 2 MiB pages: every entry, read in 64 KiB chunks, so that the
     * physical contiguity inside each hugepage is checked too; 1 GiB pages: the first entry
     * of each (a 1 GiB page is contiguous by construction). */
    pm = pagemap_open();
    if (pm < 0) {
        rc = -errno;
        fail(err, errlen, "cannot open /proc/self/pagemap: %s", strerror(errno));
        goto error;
    }
    uint64_t per_read = hp_frames <= 512 ? hp_frames : 1;
    entries = malloc((npages * per_read < PAGEMAP_CHUNK_ENTRIES ? npages * per_read : PAGEMAP_CHUNK_ENTRIES) * sizeof(uint64_t));
    if (!entries) {
        rc = -ENOMEM;
        fail(err, errlen, "out of memory for reading pagemap");
        goto error;
    }
    uint64_t pages_per_chunk = PAGEMAP_CHUNK_ENTRIES / per_read;
    for (uint64_t h0 = 0; h0 < npages; h0 += pages_per_chunk) {
        uint64_t k = npages - h0 < pages_per_chunk ? npages - h0 : pages_per_chunk;
        if (per_read == hp_frames) {
            rc = pagemap_read(pm, (uintptr_t)(addr + h0 * page_bytes), k * hp_frames, entries);
        } else {
            for (uint64_t j = 0; j < k && rc == 0; j++)
                rc = pagemap_read(pm, (uintptr_t)(addr + (h0 + j) * page_bytes), 1, &entries[j]);
        }
        if (rc < 0) {
            fail(err, errlen, "reading /proc/self/pagemap failed: %s", strerror(-rc));
            goto error;
        }
        if (fault(F_NOPFN))
            for (uint64_t j = 0; j < k * per_read; j++)
                entries[j] &= ~PAGEMAP_PFN_MASK;
        for (uint64_t j = 0; j < k; j++) {
            const uint64_t *e = &entries[j * per_read];
            uint64_t pfn = e[0] & PAGEMAP_PFN_MASK;
            if (!(e[0] & PAGEMAP_PRESENT)) {
                rc = -EFAULT;
                fail(err, errlen, "hugepage %llu on node %u is not present after populating it",
                     (unsigned long long)(h0 + j), os_index);
                goto error;
            }
            if (pfn == 0) {
                rc = -EPERM;
                fail(err, errlen,
                     "/proc/self/pagemap shows no frame numbers: reading them needs the "
                     "CAP_SYS_ADMIN capability; run as root (or grant it: setcap "
                     "cap_sys_admin,cap_ipc_lock+ep on the program)");
                goto error;
            }
            for (uint64_t i = 1; i < per_read; i++) {
                if ((e[i] & PAGEMAP_PFN_MASK) != pfn + i) {
                    rc = -EIO;
                    fail(err, errlen, "hugepage at PFN %#llx is not physically contiguous in pagemap",
                         (unsigned long long)pfn);
                    goto error;
                }
            }
            c->pfn[h0 + j] = pfn;
        }
    }
    /* The memfd holds the pages; the pool maps its own views. */
    munmap(addr, len);
    close(pm);
    free(entries);
    free(pages);
    free(status);
    return 0;

error:
    fault_note(err, errlen);
    if (addr != MAP_FAILED)
        munmap(addr, len);
    if (pm >= 0)
        close(pm);
    free(entries);
    free(pages);
    free(status);
    _mmc_os_chunk_release(c);
    return rc;
}

void _mmc_os_chunk_release(struct mmc_os_chunk *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->pfn);
    c->pfn = NULL;
}

/* ---- address space ---- */

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

void _mmc_os_unmap(void *addr, uint64_t len)
{
    if (addr)
        munmap(addr, len);
}
