/* tests/test_envfail.c: the environment failing, one failure at a time.
 *
 * Each case makes one thing mmcontig needs from the machine go missing, through the fault
 * points of alloc/os.c (MMC_FAULT, the same code and messages as the real failure), a broken
 * hwloc XML file (MMC_TOPOLOGY_XML), or for real (top-up off with too few free hugepages;
 * CAP_SYS_ADMIN dropped in a child, so pagemap hides frame numbers). For each: mmc_init fails
 * with a negative errno (never a crash, never a pool that is silently wrong), mmc_last_error()
 * names the cause and the remedy, and afterwards nr_hugepages and free_hugepages are what they
 * were, and no file descriptor or mapping is left behind (/proc/self/fd and /proc/self/maps
 * counted before and after). Then the same process builds a good pool: nothing was poisoned.
 */
#include "common.h"
#include "mmcontig/wdm.h"
#include "reliability.h"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define T_FREE_2M "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"
#define T_NR_1G "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages"

static PHYSICAL_ADDRESS A(uint64_t v) { return (PHYSICAL_ADDRESS){.QuadPart = (LONGLONG)v}; }

struct machine {
    uint64_t nr2, free2, nr1;   /* the whole machine's */
    uint64_t self_kb, others_kb; /* hugetlb memory mapped by this process, by all others */
    unsigned fds;
    struct t_maps maps;
};
static struct machine snapshot(void)
{
    return (struct machine){t_sysfs_u64(T_NR_2M), t_sysfs_u64(T_FREE_2M), t_sysfs_u64(T_NR_1G),
                            t_self_hugetlb_kb(), t_others_hugetlb_kb(), t_count_fds(), t_count_maps()};
}

/* Everything the failure might have kept: hugepages, fds, mappings. */
static bool nothing_kept(const struct machine *b, const char *what)
{
    struct machine a = snapshot();
    /* the machine's counts are compared unless another process's pools changed meanwhile */
    bool busy = a.others_kb != b->others_kb;
    bool ok = (busy || (a.nr2 == b->nr2 && a.free2 == b->free2 && a.nr1 == b->nr1)) &&
              a.self_kb == b->self_kb && a.fds == b->fds && t_maps_no_more(&a.maps, &b->maps);
    t_ok(ok, "%s: nothing kept (hugetlb mapped %llu->%llu kB; nr_hugepages 2M %llu->%llu, free %llu->%llu, "
         "1G %llu->%llu%s; fds %u->%u; maps %u->%u, memfd maps %u, reservations %u->%u)", what,
         (unsigned long long)b->self_kb, (unsigned long long)a.self_kb,
         (unsigned long long)b->nr2, (unsigned long long)a.nr2, (unsigned long long)b->free2,
         (unsigned long long)a.free2, (unsigned long long)b->nr1, (unsigned long long)a.nr1,
         busy ? ", not compared: another process's pools changed meanwhile" : "", b->fds,
         a.fds, b->maps.lines, a.maps.lines, a.maps.memfd, b->maps.reserved, a.maps.reserved);
    return ok;
}

/* All of needles[] (NULL-terminated) are in hay. */
static bool has_all(const char *hay, const char *const *needles)
{
    for (; *needles; needles++)
        if (!strstr(hay, *needles))
            return false;
    return true;
}

struct fcase {
    const char *what;           /* the environment failure */
    const char *fault;          /* MMC_FAULT, or NULL */
    const char *pool, *page;    /* MMC_POOL, MMC_PAGE (NULL: default 16M, 2M) */
    const char *xml;            /* MMC_TOPOLOGY_XML, or NULL */
    int err;                    /* expected -errno */
    const char *const cause[4]; /* words of the cause, NULL-terminated */
    const char *const remedy[4];/* words of the remedy */
};

static char broken_xml[64], missing_xml[] = "/nonexistent/mmcontig-topology.xml", other_xml[4096];

static const struct fcase cases[] = {
    {"no hugepages free, the kernel finds none", "nohugepages", "16M", NULL, NULL, -ENOMEM,
     {"node 0", "0 free 2 MiB hugepages", "8 needed", NULL},
     {"hugepages=N on the kernel command line", "compact_memory", "MMC_POOL", NULL}},
    {"too few on one node (the kernel finds half)", "hugepages_short", "0:32M", NULL, NULL, -ENOMEM,
     {"node 0", "16 needed (16 short)", "could not make the 16 missing as surplus", "raised by 8"},
     {"echo", "nr_hugepages", "smaller pool (MMC_POOL)", NULL}},
    {"too few and not allowed to raise nr_hugepages", "topup_denied", "16M", NULL, NULL, -ENOMEM,
     {"node 0", "may not raise nr_overcommit_hugepages", "Permission denied", NULL},
     {"run as root: echo", "nr_hugepages", "MMC_POOL", NULL}},
    {"1 GiB pages unavailable", "1g_unavailable", "1G", "1G", NULL, -ENOENT,
     {"no 1 GiB hugepages", "node 0", NULL},
     {"MMC_PAGE=2M", NULL}},
    {"hugetlb memfd unsupported", "memfd", "16M", NULL, NULL, -EINVAL,
     {"memfd_create(MFD_HUGETLB, 2 MiB) failed", "Invalid argument", NULL},
     {"CONFIG_HUGETLBFS", "/sys/kernel/mm/hugepages", NULL}},
    {"mapping the hugepages fails", "mmap", "16M", NULL, NULL, -ENOMEM,
     {"mapping 8 2 MiB hugepages for node 0 failed", NULL},
     {"HugePages_Free", NULL}},
    {"binding to the node refused", "mbind", "16M", NULL, NULL, -EINVAL,
     {"node 0", "mbind", NULL},
     {"cpuset.mems", NULL}},
    {"the node runs out half-way through populating", "populate", "16M", NULL, NULL, -ENOMEM,
     {"node 0 ran out of free 2 MiB hugepages after 3 of 8", NULL},
     {"free_hugepages", NULL}},
    {"memory found on the wrong node", "move_pages_wrongnode", "16M", NULL, NULL, -EXDEV,
     {"hugepage 7 of node 0's pool landed on node 1 although bound to node 0", NULL},
     {"cpuset.mems", NULL}},
    {"not allowed to read frame numbers (injected)", "pagemap_nopfn", "16M", NULL, NULL, -EPERM,
     {"pagemap shows no frame numbers", "CAP_SYS_ADMIN", NULL},
     {"run as root", "setcap", NULL}},
    {"mapping the pool's views fails", "map_views", "16M", NULL, NULL, -ENOMEM,
     {"mapping the pool's views failed", NULL},
     {"max_map_count", NULL}},
    {"hwloc: the topology file is missing", NULL, "16M", NULL, missing_xml, -ENOENT,
     {"cannot load hwloc XML", "mmcontig-topology.xml", "No such file", NULL},
     {"unset MMC_TOPOLOGY_XML", NULL}},
    {"hwloc: the topology file is not a topology", NULL, "16M", NULL, broken_xml, -EINVAL,
     {"cannot load hwloc XML", "not a valid hwloc topology", NULL},
     {"lstopo --of xml", "unset MMC_TOPOLOGY_XML", NULL}},
    {"hwloc: the topology file is another machine's (4 nodes)", NULL, "32M", NULL, other_xml, -ENOENT,
     {"node 1: this kernel has no such node", "not this machine's", NULL},
     {"unset MMC_TOPOLOGY_XML", "MMC_POOL", NULL}},
};

static void set_or_unset(const char *name, const char *v)
{
    if (v)
        setenv(name, v, 1);
    else
        unsetenv(name);
}

static void run_case(const struct fcase *c)
{
    set_or_unset("MMC_FAULT", c->fault);
    set_or_unset("MMC_POOL", c->pool ? c->pool : "16M");
    set_or_unset("MMC_PAGE", c->page);
    set_or_unset("MMC_TOPOLOGY_XML", c->xml);
    struct machine before = snapshot();
    int rc = mmc_init(NULL);
    char msg[1024];
    snprintf(msg, sizeof(msg), "%s", mmc_last_error());
    if (rc == 0)
        mmc_fini();
    t_ok(rc == c->err, "%s: mmc_init fails with %d (expected %d)", c->what, rc, c->err);
    bool cause = has_all(msg, c->cause), remedy = has_all(msg, c->remedy);
    /* an injected fault says so (map_views: the message is pool.c's, not os.c's) */
    bool marked = !c->fault || !strcmp(c->fault, "map_views") || strstr(msg, "[injected: MMC_FAULT=") != NULL;
    t_ok(cause && remedy && marked, "%s: the error names the cause%s and the remedy%s", c->what,
         cause ? "" : " (MISSING)", remedy ? "" : " (MISSING)");
    printf("#   \"%s\"\n", msg);
    nothing_kept(&before, c->what);
    unsetenv("MMC_FAULT");
    unsetenv("MMC_PAGE");
    unsetenv("MMC_TOPOLOGY_XML");
}

/* Drop CAP_SYS_ADMIN from this process for good (effective, permitted, inheritable). */
static int drop_sys_admin(void)
{
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d) < 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        uint32_t bit = CAP_SYS_ADMIN / 32 == (unsigned)i ? 1u << (CAP_SYS_ADMIN % 32) : 0;
        d[i].effective &= ~bit;
        d[i].permitted &= ~bit;
        d[i].inheritable &= ~bit;
    }
    return (int)syscall(SYS_capset, &h, d);
}

/* Really not allowed to read frame numbers: a child without CAP_SYS_ADMIN tries mmc_init. */
static void real_no_cap(void)
{
    if (geteuid() != 0) {
        t_ok(true, "# SKIP without CAP_SYS_ADMIN for real: not root");
        return;
    }
    struct machine before = snapshot();
    int pfd[2];
    if (pipe(pfd) < 0)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        int rc = drop_sys_admin() < 0 ? 999 : mmc_init(NULL);
        dprintf(pfd[1], "%d %s", rc, rc == 999 ? "capset failed" : mmc_last_error());
        if (rc == 0)
            mmc_fini();
        _exit(0);
    }
    close(pfd[1]);
    char buf[1024] = "";
    size_t n = 0;
    ssize_t k;
    while (n < sizeof(buf) - 1 && (k = read(pfd[0], buf + n, sizeof(buf) - 1 - n)) > 0)
        n += (size_t)k;
    buf[n] = 0;
    close(pfd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    int rc = 0;
    sscanf(buf, "%d", &rc);
    t_ok(WIFEXITED(st) && rc == -EPERM && strstr(buf, "CAP_SYS_ADMIN") && strstr(buf, "run as root"),
         "CAP_SYS_ADMIN really dropped: mmc_init fails with -EPERM naming the capability and the "
         "remedy (child: %s)", buf);
    nothing_kept(&before, "CAP_SYS_ADMIN really dropped (after the child exited)");
}

int main(int argc, char **argv)
{
    /* a real topology of another machine: tests/data/topo-4node.xml (argv[1]: tests/data) */
    snprintf(other_xml, sizeof(other_xml), "%s/topo-4node.xml", argc > 1 ? argv[1] : "tests/data");
    /* A file that is no hwloc topology. */
    snprintf(broken_xml, sizeof(broken_xml), "/tmp/mmcontig-broken-%d.xml", (int)getpid());
    FILE *f = fopen(broken_xml, "w");
    fputs("<?xml version=\"1.0\"?>\n<topology><object type=\"Machine\" os_index=\"0\">\n", f);
    fclose(f);
    unsetenv("MMC_TOPUP");

    /* Warm up: a good pool (libnuma, hwloc and the allocator open what they keep for good). */
    t_init_pool("16M");
    mmc_fini();

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        run_case(&cases[i]);

    /* Too few free and top-up off, for real: ask for more than is free. */
    {
        uint64_t free2 = t_sysfs_u64(T_FREE_2M);
        char pool[32];
        snprintf(pool, sizeof(pool), "%lluM", (unsigned long long)(free2 + 4) * 2);
        setenv("MMC_POOL", pool, 1);
        setenv("MMC_TOPUP", "0", 1);
        struct machine before = snapshot();
        int rc = mmc_init(NULL);
        const char *msg = mmc_last_error();
        t_ok(rc == -ENOMEM && strstr(msg, "top-up is off (MMC_TOPUP=0)") && strstr(msg, "run as root: echo") &&
                 strstr(msg, "4 short"),
             "too few free hugepages for real, top-up off: -ENOMEM, names the shortfall and the "
             "command (\"%s\")", msg);
        if (rc == 0)
            mmc_fini();
        nothing_kept(&before, "top-up off");
        unsetenv("MMC_TOPUP");
    }

    real_no_cap();

    /* The first NT call initialises implicitly: a failure there is NULL, not a crash. */
    {
        setenv("MMC_FAULT", "memfd", 1);
        setenv("MMC_POOL", "16M", 1);
        struct machine before = snapshot();
        void *p = MmAllocateContiguousMemory(4096, A(UINT64_MAX >> 1));
        PMDL m = MmAllocatePagesForMdl(A(0), A(UINT64_MAX >> 1), A(0), 4096);
        SIZE_T n = 4096;
        void *q = (void *)1;
        NTSTATUS s = MmAllocateContiguousMemoryEx(&n, A(0), A(-1), A(0), MM_ANY_NODE_OK, PAGE_READWRITE,
                                                  NULL, 'lfnE', 0, &q);
        t_ok(!p && !m && s == STATUS_INSUFFICIENT_RESOURCES && !q && strstr(mmc_last_error(), "memfd_create"),
             "implicit initialisation failing: NULL, NULL, STATUS_INSUFFICIENT_RESOURCES, the cause "
             "in mmc_last_error()");
        nothing_kept(&before, "implicit initialisation failing");
        unsetenv("MMC_FAULT");
    }

    /* A partition failing after a good init leaves the system partition working. */
    {
        t_init_pool("16M");
        struct mmc_stats st0, st1;
        mmc_partition_stats(NULL, &st0);
        struct machine before = snapshot();
        setenv("MMC_FAULT", "populate", 1);
        struct mmc_config cfg;
        mmc_config_init(&cfg);
        cfg.pool_bytes = 8 << 20;
        mmc_partition_t *part = NULL;
        int rc = mmc_partition_create(&cfg, &part);
        t_ok(rc == -ENOMEM && !part && strstr(mmc_last_error(), "ran out of free"),
             "a partition whose pool fails: -ENOMEM, no handle (\"%s\")", mmc_last_error());
        nothing_kept(&before, "failed partition");
        /* pagemap hidden for MmGetPhysicalAddress of a non-pool address: 0, not a made-up one */
        setenv("MMC_FAULT", "pagemap_nopfn", 1);
        rc = mmc_partition_create(&cfg, &part); /* fails, and arms the fault for pagemap reads */
        int on_stack = 1;
        t_ok(rc == -EPERM && MmGetPhysicalAddress(&on_stack).QuadPart == 0,
             "frame numbers hidden: MmGetPhysicalAddress of a stack address is 0, not a wrong address");
        unsetenv("MMC_FAULT");
        rc = mmc_partition_create(&cfg, &part); /* disarms it */
        t_ok(rc == 0 && MmGetPhysicalAddress(&on_stack).QuadPart == (LONGLONG)(t_pfn(&on_stack) * 4096 +
                                                                              ((uintptr_t)&on_stack & 4095)),
             "MMC_FAULT unset: the next pool builds and pagemap answers again");
        if (rc == 0)
            mmc_partition_destroy(part);
        void *p = MmAllocateContiguousMemory(64 * 1024, A(UINT64_MAX >> 1));
        uint64_t pa = 0;
        mmc_partition_stats(NULL, &st1);
        t_ok(p && t_contiguous(p, 64 * 1024, &pa) && st1.free_frames == st0.free_frames - 16,
             "the system partition still serves contiguous memory");
        MmFreeContiguousMemory(p);
        mmc_fini();
    }

    /* An unknown fault name is reported and ignored. */
    {
        setenv("MMC_FAULT", "no_such_fault", 1);
        int rc = mmc_init(NULL);
        t_ok(rc == 0, "an unknown MMC_FAULT name is ignored (with a warning on stderr)");
        if (rc == 0)
            mmc_fini();
        unsetenv("MMC_FAULT");
    }

    /* After all that, a good pool, and the machine as it was. */
    struct machine before = snapshot();
    t_init_pool("16M");
    void *p = MmAllocateContiguousMemory(1 << 20, A(UINT64_MAX >> 1));
    t_ok(p && t_contiguous(p, 1 << 20, NULL), "after every failure, a good pool serves 1 MiB contiguous");
    MmFreeContiguousMemory(p);
    mmc_fini();
    nothing_kept(&before, "after mmc_fini");
    unlink(broken_xml);
    return t_done();
}
