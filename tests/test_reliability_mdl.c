/* tests/test_reliability_mdl.c: an MDL's PFN array written by its owner (issue 17, item 1).
 *
 * MmFreePagesFromMdl must free exactly the pages the MDL was given. For every engine
 * (mmc_engine_name(i)), on a real partition of its own: an MDL whose array repeats a PFN
 * (pfn[1] = pfn[2] = pfn[3] = pfn[0]), and one holding a PFN of another live MDL, are a named
 * misuse. By default (MMC_ON_MISUSE=abort) the process aborts (a forked child dies of SIGABRT naming the routine and
 * the fault); under MMC_ON_MISUSE=warn one misuse is counted and nothing changes (free frames,
 * MDL frames, the hash of every frame's state); once the array is mended the MDLs free, and
 * 4 KiB blocks allocated afterwards are all distinct frames (the corruption the repeat caused in
 * tlsf: the same frame handed out again and again).
 */
#include "common.h"
#include "mmcontig/wdm.h"
#include "reliability.h"

#include <signal.h>
#include <sys/wait.h>

static mmc_partition_t *make(const char *algo)
{
    struct mmc_config cfg;
    mmc_config_init(&cfg);
    cfg.pool_bytes = 8 << 20;
    snprintf(cfg.algo, sizeof(cfg.algo), "%s", algo);
    mmc_partition_t *p = NULL;
    return mmc_partition_create(&cfg, &p) == 0 ? p : NULL;
}

static PMDL mdl4(mmc_partition_t *p)
{
    return mmc_allocate_pages_for_mdl(p, 0, -1, 0, 4 * 4096, MmCached, MM_DONT_ZERO_ALLOCATION);
}

enum kind { REPEAT, FOREIGN };
static const char *const kind_name[] = {"a repeated PFN", "a PFN of another live MDL"};
static const char *const kind_word[] = {"a repeat of entry 0", "held by another MDL"};

/* Spoil m's array; what to put back in *saved. */
static void spoil(PMDL m, PMDL other, enum kind k, PFN_NUMBER *saved)
{
    PPFN_NUMBER a = MmGetMdlPfnArray(m);
    memcpy(saved, a, 4 * sizeof(*saved));
    if (k == REPEAT)
        a[1] = a[2] = a[3] = a[0];
    else
        a[2] = MmGetMdlPfnArray(other)[1];
}

/* In a child, default mode: dies of SIGABRT naming the routine and the fault. */
static void aborts(const char *algo, enum kind k)
{
    int p[2];
    if (pipe(p) < 0)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        dup2(p[1], 2);
        mmc_fini(); /* the misuse mode is the process's: initialised again in abort mode */
        setenv("MMC_ON_MISUSE", "abort", 1);
        mmc_partition_t *part = mmc_init(NULL) == 0 ? make(algo) : NULL;
        PMDL m = part ? mdl4(part) : NULL, o = part ? mdl4(part) : NULL;
        PFN_NUMBER saved[4];
        if (!m || !o)
            _exit(3);
        spoil(m, o, k, saved);
        MmFreePagesFromMdl(m);
        _exit(0);
    }
    close(p[1]);
    char err[2048];
    t_read_all(p[0], err, sizeof(err));
    close(p[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    t_ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT && strstr(err, "MmFreePagesFromMdl") &&
             strstr(err, kind_word[k]),
         "%s, %s: MmFreePagesFromMdl aborts naming it (%.*s)", algo, kind_name[k],
         (int)strcspn(err, "\n"), err);
}

static bool same_state(const struct mmc_stats *a, const struct mmc_stats *b)
{
    return a->free_frames == b->free_frames && a->live_mdl_frames == b->live_mdl_frames &&
           a->largest_free_frames == b->largest_free_frames && a->state_hash == b->state_hash;
}

static void warns(const char *algo, enum kind k)
{
    mmc_partition_t *part = make(algo);
    PMDL m = part ? mdl4(part) : NULL, o = part ? mdl4(part) : NULL;
    if (!m || !o) {
        t_ok(false, "%s: partition and MDLs (%s)", algo, mmc_last_error());
        return;
    }
    PFN_NUMBER saved[4];
    spoil(m, o, k, saved);
    struct mmc_stats before, after, st0;
    mmc_partition_stats(part, &before);
    struct mmc_stats g0, g1;
    mmc_partition_stats(NULL, &g0);
    MmFreePagesFromMdl(m);
    mmc_partition_stats(part, &after);
    mmc_partition_stats(NULL, &g1);
    bool named = strstr(mmc_last_error(), kind_word[k]) != NULL;
    t_ok(same_state(&before, &after) && (m->MdlFlags & MDL_PAGES_LOCKED) && named &&
             g1.misuse == g0.misuse + 1,
         "%s, %s, warn: one misuse counted, nothing changed (free %llu -> %llu, hash %#llx -> "
         "%#llx) (%s)", algo, kind_name[k], (unsigned long long)before.free_frames,
         (unsigned long long)after.free_frames, (unsigned long long)before.state_hash,
         (unsigned long long)after.state_hash, mmc_last_error());
    memcpy(MmGetMdlPfnArray(m), saved, sizeof(saved));
    MmFreePagesFromMdl(m);
    MmFreePagesFromMdl(o);
    ExFreePool(m);
    ExFreePool(o);
    mmc_partition_stats(part, &st0);
    /* every free frame handed out once as a 4 KiB block: all distinct */
    const uint64_t nfree = st0.free_frames;
    void **blocks = calloc(nfree, sizeof(*blocks));
    uint64_t *pfn = calloc(nfree, sizeof(*pfn)), got = 0;
    PHYSICAL_ADDRESS lo = {.QuadPart = 0}, hi = {.QuadPart = -1}, none = {.QuadPart = 0};
    for (; got < nfree; got++) {
        SIZE_T n = 4096;
        if (MmAllocateContiguousMemoryEx(&n, lo, hi, none, MM_ANY_NODE_OK, PAGE_READWRITE, part, 'lfdM', 0,
                                         &blocks[got]) != STATUS_SUCCESS)
            break;
        pfn[got] = (uint64_t)MmGetPhysicalAddress(blocks[got]).QuadPart >> 12;
    }
    bool distinct = true;
    for (uint64_t a = 0; a < got && distinct; a++)
        for (uint64_t b = a + 1; b < got && distinct; b++)
            distinct = pfn[a] != pfn[b];
    struct mmc_stats full;
    mmc_partition_stats(part, &full);
    t_ok(got == nfree && distinct && full.free_frames == 0,
         "%s, %s: after mending and freeing, all %llu free frames are handed out once each "
         "(%llu blocks, distinct: %d, free now %llu)", algo, kind_name[k], (unsigned long long)nfree,
         (unsigned long long)got, distinct, (unsigned long long)full.free_frames);
    for (uint64_t a = 0; a < got; a++)
        MmFreeContiguousMemory(blocks[a]);
    free(blocks);
    free(pfn);
    mmc_partition_destroy(part);
}

int main(void)
{
    setenv("MMC_ON_MISUSE", "warn", 1);
    t_init_pool("16M");
    for (size_t e = 0; mmc_engine_name(e); e++)
        for (int k = REPEAT; k <= FOREIGN; k++) {
            aborts(mmc_engine_name(e), (enum kind)k);
            warns(mmc_engine_name(e), (enum kind)k);
        }
    mmc_fini();
    return t_done();
}
