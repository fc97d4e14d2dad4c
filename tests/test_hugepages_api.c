/* tests/test_hugepages_api.c: the public hugepage-count API of mmcontig.h (mmc_hugepages_count,
 * _reserve, _adjust, _giveback, _lock / _unlock), checked against sysfs read here directly.
 *
 * Every raise is given back and nr_hugepages is compared with its value before: the API must
 * restore it exactly. Needs root for the raises (skips otherwise, fails under CI=true).
 */
#include <sys/file.h>

#include "common.h"

#define MIB2 (2ull << 20)
#define GIB1 (1ull << 30)
#define NODE0 "/sys/devices/system/node/node0/hugepages/hugepages-2048kB/"
#define ALL "/sys/kernel/mm/hugepages/hugepages-2048kB/"

static bool has(const char *s) { return strstr(mmc_last_error(), s) != NULL; }

/* Can another open file description take the lock every mmcontig process takes? */
static bool lock_free_to_others(void)
{
    int fd = open("/run/mmcontig/hugepages.lock", O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return true; /* never created: nobody holds it */
    struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    bool got = fcntl(fd, F_OFD_SETLK, &l) == 0; /* another open file description: excluded */
    close(fd); /* releases it if taken */
    return got;
}

static void bad_arguments(void)
{
    uint64_t t = 7, f = 7;
    t_ok(mmc_hugepages_count(0, 4096, &t, &f) == -EINVAL && t == 7 && f == 7 && has("page_bytes") &&
             has("2 MiB"),
         "count: page_bytes 4096 is -EINVAL, outputs untouched, the message names the sizes (%s)",
         mmc_last_error());
    t_ok(mmc_hugepages_count(-2, MIB2, &t, &f) == -EINVAL && has("os_node -2") && has("-1"),
         "count: os_node -2 is -EINVAL with a message (%s)", mmc_last_error());
    t_ok(mmc_hugepages_reserve(0, 3 * MIB2, 1) == -EINVAL && has("page_bytes"),
         "reserve: page_bytes 6 MiB is -EINVAL with a message");
    t_ok(mmc_hugepages_reserve(-5, MIB2, 1) == -EINVAL && has("os_node"),
         "reserve: os_node -5 is -EINVAL with a message");
    uint64_t ns = 123;
    t_ok(mmc_hugepages_adjust(0, 0, 1, &ns) == -EINVAL && ns == 0 && has("page_bytes"),
         "adjust: page_bytes 0 is -EINVAL, no write (write_ns 0), with a message");
    t_ok(mmc_hugepages_adjust(-3, MIB2, 1, NULL) == -EINVAL && has("os_node"),
         "adjust: os_node -3 is -EINVAL with a message");
    const uint64_t nr = t_sysfs_u64(ALL "nr_hugepages");
    mmc_hugepages_giveback(-1, 12345, 1);
    t_ok(t_sysfs_u64(ALL "nr_hugepages") == nr && has("page_bytes"),
         "giveback: bad page_bytes is ignored (nr_hugepages unchanged) and said");
    t_ok(mmc_hugepages_count(4095, MIB2, &t, NULL) == -ENOENT && has("node 4095") &&
             has("no such node"),
         "count: a node the kernel lacks is -ENOENT with a message (%s)", mmc_last_error());
}

static void counts(void)
{
    uint64_t t = 0, f = 0;
    int rc = mmc_hugepages_count(0, MIB2, &t, &f);
    t_ok(rc == 0 && t == t_sysfs_u64(NODE0 "nr_hugepages") && f == t_sysfs_u64(NODE0 "free_hugepages"),
         "count: node 0, 2 MiB: nr %llu free %llu as sysfs says", (unsigned long long)t,
         (unsigned long long)f);
    rc = mmc_hugepages_count(-1, MIB2, &t, NULL);
    t_ok(rc == 0 && t == t_sysfs_u64(ALL "nr_hugepages"), "count: machine-wide, 2 MiB, free NULL");
    rc = mmc_hugepages_count(-1, MIB2, NULL, NULL);
    t_ok(rc == 0, "count: both outputs NULL is a plain existence check");
    if (access("/sys/kernel/mm/hugepages/hugepages-1048576kB", F_OK) == 0) {
        rc = mmc_hugepages_count(-1, GIB1, &t, &f);
        t_ok(rc == 0 && t == t_sysfs_u64("/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages"),
             "count: machine-wide, 1 GiB");
    }
}

static void reserve_giveback(int os_node, const char *dir)
{
    char nr_path[160], free_path[160];
    snprintf(nr_path, sizeof(nr_path), "%snr_hugepages", dir);
    snprintf(free_path, sizeof(free_path), "%sfree_hugepages", dir);
    const uint64_t nr0 = t_sysfs_u64(nr_path), free0 = t_sysfs_u64(free_path);

    long added = mmc_hugepages_reserve(os_node, MIB2, free0 > 0 ? free0 - 1 : 0);
    t_ok(added == 0 && t_sysfs_u64(nr_path) == nr0,
         "reserve(os_node %d): enough free already: 0 added, nr_hugepages unchanged", os_node);

    const uint64_t need = free0 + 3;
    added = mmc_hugepages_reserve(os_node, MIB2, need);
    const uint64_t nr1 = t_sysfs_u64(nr_path), free1 = t_sysfs_u64(free_path);
    t_ok(added >= 3 && nr1 == nr0 + (uint64_t)added && free1 >= need,
         "reserve(os_node %d, %llu): %ld added, nr_hugepages %llu -> %llu, %llu free (%s)", os_node,
         (unsigned long long)need, added, (unsigned long long)nr0, (unsigned long long)nr1,
         (unsigned long long)free1, added < 0 ? mmc_last_error() : "");
    if (added > 0)
        mmc_hugepages_giveback(os_node, MIB2, (uint64_t)added);
    t_ok(t_sysfs_u64(nr_path) == nr0, "giveback(os_node %d, %ld): nr_hugepages back to %llu exactly",
         os_node, added, (unsigned long long)nr0);
    mmc_hugepages_giveback(os_node, MIB2, 0);
    t_ok(t_sysfs_u64(nr_path) == nr0, "giveback of 0 changes nothing");
}

static void adjust(void)
{
    const uint64_t nr0 = t_sysfs_u64(NODE0 "nr_hugepages");
    uint64_t ns_up = 0, ns_down = 0, ns0 = 99;
    int up = mmc_hugepages_adjust(0, MIB2, +1, &ns_up);
    const uint64_t nr1 = t_sysfs_u64(NODE0 "nr_hugepages");
    int down = mmc_hugepages_adjust(0, MIB2, -1, &ns_down);
    const uint64_t nr2 = t_sysfs_u64(NODE0 "nr_hugepages");
    t_ok(up == 0 && nr1 == nr0 + 1 && ns_up > 0,
         "adjust +1: nr_hugepages %llu -> %llu, the kernel's allocation took %llu ns (%s)",
         (unsigned long long)nr0, (unsigned long long)nr1, (unsigned long long)ns_up,
         up < 0 ? mmc_last_error() : "");
    t_ok(down == 0 && nr2 == nr0 && ns_down > 0,
         "adjust -1: back to %llu, the kernel's freeing took %llu ns", (unsigned long long)nr2,
         (unsigned long long)ns_down);
    t_ok(mmc_hugepages_adjust(0, MIB2, 0, &ns0) == 0 && ns0 == 0 &&
             t_sysfs_u64(NODE0 "nr_hugepages") == nr0,
         "adjust 0: no write (write_ns 0), nothing changed");
    up = mmc_hugepages_adjust(0, MIB2, +2, NULL);
    down = mmc_hugepages_adjust(0, MIB2, -2, NULL);
    t_ok(up == 0 && down == 0 && t_sysfs_u64(NODE0 "nr_hugepages") == nr0,
         "adjust +2 / -2 with write_ns NULL round-trips");
}

static void locking(void)
{
    const uint64_t nr0 = t_sysfs_u64(NODE0 "nr_hugepages");
    t_ok(lock_free_to_others(), "the hugepage lock is free before mmc_hugepages_lock");
    mmc_hugepages_lock();
    t_ok(!lock_free_to_others(), "mmc_hugepages_lock holds the lock other processes take");
    mmc_hugepages_lock(); /* nests */
    uint64_t ns = 0;
    int up = mmc_hugepages_adjust(0, MIB2, +1, &ns);
    long added = mmc_hugepages_reserve(0, MIB2, t_sysfs_u64(NODE0 "free_hugepages") + 1);
    mmc_hugepages_giveback(0, MIB2, added > 0 ? (uint64_t)added : 0);
    int down = mmc_hugepages_adjust(0, MIB2, -1, NULL);
    mmc_hugepages_unlock();
    t_ok(up == 0 && added >= 1 && down == 0 && !lock_free_to_others(),
         "under the lock (twice), adjust / reserve / giveback take it again without deadlock; "
         "one unlock leaves it held");
    mmc_hugepages_unlock();
    t_ok(lock_free_to_others() && t_sysfs_u64(NODE0 "nr_hugepages") == nr0,
         "the second unlock releases it; nr_hugepages back to %llu", (unsigned long long)nr0);
    mmc_hugepages_unlock(); /* not held: nothing happens */
    t_ok(lock_free_to_others(), "an unlock without a lock does nothing");
}

static void faults(void)
{
    const uint64_t nr0 = t_sysfs_u64(NODE0 "nr_hugepages"), nr_all0 = t_sysfs_u64(ALL "nr_hugepages");
    uint64_t ns = 1;
    setenv("MMC_FAULT", "nohugepages", 1);
    int rc = mmc_hugepages_adjust(0, MIB2, +1, &ns);
    t_ok(rc == -ENOMEM && t_sysfs_u64(NODE0 "nr_hugepages") == nr0 && has("found only 0 of 1") &&
             has("compact_memory") && has("[injected: MMC_FAULT=nohugepages]"),
         "MMC_FAULT=nohugepages: adjust +1 is -ENOMEM, nothing added (%s)", mmc_last_error());
    setenv("MMC_FAULT", "topup_denied", 1);
    rc = mmc_hugepages_adjust(0, MIB2, +1, &ns);
    t_ok(rc == -EACCES && ns == 0 && has("run as root") && has("[injected: MMC_FAULT=topup_denied]"),
         "MMC_FAULT=topup_denied: adjust +1 is -EACCES, no write (%s)", mmc_last_error());
    long added = mmc_hugepages_reserve(0, MIB2, 1);
    t_ok(added == -ENOMEM && has("may not raise nr_hugepages") && has("ask for fewer") &&
             !has("MMC_POOL") && t_sysfs_u64(NODE0 "nr_hugepages") == nr0,
         "MMC_FAULT=topup_denied: reserve is -ENOMEM, the remedy without pool words (%s)",
         mmc_last_error());
    setenv("MMC_FAULT", "hugepages_short", 1);
    added = mmc_hugepages_reserve(-1, MIB2, 4);
    t_ok(added == -ENOMEM && has("the machine:") && has("found only 2 more") &&
             t_sysfs_u64(ALL "nr_hugepages") == nr_all0,
         "MMC_FAULT=hugepages_short: machine-wide reserve of 4 finds 2, gives them back (%s)",
         mmc_last_error());
    setenv("MMC_FAULT", "1g_unavailable", 1);
    rc = mmc_hugepages_count(-1, GIB1, NULL, NULL);
    t_ok(rc == -ENOENT && has("[injected: MMC_FAULT=1g_unavailable]"),
         "MMC_FAULT=1g_unavailable: count of 1 GiB pages is -ENOENT (%s)", mmc_last_error());
    unsetenv("MMC_FAULT");
    t_ok(mmc_hugepages_adjust(0, MIB2, +1, NULL) == 0 && mmc_hugepages_adjust(0, MIB2, -1, NULL) == 0 &&
             t_sysfs_u64(NODE0 "nr_hugepages") == nr0,
         "MMC_FAULT unset: adjust works again");
}

int main(void)
{
    bad_arguments();
    if (access(NODE0, F_OK) != 0 || access(ALL "nr_hugepages", W_OK) != 0) {
        const char *ci = getenv("CI");
        if (ci && !strcmp(ci, "true")) {
            printf("Bail out! needs 2 MiB hugepages on node 0 and root (writable %snr_hugepages)\n", ALL);
            return 1;
        }
        printf("# SKIP the rest: needs 2 MiB hugepages on node 0 and root\n");
        return t_done();
    }
    const uint64_t nr_node0 = t_sysfs_u64(NODE0 "nr_hugepages"), nr_all = t_sysfs_u64(ALL "nr_hugepages");
    counts();
    reserve_giveback(0, NODE0);
    reserve_giveback(-1, ALL);
    adjust();
    locking();
    faults();
    t_ok(t_sysfs_u64(NODE0 "nr_hugepages") == nr_node0 && t_sysfs_u64(ALL "nr_hugepages") == nr_all,
         "at the end nr_hugepages is as it was (node 0: %llu, machine: %llu)",
         (unsigned long long)nr_node0, (unsigned long long)nr_all);
    return t_done();
}
