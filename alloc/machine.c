/* alloc/machine.c: the machine as the public API shows it, apart from any partition: the
 * mapping of mmcontig's node numbers to the kernel's node indexes (mmc_node_map, mmcontig.h)
 * and the kernel's pagemap read for a caller (mmc_pagemap_read, testing.h) through os.c's
 * reader. Both answer with or without mmc_init().
 */
#include <errno.h>
#include <string.h>

#include "partition.h"
#include "mmcontig/testing.h"

/* os_node[i] = the kernel's index of node i, i < min(max, nodes); returns the node count. */
static int fill_map(const struct mmc_topology *t, int *os_node, size_t max)
{
    for (size_t i = 0; i < max && i < t->nnodes; i++)
        os_node[i] = (int)t->nodes[i].os_index;
    return (int)t->nnodes;
}

MMC_API int mmc_node_map(int *os_node, size_t max)
{
    if (max && !os_node) {
        _mmc_set_error("mmc_node_map: os_node is NULL with max %zu; pass an array of max entries "
                       "(or max 0 for the count alone)", max);
        return -EINVAL;
    }
    _mmc_read_enter();
    int n = _mmc_g.topo ? fill_map(_mmc_g.topo, os_node, max) : -1;
    _mmc_read_exit();
    if (n >= 0)
        return n;
    /* not initialised: the topology mmc_init() would discover, for this call (without the
     * global lock: loading it takes hwloc milliseconds) */
    struct mmc_topology *t = NULL;
    char err[512] = "";
    int rc = _mmc_topology_load(NULL, &t, err, sizeof(err));
    if (rc < 0) {
        _mmc_set_error("mmc_node_map: %s", err);
        return rc;
    }
    n = fill_map(t, os_node, max);
    _mmc_topology_free(t);
    return n;
}

MMC_API int mmc_pagemap_read(const void *va, size_t frames, uint64_t *pfns)
{
    if (!frames)
        return 0;
    const uintptr_t first = (uintptr_t)va >> MMC_FRAME_SHIFT;
    if (!pfns || frames > (UINTPTR_MAX >> MMC_FRAME_SHIFT) - first + 1) {
        _mmc_set_error("mmc_pagemap_read: %s; pass an array of `frames` entries and a range "
                       "inside the address space", !pfns ? "pfns is NULL" : "the range wraps");
        return -EINVAL;
    }
    int rc = _mmc_os_pagemap_pfns((const void *)(first << MMC_FRAME_SHIFT), frames, pfns);
    if (rc == -EPERM)
        _mmc_set_error("mmc_pagemap_read: /proc/self/pagemap hides frame numbers: run as root "
                       "or with CAP_SYS_ADMIN");
    else if (rc < 0)
        _mmc_set_error("mmc_pagemap_read: reading /proc/self/pagemap failed: %s", strerror(-rc));
    return rc;
}
