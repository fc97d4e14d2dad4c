/* bench/frag_kernel.c: the `frag-kernel` suite, the real kernel's fragmentation.
 *
 * Fragments this machine's own free memory the way proactive-compaction studies do: a helper
 * process takes a bounded share of MemAvailable as anonymous memory (written, so it is backed),
 * then frees most of every 2 MiB of it (MADV_DONTNEED), keeping one 4 KiB page in each: free
 * memory is then spread over pageblocks that each hold a movable page, so every 2 MiB and larger
 * block needs compaction. On that state, for 2 MiB, 8 MiB, 64 MiB and 1 GiB requests, each on a
 * fresh partition of one 2 MiB hugepage, held by a block taken first, that may grow: the ordinary path (growth from the
 * kernel, timed, with hugepages added and time growing) and FAST_ONLY (which must fail at once:
 * the pool has no such block). Around each request /proc/vmstat's compact_stall,
 * compact_success, compact_fail and compact_migrate_scanned are read; /proc/buddyinfo (and
 * /sys/kernel/debug/extfrag/unusable_index when present) before and after the suite go to
 * frag_kernel.json. One frag_kernel.csv row per request (columns in results/README.md).
 *
 * Safety: the share is bounded (quick: 1/8 of MemAvailable, at most 2 GiB; full: 3/4, at most
 * 64 GiB; MMC_FRAG_KERNEL_MAX caps it further), the helper dies with the benchmark
 * (PR_SET_PDEATHSIG, and it exits when its pipe from the benchmark closes), and the benchmark
 * kills and reaps it at the end and on SIGINT / SIGTERM (bench_stop). The share is held whole
 * only while the helper writes it; once it has freed, it keeps 1/512 of it. Everything the
 * partitions took is given back at destroy.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

static const char *const kernel_columns[] = {
    "run_id", "host", "held_bytes", "request_bytes", "fast_only", "success", "latency_ns",
    "hugepages_added", "grow_ns", "compact_stall", "compact_success", "compact_fail",
    "compact_migrate_scanned", "seed",
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
    uint64_t v0[4], v1[4];
    struct mmc_stats b, a;
    mmc_partition_stats(p, &b);
    read_vmstat(v0);
    SIZE_T n = bytes;
    void *va = NULL;
    uint64_t t = bench_now_ns();
    NTSTATUS s = MmAllocateContiguousMemoryEx(&n, lo, hi, none, MM_ANY_NODE_OK, PAGE_READWRITE, p, BENCH_TAG,
                                              fast ? MM_ALLOCATE_CONTIGUOUS_MEMORY_FAST_ONLY : 0, &va);
    t = bench_now_ns() - t;
    read_vmstat(v1);
    mmc_partition_stats(p, &a);
    if (s == STATUS_SUCCESS)
        MmFreeContiguousMemory(va);
    if (full)
        MmFreeContiguousMemory(full);
    mmc_partition_destroy(p);
    csv_str(c, bench_g.run_id);
    csv_str(c, bench_g.host);
    csv_u64(c, held);
    csv_u64(c, bytes);
    csv_u64(c, fast);
    csv_u64(c, s == STATUS_SUCCESS);
    csv_u64(c, t);
    csv_u64(c, a.hugepages_added - b.hugepages_added);
    csv_u64(c, a.grow_ns - b.grow_ns);
    for (int i = 0; i < 4; i++)
        csv_u64(c, v1[i] - v0[i]);
    csv_u64(c, bench_g.opt.seed);
    csv_row_end(c);
    fprintf(stderr, "mmcontig bench: frag-kernel: %" PRIu64 " MiB %s: %s in %.3f ms\n", bytes / MIB,
            fast ? "FAST_ONLY" : "ordinary", s == STATUS_SUCCESS ? "success" : "failure", (double)t / 1e6);
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
        fprintf(js, "{\"held_bytes\": %" PRIu64 ", \"mem_available_bytes\": %" PRIu64 ", ", held, avail);
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
    static const uint64_t sizes[4] = {2 * MIB, 8 * MIB, 64 * MIB, GIB};
    for (int i = 0; i < 4 && rc == 0 && !bench_stop; i++)
        for (int fast = 1; fast >= 0 && !bench_stop; fast--)
            one_request(&c, held, sizes[i], fast);
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
