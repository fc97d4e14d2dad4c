/* tests/test_topology.c: checks topology/ against hand-written XML topologies and the live machine.
 *
 * Usage: test_topology DATA_DIR   (DATA_DIR holds topo-4node.xml and topo-memonly.xml)
 * Output is TAP: "ok - ..." / "not ok - ..." per check, the plan "1..N" last. Exit 1 on failure.
 *
 * tests/data/topo-4node.xml: 4 nodes, OS indices 0-3, node i has PUs 2i and 2i+1 and 4 GiB.
 * Hugepages (2 MiB / 1 GiB): node0 512/1, node1 512/0, node2 256/1, node3 1024/0.
 * Latency matrix (symmetric, with ties in rows 0 and 3 to exercise the tie rule):
 *          0   1   2   3
 *      0  10  21  12  21
 *      1  21  10  30  12
 *      2  12  30  10  21
 *      3  21  12  21  10
 * Fallback orders worked out by hand (self, then nearest, ties to the lower node number):
 *      node 0: 0 2 1 3   (12 < 21 = 21: 1 before 3)
 *      node 1: 1 3 0 2   (12 < 21 < 30)
 *      node 2: 2 0 3 1   (12 < 21 < 30)
 *      node 3: 3 1 0 2   (12 < 21 = 21: 0 before 2)
 *
 * tests/data/topo-memonly.xml: 3 nodes with sparse OS indices 0, 1, 3. Nodes 0 and 1 have PUs
 * 0-1 and 2-3 (4 GiB, 2 MiB x512 on both, 1 GiB x1 on node 0); node 2 (OS node3, subtype CXL,
 * 8 GiB, no hugepages) is memory-only, attached to the Machine, so hwloc gives it the
 * Machine's cpuset 0-3 although it owns no CPU.
 *          0   1   2
 *      0  10  20  17
 *      1  20  10  28
 *      2  17  28  10
 *      node 0: 0 2 1   node 1: 1 0 2   node 2: 2 0 1
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "topology.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static unsigned ntests;   /* checks run so far */
static unsigned nfailed;  /* checks that failed */

static int check(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int check(int cond, const char *fmt, ...)
{
    va_list ap;
    ntests++;
    if (!cond)
        nfailed++;
    printf("%s - ", cond ? "ok" : "not ok");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    return cond;
}

static struct mmc_topology *load_ok(const char *path, const char *what)
{
    struct mmc_topology *t = NULL;
    char err[512];
    int rc = _mmc_topology_load(path, &t, err, sizeof(err));
    if (!check(rc == 0 && t != NULL, "load %s", what))
        printf("# rc %d: %s\n", rc, err);
    return rc == 0 ? t : NULL;
}

static const uint64_t page_2m_bytes = 2ull << 20;
static const uint64_t page_1g_bytes = 1ull << 30;

/* Total pages of one size on a node, or UINT64_MAX if the size is not listed. */
static uint64_t hp_total(const struct mmc_topo_node *n, uint64_t page_bytes, uint64_t *free_pages)
{
    for (unsigned s = 0; s < n->npagesizes; s++)
        if (n->pagesizes[s].page_bytes == page_bytes) {
            if (free_pages)
                *free_pages = n->pagesizes[s].free_pages;
            return n->pagesizes[s].total_pages;
        }
    return UINT64_MAX;
}

static void check_fallback(const struct mmc_topology *t, const char *name, unsigned node,
                           const unsigned *expect)
{
    int same = 1;
    for (unsigned j = 0; j < t->nnodes; j++)
        same &= t->nodes[node].fallback[j] == expect[j];
    if (!check(same, "%s: fallback order of node %u", name, node)) {
        printf("#   got:");
        for (unsigned j = 0; j < t->nnodes; j++)
            printf(" %u", t->nodes[node].fallback[j]);
        printf("\n#   expected:");
        for (unsigned j = 0; j < t->nnodes; j++)
            printf(" %u", expect[j]);
        printf("\n");
    }
}

static void test_4node(const char *path)
{
    static const uint32_t expect_dist[4][4] = {
        { 10, 21, 12, 21 },
        { 21, 10, 30, 12 },
        { 12, 30, 10, 21 },
        { 21, 12, 21, 10 },
    };
    static const unsigned expect_fallback[4][4] = {
        { 0, 2, 1, 3 },
        { 1, 3, 0, 2 },
        { 2, 0, 3, 1 },
        { 3, 1, 0, 2 },
    };
    static const uint64_t expect_2m_pages[4] = { 512, 512, 256, 1024 };
    static const uint64_t expect_1g_pages[4] = { 1, 0, 1, 0 };

    struct mmc_topology *t = load_ok(path, "topo-4node.xml");
    if (!t)
        return;
    check(t->nnodes == 4, "4node: nnodes == 4 (got %u)", t->nnodes);
    check(t->from_xml == 1 && strcmp(t->source, path) == 0, "4node: from_xml and source");
    check(t->has_distances == 1, "4node: has_distances");
    if (t->nnodes != 4) {
        _mmc_topology_free(t);
        return;
    }
    for (unsigned i = 0; i < 4; i++) {
        const struct mmc_topo_node *n = &t->nodes[i];
        uint64_t free_pages = 0;
        check(n->os_index == i, "4node: node %u os_index %u", i, n->os_index);
        check(n->ncpus == 2 && n->cpus[0] == 2 * i && n->cpus[1] == 2 * i + 1,
              "4node: node %u CPUs are %u,%u", i, 2 * i, 2 * i + 1);
        check(n->local_bytes == 4ull << 30, "4node: node %u local_bytes 4 GiB", i);
        check(n->npagesizes == 2, "4node: node %u has 2 hugepage sizes (got %u)", i,
              n->npagesizes);
        check(hp_total(n, page_2m_bytes, &free_pages) == expect_2m_pages[i] &&
              free_pages == expect_2m_pages[i],
              "4node: node %u 2 MiB pages total = free = %" PRIu64, i, expect_2m_pages[i]);
        check(hp_total(n, page_1g_bytes, &free_pages) == expect_1g_pages[i] &&
              free_pages == expect_1g_pages[i],
              "4node: node %u 1 GiB pages total = free = %" PRIu64, i, expect_1g_pages[i]);
        check(n->npagesizes == 2 && n->pagesizes[0].page_bytes < n->pagesizes[1].page_bytes,
              "4node: node %u page sizes ascending", i);
        check(_mmc_topology_node_of_os_index(t, i) == (int)i, "4node: node_of_os_index(%u)", i);
    }
    int dist_ok = 1;
    for (unsigned i = 0; i < 4; i++)
        for (unsigned j = 0; j < 4; j++)
            dist_ok &= _mmc_topology_distance(t, i, j) == expect_dist[i][j];
    check(dist_ok, "4node: distance matrix as written in the XML");
    for (unsigned i = 0; i < 4; i++)
        check_fallback(t, "4node", i, expect_fallback[i]);
    for (unsigned cpu = 0; cpu < 8; cpu++)
        check(_mmc_topology_node_of_cpu(t, cpu) == (int)(cpu / 2), "4node: node_of_cpu(%u) == %u",
              cpu, cpu / 2);
    check(_mmc_topology_node_of_cpu(t, 8) == -1, "4node: node_of_cpu(8) == -1");
    check(_mmc_topology_node_of_os_index(t, 4) == -1, "4node: node_of_os_index(4) == -1");

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f) {
        _mmc_topology_print(t, f);
        fclose(f);
        check(buf && strstr(buf, "CPUs 6-7") && strstr(buf, "1 GiB: 0 total"),
              "4node: print shows CPU lists and hugepage sizes");
        free(buf);
    }
    _mmc_topology_free(t);
}

static void test_memonly(const char *path)
{
    static const uint32_t expect_dist[3][3] = {
        { 10, 20, 17 },
        { 20, 10, 28 },
        { 17, 28, 10 },
    };
    static const unsigned expect_fallback[3][3] = {
        { 0, 2, 1 },
        { 1, 0, 2 },
        { 2, 0, 1 },
    };
    struct mmc_topology *t = load_ok(path, "topo-memonly.xml");
    if (!t)
        return;
    if (!check(t->nnodes == 3, "memonly: nnodes == 3 (got %u)", t->nnodes)) {
        _mmc_topology_free(t);
        return;
    }
    check(t->nodes[0].os_index == 0 && t->nodes[1].os_index == 1 && t->nodes[2].os_index == 3,
          "memonly: OS indices 0, 1, 3");
    check(t->nodes[2].ncpus == 0 && t->nodes[2].cpus == NULL, "memonly: node 2 has no CPUs");
    check(t->nodes[0].ncpus == 2 && t->nodes[0].cpus[0] == 0 && t->nodes[0].cpus[1] == 1,
          "memonly: node 0 CPUs 0-1");
    check(t->nodes[1].ncpus == 2 && t->nodes[1].cpus[0] == 2 && t->nodes[1].cpus[1] == 3,
          "memonly: node 1 CPUs 2-3");
    check(t->nodes[2].local_bytes == 8ull << 30, "memonly: node 2 has 8 GiB");
    check(_mmc_topology_node_of_os_index(t, 3) == 2, "memonly: OS node3 is node 2");
    check(_mmc_topology_node_of_os_index(t, 2) == -1, "memonly: no OS node2");
    for (unsigned cpu = 0; cpu < 4; cpu++)
        check(_mmc_topology_node_of_cpu(t, cpu) == (int)(cpu / 2),
              "memonly: node_of_cpu(%u) == %u", cpu, cpu / 2);
    int dist_ok = 1;
    for (unsigned i = 0; i < 3; i++)
        for (unsigned j = 0; j < 3; j++)
            dist_ok &= _mmc_topology_distance(t, i, j) == expect_dist[i][j];
    check(dist_ok && t->has_distances, "memonly: distance matrix as written in the XML");
    for (unsigned i = 0; i < 3; i++)
        check_fallback(t, "memonly", i, expect_fallback[i]);
    _mmc_topology_free(t);
}

static void test_errors(const char *data_dir)
{
    char path[4096], err[512] = "";
    struct mmc_topology *t = (struct mmc_topology *)&t;   /* must be reset to NULL */
    snprintf(path, sizeof(path), "%s/does-not-exist.xml", data_dir);
    int rc = _mmc_topology_load(path, &t, err, sizeof(err));
    check(rc == -ENOENT, "missing XML: returns -ENOENT (got %d)", rc);
    check(t == NULL, "missing XML: *out is NULL");
    check(err[0] != '\0' && strstr(err, path) != NULL, "missing XML: message names the path");
    printf("# %s\n", err);

    /* a file that exists but is not an hwloc XML */
    err[0] = '\0';
    rc = _mmc_topology_load("/proc/self/status", &t, err, sizeof(err));
    check(rc < 0 && t == NULL && strstr(err, "/proc/self/status"),
          "invalid XML: negative errno and message (rc %d)", rc);
    printf("# %s\n", err);

    rc = _mmc_topology_load(path, &t, NULL, 0);
    check(rc == -ENOENT, "missing XML with no err buffer: still -ENOENT");
}

static void test_env(const char *xml_4node, const char *data_dir)
{
    setenv("MMC_TOPOLOGY_XML", xml_4node, 1);
    struct mmc_topology *t = load_ok(NULL, "NULL path with MMC_TOPOLOGY_XML set");
    if (t) {
        check(t->nnodes == 4 && t->from_xml && strcmp(t->source, xml_4node) == 0,
              "env: MMC_TOPOLOGY_XML names the XML that is loaded");
        _mmc_topology_free(t);
    }

    char path[4096], err[512] = "";
    snprintf(path, sizeof(path), "%s/does-not-exist.xml", data_dir);
    setenv("MMC_TOPOLOGY_XML", path, 1);
    int rc = _mmc_topology_load(NULL, &t, err, sizeof(err));
    check(rc == -ENOENT && strstr(err, "MMC_TOPOLOGY_XML"),
          "env: bad MMC_TOPOLOGY_XML is reported and the message names the variable");
    unsetenv("MMC_TOPOLOGY_XML");
}

/* Count the nodes in a kernel range list such as "0-3,8". */
static unsigned count_ranges(const char *s)
{
    unsigned count = 0;
    while (*s) {
        char *end;
        unsigned long a = strtoul(s, &end, 10), b = a;
        if (end == s)
            break;
        if (*end == '-')
            b = strtoul(end + 1, &end, 10);
        count += (unsigned)(b - a + 1);
        s = *end == ',' ? end + 1 : end;
    }
    return count;
}

/* Parse a kernel cpulist ("0-3,8") into a 0/1 array of size max. Returns 0 on success. */
static int parse_cpulist(const char *s, unsigned char *set, unsigned max)
{
    memset(set, 0, max);
    while (*s && *s != '\n') {
        char *end;
        unsigned long a = strtoul(s, &end, 10), b = a;
        if (end == s)
            return -1;
        if (*end == '-')
            b = strtoul(end + 1, &end, 10);
        for (unsigned long c = a; c <= b; c++)
            if (c < max)
                set[c] = 1;
        s = *end == ',' ? end + 1 : end;
    }
    return 0;
}

static int read_line(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *r = fgets(buf, (int)len, f);
    fclose(f);
    return r ? 0 : -1;
}

/* The summary as TAP diagnostics ("# " before every line). */
static void print_diag(const struct mmc_topology *t)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return;
    _mmc_topology_print(t, f);
    fclose(f);
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
        printf("# %s\n", line);
    free(buf);
}

static void test_live(void)
{
    struct mmc_topology *t = load_ok(NULL, "live machine");
    if (!t)
        return;
    check(t->nnodes >= 1, "live: at least one node");
    check(!t->from_xml && strcmp(t->source, "live") == 0, "live: source is live");

    char line[4096];
    if (read_line("/sys/devices/system/node/online", line, sizeof(line)) == 0)
        check(t->nnodes == count_ranges(line),
              "live: nnodes %u equals the nodes in /sys/devices/system/node/online (%s)",
              t->nnodes, strtok(line, "\n"));
    else
        printf("# no /sys/devices/system/node/online: node count not compared\n");

    /* CPUs of every node against the kernel's nodeN/cpulist */
    enum { max_cpus = 8192 };
    static unsigned char kernel_set[max_cpus];
    for (unsigned i = 0; i < t->nnodes; i++) {
        const struct mmc_topo_node *n = &t->nodes[i];
        char path[256];
        snprintf(path, sizeof(path), "/sys/devices/system/node/node%u/cpulist", n->os_index);
        if (read_line(path, line, sizeof(line)) != 0 || parse_cpulist(line, kernel_set, max_cpus))
            continue;
        unsigned kernel_count = 0, match = 1;
        for (unsigned c = 0; c < max_cpus; c++)
            kernel_count += kernel_set[c];
        for (unsigned k = 0; k < n->ncpus; k++)
            match &= n->cpus[k] < max_cpus && kernel_set[n->cpus[k]];
        check(match && kernel_count == n->ncpus, "live: node %u CPUs match %s", i, path);
    }

    /* node 0's hugepages against per-node sysfs, read here independently */
    const struct mmc_topo_node *n0 = &t->nodes[0];
    char dir[256];
    snprintf(dir, sizeof(dir), "/sys/devices/system/node/node%u/hugepages", n0->os_index);
    DIR *d = opendir(dir);
    if (!d) {
        printf("# no %s: hugepage counts not compared\n", dir);
    } else {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            unsigned long long kib;
            if (sscanf(e->d_name, "hugepages-%llukB", &kib) != 1)
                continue;
            char path[1024];
            unsigned long long nr = 0;
            snprintf(path, sizeof(path), "%s/%s/nr_hugepages", dir, e->d_name);
            if (read_line(path, line, sizeof(line)) != 0)
                continue;
            nr = strtoull(line, NULL, 10);
            uint64_t got = hp_total(n0, (uint64_t)kib * 1024, NULL);
            check(got == nr, "live: node 0 %llu kB hugepages total %llu (sysfs %s)",
                  kib, (unsigned long long)got, path);
        }
        closedir(d);
    }
    /* every size the kernel supports is listed, even at 0 pages */
    d = opendir("/sys/kernel/mm/hugepages");
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            unsigned long long kib;
            if (sscanf(e->d_name, "hugepages-%llukB", &kib) == 1)
                check(hp_total(n0, (uint64_t)kib * 1024, NULL) != UINT64_MAX,
                      "live: node 0 lists the %llu kB size", kib);
        }
        closedir(d);
    }
    print_diag(t);
    _mmc_topology_free(t);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DATA_DIR (the directory holding topo-4node.xml)\n", argv[0]);
        return 2;
    }
    const char *data_dir = argv[1];
    char xml_4node[4096], xml_memonly[4096];
    snprintf(xml_4node, sizeof(xml_4node), "%s/topo-4node.xml", data_dir);
    snprintf(xml_memonly, sizeof(xml_memonly), "%s/topo-memonly.xml", data_dir);
    unsetenv("MMC_TOPOLOGY_XML");   /* the live test below must see the live machine */

    test_4node(xml_4node);
    test_memonly(xml_memonly);
    test_errors(data_dir);
    test_env(xml_4node, data_dir);
    test_live();

    printf("1..%u\n", ntests);
    return nfailed ? 1 : 0;
}
