/* bench/frag_kernel.c: the `frag-kernel` suite, the real kernel's fragmentation.
 *
 * Fragments this machine's own free memory the way proactive-compaction studies do: a helper
 * process takes a bounded share of MemAvailable as anonymous memory (written, so it is backed),
 * then frees most of every 2 MiB of it (MADV_DONTNEED), keeping one 4 KiB page in each: free
 * memory is then spread over pageblocks that each hold a movable page, so every 2 MiB and larger
 * block needs compaction. On that state, for 2 MiB, 8 MiB, 64 MiB and 1 GiB requests: on a
 * fresh partition of one 2 MiB hugepage, held by a block taken first, that may grow, the
 * ordinary path (growth from the kernel, timed, with hugepages added and time growing) and
 * FAST_ONLY (which must fail at once: the pool has no such block); and DPDK reserving the same
 * size IOVA-contiguously, in its default dynamic memory and with --legacy-mem, each in a child
 * process (below), after the kernel supplied its hugepages (that raise timed apart). Around
 * each request /proc/vmstat's compact_stall, compact_success, compact_fail and
 * compact_migrate_scanned are read; every block returned is checked against pagemap;
 * /proc/buddyinfo (and /sys/kernel/debug/extfrag/unusable_index when present) before and after
 * the suite go to frag_kernel.json. One frag_kernel.csv row per request (columns in
 * results/README.md).
 *
 * Safety: the share is bounded (quick: 1/8 of MemAvailable, at most 2 GiB; full: 3/4, at most
 * 64 GiB; MMC_FRAG_KERNEL_MAX caps it further), the helper dies with the benchmark
 * (PR_SET_PDEATHSIG, and it exits when its pipe from the benchmark closes), and the benchmark
 * kills and reaps it at the end and on SIGINT / SIGTERM (bench_stop). The share is held whole
 * only while the helper writes it; once it has freed, it keeps 1/512 of it. Everything the
 * partitions took is given back at destroy; what a DPDK child raised, by the child, or from its
 * ledger when it died first.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "peer_dpdk.h"

static const char *const kernel_columns[] = {
    "run_id", "host", "peer", "held_bytes", "request_bytes", "fast_only", "success", "latency_ns",
    "hugepages_added", "grow_ns", "raise_hugepages", "raise_ns", "eal_init_ns", "compact_stall", "compact_success",
    "compact_fail", "compact_migrate_scanned", "pagemap_ok", "why", "seed",
};
#define NKCOLS (sizeof(kernel_columns) / sizeof(kernel_columns[0]))

static const char *const vm_names[4] = {"compact_stall", "compact_success", "compact_fail",
                                        "compact_migrate_scanned"};

static void read_vmstat(uint64_t v[4])
{
    memset(v, 0, 4 * sizeof(*v));
    FILE *f = fopen("/proc/vmstat", "r");
    char name[64];
    unsigned long long x;
    while (f && fscanf(f, "%63s %llu", name, &x) == 2)
        for (int i = 0; i < 4; i++)
            if (!strcmp(name, vm_names[i]))
                v[i] = x;
    if (f)
        fclose(f);
}

static uint64_t mem_available_bytes(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char name[64];
    unsigned long long kb;
    uint64_t out = 0;
    while (f && fscanf(f, "%63s %llu kB", name, &kb) == 2)
        if (!strcmp(name, "MemAvailable:"))
            out = kb * 1024;
    if (f)
        fclose(f);
    return out;
}

/* The helper: take `bytes`, write every page, free all but the first page of each 2 MiB, say
 * "ready" on `ready_fd`, then hold until `hold_fd` closes (the benchmark ended or died). */
static void helper_main(uint64_t bytes, int ready_fd, int hold_fd)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    char *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        _exit(2);
    madvise(m, bytes, MADV_NOHUGEPAGE); /* 4 KiB pages, so that freeing splits nothing */
    for (uint64_t off = 0; off < bytes; off += 4096)
        m[off] = 1;
    for (uint64_t off = 0; off + 2 * MIB <= bytes; off += 2 * MIB)
        madvise(m + off + 4096, 2 * MIB - 4096, MADV_DONTNEED);
    char c = 'r';
    if (write(ready_fd, &c, 1) != 1)
        _exit(3);
    while (read(hold_fd, &c, 1) > 0) /* EOF: the benchmark is gone */
        ;
    _exit(0);
}

struct helper {
    pid_t pid;
    int hold_fd;                    /* the benchmark's end of the hold pipe */
};

static int helper_start(struct helper *h, uint64_t bytes)
{
    int ready[2], hold[2];
    if (pipe(ready) < 0)
        return -errno;
    if (pipe(hold) < 0) {
        close(ready[0]), close(ready[1]);
        return -errno;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(ready[0]), close(ready[1]), close(hold[0]), close(hold[1]);
        return -e;
    }
    if (pid == 0) {
        close(ready[0]);
        close(hold[1]);
        helper_main(bytes, ready[1], hold[0]);
    }
    close(ready[1]);
    close(hold[0]);
    h->pid = pid;
    h->hold_fd = hold[1];
    char c;
    ssize_t r;
    while ((r = read(ready[0], &c, 1)) < 0 && errno == EINTR && !bench_stop)
        ;
    close(ready[0]);
    return r == 1 ? 0 : -ECHILD;
}

/* Kill and reap the helper: its memory goes back to the kernel. */
static void helper_stop(struct helper *h)
{
    if (h->pid <= 0)
        return;
    close(h->hold_fd);
    kill(h->pid, SIGKILL);
    while (waitpid(h->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    h->pid = 0;
}

static void json_file(FILE *out, const char *key, const char *path)
{
    FILE *f = fopen(path, "r");
    fprintf(out, "\"%s\": ", key);
    if (!f) {
        fputs("null", out);
        return;
    }
    fputc('"', out);
    int c;
    while ((c = fgetc(f)) != EOF)
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", out);
        else if (c >= 32)
            fputc(c, out);
    fputc('"', out);
    fclose(f);
}

static void snapshot(FILE *out, const char *when)
{
    char key[64];
    snprintf(key, sizeof(key), "buddyinfo_%s", when);
    json_file(out, key, "/proc/buddyinfo");
    fputs(", ", out);
    snprintf(key, sizeof(key), "extfrag_unusable_%s", when);
    json_file(out, key, "/sys/kernel/debug/extfrag/unusable_index");
    uint64_t v[4];
    read_vmstat(v);
    for (int i = 0; i < 4; i++)
        fprintf(out, ", \"%s_%s\": %" PRIu64, vm_names[i], when, v[i]);
}

/* One frag_kernel.csv row; -1 in an int64_t field: empty (not measured for this peer). Sent
 * whole over the DPDK child's pipe (the same binary on both ends). */
enum kpeer { KPEER_MMCONTIG, KPEER_DPDK, KPEER_DPDK_LEGACY };
static const char *const kpeer_name[] = {"mmcontig", "dpdk", "dpdk-legacy"};

struct krow {
    enum kpeer peer;
    bool fast, ok;
    uint64_t bytes, latency_ns;
    int64_t hugepages_added, grow_ns, raise_hugepages, raise_ns, eal_init_ns;
    uint64_t vm[4];                 /* the compaction counters' change */
    int pagemap_ok;                 /* 1 contiguous per pagemap, 0 not, -1 no block / unknown */
    char why[240];                  /* why it failed ("" on success) */
};

static void krow_init(struct krow *r, enum kpeer peer, uint64_t bytes, bool fast)
{
    memset(r, 0, sizeof(*r));
    r->peer = peer;
    r->bytes = bytes;
    r->fast = fast;
    r->hugepages_added = r->grow_ns = r->raise_hugepages = r->raise_ns = r->eal_init_ns = -1;
    r->pagemap_ok = -1;
}

/* The reason, made a plain CSV field (no ',', '"' or line break: the benchmark's fields never
 * need quoting, csv.h). */
static void krow_why(struct krow *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void krow_why(struct krow *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof(r->why), fmt, ap);
    va_end(ap);
    for (char *q = r->why; *q; q++)
        if (*q == ',' || *q == '"' || *q == '\n' || *q == '\r')
            *q = *q == ',' ? ';' : *q == '"' ? '\'' : ' ';
}

/* The block's pagemap check: 1 present and physically contiguous (and at `expect_phys` unless
 * it is UINT64_MAX: the IOVA DPDK claims), 0 not (why set), -1 pagemap unreadable. */
static int block_check(struct krow *r, const void *va, uint64_t expect_phys)
{
    uint64_t phys = 0;
    const char *why = NULL;
    int pr = pagemap_check(va, r->bytes, MMC_FRAME_BYTES, 0, &phys, &why);
    if (pr == 0 && expect_phys != UINT64_MAX && phys != expect_phys) {
        pr = 1;
        why = "its IOVA is not its physical address";
    }
    if (pr != 0)
        krow_why(r, "pagemap: %s", why ? why : strerror(-pr));
    return pr < 0 ? -1 : pr == 0;
}

static void i64_or_empty(struct csv *c, int64_t v)
{
    if (v < 0)
        csv_empty(c);
    else
        csv_u64(c, (uint64_t)v);
}

static void krow_write(struct csv *c, uint64_t held, const struct krow *r)
{
    csv_str(c, bench_g.run_id);
    csv_str(c, bench_g.host);
    csv_str(c, kpeer_name[r->peer]);
    csv_u64(c, held);
    csv_u64(c, r->bytes);
    csv_u64(c, r->fast);
    csv_u64(c, r->ok);
    csv_u64(c, r->latency_ns);
    i64_or_empty(c, r->hugepages_added);
    i64_or_empty(c, r->grow_ns);
    i64_or_empty(c, r->raise_hugepages);
    i64_or_empty(c, r->raise_ns);
    i64_or_empty(c, r->eal_init_ns);
    for (int i = 0; i < 4; i++)
        csv_u64(c, r->vm[i]);
    i64_or_empty(c, r->pagemap_ok);
    csv_str(c, r->why);
    csv_u64(c, bench_g.opt.seed);
    csv_row_end(c);
    fprintf(stderr, "mmcontig bench: frag-kernel: %" PRIu64 " MiB %s: %s in %.3f ms", r->bytes / MIB,
            r->peer == KPEER_DPDK ? "DPDK" : r->peer == KPEER_DPDK_LEGACY ? "DPDK --legacy-mem"
            : r->fast ? "FAST_ONLY" : "ordinary", r->ok ? "success" : "failure",
            (double)r->latency_ns / 1e6);
    if (r->raise_ns >= 0)
        fprintf(stderr, " (before it: the kernel supplied %" PRId64 " hugepages in %.3f ms, EAL init %.3f ms)",
                r->raise_hugepages, (double)r->raise_ns / 1e6, (double)(r->eal_init_ns > 0 ? r->eal_init_ns : 0) / 1e6);
    fprintf(stderr, "%s%s\n", r->why[0] ? ": " : "", r->why);
}

/* One request on a fresh partition of one 2 MiB hugepage that may grow to the request's size. */
static void one_request(struct csv *c, uint64_t held, uint64_t bytes, bool fast)
{
    struct mmc_config cfg;
    mmc_config_init(&cfg);
    memset(cfg.node_pool_bytes, 0, sizeof(cfg.node_pool_bytes));
    cfg.page_bytes = 2 * MIB;
    cfg.pool_bytes = 2 * MIB;
    cfg.grow = 1;
    cfg.pool_max_bytes = bytes + 2 * MIB;
    mmc_partition_t *p = NULL;
    if (mmc_partition_create(&cfg, &p) < 0) {
        fprintf(stderr, "mmcontig bench: frag-kernel: a 2 MiB pool: %s\n", mmc_last_error());
        bench_g.case_errors++;
        return;
    }
    /* the pool's own hugepage taken first (untimed), so that every request must grow */
    SIZE_T n0 = 2 * MIB;
    PHYSICAL_ADDRESS lo = {.QuadPart = 0}, hi = {.QuadPart = -1}, none = {.QuadPart = 0};
    void *full = NULL;
    MmAllocateContiguousMemoryEx(&n0, lo, hi, none, MM_ANY_NODE_OK, PAGE_READWRITE, p, BENCH_TAG, 0, &full);
    struct krow r;
    krow_init(&r, KPEER_MMCONTIG, bytes, fast);
    uint64_t v0[4], v1[4];
    struct mmc_stats b, a;
    mmc_partition_stats(p, &b);
    read_vmstat(v0);
    SIZE_T n = bytes;
    void *va = NULL;
    uint64_t t = bench_now_ns();
    NTSTATUS s = MmAllocateContiguousMemoryEx(&n, lo, hi, none, MM_ANY_NODE_OK, PAGE_READWRITE, p, BENCH_TAG,
                                              fast ? MM_ALLOCATE_CONTIGUOUS_MEMORY_FAST_ONLY : 0, &va);
    r.latency_ns = bench_now_ns() - t;
    read_vmstat(v1);
    mmc_partition_stats(p, &a);
    r.ok = s == STATUS_SUCCESS;
    if (r.ok) {
        r.pagemap_ok = block_check(&r, va, UINT64_MAX); /* untimed */
        MmFreeContiguousMemory(va);
    } else {
        krow_why(&r, "%s", mmc_last_error());
    }
    if (full)
        MmFreeContiguousMemory(full);
    r.hugepages_added = (int64_t)(a.hugepages_added - b.hugepages_added);
    r.grow_ns = (int64_t)(a.grow_ns - b.grow_ns);
    r.raise_hugepages = (int64_t)(a.topup_hugepages - b.topup_hugepages);
    for (int i = 0; i < 4; i++)
        r.vm[i] = v1[i] - v0[i];
    mmc_partition_destroy(p);
    krow_write(c, held, &r);
}

/* ---- DPDK on the same state, in a child process ----
 *
 * DPDK's EAL starts once per process (and the peers suite may have had it already), so each
 * DPDK request runs in a child (bench/child.c): this program exec'd again as `mmcontig bench
 * __frag-kernel-dpdk PPID FD BYTES dynamic|legacy` (internal, not in --help). Under the
 * library's hugepage lock (so no mmcontig process takes the pages meanwhile) the child raises
 * nr_hugepages by what the reserve needs (timed: the write(2) alone, where the kernel compacts
 * on a fragmented host; recorded in the child's ledger, so a child killed outright owes nothing
 * once the parent settles it), starts EAL (dynamic: --in-memory with no -m, so the reserve maps
 * its hugepages in the call, as mmcontig's growth does; legacy: --legacy-mem -m of the raise,
 * so EAL maps them all at init, sorted by physical address, and the reserve only searches),
 * times rte_memzone_reserve_bounded(IOVA_CONTIG), checks the block
 * against pagemap, frees it, cleans EAL up, lowers nr_hugepages by the raise, and writes its
 * struct krow to FD. It dies with the benchmark (PR_SET_PDEATHSIG); SIGINT and SIGTERM it
 * ignores, so it finishes and gives back on its own while the benchmark waits (at most
 * BENCH_CHILD_GRACE_S after the signal; then SIGKILL and the ledger). */
#define DPDK_EAL_PAGES 2 /* EAL maps 1 for itself (--no-pci --in-memory), and 1 spare, as mmcontig's
                          * pool may grow one hugepage past the request */
#define DPDK_HEADER_BYTES (64 * KIB) /* the memzone's malloc element headers: one more page */
#define DPDK_CHILD_TIMEOUT_S 300

static uint64_t dpdk_pages_needed(uint64_t bytes)
{
    return (bytes + DPDK_HEADER_BYTES + 2 * MIB - 1) / (2 * MIB) + DPDK_EAL_PAGES;
}

/* --legacy-mem needs a hugetlbfs mount: one of this process's own, in a mount namespace of its
 * own (nothing to undo: it goes with the process), over /mnt (or /tmp), which the host does not
 * see. The directory, or NULL with err set. */
static const char *private_hugetlbfs(char *err, size_t errlen)
{
    static const char *const dirs[] = {"/mnt", "/tmp"};
    struct stat st;
    const char *dir = stat(dirs[0], &st) == 0 && S_ISDIR(st.st_mode) ? dirs[0] : dirs[1];
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
        mount("nodev", dir, "hugetlbfs", 0, "pagesize=2M") < 0) {
        snprintf(err, errlen, "a private hugetlbfs mount on %s for --legacy-mem: %s", dir, strerror(errno));
        return NULL;
    }
    return dir;
}

static void dpdk_reserve_once(struct krow *r)
{
    const int64_t need = (int64_t)dpdk_pages_needed(r->bytes);
    char err[600];
    uint64_t v0[4], v1[4];
    if (mmc_hugepages_lock() < 0) {
        krow_why(r, "%s", mmc_last_error());
        return;
    }
    read_vmstat(v0);
    uint64_t ns = 0;
    int rc = mmc_hugepages_adjust(-1, 2 * MIB, need, &ns);
    r->raise_ns = (int64_t)ns;
    if (rc < 0) { /* nothing stays raised */
        read_vmstat(v1);
        mmc_hugepages_unlock();
        for (int i = 0; i < 4; i++)
            r->vm[i] = v1[i] - v0[i];
        r->raise_hugepages = 0;
        krow_why(r, "raising nr_hugepages by %" PRId64 ": %s", need, mmc_last_error());
        return;
    }
    r->raise_hugepages = need;
    const char *dir = r->peer == KPEER_DPDK_LEGACY ? private_hugetlbfs(err, sizeof(err)) : NULL;
    uint64_t t0 = bench_now_ns();
    rc = r->peer == KPEER_DPDK_LEGACY && !dir ? -1
         : dpdk_peer_init(dir ? (uint64_t)need * 2 * MIB : 0, dir, err, sizeof(err));
    r->eal_init_ns = (int64_t)(bench_now_ns() - t0);
    if (rc == 0) {
        const long h0 = dpdk_peer_hugepages();
        struct dpdk_block b = {0};
        const char *why = NULL;
        uint64_t t = bench_now_ns();
        int got = dpdk_peer_reserve(r->bytes, MMC_FRAME_BYTES, 0, &b, &why);
        r->latency_ns = bench_now_ns() - t;
        r->hugepages_added = dpdk_peer_hugepages() - h0;
        read_vmstat(v1);
        mmc_hugepages_unlock();
        r->ok = got == 0;
        if (r->ok) {
            r->pagemap_ok = block_check(r, b.addr, b.iova);
            dpdk_peer_free(&b);
        } else {
            if (r->peer == KPEER_DPDK_LEGACY) /* its hugepages are all mapped: how adjacent */
                krow_why(r, "rte_memzone_reserve_bounded: %s (the longest physically contiguous "
                         "stretch of its %ld hugepages: %" PRIu64 " MiB)", why, h0,
                         dpdk_peer_largest_chunk() / MIB);
            else
                krow_why(r, "rte_memzone_reserve_bounded: %s", why);
        }
        dpdk_peer_fini();
    } else {
        read_vmstat(v1);
        mmc_hugepages_unlock();
        krow_why(r, "%s", err);
    }
    for (int i = 0; i < 4; i++)
        r->vm[i] = v1[i] - v0[i];
    mmc_hugepages_adjust(-1, 2 * MIB, -need, NULL); /* the raise given back */
}

int frag_kernel_dpdk_child(int argc, char **argv)
{
    if (argc != 5 || (strcmp(argv[4], "dynamic") && strcmp(argv[4], "legacy"))) {
        fprintf(stderr, "mmcontig bench %s: internal to the frag-kernel suite (PPID FD BYTES "
                "dynamic|legacy)\n", argv[0]);
        return BENCH_EXIT_USAGE;
    }
    if (bench_child_enter(argv[1]) < 0)
        return BENCH_EXIT_CASE_ERRORS;
    const int fd = atoi(argv[2]);
    struct krow r;
    krow_init(&r, strcmp(argv[4], "legacy") ? KPEER_DPDK : KPEER_DPDK_LEGACY, strtoull(argv[3], NULL, 10), false);
    if (!MMC_BENCH_HAVE_DPDK)
        krow_why(&r, "DPDK peer not built");
    else
        dpdk_reserve_once(&r);
    if (pwrite(fd, &r, sizeof(r), 0) != (ssize_t)sizeof(r))
        return BENCH_EXIT_CASE_ERRORS;
    close(fd);
    return BENCH_EXIT_OK;
}

/* One DPDK request in a child (bench_child_run: it dies with the benchmark, has
 * DPDK_CHILD_TIMEOUT_S, and a killed child's raise is settled from its ledger); its row comes
 * back in a memfd it writes, read once it has exited. */
static void dpdk_request(struct csv *c, uint64_t held, uint64_t bytes, enum kpeer peer)
{
    struct krow r;
    const int fd = memfd_create("mmcontig-frag-kernel-dpdk", MFD_CLOEXEC);
    char a_fd[16], a_bytes[24], why[200];
    snprintf(a_fd, sizeof(a_fd), "%d", fd);
    snprintf(a_bytes, sizeof(a_bytes), "%" PRIu64, bytes);
    const char *args[] = {a_fd, a_bytes, peer == KPEER_DPDK_LEGACY ? "legacy" : "dynamic", NULL};
    const int status = fd < 0 ? -errno
                       : bench_child_run("__frag-kernel-dpdk", args, fd, DPDK_CHILD_TIMEOUT_S);
    const char *failed = bench_child_why(status, why, sizeof(why));
    if (failed || pread(fd, &r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
        krow_init(&r, peer, bytes, false);
        krow_why(&r, "the DPDK child: %s", failed ? failed : "no result");
    }
    if (fd >= 0)
        close(fd);
    krow_write(c, held, &r);
}

int frag_kernel_run(void)
{
    const bool full = !strcmp(bench_g.opt.preset->name, "full");
    const uint64_t avail = mem_available_bytes();
    uint64_t held = full ? avail / 4 * 3 : avail / 8, cap = full ? 64 * GIB : 2 * GIB;
    const char *env = getenv("MMC_FRAG_KERNEL_MAX");
    if (env && *env)
        cap = strtoull(env, NULL, 0) * MIB; /* MiB */
    held = (held < cap ? held : cap) & ~(2 * MIB - 1);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/frag_kernel.csv", bench_g.opt.out_dir);
    struct csv c;
    int rc = csv_open(&c, path, kernel_columns, NKCOLS);
    if (rc < 0) {
        fprintf(stderr, "mmcontig bench: frag-kernel: cannot write %s: %s\n", path, strerror(-rc));
        return rc;
    }
    snprintf(path, sizeof(path), "%s/frag_kernel.json", bench_g.opt.out_dir);
    FILE *js = fopen(path, "w");
    if (js) {
        fprintf(js, "{\"held_bytes\": %" PRIu64 ", \"mem_available_bytes\": %" PRIu64 ", \"dpdk\": \"%s%s%s\", ",
                held, avail, MMC_BENCH_HAVE_DPDK ? "ran: " : "", dpdk_peer_version(),
                MMC_BENCH_HAVE_DPDK ? ", rte_memzone_reserve_bounded(IOVA_CONTIG) in a child process per "
                                      "request, EAL --iova-mode=pa: dpdk --in-memory with no -m (dynamic "
                                      "memory), dpdk-legacy --legacy-mem with -m of the raise"
                                    : ": libdpdk-dev was missing when meson configured (feature 'dpdk'), so "
                                      "frag_kernel.csv has no dpdk rows");
        snapshot(js, "before_helper");
    }
    fprintf(stderr, "mmcontig bench: frag-kernel: a helper takes %" PRIu64 " MiB of %" PRIu64
            " MiB available and keeps one 4 KiB page of every 2 MiB\n", held / MIB, avail / MIB);
    struct helper h = {0};
    rc = helper_start(&h, held);
    if (rc < 0)
        fprintf(stderr, "mmcontig bench: frag-kernel: the helper did not get ready (%s)\n", strerror(-rc));
    if (js) {
        fputs(", ", js);
        snapshot(js, "before");
    }
    /* Per size: FAST_ONLY, then the ordinary path, DPDK and DPDK --legacy-mem in an order that
     * rotates with the size: the hugepages one gives back are free for the next. */
    static const uint64_t sizes[4] = {2 * MIB, 8 * MIB, 64 * MIB, GIB};
    for (int i = 0; i < 4 && rc == 0 && !bench_stop; i++) {
        one_request(&c, held, sizes[i], true);
        for (int k = 0; k < 3 && !bench_stop; k++) {
            const enum kpeer peer = (enum kpeer)((k + i) % 3);
            if (peer == KPEER_MMCONTIG)
                one_request(&c, held, sizes[i], false);
            else if (MMC_BENCH_HAVE_DPDK)
                dpdk_request(&c, held, sizes[i], peer);
        }
    }
    if (js) {
        fputs(", ", js);
        snapshot(js, "after");
    }
    helper_stop(&h);
    if (js) {
        fputs(", ", js);
        snapshot(js, "after_helper");
        fputs("}\n", js);
        fclose(js);
    }
    csv_close(&c);
    if (rc < 0)
        bench_g.case_errors++; /* a helper that could not start: reported, the run goes on */
    return 0;
}
