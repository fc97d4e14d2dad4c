/* topology/topology.h: NUMA discovery through hwloc (internal to libmmcontig).
 *
 * Owns: the list of NUMA nodes, their CPUs, local memory, hugepage counts per size, the
 * distance matrix and each node's fallback order. Loads the live machine or an hwloc XML file
 * (lab-server topologies, tests). Nothing here allocates pool memory.
 *
 * Node numbers: mmcontig numbers nodes 0..nnodes-1 in ascending kernel (OS) index order. On the
 * usual dense machine node number == OS index; on a sparse one (nodes 0 and 2) they differ and
 * every API that takes a node number means the position, not the OS index.
 */
#ifndef MMC_TOPOLOGY_H
#define MMC_TOPOLOGY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MMC_TOPO_MAX_PAGE_SIZES 4   /* hugepage sizes recorded per node (2 MiB, 1 GiB, ...) */

struct mmc_topo_pagesize {
    uint64_t page_bytes;    /* hugepage size in bytes (2 MiB, 1 GiB) */
    uint64_t total_pages;   /* nr_hugepages of this size on the node */
    uint64_t free_pages;    /* free_hugepages of this size on the node (live: sysfs; XML: = total) */
};

struct mmc_topo_node {
    unsigned os_index;          /* the kernel's node number (nodeN in sysfs) */
    uint64_t local_bytes;       /* memory local to the node, bytes */
    unsigned ncpus;             /* number of PUs in cpus[] (0 for a memory-only node) */
    unsigned *cpus;             /* OS indices of the node's PUs, ascending */
    unsigned npagesizes;        /* entries used in pagesizes[] */
    struct mmc_topo_pagesize pagesizes[MMC_TOPO_MAX_PAGE_SIZES]; /* ascending page_bytes */
    unsigned *fallback;         /* nnodes node numbers, nearest first; fallback[0] is the node
                                   itself; ties broken by node number */
};

struct mmc_topology {
    unsigned nnodes;            /* >= 1 */
    struct mmc_topo_node *nodes;/* nnodes entries, ascending os_index; index = node number */
    uint32_t *distance;         /* nnodes * nnodes relative distances, row-major
                                   (distance[i * nnodes + j]: from node i to node j); 10 local,
                                   as the kernel and ACPI SLIT report them. When the source has
                                   none: 10 on the diagonal, 20 elsewhere */
    int has_distances;          /* 1 if distances came from the source, 0 if defaulted */
    int from_xml;               /* 1 if loaded from an XML file */
    char source[256];           /* "live" or the XML path */
};

/* Discover the topology. xml_path NULL: the live machine (and the MMC_TOPOLOGY_XML environment
 * variable, if set, names an XML file to load instead). Returns 0 and *out, or a negative errno
 * with a message in err (naming the cause and the remedy). */
int _mmc_topology_load(const char *xml_path, struct mmc_topology **out, char *err, size_t errlen);
void _mmc_topology_free(struct mmc_topology *topo);

/* Node number whose cpus[] holds the OS CPU `cpu`, or -1. */
int _mmc_topology_node_of_cpu(const struct mmc_topology *topo, unsigned cpu);

/* Node number for a kernel OS index, or -1. */
int _mmc_topology_node_of_os_index(const struct mmc_topology *topo, unsigned os_index);

/* Distance from node a to node b (node numbers). */
static inline uint32_t _mmc_topology_distance(const struct mmc_topology *topo, unsigned a, unsigned b)
{
    return topo->distance[(size_t)a * topo->nnodes + b];
}

/* Write a human-readable summary (nodes, CPUs, memory, hugepages, distances, fallback) to f. */
void _mmc_topology_print(const struct mmc_topology *topo, FILE *f);

#endif
