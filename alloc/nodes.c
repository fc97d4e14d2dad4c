/* alloc/nodes.c: the nodes of a partition, for every partition kind, in one place.
 *
 * A real partition's nodes are the machine's (hwloc's numbering, _mmc_g.topo), ordered by the
 * distance matrix; a simulated one has its own node numbers, no CPUs and no distances. Every
 * routine that needs a node count, the calling thread's node, or the order in which to try
 * nodes asks here, instead of asking whether the partition is simulated. */
#include <sched.h>
#include <string.h>

#include "partition.h"

unsigned _mmc_partition_nnodes(const struct mmc_partition *part)
{
    if (part->pool.simulated || !_mmc_g.topo)
        return part->frames.nnodes;
    return _mmc_g.topo->nnodes < MMC_MAX_NODES ? _mmc_g.topo->nnodes : MMC_MAX_NODES;
}

unsigned _mmc_partition_here(const struct mmc_partition *part)
{
    if (part->pool.simulated || !_mmc_g.topo)
        return 0; /* no CPUs: "local" is node 0 */
    int cpu = sched_getcpu();
    int n = cpu >= 0 ? _mmc_topology_node_of_cpu(_mmc_g.topo, (unsigned)cpu) : -1;
    return n >= 0 ? (unsigned)n : 0;
}

unsigned _mmc_partition_node_order(const struct mmc_partition *part, unsigned from, bool strict,
                                   unsigned *order)
{
    const unsigned nn = _mmc_partition_nnodes(part);
    if (from >= nn)
        from = 0;
    if (strict) {
        order[0] = from;
        return 1;
    }
    if (!part->pool.simulated && _mmc_g.topo) { /* nearest first by the distance matrix */
        memcpy(order, _mmc_g.topo->nodes[from].fallback, nn * sizeof(*order));
        return nn;
    }
    unsigned k = 0; /* no distances: the node, then the others by ascending number */
    order[k++] = from;
    for (unsigned n = 0; n < nn; n++)
        if (n != from)
            order[k++] = n;
    return k;
}

int _mmc_partition_os_node(const struct mmc_partition *part, unsigned node)
{
    if (part->pool.simulated || !_mmc_g.topo || node >= _mmc_g.topo->nnodes)
        return -1;
    return (int)_mmc_g.topo->nodes[node].os_index;
}
