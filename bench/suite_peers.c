/* bench/suite_peers.c: the `peers` suite: other ways to get physically contiguous memory, on
 * the same machine in the same run, and their ratios to mmcontig's engines.
 *
 * Rows, in run order:
 *   dpdk               rte_memzone_reserve_bounded(name, len, SOCKET_ID_ANY,
 *                      RTE_MEMZONE_IOVA_CONTIG, align, bound) in this process (peer_dpdk.c),
 *                      on its own hugepages (as many as mmcontig's real pool, reserved before
 *                      rte_eal_init and given back after rte_eal_cleanup). Constraint none:
 *                      align 4 KiB, bound 0; boundary: align 4 KiB, bound = the request rounded
 *                      up to a power of two (mmcontig's boundary rows use the same value).
 *                      Timed: the reserve call. Untimed: a pagemap check of every returned
 *                      block (present, physically contiguous, aligned to align, not crossing
 *                      bound, IOVA = the physical address) and rte_memzone_free.
 *   kernel-hugetlb-2M  the kernel allocating one fresh hugepage from its buddy allocator:
 *   kernel-hugetlb-1G  timed, the write(2) of nr_hugepages + 1 to the node's sysfs file (the
 *                      kernel allocates, and for 1 GiB pages migrates, inside that write); the
 *                      call succeeded if nr_hugepages grew by one. Untimed: the page is mapped
 *                      (MAP_HUGETLB, bound to the node, MADV_POPULATE_WRITE; the kernel's free
 *                      list is LIFO, so this is the fresh page), checked against pagemap
 *                      (contiguous, aligned to its size), unmapped, and nr_hugepages lowered by
 *                      one. All under the library's nr_hugepages lock. Chosen over timing a
 *                      MAP_HUGETLB fault on surplus pages because the fault also zeroes the
 *                      page (~0.1 ms per 2 MiB), which is not the contiguous search.
 *   mmcontig           every engine on the real pool, fill 0, the same sizes and constraints
 *                      as dpdk, each block checked against pagemap in the same way.
 * peers_ratio.csv: each dpdk / kernel row against each mmcontig row of the same request size
 * and constraint: p50 and p99 ratios (peer / mmcontig) and both success rates.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"
#include "peer_dpdk.h"

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static int64_t calls_for(uint64_t size)
{
    const struct bench_preset *ps = bench_g.opt.preset;
    return bench_calls(size <= MIB ? ps->peer_calls_small
                       : size <= 8 * MIB ? ps->peer_calls_medium
                                         : ps->peer_calls_large);
}

static struct bench_case *add(int peer, int engine, uint64_t size, int con, uint32_t node,
                              int64_t calls)
{
    struct bench_case c = {0};
    c.suite = SUITE_PEERS;
    c.peer = peer;
    c.engine = engine;
    c.pool = 0;
    c.request_bytes = size;
    c.constraint = con;
    c.node = node;
    c.calls = calls;
    c.reps = bench_g.opt.repetitions;
    c.measured_viol = true;
    char sz[16];
    bench_size_label(sz, sizeof(sz), size);
    snprintf(c.name, sizeof(c.name), "peers/%s/%s/req:%s/%s", bench_peer_name[peer],
             peer == PEER_MMCONTIG ? bench_g.opt.engines[engine] : peer == PEER_DPDK ? "own-hugepages" : "buddy",
             sz, bench_constraint_name[con]);
    return bench_add_case(&c);
}

/* mmcontig growing its pool for the request (state grow, bench/measure.c run_grow): a fresh
 * full 64 MiB pool per call, the hugepages taken from the kernel inside the call. */
static void add_grow(int engine, unsigned pool, uint64_t size, int64_t calls)
{
    struct bench_case *c = add(PEER_MMCONTIG, engine, size, CON_NONE, BENCH_ANY_NODE, calls);
    if (!c)
        return;
    c->state = STATE_GROW;
    c->pool = pool;
    c->fill_pct = 100;
    char sz[16];
    bench_size_label(sz, sizeof(sz), size);
    snprintf(c->name, sizeof(c->name), "peers/mmcontig/%s/%s/req:%s/none/state:grow",
             bench_g.opt.engines[engine], bench_g.pools[pool].label, sz);
}

void suite_peers_register(void)
{
    const struct bench_preset *ps = bench_g.opt.preset;
    static const int cons[] = {CON_NONE, CON_BOUNDARY};
    struct bench_case *last = NULL;
    for (unsigned s = 0; s < ps->npeer_sizes; s++)
        for (unsigned k = 0; k < 2; k++) {
            uint64_t size = ps->peer_sizes_bytes[s];
            if (size >= GIB && bench_g.pools[0].pool_bytes < 2 * size)
                continue;
            last = add(PEER_DPDK, -1, size, cons[k], BENCH_ANY_NODE, calls_for(size));
        }
    if (last)
        last->last_dpdk = true;
    const uint32_t node = bench_g.opt.nodes[0];
    add(PEER_KERNEL_2M, -1, 2 * MIB, CON_NONE, node, bench_calls(ps->kernel_calls_2m));
    add(PEER_KERNEL_1G, -1, GIB, CON_NONE, node, bench_calls(ps->kernel_calls_1g));
    for (unsigned e = 0; e < bench_g.opt.nengines; e++)
        for (unsigned s = 0; s < ps->npeer_sizes; s++)
            for (unsigned k = 0; k < 2; k++) {
                uint64_t size = ps->peer_sizes_bytes[s];
                if (size >= GIB && bench_g.pools[0].pool_bytes < 2 * size)
                    continue;
                add(PEER_MMCONTIG, (int)e, size, cons[k], BENCH_ANY_NODE, calls_for(size));
            }
    for (unsigned p = 0; p < bench_g.npools; p++)
        if (bench_g.pools[p].grow)
            for (unsigned e = 0; e < bench_g.opt.nengines; e++)
                for (unsigned s = 0; s < ps->npeer_sizes; s++)
                    if (ps->peer_sizes_bytes[s] < GIB)
                        add_grow((int)e, p, ps->peer_sizes_bytes[s], bench_calls(ps->grow_calls));
}

/* ---- DPDK ---- */

static void run_dpdk(gbench_state_t *st, struct bench_case *c)
{
    char err[600];
    if (target_dpdk(err, sizeof(err)) < 0) {
        case_fail(st, c, "%s", err);
        return;
    }
    c->pool_bytes = bench_g.pools[0].pool_bytes;
    c->page_bytes = 2 * MIB;
    c->lowest = 0;
    c->highest = UINT64_MAX;
    c->boundary = c->constraint == CON_BOUNDARY ? bench_next_pow2_bytes(c->request_bytes) : 0;
    const uint64_t align = MMC_FRAME_BYTES;
    for (unsigned w = 0; w < bench_g.opt.preset->warmup_calls; w++) {
        struct dpdk_block b;
        const char *why;
        if (dpdk_peer_reserve(c->request_bytes, align, c->boundary, &b, &why) == 0)
            dpdk_peer_free(&b);
    }
    const uint64_t started = bench_now_ns();
    const int64_t max = gbench_max_iterations(st);
    int64_t done = 0;
    for (;;) {
        int64_t nb = max - done < 4 ? max - done : 4;
        if (!gbench_keep_running(st, nb > 0 ? nb : 1))
            break;
        uint64_t batch_ns = 0;
        for (int64_t i = 0; i < nb; i++) {
            struct dpdk_block b = {0};
            const char *why = NULL;
            uint64_t t0 = bench_now_ns();
            int r = dpdk_peer_reserve(c->request_bytes, align, c->boundary, &b, &why);
            uint64_t ns = bench_now_ns() - t0;
            batch_ns += ns;
            bool viol = false;
            if (r == 0) {
                uint64_t phys = 0;
                int pr = pagemap_check(b.addr, c->request_bytes, align, c->boundary, &phys, &why);
                viol = pr != 0 || phys != b.iova;
                dpdk_peer_free(&b);
            }
            case_record(c, r == 0, ns, false, viol, -1);
        }
        done += nb;
        gbench_set_iteration_time(st, (double)batch_ns * 1e-9);
        progress_tick();
        if (case_must_stop(st, c, started))
            break;
    }
    case_end(st, c, true);
    if (c->last_dpdk && c->finished)
        target_dpdk_done();
}

/* ---- the kernel's own hugepage allocation ---- */

static uint64_t node_meminfo_kb(int os_node, const char *key)
{
    char path[96], line[160];
    snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/meminfo", os_node);
    FILE *f = fopen(path, "r");
    unsigned long long kb = 0;
    while (f && fgets(line, sizeof(line), f)) {
        char *p = strstr(line, key);
        if (p && p[strlen(key)] == ':')
            sscanf(p + strlen(key) + 1, "%llu", &kb);
    }
    if (f)
        fclose(f);
    return kb;
}

/* Map one hugepage of the node and check it against pagemap. 1: a violation; 0: fine; -1: it
 * could not be mapped (not counted). */
static int verify_hugepage(uint64_t page_bytes, int os_node)
{
    const int shift = page_bytes >= GIB ? 30 : 21;
    void *p = mmap(NULL, page_bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | (shift << MAP_HUGE_SHIFT), -1, 0);
    if (p == MAP_FAILED)
        return -1;
    unsigned long mask[MMC_MAX_NODES / 64 + 16] = {0};
    int r = -1;
    if (os_node >= 0 && os_node < (int)(sizeof(mask) * 8))
        mask[os_node / 64] |= 1ul << (os_node % 64);
    const int MPOL_BIND_ = 2;
    if (syscall(SYS_mbind, p, page_bytes, MPOL_BIND_, mask, sizeof(mask) * 8, 0) == 0 &&
        madvise(p, page_bytes, MADV_POPULATE_WRITE) == 0) {
        uint64_t phys;
        const char *why;
        int pr = pagemap_check(p, page_bytes, page_bytes, 0, &phys, &why);
        r = pr < 0 ? -1 : pr;
    }
    munmap(p, page_bytes);
    return r;
}

static void run_kernel(gbench_state_t *st, struct bench_case *c)
{
    const uint64_t page = c->peer == PEER_KERNEL_1G ? GIB : 2 * MIB;
    const int os_node = hugetlb_os_node(c->node);
    char err[300];
    target_dpdk_done(); /* never two peers' hugepages at once */
    int rc = mmc_hugepages_count(os_node, page, NULL, NULL);
    if (rc < 0) {
        case_fail(st, c, "%s", mmc_last_error());
        return;
    }
    const uint64_t total_kb = node_meminfo_kb(os_node, "MemTotal");
    const uint64_t free_kb = node_meminfo_kb(os_node, "MemFree");
    c->pool_bytes = total_kb * 1024;
    c->page_bytes = page;
    c->fill_pct = total_kb ? (unsigned)((total_kb - free_kb) * 100 / total_kb) : 0;
    c->lowest = 0;
    c->highest = UINT64_MAX;
    c->boundary = 0;
    const uint64_t started = bench_now_ns();
    bool failed = false;
    while (gbench_keep_running(st, 1)) { /* one call per iteration: each takes the lock */
        /* The raise, the check and the give-back are one step for every mmcontig process. */
        mmc_hugepages_lock();
        uint64_t ns = 0;
        rc = mmc_hugepages_adjust(os_node, page, +1, &ns); /* ns: the write(2) alone */
        if (rc < 0 && ns == 0) { /* no write made (not root, no such node...): no call */
            mmc_hugepages_unlock();
            snprintf(err, sizeof(err), "%s", mmc_last_error());
            failed = true;
            gbench_set_iteration_time(st, 0);
            gbench_skip_with_error(st, err); /* ends the loop at the next keep_running */
            continue;
        }
        const bool ok = rc == 0; /* nr_hugepages grew by one; if not, nothing stays added */
        bool viol = false;
        if (ok) {
            viol = verify_hugepage(page, os_node) == 1;
            mmc_hugepages_adjust(os_node, page, -1, NULL); /* give back exactly this one */
        }
        mmc_hugepages_unlock();
        case_record(c, ok, ns, false, viol, -1);
        gbench_set_iteration_time(st, (double)ns * 1e-9);
        progress_tick();
        if (case_must_stop(st, c, started))
            break;
    }
    if (failed) {
        case_fail(st, c, "%s", err);
        return;
    }
    case_end(st, c, true);
}

void suite_peers_case(gbench_state_t *st, struct bench_case *c)
{
    if (!case_begin(st, c))
        return;
    if (c->peer == PEER_DPDK)
        run_dpdk(st, c);
    else
        run_kernel(st, c);
}

/* ---- ratios ---- */

static const char *const ratio_columns[] = {
    "run_id", "peer", "engine", "engine_state", "request_bytes", "constraint", "peer_success_rate",
    "engine_success_rate", "peer_p50_ns", "engine_p50_ns", "p50_ratio", "peer_p99_ns",
    "engine_p99_ns", "p99_ratio",
};

int suite_peers_write_ratios(void)
{
    if (!bench_g.opt.suite[SUITE_PEERS])
        return 0;
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/peers_ratio.csv", bench_g.opt.out_dir);
    struct csv w;
    int rc = csv_open(&w, path, ratio_columns, sizeof(ratio_columns) / sizeof(ratio_columns[0]));
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < bench_g.ncases && rc == 0; i++) {
        const struct bench_case *p = &bench_g.cases[i];
        if (p->suite != SUITE_PEERS || p->peer == PEER_MMCONTIG || !p->have_result)
            continue;
        for (size_t j = 0; j < bench_g.ncases && rc == 0; j++) {
            const struct bench_case *m = &bench_g.cases[j];
            if (m->suite != SUITE_PEERS || m->peer != PEER_MMCONTIG || !m->have_result ||
                m->request_bytes != p->request_bytes || m->constraint != p->constraint)
                continue;
            csv_str(&w, bench_g.run_id);
            csv_str(&w, bench_peer_name[p->peer]);
            csv_str(&w, bench_g.opt.engines[m->engine]);
            csv_str(&w, m->state == STATE_GROW ? "grow" : "aged");
            csv_u64(&w, p->request_bytes);
            csv_str(&w, bench_constraint_name[p->constraint]);
            csv_f64(&w, p->r_calls ? (double)p->r_ok / (double)p->r_calls : 0, 4);
            csv_f64(&w, m->r_calls ? (double)m->r_ok / (double)m->r_calls : 0, 4);
            const bool both = p->r_ok && m->r_ok;
            if (p->r_ok)
                csv_u64(&w, p->r_p50_ns);
            else
                csv_empty(&w);
            if (m->r_ok)
                csv_u64(&w, m->r_p50_ns);
            else
                csv_empty(&w);
            if (both && m->r_p50_ns)
                csv_f64(&w, (double)p->r_p50_ns / (double)m->r_p50_ns, 3);
            else
                csv_empty(&w);
            if (p->r_ok)
                csv_u64(&w, p->r_p99_ns);
            else
                csv_empty(&w);
            if (m->r_ok)
                csv_u64(&w, m->r_p99_ns);
            else
                csv_empty(&w);
            if (both && m->r_p99_ns)
                csv_f64(&w, (double)p->r_p99_ns / (double)m->r_p99_ns, 3);
            else
                csv_empty(&w);
            rc = csv_row_end(&w);
        }
    }
    csv_close(&w);
    return rc;
}
