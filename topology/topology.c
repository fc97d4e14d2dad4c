/* topology/topology.c: NUMA discovery through hwloc (internal to libmmcontig).
 *
 * Owns: turning one hwloc topology (the live machine or an XML file) into struct mmc_topology:
 * nodes in ascending OS index order, the CPUs of each node, local memory, hugepage counts per
 * size, the distance matrix and each node's fallback order. The hwloc topology lives only for
 * the duration of _mmc_topology_load; the result is plain heap data the caller frees with
 * _mmc_topology_free. No global state: concurrent loads are independent.
 *
 * Which CPUs belong to a node: hwloc 2 gives every NUMA node the cpuset of the object it is
 * attached to (its locality), so a memory-only node (CXL, HBM, PMEM) does NOT have an empty
 * cpuset: attached to the Machine it gets every CPU. The kernel puts each CPU on exactly one
 * node; we reproduce that by giving each PU to the node with the smallest cpuset that contains
 * it, ties going to the lowest OS index (KNL MCDRAM and SPR HBM nodes share the cpuset of the
 * DDR node next to them and carry higher OS indices). Memory-only nodes end up with ncpus 0.
 *
 * Hugepages: hwloc's page_types for both sources. On the live machine the counts are re-read
 * from sysfs (hwloc reads them once at load; free counts it never reads) and every size listed
 * in /sys/kernel/mm/hugepages is shown on every node, even at 0 pages, so users see which sizes
 * they could reserve. From XML, what the file holds, with free = total.
 *
 * Disallowed resources: loaded with HWLOC_TOPOLOGY_FLAG_INCLUDE_DISALLOWED so that node numbers
 * do not depend on the cgroup (cpuset.mems) the process happens to run in.
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
#include <unistd.h>

#include <hwloc.h>

#define MMC_TOPO_DIST_LOCAL   10u  /* default distance of a node to itself (ACPI SLIT) */
#define MMC_TOPO_DIST_REMOTE  20u  /* default distance between two nodes when none is known */
#define MMC_TOPO_FRAME_BYTES  4096u /* frame size; page types of this size are not hugepages */
#define MMC_TOPO_MAX_SIZES    16    /* hugepage sizes gathered before trimming to the max */

static const char sysfs_node_dir[] = "/sys/devices/system/node";
static const char sysfs_hugepages_dir[] = "/sys/kernel/mm/hugepages";

/* Format into err (if any); returns rc so callers can `return set_err(...)`. */
static int set_err(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int set_err(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Thread-safe strerror (GNU strerror_r returns the string to use). */
static const char *errno_text(int errnum, char *buf, size_t buflen)
{
    return strerror_r(errnum, buf, buflen);
}

/* Read one unsigned decimal from a sysfs file. 0 or a negative errno. */
static int read_u64_file(const char *path, uint64_t *out)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    unsigned long long v;
    int n = fscanf(f, "%llu", &v);
    fclose(f);
    if (n != 1)
        return -EINVAL;
    *out = v;
    return 0;
}

/* Insert size_bytes into the ascending, duplicate-free sizes[] (capacity MMC_TOPO_MAX_SIZES). */
static void add_size(uint64_t *sizes, unsigned *nsizes, uint64_t size_bytes)
{
    unsigned i = 0;
    while (i < *nsizes && sizes[i] < size_bytes)
        i++;
    if (i < *nsizes && sizes[i] == size_bytes)
        return;
    if (*nsizes == MMC_TOPO_MAX_SIZES)
        return;
    memmove(&sizes[i + 1], &sizes[i], (*nsizes - i) * sizeof(sizes[0]));
    sizes[i] = size_bytes;
    (*nsizes)++;
}

/* Hugepage sizes the running kernel supports (directories of /sys/kernel/mm/hugepages). */
static void live_hugepage_sizes(uint64_t *sizes, unsigned *nsizes)
{
    DIR *d = opendir(sysfs_hugepages_dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        unsigned long long kib;
        char tail;
        if (sscanf(e->d_name, "hugepages-%llukB%c", &kib, &tail) == 1 &&
            kib * 1024 > MMC_TOPO_FRAME_BYTES)
            add_size(sizes, nsizes, (uint64_t)kib * 1024);
    }
    closedir(d);
}

/* Fill node->pagesizes. live: counts from sysfs, sizes also from global_sizes. */
static void fill_pagesizes(struct mmc_topo_node *node, hwloc_obj_t obj, int live,
                           unsigned nnodes, const uint64_t *global_sizes, unsigned nglobal)
{
    uint64_t sizes[MMC_TOPO_MAX_SIZES];
    unsigned nsizes = 0;
    const struct hwloc_numanode_attr_s *na = &obj->attr->numanode;

    for (unsigned i = 0; i < na->page_types_len; i++)
        if (na->page_types[i].size > MMC_TOPO_FRAME_BYTES)
            add_size(sizes, &nsizes, na->page_types[i].size);
    if (live)
        for (unsigned i = 0; i < nglobal; i++)
            add_size(sizes, &nsizes, global_sizes[i]);

    /* keep the smallest sizes if a kernel ever offers more than we record */
    node->npagesizes = nsizes < MMC_TOPO_MAX_PAGE_SIZES ? nsizes : MMC_TOPO_MAX_PAGE_SIZES;
    for (unsigned s = 0; s < node->npagesizes; s++) {
        struct mmc_topo_pagesize *ps = &node->pagesizes[s];
        ps->page_bytes = sizes[s];
        ps->total_pages = 0;
        for (unsigned i = 0; i < na->page_types_len; i++)
            if (na->page_types[i].size == sizes[s])
                ps->total_pages = na->page_types[i].count;
        ps->free_pages = ps->total_pages;
        if (!live)
            continue;

        char path[160];
        unsigned long long kib = (unsigned long long)(sizes[s] / 1024);
        uint64_t nr = 0, nfree = 0;
        snprintf(path, sizeof(path), "%s/node%u/hugepages/hugepages-%llukB/nr_hugepages",
                 sysfs_node_dir, node->os_index, kib);
        if (read_u64_file(path, &nr) == 0) {
            snprintf(path, sizeof(path), "%s/node%u/hugepages/hugepages-%llukB/free_hugepages",
                     sysfs_node_dir, node->os_index, kib);
            ps->total_pages = nr;
            ps->free_pages = read_u64_file(path, &nfree) == 0 ? nfree : 0;
            continue;
        }
        /* no per-node directory: a kernel without CONFIG_NUMA has only the global pool, which
         * is then the one node's; otherwise keep hwloc's total and report nothing free, since
         * the free count is unknown */
        snprintf(path, sizeof(path), "%s/hugepages-%llukB/nr_hugepages", sysfs_hugepages_dir, kib);
        if (nnodes == 1 && read_u64_file(path, &nr) == 0) {
            snprintf(path, sizeof(path), "%s/hugepages-%llukB/free_hugepages",
                     sysfs_hugepages_dir, kib);
            ps->total_pages = nr;
            ps->free_pages = read_u64_file(path, &nfree) == 0 ? nfree : 0;
        } else {
            ps->free_pages = 0;
        }
    }
}

/* Give each PU to the node with the smallest cpuset holding it (ties: lowest OS index), then
 * fill cpus[] of every node in ascending OS CPU order. */
static int assign_cpus(hwloc_topology_t htopo, struct mmc_topology *topo, hwloc_obj_t *objs)
{
    int npus = hwloc_get_nbobjs_by_type(htopo, HWLOC_OBJ_PU);
    if (npus <= 0)
        return 0;
    unsigned *pu_os = calloc((size_t)npus, sizeof(*pu_os));   /* PU OS indices */
    int *pu_node = calloc((size_t)npus, sizeof(*pu_node));     /* owning node number or -1 */
    if (!pu_os || !pu_node) {
        free(pu_os);
        free(pu_node);
        return -ENOMEM;
    }
    for (int p = 0; p < npus; p++) {
        hwloc_obj_t pu = hwloc_get_obj_by_type(htopo, HWLOC_OBJ_PU, (unsigned)p);
        pu_os[p] = pu->os_index;
        pu_node[p] = -1;
        int best_weight = 0;
        for (unsigned n = 0; n < topo->nnodes; n++) {
            if (!objs[n]->cpuset || !hwloc_bitmap_isset(objs[n]->cpuset, pu->os_index))
                continue;
            int w = hwloc_bitmap_weight(objs[n]->cpuset);
            if (pu_node[p] < 0 || w < best_weight) {
                pu_node[p] = (int)n;
                best_weight = w;
            }
        }
        if (pu_node[p] >= 0)
            topo->nodes[pu_node[p]].ncpus++;
    }
    int rc = 0;
    for (unsigned n = 0; n < topo->nnodes && rc == 0; n++) {
        struct mmc_topo_node *node = &topo->nodes[n];
        if (node->ncpus == 0)
            continue;
        node->cpus = malloc(node->ncpus * sizeof(*node->cpus));
        if (!node->cpus) {
            rc = -ENOMEM;
            break;
        }
        /* PU logical order is tree order, not OS order: collect then sort ascending */
        unsigned k = 0;
        for (int p = 0; p < npus; p++)
            if (pu_node[p] == (int)n)
                node->cpus[k++] = pu_os[p];
        for (unsigned i = 1; i < k; i++) {
            unsigned v = node->cpus[i], j = i;
            for (; j > 0 && node->cpus[j - 1] > v; j--)
                node->cpus[j] = node->cpus[j - 1];
            node->cpus[j] = v;
        }
    }
    free(pu_os);
    free(pu_node);
    return rc;
}

/* Copy a distance matrix over exactly our nodes into topo->distance. 1 if used, 0 if not. */
static int take_distances(struct mmc_topology *topo, const struct hwloc_distances_s *d)
{
    unsigned n = topo->nnodes;
    if (d->nbobjs != n)
        return 0;
    int *map = malloc(n * sizeof(*map));   /* matrix index -> node number */
    if (!map)
        return 0;
    for (unsigned i = 0; i < n; i++) {
        map[i] = d->objs[i] ? _mmc_topology_node_of_os_index(topo, d->objs[i]->os_index) : -1;
        for (unsigned j = 0; j < i && map[i] >= 0; j++)
            if (map[j] == map[i])
                map[i] = -1;
        if (map[i] < 0) {
            free(map);
            return 0;
        }
    }
    for (unsigned i = 0; i < n; i++)
        for (unsigned j = 0; j < n; j++) {
            uint64_t v = d->values[(size_t)i * n + j];
            topo->distance[(size_t)map[i] * n + (size_t)map[j]] =
                v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
        }
    free(map);
    return 1;
}

/* Distances from hwloc: a latency matrix first, then any that does not mean bandwidth (larger
 * bandwidth = nearer, the opposite order). Defaults when none covers all nodes. */
static void load_distances(hwloc_topology_t htopo, struct mmc_topology *topo)
{
    static const unsigned long pass_kind[2] = { HWLOC_DISTANCES_KIND_MEANS_LATENCY, 0 };
    unsigned n = topo->nnodes;

    for (int pass = 0; pass < 2 && !topo->has_distances; pass++) {
        unsigned nr = 0;
        if (hwloc_distances_get_by_type(htopo, HWLOC_OBJ_NUMANODE, &nr, NULL,
                                        pass_kind[pass], 0) < 0 || nr == 0)
            continue;
        struct hwloc_distances_s **list = malloc(nr * sizeof(*list));
        if (!list)
            break;
        if (hwloc_distances_get_by_type(htopo, HWLOC_OBJ_NUMANODE, &nr, list,
                                        pass_kind[pass], 0) == 0)
            for (unsigned k = 0; k < nr; k++) {
                if (!topo->has_distances &&
                    !(list[k]->kind & HWLOC_DISTANCES_KIND_MEANS_BANDWIDTH))
                    topo->has_distances = take_distances(topo, list[k]);
                hwloc_distances_release(htopo, list[k]);
            }
        free(list);
    }
    if (!topo->has_distances)
        for (unsigned i = 0; i < n; i++)
            for (unsigned j = 0; j < n; j++)
                topo->distance[(size_t)i * n + j] = i == j ? MMC_TOPO_DIST_LOCAL
                                                           : MMC_TOPO_DIST_REMOTE;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* fallback[] of every node: itself first, then by distance ascending, ties by node number. */
static int build_fallback(struct mmc_topology *topo)
{
    unsigned n = topo->nnodes;
    uint64_t *keys = malloc(n * sizeof(*keys));   /* (distance + 1) << 32 | node; self: node */
    if (!keys)
        return -ENOMEM;
    for (unsigned i = 0; i < n; i++) {
        unsigned *fb = malloc(n * sizeof(*fb));
        if (!fb) {
            free(keys);
            return -ENOMEM;
        }
        topo->nodes[i].fallback = fb;
        for (unsigned j = 0; j < n; j++)
            keys[j] = j == i ? j : ((uint64_t)_mmc_topology_distance(topo, i, j) + 1) << 32 | j;
        qsort(keys, n, sizeof(*keys), cmp_u64);
        for (unsigned j = 0; j < n; j++)
            fb[j] = (unsigned)(keys[j] & UINT32_MAX);
    }
    free(keys);
    return 0;
}

static int cmp_obj_os_index(const void *a, const void *b)
{
    unsigned x = (*(const hwloc_obj_t *)a)->os_index, y = (*(const hwloc_obj_t *)b)->os_index;
    return x < y ? -1 : x > y;
}

/* Build *topo from a loaded hwloc topology. live: read sysfs for hugepage counts. */
static int build(hwloc_topology_t htopo, struct mmc_topology *topo, int live,
                 char *err, size_t errlen)
{
    int nobjs = hwloc_get_nbobjs_by_type(htopo, HWLOC_OBJ_NUMANODE);
    if (nobjs <= 0)
        return set_err(err, errlen, -ENODEV,
                       "hwloc found no NUMA node in %s (an XML must contain NUMANode objects; "
                       "re-export it with lstopo --of xml)", topo->source);
    unsigned n = (unsigned)nobjs;
    hwloc_obj_t *objs = malloc(n * sizeof(*objs));
    topo->nodes = calloc(n, sizeof(*topo->nodes));
    topo->distance = malloc((size_t)n * n * sizeof(*topo->distance));
    if (!objs || !topo->nodes || !topo->distance) {
        free(objs);
        return set_err(err, errlen, -ENOMEM, "out of memory describing %u NUMA nodes", n);
    }
    topo->nnodes = n;
    for (unsigned i = 0; i < n; i++)
        objs[i] = hwloc_get_obj_by_type(htopo, HWLOC_OBJ_NUMANODE, i);
    qsort(objs, n, sizeof(*objs), cmp_obj_os_index);

    uint64_t global_sizes[MMC_TOPO_MAX_SIZES];
    unsigned nglobal = 0;
    if (live)
        live_hugepage_sizes(global_sizes, &nglobal);
    for (unsigned i = 0; i < n; i++) {
        struct mmc_topo_node *node = &topo->nodes[i];
        node->os_index = objs[i]->os_index;
        node->local_bytes = objs[i]->attr->numanode.local_memory;
        fill_pagesizes(node, objs[i], live, n, global_sizes, nglobal);
    }

    int rc = assign_cpus(htopo, topo, objs);
    free(objs);
    if (rc == 0) {
        load_distances(htopo, topo);
        rc = build_fallback(topo);
    }
    if (rc < 0)
        return set_err(err, errlen, rc, "out of memory describing %u NUMA nodes", n);
    return 0;
}

int _mmc_topology_load(const char *xml_path, struct mmc_topology **out, char *err, size_t errlen)
{
    char ebuf[128];
    const char *remedy = "check the path";
    if (err && errlen)
        err[0] = '\0';
    if (!out)
        return set_err(err, errlen, -EINVAL, "_mmc_topology_load: out is NULL");
    *out = NULL;
    if (!xml_path) {
        const char *env = getenv("MMC_TOPOLOGY_XML");
        if (env && env[0]) {
            xml_path = env;
            remedy = "check the path, or unset MMC_TOPOLOGY_XML";
        }
    }

    struct mmc_topology *topo = calloc(1, sizeof(*topo));
    if (!topo)
        return set_err(err, errlen, -ENOMEM, "out of memory loading the topology");
    topo->from_xml = xml_path != NULL;
    snprintf(topo->source, sizeof(topo->source), "%s", xml_path ? xml_path : "live");

    /* hwloc reports a missing file only as a failed load; test it first for a precise errno */
    if (xml_path && access(xml_path, R_OK) != 0) {
        int e = errno;
        _mmc_topology_free(topo);
        return set_err(err, errlen, -e, "cannot load hwloc XML '%s': %s (%s)", xml_path,
                       errno_text(e, ebuf, sizeof(ebuf)), remedy);
    }

    hwloc_topology_t htopo;
    if (hwloc_topology_init(&htopo) < 0) {
        _mmc_topology_free(topo);
        return set_err(err, errlen, -ENOMEM, "hwloc_topology_init failed: out of memory");
    }
    int rc = 0;
    hwloc_topology_set_flags(htopo, HWLOC_TOPOLOGY_FLAG_INCLUDE_DISALLOWED);
    /* caches and I/O are not ours: skip them, it makes loading faster */
    hwloc_topology_set_cache_types_filter(htopo, HWLOC_TYPE_FILTER_KEEP_NONE);
    hwloc_topology_set_icache_types_filter(htopo, HWLOC_TYPE_FILTER_KEEP_NONE);
    hwloc_topology_set_io_types_filter(htopo, HWLOC_TYPE_FILTER_KEEP_NONE);
    /* hwloc parses the XML in set_xml already; a bad file fails there or in load */
    errno = 0;
    if ((xml_path && hwloc_topology_set_xml(htopo, xml_path) < 0) ||
        hwloc_topology_load(htopo) < 0) {
        int e = errno ? errno : EINVAL;
        if (xml_path)
            rc = set_err(err, errlen, -EINVAL, "cannot load hwloc XML '%s': not a valid hwloc "
                         "topology (export one with lstopo --of xml, or %s)", xml_path, remedy);
        else
            rc = set_err(err, errlen, -e, "hwloc could not discover this machine: %s (is /sys "
                         "mounted? HWLOC_* environment variables may redirect hwloc)",
                         errno_text(e, ebuf, sizeof(ebuf)));
    } else {
        /* hwloc honours HWLOC_XMLFILE / HWLOC_SYNTHETIC even for a "live" load: read sysfs
         * only when hwloc says the topology really is this system */
        int live = !xml_path && hwloc_topology_is_thissystem(htopo);
        rc = build(htopo, topo, live, err, errlen);
    }
    hwloc_topology_destroy(htopo);
    if (rc < 0) {
        _mmc_topology_free(topo);
        return rc;
    }
    *out = topo;
    return 0;
}

void _mmc_topology_free(struct mmc_topology *topo)
{
    if (!topo)
        return;
    if (topo->nodes)
        for (unsigned i = 0; i < topo->nnodes; i++) {
            free(topo->nodes[i].cpus);
            free(topo->nodes[i].fallback);
        }
    free(topo->nodes);
    free(topo->distance);
    free(topo);
}

int _mmc_topology_node_of_cpu(const struct mmc_topology *topo, unsigned cpu)
{
    for (unsigned n = 0; n < topo->nnodes; n++)
        for (unsigned i = 0; i < topo->nodes[n].ncpus; i++)
            if (topo->nodes[n].cpus[i] == cpu)
                return (int)n;
    return -1;
}

int _mmc_topology_node_of_os_index(const struct mmc_topology *topo, unsigned os_index)
{
    for (unsigned n = 0; n < topo->nnodes; n++)
        if (topo->nodes[n].os_index == os_index)
            return (int)n;
    return -1;
}

/* "0-3,8,10-11" from an ascending list. */
static void print_cpu_list(FILE *f, const unsigned *cpus, unsigned ncpus)
{
    for (unsigned i = 0; i < ncpus;) {
        unsigned j = i;
        while (j + 1 < ncpus && cpus[j + 1] == cpus[j] + 1)
            j++;
        fprintf(f, "%s%u", i ? "," : "", cpus[i]);
        if (j > i)
            fprintf(f, "-%u", cpus[j]);
        i = j + 1;
    }
}

/* Bytes as "512 MiB", "4 GiB", "1.5 GiB" or "64 KiB". */
static void print_bytes(FILE *f, uint64_t bytes)
{
    static const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
    unsigned u = 0;
    uint64_t scale = 1;
    while (u + 1 < sizeof(unit) / sizeof(unit[0]) && bytes >= scale * 1024) {
        scale *= 1024;
        u++;
    }
    if (bytes % scale == 0)
        fprintf(f, "%" PRIu64 " %s", bytes / scale, unit[u]);
    else
        fprintf(f, "%.1f %s", (double)bytes / (double)scale, unit[u]);
}

void _mmc_topology_print(const struct mmc_topology *topo, FILE *f)
{
    unsigned n = topo->nnodes;
    fprintf(f, "topology: %u NUMA node%s from %s\n", n, n == 1 ? "" : "s", topo->source);
    for (unsigned i = 0; i < n; i++) {
        const struct mmc_topo_node *node = &topo->nodes[i];
        fprintf(f, "node %u (OS node %u): ", i, node->os_index);
        if (node->ncpus) {
            fprintf(f, "CPUs ");
            print_cpu_list(f, node->cpus, node->ncpus);
        } else {
            fprintf(f, "no CPUs (memory-only)");
        }
        fprintf(f, ", memory ");
        print_bytes(f, node->local_bytes);
        fprintf(f, "\n");
        for (unsigned s = 0; s < node->npagesizes; s++) {
            const struct mmc_topo_pagesize *ps = &node->pagesizes[s];
            fprintf(f, "  hugepages ");
            print_bytes(f, ps->page_bytes);
            fprintf(f, ": %" PRIu64 " total, %" PRIu64 " free\n", ps->total_pages, ps->free_pages);
        }
    }
    fprintf(f, "distances (%s):\n     ", topo->has_distances ? "from the source"
                                          : "none in the source: 10 local, 20 remote assumed");
    for (unsigned j = 0; j < n; j++)
        fprintf(f, " %4u", j);
    fprintf(f, "\n");
    for (unsigned i = 0; i < n; i++) {
        fprintf(f, " %4u", i);
        for (unsigned j = 0; j < n; j++)
            fprintf(f, " %4" PRIu32, _mmc_topology_distance(topo, i, j));
        fprintf(f, "\n");
    }
    fprintf(f, "fallback order:\n");
    for (unsigned i = 0; i < n; i++) {
        fprintf(f, "  node %u:", i);
        for (unsigned j = 0; j < n; j++)
            fprintf(f, " %u", topo->nodes[i].fallback[j]);
        fprintf(f, "\n");
    }
}
