/* tests/test_numa.c: the node rules on a real multi-node kernel.
 *
 * Runs on any machine; on one node the multi-node checks have nothing to check and say so. Its
 * home is scripts/numa-vm (2 nodes; 4 nodes with unequal distances; a memory-only node). The
 * truth it checks against is the kernel's, read here from /sys/devices/system/node (distances,
 * CPU lists, per-node nr_hugepages) and move_pages (where a page is), never the library's:
 *   - hwloc's view (nodes, CPUs, distances, hugepage counts) equals the kernel's;
 *   - per-node pools land on their nodes, and the top-up per node is given back;
 *   - Ex with a full preferred node falls back to the nearest node by the distance matrix,
 *     then the next nearest;
 *   - NodeMemory and SpecifyCacheNode with a full preferred node return NULL;
 *   - MDL LOCAL_NODE_ONLY takes only the calling thread's node, even when it runs short;
 *   - growth (its own pool, every node full): strict NodeMemory grows its node only, Ex grows
 *     the first node of its fallback order; every node's count is back after mmc_fini;
 *   - threads on different nodes never block each other: with node a's lock held by the test,
 *     an allocation on node b and a free there complete (tests/nodelock.h, by behaviour).
 */
#include "common.h"
#include "mmcontig/wdm.h"
#include "topology.h"
#include "nodelock.h"

#include <sched.h>

#define MAXN 8
static unsigned nnodes;
static unsigned dist[MAXN][MAXN];          /* kernel's distances, by OS index (dense here) */
static unsigned cpus_of[MAXN][64], ncpus_of[MAXN];

static PHYSICAL_ADDRESS A(uint64_t v) { return (PHYSICAL_ADDRESS){.QuadPart = (LONGLONG)v}; }

static void read_kernel(void)
{
    char path[128], line[512];
    for (nnodes = 0; nnodes < MAXN; nnodes++) {
        snprintf(path, sizeof(path), "/sys/devices/system/node/node%u/distance", nnodes);
        FILE *f = fopen(path, "r");
        if (!f)
            break;
        for (unsigned j = 0; j < MAXN && fscanf(f, "%u", &dist[nnodes][j]) == 1; j++)
            ;
        fclose(f);
        snprintf(path, sizeof(path), "/sys/devices/system/node/node%u/cpulist", nnodes);
        f = fopen(path, "r");
        ncpus_of[nnodes] = 0;
        if (f && fgets(line, sizeof(line), f)) {
            for (char *tok = strtok(line, ",\n"); tok; tok = strtok(NULL, ",\n")) {
                unsigned a, b;
                int k = sscanf(tok, "%u-%u", &a, &b);
                if (k == 1)
                    b = a;
                for (unsigned c = a; k >= 1 && c <= b && ncpus_of[nnodes] < 64; c++)
                    cpus_of[nnodes][ncpus_of[nnodes]++] = c;
            }
        }
        if (f)
            fclose(f);
    }
}

static uint64_t node_nr(unsigned n)
{
    char path[160];
    snprintf(path, sizeof(path), "/sys/devices/system/node/node%u/hugepages/hugepages-2048kB/nr_hugepages", n);
    return t_sysfs_u64(path);
}

/* Expected fallback from the kernel's matrix, computed here: by distance, ties by number. */
static void expected_order(unsigned from, unsigned *order)
{
    for (unsigned i = 0; i < nnodes; i++)
        order[i] = i;
    for (unsigned i = 0; i < nnodes; i++)
        for (unsigned j = i + 1; j < nnodes; j++) {
            unsigned a = order[i], b = order[j];
            bool swap = dist[from][b] < dist[from][a] || (dist[from][b] == dist[from][a] && b < a);
            if (a == from)
                swap = false;
            if (b == from)
                swap = true;
            if (swap)
                order[i] = b, order[j] = a;
        }
}

/* Take every free frame of node n with strict NodeMemory calls; returns the blocks. */
static int fill_node(unsigned n, void **blocks, int max)
{
    int k = 0;
    for (uint64_t size = 2 << 20; size >= 4096; size /= 2)
        while (k < max) {
            void *p = MmAllocateContiguousNodeMemory(size, A(0), A(-1), A(0), PAGE_READWRITE, n);
            if (!p)
                break;
            blocks[k++] = p;
        }
    return k;
}

int main(void)
{
    read_kernel();
    printf("# kernel: %u node%s\n", nnodes, nnodes == 1 ? "" : "s");
    const char *shape = getenv("MMC_VM_SHAPE");
    if (getenv("MMC_VM_DISTANCES")) { /* the VM was built as asked */
        unsigned v, i = 0;
        bool same = true;
        const char *s = getenv("MMC_VM_DISTANCES");
        for (int used; sscanf(s, "%u%n", &v, &used) == 1; s += used, i++)
            same &= i < nnodes * nnodes && dist[i / nnodes][i % nnodes] == v;
        t_ok(same && i == nnodes * nnodes, "VM %s: the kernel's distance matrix is the one asked for", shape);
    }

    /* hwloc's view equals the kernel's. */
    char err[256];
    struct mmc_topology *topo = NULL;
    t_ok(_mmc_topology_load(NULL, &topo, err, sizeof(err)) == 0, "hwloc loads the live topology");
    bool same = topo && topo->nnodes == nnodes;
    for (unsigned i = 0; same && i < nnodes; i++) {
        same &= topo->nodes[i].os_index == i && topo->nodes[i].ncpus == ncpus_of[i];
        for (unsigned c = 0; same && c < ncpus_of[i]; c++)
            same &= topo->nodes[i].cpus[c] == cpus_of[i][c];
        for (unsigned j = 0; same && j < nnodes; j++)
            same &= _mmc_topology_distance(topo, i, j) == dist[i][j];
    }
    t_ok(same, "hwloc's nodes, CPU lists and distances equal the kernel's sysfs");
    unsigned order[MAXN];
    bool fb = topo != NULL;
    for (unsigned i = 0; fb && i < nnodes; i++) {
        expected_order(i, order);
        for (unsigned j = 0; j < nnodes; j++)
            fb &= topo->nodes[i].fallback[j] == order[j];
    }
    t_ok(fb, "each node's fallback order is the kernel's distances sorted (ties by number)");

    /* Per-node pools: 8 hugepages (16 MiB) on every node, each on its node; top-up per node. */
    uint64_t nr_before[MAXN];
    for (unsigned i = 0; i < nnodes; i++)
        nr_before[i] = node_nr(i);
    char pool[128] = "";
    for (unsigned i = 0; i < nnodes; i++)
        snprintf(pool + strlen(pool), sizeof(pool) - strlen(pool), "%s%u:16M", i ? "," : "", i);
    t_init_pool(pool);
    int os_map[MMC_MAX_NODES]; /* the public mapping is the initialised topology's, the kernel's */
    const int nmap = mmc_node_map(os_map, MMC_MAX_NODES);
    bool map_ok = topo && nmap == (int)mmc_node_count() && nmap == (int)topo->nnodes;
    for (int i = 0; map_ok && i < nmap; i++)
        map_ok = os_map[i] == (int)topo->nodes[i].os_index && os_map[i] == i; /* dense here */
    t_ok(map_ok, "after mmc_init, mmc_node_map gives each node's kernel index (%d nodes)", nmap);
    bool topped = true;
    for (unsigned i = 0; i < nnodes; i++)
        topped &= node_nr(i) >= 8 && node_nr(i) - nr_before[i] <= 8;
    struct mmc_stats st;
    mmc_partition_stats(NULL, &st);
    uint64_t added = 0;
    for (unsigned i = 0; i < nnodes; i++)
        added += node_nr(i) - nr_before[i];
    t_ok(topped && added == st.topup_hugepages, "per-node top-up: each node's nr_hugepages rose by what it lacked (%llu in all)",
         (unsigned long long)added);
    long nruns = mmc_partition_runs(NULL, NULL, 0);
    struct mmc_run_info *runs = calloc((size_t)nruns, sizeof(*runs));
    mmc_partition_runs(NULL, runs, (size_t)nruns);
    uint64_t per_node[MAXN] = {0};
    bool placed = true;
    for (long r = 0; r < nruns; r++)
        for (uint64_t off = 0; off < runs[r].frames * 4096; off += 2 << 20) {
            int where = t_node_of((char *)runs[r].va + off);
            placed &= where == (int)runs[r].node;
            if (where >= 0 && where < MAXN)
                per_node[where]++;
        }
    bool counts = true;
    for (unsigned i = 0; i < nnodes; i++)
        counts &= per_node[i] == 8;
    t_ok(placed && counts, "every hugepage of node n's pool is on node n by move_pages (8 per node)");

    /* Strict routines with a full node; Ex falls back nearest first. */
    if (nnodes >= 2) {
        static void *blocks[8][4096];
        int nb[MAXN] = {0};
        unsigned from = nnodes - 1; /* the last node: its nearest differs in the 4-node shape */
        expected_order(from, order);
        nb[from] = fill_node(from, blocks[from], 4096);
        mmc_partition_stats(NULL, &st);
        t_ok(st.node_free_frames[from] == 0, "node %u filled with strict NodeMemory calls (%d blocks)", from, nb[from]);
        t_ok(MmAllocateContiguousNodeMemory(4096, A(0), A(-1), A(0), PAGE_READWRITE, from) == NULL,
             "NodeMemory with a full preferred node: NULL");
        t_ok(MmAllocateContiguousMemorySpecifyCacheNode(4096, A(0), A(-1), A(0), MmCached, from) == NULL,
             "SpecifyCacheNode with a full preferred node: NULL");
        for (unsigned step = 1; step < nnodes; step++) {
            SIZE_T n = 64 * 1024;
            void *p = NULL;
            NTSTATUS s = MmAllocateContiguousMemoryEx(&n, A(0), A(-1), A(0), from, PAGE_READWRITE, NULL, 'amun', 0, &p);
            int where = s == STATUS_SUCCESS ? t_node_of(p) : -1;
            t_ok(where == (int)order[step],
                 "Ex preferring full node %u lands on node %d, expected %u (distance %u)", from, where,
                 order[step], dist[from][order[step]]);
            if (p)
                MmFreeContiguousMemory(p);
            /* fill that one too: the next call must go one further */
            nb[order[step]] = fill_node(order[step], blocks[order[step]], 4096);
        }
        SIZE_T n = 4096;
        void *p = NULL;
        mmc_partition_stats(NULL, &st);
        t_ok(st.free_frames == 0 &&
                 MmAllocateContiguousMemoryEx(&n, A(0), A(-1), A(0), from, PAGE_READWRITE, NULL, 'amun', 0, &p) ==
                     STATUS_INSUFFICIENT_RESOURCES,
             "Ex with every node full: STATUS_INSUFFICIENT_RESOURCES");
        for (unsigned i = 0; i < nnodes; i++)
            for (int k = 0; k < nb[i]; k++)
                MmFreeContiguousMemory(blocks[i][k]);
    }

    /* Per-node locks in the system partition: node 0 held, node 1 (and the last node) free. */
    if (nnodes >= 2) {
        char why[512];
        const unsigned pairs[2][2] = {{0, 1}, {nnodes - 1, 0}};
        for (unsigned k = 0; k < 2; k++)
            t_ok(nl_check(mmc_system_partition(), NULL, pairs[k][0], pairs[k][1], true, why, sizeof(why)),
                 "system partition: %s", why);
    }

    /* MDL LOCAL_NODE_ONLY: only the calling thread's node, even when it runs short. */
    for (unsigned i = 0; i < nnodes; i++) {
        if (!ncpus_of[i])
            continue; /* a memory-only node has no thread to call from */
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpus_of[i][0], &set);
        if (sched_setaffinity(0, sizeof(set), &set) != 0)
            continue;
        PMDL m = MmAllocatePagesForMdlEx(A(0), A(-1), A(0), 32ull << 20, MmCached,
                                         MM_ALLOCATE_FROM_LOCAL_NODE_ONLY | MM_DONT_ZERO_ALLOCATION);
        bool local = m != NULL;
        uint64_t pages = m ? m->ByteCount / 4096 : 0;
        for (uint64_t k = 0; m && k < pages; k++)
            local &= t_node_of(MmGetVirtualForPhysical(A(MmGetMdlPfnArray(m)[k] * 4096))) == (int)i;
        t_ok(local && pages == 16 * 256,
             "LOCAL_NODE_ONLY from a CPU of node %u: 32 MiB asked, the node's 16 MiB given, all on node %u",
             i, i);
        if (m) {
            MmFreePagesFromMdl(m);
            ExFreePool(m);
        }
    }

    free(runs);
    mmc_fini();
    bool back = true;
    for (unsigned i = 0; i < nnodes; i++)
        back &= node_nr(i) == nr_before[i];
    t_ok(back, "after mmc_fini every node's nr_hugepages is back where it was");

    /* Growth on real nodes: every node's 2 MiB pool full, a strict NodeMemory call grows its
     * own node, an Ex call grows the first node of its fallback order (its preferred one). */
    if (nnodes >= 2) {
        struct mmc_config c;
        mmc_config_init(&c);
        c.grow = 1;
        c.pool_max_bytes = 256ull << 20; /* a cap of our own: the VM is too small for the reserve */
        for (unsigned i = 0; i < nnodes; i++)
            c.node_pool_bytes[i] = 2 << 20;
        bool grown = mmc_init(&c) == 0;
        void *full[MAXN] = {0};
        for (unsigned i = 0; grown && i < nnodes; i++)
            full[i] = MmAllocateContiguousNodeMemory(2 << 20, A(0), A(-1), A(0), PAGE_READWRITE, i);
        const unsigned from = nnodes - 1;
        expected_order(from, order);
        void *p1 = MmAllocateContiguousNodeMemory(2 << 20, A(0), A(-1), A(0), PAGE_READWRITE, from);
        mmc_partition_stats(NULL, &st);
        t_ok(grown && p1 && t_node_of(p1) == (int)from && st.hugepages_added >= 1,
             "every node full: NodeMemory(2 MiB, node %u) grows the pool on node %u only (block on "
             "node %d by move_pages, %llu hugepage(s) added)", from, from, p1 ? t_node_of(p1) : -1,
             (unsigned long long)st.hugepages_added);
        SIZE_T n = 2 << 20;
        void *p2 = NULL;
        NTSTATUS s2 = MmAllocateContiguousMemoryEx(&n, A(0), A(-1), A(0), from, PAGE_READWRITE, NULL,
                                                   'amun', 0, &p2);
        t_ok(s2 == STATUS_SUCCESS && t_node_of(p2) == (int)order[0],
             "Ex(2 MiB) preferring node %u with every node full grows the first node of its fallback "
             "order (%u): block on node %d", from, order[0], p2 ? t_node_of(p2) : -1);
        for (unsigned i = 0; i < nnodes; i++)
            if (full[i])
                MmFreeContiguousMemory(full[i]);
        if (p1)
            MmFreeContiguousMemory(p1);
        if (p2)
            MmFreeContiguousMemory(p2);
        mmc_fini();
        back = true;
        for (unsigned i = 0; i < nnodes; i++)
            back &= node_nr(i) == nr_before[i];
        t_ok(back, "after growing and mmc_fini every node's nr_hugepages is back where it was");
    }
    _mmc_topology_free(topo);
    return t_done();
}
