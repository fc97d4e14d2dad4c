/* tests/reliability.h: what a process holds, to show that nothing leaks.
 *
 * File descriptors (/proc/self/fd), mappings (/proc/self/maps: all lines, mmcontig's hugetlb
 * memfds, PROT_NONE reservations of at least 2 MiB), and whether an address range is mapped at
 * all. Under a sanitizer the runtime maps memory of its own as it goes, so the count of all
 * lines is only compared in plain builds (T_SANITIZED); the rest holds everywhere.
 */
#ifndef MMC_TESTS_RELIABILITY_H
#define MMC_TESTS_RELIABILITY_H

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mmcontig/mmcontig.h"
#include "mmcontig/wdm.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define T_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define T_SANITIZED 1
#endif
#endif
#ifndef T_SANITIZED
#define T_SANITIZED 0
#endif

static inline unsigned t_count_fds(void)
{
    unsigned n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory's own */
}

struct t_maps {
    unsigned lines;     /* all mappings */
    unsigned memfd;     /* mappings of mmcontig's hugetlb memfds */
    unsigned reserved;  /* anonymous PROT_NONE mappings of >= 2 MiB (reservations) */
};

static inline struct t_maps t_count_maps(void)
{
    struct t_maps m = {0, 0, 0};
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    while (f && fgets(line, sizeof(line), f)) {
        unsigned long lo = 0, hi = 0;
        char perms[8] = "";
        m.lines++;
        m.memfd += strstr(line, "mmcontig-node") != NULL;
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && !strcmp(perms, "---p") &&
            hi - lo >= (2ul << 20) && !strchr(line, '/') && !strchr(line, '['))
            m.reserved++;
    }
    if (f)
        fclose(f);
    return m;
}

/* A "kB" field of a /proc/PID/status file (0 if absent). */
static inline uint64_t t_status_kb(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    char line[256];
    unsigned long long v = 0;
    size_t n = strlen(key);
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, key, n) && line[n] == ':') {
            sscanf(line + n + 1, "%llu", &v);
            break;
        }
    if (f)
        fclose(f);
    return v;
}

/* Hugetlb memory this process maps (kB): exact, whatever other processes do. */
static inline uint64_t t_self_hugetlb_kb(void) { return t_status_kb("/proc/self/status", "HugetlbPages"); }

/* Hugetlb memory all other processes map (kB). nr_hugepages and free_hugepages are the whole
 * machine's: when this changes between two snapshots, another process (another test, a
 * benchmark) was building or dropping a pool meanwhile, and the machine's counts say nothing
 * about this process. */
static inline uint64_t t_others_hugetlb_kb(void)
{
    uint64_t kb = 0;
    DIR *d = opendir("/proc");
    char self[32], path[64];
    snprintf(self, sizeof(self), "%d", (int)getpid());
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9' || !strcmp(e->d_name, self))
            continue;
        snprintf(path, sizeof(path), "/proc/%.20s/status", e->d_name);
        kb += t_status_kb(path, "HugetlbPages");
    }
    if (d)
        closedir(d);
    return kb;
}

/* After vs before: nothing more held. */
static inline bool t_maps_no_more(const struct t_maps *after, const struct t_maps *before)
{
    return after->memfd <= before->memfd && (T_SANITIZED || (after->reserved <= before->reserved &&
                                                             after->lines <= before->lines));
}

/* Is no page of [addr, addr + len) mapped? (msync fails with ENOMEM on unmapped pages.) */
static inline bool t_unmapped(const void *addr, uint64_t len)
{
    for (uint64_t off = 0; off < len; off += 4096)
        if (msync((char *)((uintptr_t)addr & ~(uintptr_t)4095) + off, 4096, MS_ASYNC) == 0 || errno != ENOMEM)
            return false;
    return true;
}

/* The two views of a partition (read-write and executable), found through the
 * public API: the runs give the read-write view (they lie in it back to back, in PFN order);
 * a one-frame executable block gives the other. false if no frame is free for that block. */
struct t_views {
    const char *rw, *rwx;
    uint64_t bytes;
};
static inline bool t_views_of(mmc_partition_t *part, struct t_views *v)
{
    struct mmc_run_info runs[256];
    long n = mmc_partition_runs(part, runs, 256);
    if (n <= 0 || n > 256)
        return false;
    v->rw = runs[0].va;
    v->rwx = NULL;
    v->bytes = 0;
    for (long r = 0; r < n; r++)
        v->bytes += runs[r].frames * 4096;
    SIZE_T bytes = 4096;
    void *x = NULL;
    PHYSICAL_ADDRESS lo = {.QuadPart = 0}, hi = {.QuadPart = -1}, none = {.QuadPart = 0};
    if (MmAllocateContiguousMemoryEx(&bytes, lo, hi, none, MM_ANY_NODE_OK, PAGE_EXECUTE_READWRITE, part,
                                     'weiV', 0, &x) != STATUS_SUCCESS)
        return false;
    uint64_t pfn = (uint64_t)MmGetPhysicalAddress(x).QuadPart / 4096, off = 0;
    for (long r = 0; r < n; off += runs[r].frames * 4096, r++)
        if (pfn >= runs[r].base_pfn && pfn < runs[r].base_pfn + runs[r].frames) {
            v->rwx = (const char *)x - (off + (pfn - runs[r].base_pfn) * 4096);
            break;
        }
    MmFreeContiguousMemory(x);
    return v->rwx != NULL;
}

/* Neither view of v is mapped any more. */
static inline bool t_views_gone(const struct t_views *v)
{
    return t_unmapped(v->rw, v->bytes) && t_unmapped(v->rwx, v->bytes);
}

#endif
