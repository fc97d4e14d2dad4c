/* tests/test_reliability_misuse.c: the misuse test_misuse.c does not cover.
 *
 * MDLs across partitions (a PFN array holding another partition's frame, an MDL whose partition
 * was destroyed), MDLs freed twice with ExFreePool or used after it, pointers that are not
 * MDLs where reading in front of them would fault, NULL to every free routine, a block freed
 * through the other view's alias, a load frame freed as a block, load handles used after free
 * or with another partition, a valid load handle freed with a stale one or twice in one call, simulated partitions' blocks freed twice, partitions destroyed
 * twice or never made.
 *
 * As in test_misuse.c each case runs in a forked child of a process whose pools are built (a
 * system partition, a second real partition B, a simulated partition S). In abort mode the child
 * must die of SIGABRT with a diagnostic naming the routine; in warn mode it must survive, name
 * the routine and the address, count exactly one misuse, and leave every partition's frame
 * database exactly as it was before the bad call (free frames, blocks, MDL and load frames,
 * largest free stretch, and the hash of every frame's state).
 */
#include "common.h"
#include "mmcontig/testing.h"
#include "mmcontig/wdm.h"
#include "reliability.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

static PHYSICAL_ADDRESS A(uint64_t v) { return (PHYSICAL_ADDRESS){.QuadPart = (LONGLONG)v}; }

static mmc_partition_t *B, *S; /* made by the parent: real and simulated */

struct ctx {
    PMDL m, m2;
    void *p;
    mmc_load_t h, hs[2];
    mmc_partition_t *gone;
    char *map;
    void *addr;             /* what the bad call is given (for the diagnostic) */
};

/* ---- the cases: setup (allowed), then one bad call ---- */

static void spliced_setup(struct ctx *c)
{
    c->m = MmAllocatePagesForMdlEx(A(0), A(-1), A(0), 4 * 4096, MmCached, MM_DONT_ZERO_ALLOCATION);
    c->m2 = mmc_allocate_pages_for_mdl(B, 0, -1, 0, 4 * 4096, MmCached, MM_DONT_ZERO_ALLOCATION);
    MmGetMdlPfnArray(c->m)[2] = MmGetMdlPfnArray(c->m2)[1]; /* a frame of B in the system's MDL */
    c->addr = c->m;
}
static void spliced_bad(struct ctx *c) { MmFreePagesFromMdl(c->m); }

static void destroyed_setup(struct ctx *c)
{
    struct mmc_sim_config sc;
    mmc_sim_config_init(&sc);
    sc.pool_bytes = 8 << 20;
    mmc_partition_create_simulated(&sc, &c->gone);
    c->m = mmc_allocate_pages_for_mdl(c->gone, 0, -1, 0, 8 * 4096, MmCached, 0);
    mmc_partition_destroy(c->gone);
    c->addr = c->m;
}
static void destroyed_bad(struct ctx *c) { MmFreePagesFromMdl(c->m); }
static void destroyed_after(struct ctx *c) { ExFreePool(c->m); } /* allowed: its pages went with it */

static void exfree_twice_setup(struct ctx *c)
{
    c->m = MmAllocatePagesForMdl(A(0), A(-1), A(0), 4096);
    MmFreePagesFromMdl(c->m);
    ExFreePool(c->m);
    c->addr = c->m;
}
static void exfree_twice_bad(struct ctx *c) { ExFreePool(c->m); }
static void pages_after_exfree_bad(struct ctx *c) { MmFreePagesFromMdl(c->m); }

static void after_hole_setup(struct ctx *c)
{
    c->map = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(c->map, 4096); /* reading in front of the second page faults */
    c->addr = c->map + 4096;
}
static void after_hole_exfree(struct ctx *c) { ExFreePool(c->addr); }
static void after_hole_pages(struct ctx *c) { MmFreePagesFromMdl(c->addr); }

static void null_setup(struct ctx *c) { c->addr = NULL; }
static void null_exfree(struct ctx *c) { ExFreePool(c->addr); }
static void null_pages(struct ctx *c) { MmFreePagesFromMdl(c->addr); }
static void null_contig(struct ctx *c) { MmFreeContiguousMemory(c->addr); }
static void null_destroy(struct ctx *c) { mmc_partition_destroy(c->addr); }

static void alias_setup(struct ctx *c)
{
    SIZE_T n = 4 * 4096;
    MmAllocateContiguousMemoryEx(&n, A(0), A(-1), A(0), MM_ANY_NODE_OK, PAGE_READWRITE, NULL, 'ailA', 0, &c->p);
    struct t_views v;
    t_views_of(NULL, &v);
    c->addr = (char *)v.rwx + ((char *)c->p - v.rw); /* the same frames in the executable view */
}
static void alias_bad(struct ctx *c) { MmFreeContiguousMemory(c->addr); }

static void load_block_setup(struct ctx *c)
{
    mmc_load_alloc(NULL, MMC_LOAD_MOVABLE, -1, 1, &c->h);
    c->addr = MmGetVirtualForPhysical(A(mmc_load_pfn(NULL, c->h) * 4096));
}
static void load_block_bad(struct ctx *c) { MmFreeContiguousMemory(c->addr); }

static void load_stale_setup(struct ctx *c)
{
    mmc_load_alloc(NULL, MMC_LOAD_MOVABLE, -1, 1, &c->h);
    mmc_load_free(NULL, &c->h, 1);
    c->addr = (void *)(uintptr_t)c->h;
}
static void load_stale_free(struct ctx *c) { mmc_load_free(NULL, &c->h, 1); }
static void load_stale_read(struct ctx *c)
{
    char buf[8];
    mmc_load_read(NULL, c->h, 0, buf, sizeof(buf));
}
static void load_stale_write(struct ctx *c)
{
    char buf[8] = "stale";
    mmc_load_write(NULL, c->h, 0, buf, sizeof(buf));
}

static void load_mixed_setup(struct ctx *c)
{
    mmc_load_alloc(NULL, MMC_LOAD_MOVABLE, -1, 1, &c->hs[0]); /* valid */
    mmc_load_alloc(NULL, MMC_LOAD_MOVABLE, -1, 1, &c->hs[1]);
    mmc_load_free(NULL, &c->hs[1], 1); /* stale */
    c->addr = (void *)(uintptr_t)c->hs[1];
}
static void load_mixed_bad(struct ctx *c) { mmc_load_free(NULL, c->hs, 2); }
static void load_twice_setup(struct ctx *c)
{
    mmc_load_alloc(NULL, MMC_LOAD_MOVABLE, -1, 1, &c->hs[0]);
    c->hs[1] = c->hs[0];
    c->addr = (void *)(uintptr_t)c->hs[0];
}

static void load_other_setup(struct ctx *c)
{
    mmc_load_t mine;
    mmc_load_alloc(NULL, MMC_LOAD_MOVABLE, -1, 1, &mine); /* the system has a live slot too */
    mmc_load_alloc(B, MMC_LOAD_MOVABLE, -1, 1, &c->h);
    c->addr = (void *)(uintptr_t)c->h;
}
static void load_other_bad(struct ctx *c) { mmc_load_free(NULL, &c->h, 1); }

static void sim_twice_setup(struct ctx *c)
{
    SIZE_T n = 8 * 4096;
    MmAllocateContiguousMemoryEx(&n, A(0), A(-1), A(0), MM_ANY_NODE_OK, PAGE_READWRITE, S, 'miS', 0, &c->p);
    MmFreeContiguousMemory(c->p);
    c->addr = c->p;
}
static void sim_twice_bad(struct ctx *c) { MmFreeContiguousMemory(c->p); }

static void destroy_twice_setup(struct ctx *c)
{
    struct mmc_sim_config sc;
    mmc_sim_config_init(&sc);
    sc.pool_bytes = 4 << 20;
    mmc_partition_create_simulated(&sc, &c->gone);
    mmc_partition_destroy(c->gone);
    c->addr = c->gone;
}
static void destroy_twice_bad(struct ctx *c) { mmc_partition_destroy(c->gone); }

static const struct mcase {
    const char *name, *routine;
    void (*setup)(struct ctx *);
    void (*bad)(struct ctx *);
    void (*after)(struct ctx *); /* allowed calls after the misuse (warn mode), or NULL */
} cases[] = {
    {"an MDL holding a frame of another partition", "MmFreePagesFromMdl", spliced_setup, spliced_bad, NULL},
    {"MDL pages freed after their partition was destroyed", "MmFreePagesFromMdl", destroyed_setup, destroyed_bad,
     destroyed_after},
    {"an MDL freed twice with ExFreePool", "ExFreePool", exfree_twice_setup, exfree_twice_bad, NULL},
    {"MDL pages freed after ExFreePool", "MmFreePagesFromMdl", exfree_twice_setup, pages_after_exfree_bad, NULL},
    {"ExFreePool of a pointer right after an unmapped page", "ExFreePool", after_hole_setup, after_hole_exfree, NULL},
    {"MmFreePagesFromMdl of a pointer right after an unmapped page", "MmFreePagesFromMdl", after_hole_setup,
     after_hole_pages, NULL},
    {"ExFreePool(NULL)", "ExFreePool", null_setup, null_exfree, NULL},
    {"MmFreePagesFromMdl(NULL)", "MmFreePagesFromMdl", null_setup, null_pages, NULL},
    {"MmFreeContiguousMemory(NULL)", "MmFreeContiguousMemory", null_setup, null_contig, NULL},
    {"mmc_partition_destroy(NULL)", "mmc_partition_destroy", null_setup, null_destroy, NULL},
    {"a block freed through the other view's alias", "MmFreeContiguousMemory", alias_setup, alias_bad, NULL},
    {"a load frame freed as a contiguous block", "MmFreeContiguousMemory", load_block_setup, load_block_bad, NULL},
    {"a load handle freed after free", "mmc_load_free", load_stale_setup, load_stale_free, NULL},
    {"a load handle read after free", "mmc_load_read", load_stale_setup, load_stale_read, NULL},
    {"a load handle written after free", "mmc_load_write", load_stale_setup, load_stale_write, NULL},
    {"a load handle of another partition", "mmc_load_free", load_other_setup, load_other_bad, NULL},
    {"load handles {valid, stale} freed together", "mmc_load_free", load_mixed_setup, load_mixed_bad, NULL},
    {"one load handle twice in one free", "mmc_load_free", load_twice_setup, load_mixed_bad, NULL},
    {"a simulated partition's block freed twice", "MmFreeContiguousMemory", sim_twice_setup, sim_twice_bad, NULL},
    {"a (simulated) partition destroyed twice", "mmc_partition_destroy", destroy_twice_setup, destroy_twice_bad,
     NULL},
};

/* ---- the harness ---- */

struct snap {
    bool ok;
    struct mmc_stats st[3];
};
static struct snap snapshot(void)
{
    struct snap s = {.ok = true};
    mmc_partition_t *parts[3] = {NULL, B, S};
    for (int k = 0; k < 3; k++)
        s.ok &= mmc_partition_stats(parts[k], &s.st[k]) == 0;
    return s;
}
static bool same(const struct snap *a, const struct snap *b)
{
    bool eq = a->ok && b->ok;
    for (int k = 0; k < 3 && eq; k++) {
        const struct mmc_stats *x = &a->st[k], *y = &b->st[k];
        eq &= x->free_frames == y->free_frames && x->live_blocks == y->live_blocks &&
              x->live_mdl_frames == y->live_mdl_frames && x->live_movable == y->live_movable &&
              x->live_standby == y->live_standby && x->largest_free_frames == y->largest_free_frames &&
              x->state_hash == y->state_hash;
    }
    return eq;
}

/* Case i in a child: its wait status; its stderr in err; what it reported in addr, *count,
 * *unchanged. */
static int run_child(size_t i, char *err, size_t errlen, char *addr, uint64_t *count, bool *unchanged)
{
    int out[2], meta[2];
    if (pipe(out) < 0 || pipe(meta) < 0)
        return -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out[1], 2);
        close(out[0]);
        close(meta[0]);
        struct ctx c;
        memset(&c, 0, sizeof(c));
        cases[i].setup(&c);
        dprintf(meta[1], "%p ", c.addr); /* before the bad call: abort mode never returns */
        struct snap before = snapshot();
        cases[i].bad(&c);
        struct snap after = snapshot();
        uint64_t misuse = after.st[0].misuse;
        if (cases[i].after)
            cases[i].after(&c);
        struct snap last = snapshot();
        dprintf(meta[1], "%llu %d\n", (unsigned long long)misuse,
                same(&before, &after) && last.st[0].misuse == misuse);
        _exit(0);
    }
    close(out[1]);
    close(meta[1]);
    t_read_all(out[0], err, errlen);
    char mbuf[160] = "";
    t_read_all(meta[0], mbuf, sizeof(mbuf));
    unsigned long long cnt = 0;
    int unch = 0;
    addr[0] = 0;
    sscanf(mbuf, "%63s %llu %d", addr, &cnt, &unch);
    *count = cnt;
    *unchanged = unch;
    close(out[0]);
    close(meta[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    return st;
}

static void setup_partitions(void)
{
    struct mmc_config cfg;
    mmc_config_init(&cfg);
    cfg.pool_bytes = 8 << 20;
    int rc = mmc_partition_create(&cfg, &B);
    struct mmc_sim_config sc;
    mmc_sim_config_init(&sc);
    sc.pool_bytes = 16 << 20;
    sc.nnodes = 2;
    sc.mean_run_hugepages = 2;
    int rs = mmc_partition_create_simulated(&sc, &S);
    if (rc || rs) {
        printf("Bail out! partitions: %s\n", mmc_last_error());
        exit(1);
    }
}

int main(void)
{
    const size_t ncases = sizeof(cases) / sizeof(cases[0]);
    for (int mode = 0; mode < 2; mode++) {
        setenv("MMC_ON_MISUSE", mode ? "warn" : "abort", 1);
        t_init_pool("16M");
        setup_partitions();
        for (size_t i = 0; i < ncases; i++) {
            char err[4096], addr[64];
            uint64_t cnt = 0;
            bool unch = false;
            int st = run_child(i, err, sizeof(err), addr, &cnt, &unch);
            bool named = strstr(err, cases[i].routine) != NULL && addr[0] && strstr(err, addr) != NULL;
            if (mode == 0)
                t_ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT && named,
                     "abort mode: %s -> SIGABRT, the diagnostic names %s and %s", cases[i].name,
                     cases[i].routine, addr);
            else
                t_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0 && named && cnt == 1 && unch,
                     "warn mode: %s -> reported (%s, %s), counted once (%llu), every partition unchanged%s",
                     cases[i].name, cases[i].routine, addr, (unsigned long long)cnt,
                     unch ? "" : " (CHANGED)");
            if (!named || (WIFSIGNALED(st) && WTERMSIG(st) != SIGABRT))
                printf("# status %#x, stderr: %.600s\n", st, err);
        }
        mmc_partition_destroy(S);
        mmc_partition_destroy(B);
        mmc_fini();
    }
    return t_done();
}
