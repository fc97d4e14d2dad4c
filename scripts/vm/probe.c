/* scripts/vm/probe.c — owns the numa-vm harness self-test ("@probe").
 *
 * Runs inside the numa-vm guest and prints what the kernel sees of the
 * NUMA shape, then checks that the things the project's node tests rely on
 * actually work there:
 *   - /sys/devices/system/node/online, each node's MemTotal, CPU list and
 *     its row of the distance matrix (cross-checked against libnuma);
 *   - the distance matrix is symmetric with 10 on the diagonal, and, when
 *     scripts/numa-vm exported MMC_VM_NODES / MMC_VM_DISTANCES /
 *     MMC_VM_CPU_NODES, that it matches the shape qemu was asked for;
 *   - per node: nr_hugepages (2 MiB) can be set to 8 and reads back 8;
 *     a MAP_HUGETLB region mbind()-ed to the node before first touch gets
 *     its pages from that node (get_mempolicy(MPOL_F_NODE|MPOL_F_ADDR) and
 *     the node's free_hugepages count agree); the same for ordinary pages;
 *     nr_hugepages goes back to 0 afterwards.
 * Exit status: 0 if every check passed, 1 otherwise.
 * Built by scripts/numa-vm (gcc -O2 probe.c -lnuma); needs libnuma-dev.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <numa.h>
#include <numaif.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAXN 64                 /* more nodes than any numa-vm shape has */
#define HP_SIZE (2UL << 20)     /* 2 MiB hugepages */
#define HP_RESERVE 8            /* reserved per node */
#define HP_MAP 4                /* mapped and touched per node */

static int failures;

static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("probe: FAIL: ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	failures++;
}

/* Reads a whole small sysfs/procfs file into buf (NUL-terminated,
 * trailing newline removed).  Returns 0 or -1. */
static int read_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

static long read_long(const char *path)
{
	char buf[64];

	if (read_file(path, buf, sizeof(buf)) != 0)
		return -1;
	return strtol(buf, NULL, 10);
}

static int write_long(const char *path, long v)
{
	FILE *f = fopen(path, "w");
	int rc;

	if (!f)
		return -1;
	rc = fprintf(f, "%ld\n", v) < 0;
	rc |= fclose(f) != 0;
	return rc ? -1 : 0;
}

/* Parses a kernel list like "0-2,5" into flags[]; returns the count. */
static int parse_list(const char *s, int *flags, int max)
{
	int count = 0;

	memset(flags, 0, sizeof(*flags) * (size_t)max);
	while (*s) {
		char *end;
		long a = strtol(s, &end, 10), b = a;

		if (end == s)
			break;
		if (*end == '-')
			b = strtol(end + 1, &end, 10);
		for (long i = a; i <= b && i < max; i++)
			if (i >= 0 && !flags[i]) {
				flags[i] = 1;
				count++;
			}
		s = *end == ',' ? end + 1 : end;
	}
	return count;
}

static char *node_path(char *buf, size_t len, int node, const char *leaf)
{
	snprintf(buf, len, "/sys/devices/system/node/node%d/%s", node, leaf);
	return buf;
}

static long node_memtotal_kb(int node)
{
	char path[128], buf[4096], *p;

	if (read_file(node_path(path, sizeof(path), node, "meminfo"), buf,
		      sizeof(buf)) != 0)
		return -1;
	p = strstr(buf, "MemTotal:");
	return p ? strtol(p + strlen("MemTotal:"), NULL, 10) : -1;
}

static long node_hp(int node, const char *leaf)
{
	char path[160], l[96];

	snprintf(l, sizeof(l), "hugepages/hugepages-2048kB/%s", leaf);
	return read_long(node_path(path, sizeof(path), node, l));
}

static int node_hp_set(int node, long v)
{
	char path[160];

	return write_long(node_path(path, sizeof(path), node,
			  "hugepages/hugepages-2048kB/nr_hugepages"), v);
}

/* Maps len bytes (hugetlb or not), binds them to node before the first
 * touch, touches them and checks every page's node.  Returns 0 on success. */
static int bind_touch_check(int node, size_t len, int huge)
{
	size_t step = huge ? HP_SIZE : (size_t)sysconf(_SC_PAGESIZE);
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | (huge ? MAP_HUGETLB : 0);
	const char *what = huge ? "hugetlb" : "4k";
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, -1, 0);
	int bad = 0;

	if (p == MAP_FAILED) {
		fail("node %d: mmap %s %zu bytes: %s", node, what, len,
		     strerror(errno));
		return -1;
	}
	struct bitmask *bm = numa_allocate_nodemask();

	numa_bitmask_setbit(bm, (unsigned)node);
	if (mbind(p, len, MPOL_BIND, bm->maskp, bm->size + 1,
		  MPOL_MF_STRICT) != 0) {
		fail("node %d: mbind %s: %s", node, what, strerror(errno));
		bad = 1;
	}
	numa_free_nodemask(bm);
	if (!bad) {
		memset(p, 0x5a, len);   /* first touch: faults the pages in */
		for (size_t off = 0; off < len; off += step) {
			int got = -1;

			if (get_mempolicy(&got, NULL, 0, p + off,
					  MPOL_F_NODE | MPOL_F_ADDR) != 0) {
				fail("node %d: get_mempolicy %s: %s", node,
				     what, strerror(errno));
				bad = 1;
				break;
			}
			if (got != node) {
				fail("node %d: %s page at +%zu is on node %d",
				     node, what, off, got);
				bad = 1;
				break;
			}
		}
	}
	if (!bad && huge) {
		long free_now = node_hp(node, "free_hugepages");
		long want = HP_RESERVE - (long)(len / HP_SIZE);

		if (free_now != want) {
			fail("node %d: free_hugepages %ld after touching %zu, "
			     "want %ld", node, free_now, len / HP_SIZE, want);
			bad = 1;
		}
	}
	munmap(p, len);
	if (!bad)
		printf("probe: node %d: %zu %s pages bound, touched, on node "
		       "%d: ok\n", node, len / step, what, node);
	return bad ? -1 : 0;
}

int main(void)
{
	char buf[4096], path[160];
	int online[MAXN], cpus[MAXN], nnodes, maxnode = -1;
	static int dist[MAXN][MAXN];
	const char *env;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (numa_available() < 0) {
		fail("numa_available() < 0: kernel without NUMA?");
		return 1;
	}
	if (read_file("/sys/devices/system/node/online", buf, sizeof(buf))) {
		fail("cannot read /sys/devices/system/node/online");
		return 1;
	}
	nnodes = parse_list(buf, online, MAXN);
	for (int n = 0; n < MAXN; n++)
		if (online[n])
			maxnode = n;
	printf("probe: online nodes: %s (%d)\n", buf, nnodes);
	printf("probe: libnuma: max node %d, configured nodes %d, "
	       "configured cpus %d\n", numa_max_node(),
	       numa_num_configured_nodes(), numa_num_configured_cpus());

	/* Per node: memory, CPUs, distances. */
	for (int n = 0; n <= maxnode; n++) {
		char cl[256], dl[512];
		const char *s;

		if (!online[n])
			continue;
		if (read_file(node_path(path, sizeof(path), n, "cpulist"), cl,
			      sizeof(cl)) != 0)
			fail("node %d: no cpulist", n);
		if (read_file(node_path(path, sizeof(path), n, "distance"), dl,
			      sizeof(dl)) != 0)
			fail("node %d: no distance", n);
		long kb = node_memtotal_kb(n);

		printf("probe: node %d: MemTotal %ld kB (%ld MiB), cpus [%s], "
		       "distance [%s]\n", n, kb, kb / 1024, cl, dl);
		if (kb <= 0)
			fail("node %d: no MemTotal", n);
		cpus[n] = parse_list(cl, (int[MAXN]){0}, MAXN);
		s = dl;
		for (int m = 0; m <= maxnode; m++) {
			char *end;

			dist[n][m] = (int)strtol(s, &end, 10);
			if (end == s)
				fail("node %d: short distance row", n);
			s = end;
			if (online[m] && numa_distance(n, m) != dist[n][m])
				fail("distance %d-%d: sysfs %d, libnuma %d",
				     n, m, dist[n][m], numa_distance(n, m));
		}
	}
	printf("probe: distance matrix:\nprobe:     ");
	for (int m = 0; m <= maxnode; m++)
		printf(" %4d", m);
	printf("\n");
	for (int n = 0; n <= maxnode; n++) {
		printf("probe: %4d", n);
		for (int m = 0; m <= maxnode; m++)
			printf(" %4d", dist[n][m]);
		printf("\n");
		if (dist[n][n] != 10)
			fail("distance %d-%d is %d, want 10", n, n, dist[n][n]);
		for (int m = 0; m < n; m++)
			if (dist[n][m] != dist[m][n])
				fail("distance not symmetric: %d-%d %d, %d-%d "
				     "%d", n, m, dist[n][m], m, n, dist[m][n]);
	}

	/* Compare with what the harness asked qemu for, when told. */
	if ((env = getenv("MMC_VM_NODES")) && atoi(env) != nnodes)
		fail("MMC_VM_NODES=%s but %d nodes online", env, nnodes);
	if ((env = getenv("MMC_VM_DISTANCES"))) {
		char *end;

		for (int n = 0; n <= maxnode; n++)
			for (int m = 0; m <= maxnode; m++) {
				long want = strtol(env, &end, 10);

				if (end == env) {
					fail("MMC_VM_DISTANCES too short");
					n = m = MAXN;
					break;
				}
				env = end;
				if (want != dist[n][m])
					fail("distance %d-%d: %d, harness "
					     "asked %ld", n, m, dist[n][m],
					     want);
			}
	}
	if ((env = getenv("MMC_VM_CPUS_PER_NODE"))) {
		char *end;

		for (int n = 0; n <= maxnode; n++) {
			long want = strtol(env, &end, 10);

			if (end == env)
				break;
			env = end;
			if (want != cpus[n])
				fail("node %d has %d cpus, harness asked %ld",
				     n, cpus[n], want);
		}
	}

	/* 1 GiB pages: informational only. */
	if (access("/sys/kernel/mm/hugepages/hugepages-1048576kB", F_OK) == 0)
		printf("probe: 1 GiB hugepage size is available (pool needs a "
		       "free 1 GiB range in a node)\n");
	else
		printf("probe: no 1 GiB hugepage size (CPU without pdpe1gb)\n");

	/* Hugepages: reserve HP_RESERVE on every node, check each lands. */
	for (int n = 0; n <= maxnode; n++) {
		if (!online[n])
			continue;
		if (node_hp_set(n, HP_RESERVE) != 0) {
			fail("node %d: write nr_hugepages: %s", n,
			     strerror(errno));
			continue;
		}
	}
	for (int n = 0; n <= maxnode; n++) {
		if (!online[n])
			continue;
		long nr = node_hp(n, "nr_hugepages");
		long fr = node_hp(n, "free_hugepages");

		printf("probe: node %d: nr_hugepages %ld, free_hugepages %ld\n",
		       n, nr, fr);
		if (nr != HP_RESERVE || fr != HP_RESERVE) {
			fail("node %d: asked %d hugepages, got nr %ld free %ld",
			     n, HP_RESERVE, nr, fr);
			continue;
		}
		bind_touch_check(n, HP_MAP * HP_SIZE, 1);
		bind_touch_check(n, 1UL << 20, 0);
	}
	for (int n = 0; n <= maxnode; n++) {
		if (!online[n])
			continue;
		if (node_hp_set(n, 0) != 0)
			fail("node %d: reset nr_hugepages: %s", n,
			     strerror(errno));
		else if (node_hp(n, "nr_hugepages") != 0)
			fail("node %d: nr_hugepages did not go back to 0", n);
	}
	printf("probe: %s (%d failure%s)\n", failures ? "FAILED" : "all ok",
	       failures, failures == 1 ? "" : "s");
	return failures ? 1 : 0;
}
