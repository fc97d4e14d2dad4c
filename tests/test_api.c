/* tests/test_api.c: the public API's facts that need no pool (issue 15, items 2 and 6).
 *
 * The version: the runtime calls against the headers' macros and the project version meson
 * gives (argv[1]). Node numbers: mmc_node_map against the kernel's sysfs (nodes with memory,
 * ascending index) and against an hwloc XML with a memory-only node whose kernel index is
 * above the others' (tests/data/topo-memonly.xml, read here with a string search, not hwloc).
 * Pagemap: mmc_pagemap_read against the test's own reader (common.h t_pfn) on frames touched
 * and untouched, and its argument rules. No hugepages, no mmc_init.
 *
 *   test_api PROJECT_VERSION DATA_DIR
 */
#include <dirent.h>
#include <sys/mman.h>

#include "common.h"
#include "mmcontig/testing.h"

static int cmp_int(const void *a, const void *b)
{
    return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}

/* The kernel's nodes with memory, ascending index (the oracle of mmc_node_map). */
static int sysfs_mem_nodes(int *out, int max)
{
    DIR *d = opendir("/sys/devices/system/node");
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d)) && n < max;) {
        int idx;
        char rest, path[96], line[128];
        if (sscanf(e->d_name, "node%d%c", &idx, &rest) != 1)
            continue;
        snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/meminfo", idx);
        FILE *f = fopen(path, "r");
        unsigned long long kb = 0;
        while (f && fgets(line, sizeof(line), f))
            if (strstr(line, "MemTotal:"))
                sscanf(strstr(line, "MemTotal:") + 9, "%llu", &kb);
        if (f)
            fclose(f);
        if (kb)
            out[n++] = idx;
    }
    if (d)
        closedir(d);
    qsort(out, (size_t)n, sizeof(*out), cmp_int);
    return n;
}

/* os_index of every NUMANode with local_memory in an hwloc XML, ascending. */
static int xml_mem_nodes(const char *path, int *out, int max)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    int n = 0;
    while (f && fgets(line, sizeof(line), f) && n < max) {
        const char *o = strstr(line, "type=\"NUMANode\" os_index=\"");
        if (o && strstr(line, "local_memory=\""))
            out[n++] = atoi(o + strlen("type=\"NUMANode\" os_index=\""));
    }
    if (f)
        fclose(f);
    qsort(out, (size_t)n, sizeof(*out), cmp_int);
    return n;
}

static bool same_map(const int *a, const int *b, int n)
{
    for (int i = 0; i < n; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

static void versions(const char *project_version)
{
    char hdr[32];
    snprintf(hdr, sizeof(hdr), "%d.%d.%d", MMC_VERSION_MAJOR, MMC_VERSION_MINOR, MMC_VERSION_PATCH);
    t_ok(!strcmp(hdr, project_version) && !strcmp(MMC_VERSION_STRING, project_version),
         "the headers' MMC_VERSION_* (%s) and MMC_VERSION_STRING (%s) are the project's version %s",
         hdr, MMC_VERSION_STRING, project_version);
    t_ok(!strcmp(mmc_version(), project_version) && mmc_version_number() == MMC_VERSION &&
             MMC_VERSION == (unsigned)(MMC_VERSION_MAJOR << 16 | MMC_VERSION_MINOR << 8 | MMC_VERSION_PATCH),
         "the library runs as %s, number %#x = MMC_VERSION %#x", mmc_version(), mmc_version_number(),
         (unsigned)MMC_VERSION);
    t_ok(MMC_VERSION_CHECK(0, 1, 0) < MMC_VERSION_CHECK(0, 1, 1) &&
             MMC_VERSION_CHECK(0, 1, 255) < MMC_VERSION_CHECK(0, 2, 0) &&
             MMC_VERSION_CHECK(0, 255, 255) < MMC_VERSION_CHECK(1, 0, 0),
         "MMC_VERSION_CHECK orders versions as they are ordered");
}

static void node_map(const char *data_dir)
{
    int want[MMC_MAX_NODES], got[MMC_MAX_NODES + 1];
    const int k = sysfs_mem_nodes(want, MMC_MAX_NODES);
    for (int i = 0; i <= MMC_MAX_NODES; i++)
        got[i] = -7;
    int n = mmc_node_map(got, MMC_MAX_NODES);
    t_ok(k > 0 && n == k && same_map(got, want, k) && got[k] == -7,
         "live: mmc_node_map gives the kernel's %d node(s) with memory, ascending (node 0 -> %d), "
         "and writes nothing past them (%d: %s)", k, got[0], n, n < 0 ? mmc_last_error() : "");
    t_ok(mmc_node_map(NULL, 0) == k, "max 0: the count alone (%d)", k);

    char xml[512];
    snprintf(xml, sizeof(xml), "%s/topo-memonly.xml", data_dir);
    const int kx = xml_mem_nodes(xml, want, MMC_MAX_NODES);
    setenv("MMC_TOPOLOGY_XML", xml, 1);
    for (int i = 0; i <= MMC_MAX_NODES; i++)
        got[i] = -7;
    n = mmc_node_map(got, 2);
    t_ok(kx == 3 && n == kx && same_map(got, want, 2) && got[2] == -7,
         "MMC_TOPOLOGY_XML with a memory-only node: %d nodes, max 2 fills only nodes 0 and 1 "
         "(kernel %d, %d)", n, got[0], got[1]);
    n = mmc_node_map(got, MMC_MAX_NODES);
    t_ok(n == kx && same_map(got, want, kx) && got[2] == 3,
         "the memory-only kernel node 3, listed first in the XML, is mmcontig's node 2 (%d)", got[2]);
    unsetenv("MMC_TOPOLOGY_XML");

    n = mmc_node_map(NULL, 4);
    t_ok(n == -EINVAL && strstr(mmc_last_error(), "os_node is NULL"),
         "os_node NULL with max 4: -EINVAL naming it (%d: %s)", n, mmc_last_error());
}

static void pagemap(void)
{
    const size_t frames = 8;
    char *buf = mmap(NULL, frames * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED) {
        t_ok(false, "mmap of 8 frames: %s", strerror(errno));
        return;
    }
    madvise(buf, frames * 4096, MADV_NOHUGEPAGE); /* untouched frames stay absent */
    for (size_t i = 0; i < frames; i += 2)
        buf[i * 4096] = 1;
    uint64_t pfn[8];
    memset(pfn, 0xff, sizeof(pfn));
    int rc = mmc_pagemap_read(buf + 100, frames, pfn); /* not frame-aligned: the frame holding it */
    if (rc == -EPERM) {
        t_ok(!getenv("CI"), "pagemap hides frame numbers (not root): %s", mmc_last_error());
        munmap(buf, frames * 4096);
        return;
    }
    bool ok = rc == 0;
    for (size_t i = 0; ok && i < frames; i++)
        ok = i % 2 ? pfn[i] == 0 : pfn[i] != 0 && pfn[i] == t_pfn(buf + i * 4096);
    t_ok(ok, "the PFNs of the touched frames are the kernel's (test's own pagemap reader), the "
         "untouched frames' are 0 (rc %d, frame 0 PFN %#llx)", rc, (unsigned long long)pfn[0]);
    rc = mmc_pagemap_read(buf, 0, NULL);
    t_ok(rc == 0, "0 frames: 0, nothing read (%d)", rc);
    rc = mmc_pagemap_read(buf, 1, NULL);
    t_ok(rc == -EINVAL && strstr(mmc_last_error(), "pfns is NULL"), "pfns NULL: -EINVAL naming it (%s)",
         mmc_last_error());
    rc = mmc_pagemap_read((void *)(UINTPTR_MAX - 4095), 2, pfn);
    t_ok(rc == -EINVAL && strstr(mmc_last_error(), "wraps"), "a range past the address space: "
         "-EINVAL naming it (%s)", mmc_last_error());
    munmap(buf, frames * 4096);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_api PROJECT_VERSION DATA_DIR\n");
        return 2;
    }
    versions(argv[1]);
    node_map(argv[2]);
    pagemap();
    return t_done();
}
