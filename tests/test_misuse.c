/* tests/test_misuse.c: misuse is detected, named, and handled per MMC_ON_MISUSE.
 *
 * Each case runs in a forked child of a process whose pool is already built (the child shares
 * nothing it could corrupt for the parent: the frame database is private memory, copied on
 * write). In abort mode the child must die of SIGABRT with a diagnostic naming the routine and
 * the address; in warn mode it must survive, count the misuse, and leave the frame database
 * unchanged.
 */
#include "common.h"
#include "mmcontig/wdm.h"

#include <signal.h>
#include <sys/wait.h>

static PHYSICAL_ADDRESS A(uint64_t v) { return (PHYSICAL_ADDRESS){.QuadPart = (LONGLONG)v}; }

/* Performs the misuse; returns the frames the case still legitimately holds afterwards. */
typedef uint64_t (*misuse_fn)(char *addr_out, size_t len);

static uint64_t interior_free(char *addr, size_t len)
{
    char *p = MmAllocateContiguousMemory(64 * 1024, A(UINT64_MAX >> 1));
    snprintf(addr, len, "%p", (void *)(p + 8192));
    MmFreeContiguousMemory(p + 8192);
    return 16;
}

static uint64_t unaligned_free(char *addr, size_t len)
{
    char *p = MmAllocateContiguousMemory(4096, A(UINT64_MAX >> 1));
    snprintf(addr, len, "%p", (void *)(p + 1));
    MmFreeContiguousMemorySpecifyCache(p + 1, 4096, MmCached);
    return 1;
}

static uint64_t foreign_free(char *addr, size_t len)
{
    static char not_ours[4096];
    snprintf(addr, len, "%p", (void *)not_ours);
    MmFreeContiguousMemory(not_ours);
    return 0;
}

static uint64_t double_free(char *addr, size_t len)
{
    void *p = MmAllocateContiguousMemory(4096, A(UINT64_MAX >> 1));
    snprintf(addr, len, "%p", p);
    MmFreeContiguousMemory(p);
    MmFreeContiguousMemory(p);
    return 0;
}

static uint64_t mdl_pages_twice(char *addr, size_t len)
{
    PMDL m = MmAllocatePagesForMdl(A(0), A(UINT64_MAX >> 1), A(0), 8 * 4096);
    snprintf(addr, len, "%p", (void *)m);
    MmFreePagesFromMdl(m);
    MmFreePagesFromMdl(m);
    return 0;
}

static uint64_t mdl_frame_as_block(char *addr, size_t len)
{
    PMDL m = MmAllocatePagesForMdl(A(0), A(UINT64_MAX >> 1), A(0), 4096);
    void *va = MmGetVirtualForPhysical(A(MmGetMdlPfnArray(m)[0] * 4096));
    snprintf(addr, len, "%p", va);
    MmFreeContiguousMemory(va);
    return 1;
}

static uint64_t exfreepool_foreign(char *addr, size_t len)
{
    char *buf = malloc(256);
    memset(buf, 0, 256);
    snprintf(addr, len, "%p", (void *)(buf + 64));
    ExFreePool(buf + 64);
    return 0;
}

static uint64_t exfreepool_locked(char *addr, size_t len)
{
    PMDL m = MmAllocatePagesForMdl(A(0), A(UINT64_MAX >> 1), A(0), 4096);
    snprintf(addr, len, "%p", (void *)m);
    ExFreePool(m);
    return 1;
}

static uint64_t destroy_system(char *addr, size_t len)
{
    mmc_partition_t *sys = mmc_system_partition();
    snprintf(addr, len, "%p", (void *)sys);
    mmc_partition_destroy(sys);
    return 0;
}

static const struct {
    const char *name, *routine;
    misuse_fn fn;
} cases[] = {
    {"interior free", "MmFreeContiguousMemory", interior_free},
    {"unaligned free", "MmFreeContiguousMemorySpecifyCache", unaligned_free},
    {"foreign free", "MmFreeContiguousMemory", foreign_free},
    {"double free", "MmFreeContiguousMemory", double_free},
    {"MDL pages freed twice", "MmFreePagesFromMdl", mdl_pages_twice},
    {"an MDL frame freed as a block", "MmFreeContiguousMemory", mdl_frame_as_block},
    {"ExFreePool of a foreign pointer", "ExFreePool", exfreepool_foreign},
    {"ExFreePool with pages still held", "ExFreePool", exfreepool_locked},
    {"destroying the system partition", "mmc_partition_destroy", destroy_system},
};

/* Run case i in a child; returns its wait status, stderr in err, the address in addr. */
static int run_child(size_t i, char *err, size_t errlen, char *addr, size_t addrlen,
                     uint64_t *misuse_count, bool *unchanged)
{
    int out[2], meta[2];
    if (pipe(out) < 0 || pipe(meta) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out[1], 2);
        close(out[0]);
        close(meta[0]);
        struct mmc_stats before, after;
        char a[64] = "";
        mmc_partition_stats(NULL, &before);
        uint64_t held = cases[i].fn(a, sizeof(a));
        mmc_partition_stats(NULL, &after);
        /* warn mode: the misused call must have changed nothing, so the free frames are exactly
         * those before the case less what it still holds */
        dprintf(meta[1], "%s %llu %d\n", a, (unsigned long long)after.misuse,
                after.free_frames == before.free_frames - held);
        _exit(0);
    }
    close(out[1]);
    close(meta[1]);
    t_read_all(out[0], err, errlen);
    char mbuf[128] = "";
    if (t_read_all(meta[0], mbuf, sizeof(mbuf)) > 0) {
        unsigned long long cnt = 0;
        int unch = 0;
        sscanf(mbuf, "%63s %llu %d", addr, &cnt, &unch);
        *misuse_count = cnt;
        *unchanged = unch;
    }
    (void)addrlen;
    close(out[0]);
    close(meta[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    return st;
}

int main(void)
{
    t_init_pool("32M");
    /* The misuse mode is read at mmc_init: first a pool in abort mode, then one in warn mode. */
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[2048], addr[64] = "";
        uint64_t cnt = 0;
        bool unch = false;
        int st = run_child(i, err, sizeof(err), addr, sizeof(addr), &cnt, &unch);
        bool named = strstr(err, cases[i].routine) != NULL;
        t_ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT && named,
             "abort mode: %s -> SIGABRT with a diagnostic naming %s", cases[i].name, cases[i].routine);
        if (!named)
            printf("# stderr: %s\n", err);
    }
    mmc_fini();

    setenv("MMC_ON_MISUSE", "warn", 1);
    t_init_pool("32M");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[2048], addr[64] = "";
        uint64_t cnt = 0;
        bool unch = false;
        int st = run_child(i, err, sizeof(err), addr, sizeof(addr), &cnt, &unch);
        bool named = strstr(err, cases[i].routine) && addr[0] && strstr(err, addr);
        bool counted = cnt == 1;
        t_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0 && named && counted && unch,
             "warn mode: %s -> reported (routine and address %s), counted (%llu), ignored",
             cases[i].name, addr, (unsigned long long)cnt);
        if (!named)
            printf("# stderr: %s\n", err);
    }
    mmc_fini();
    return t_done();
}
