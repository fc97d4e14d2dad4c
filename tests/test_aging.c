/* tests/test_aging.c: the aging trace replays to the same frame database state.
 *
 * A 4-thread run of the recipe on a simulated partition is recorded; a fresh partition with the
 * same layout and engine replays the file single-threaded and must reach the same state hash;
 * the run must have aged the partition (utilisation near the target, free memory fragmented);
 * a damaged trace is refused with the line that is wrong.
 */
#include "common.h"
#include "mmcontig/testing.h"

static mmc_partition_t *fresh(void)
{
    struct mmc_sim_config sc;
    mmc_sim_config_init(&sc);
    sc.pool_bytes = 256 << 20;
    sc.mean_run_hugepages = 8;
    sc.seed = 3;
    mmc_partition_t *p = NULL;
    if (mmc_partition_create_simulated(&sc, &p) != 0) {
        printf("Bail out! simulated partition: %s\n", mmc_last_error());
        exit(1);
    }
    return p;
}

int main(void)
{
    char path[] = "/tmp/mmc-aging-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    struct mmc_aging a;
    mmc_aging_init(&a);
    a.seed = 42;
    a.threads = 4;
    a.ops = 20000;
    mmc_partition_t *p = fresh();
    int rc = mmc_aging_run(p, &a, path);
    struct mmc_stats st;
    mmc_partition_stats(p, &st);
    double util = 1.0 - (double)st.free_frames / (double)st.pool_frames;
    struct mmc_frag m;
    mmc_partition_frag(p, -1, &m);
    t_ok(rc == 0 && util > 0.6 && util < 0.8, "4 threads, 20000 operations: utilisation %.3f near the 0.7 target", util);
    t_ok(st.live_movable > 0 && st.live_standby > 0 && st.live_mdl_frames > 0 && st.live_blocks > 0,
         "the aged partition holds movable, standby, MDL and contiguous frames");
    t_ok(m.unusable[9] > 0.2, "free memory is fragmented: U(9) = %.3f, FI(9) = %.3f, largest free stretch %llu frames",
         m.unusable[9], m.fragmentation[9], (unsigned long long)m.largest_free_frames);
    uint64_t hash = st.state_hash;
    mmc_partition_destroy(p);

    p = fresh();
    uint64_t recorded = 0;
    rc = mmc_aging_replay(p, path, &recorded);
    mmc_partition_stats(p, &st);
    t_ok(rc == 0 && recorded == hash && st.state_hash == hash,
         "the trace replays to the same frame database (hash %016llx)", (unsigned long long)st.state_hash);
    mmc_partition_destroy(p);

    /* A damaged trace: a free of an object that is not live. */
    char bad[] = "/tmp/mmc-aging-bad-XXXXXX";
    fd = mkstemp(bad);
    dprintf(fd, "# mmcontig aging trace v1\nF 7\n");
    close(fd);
    p = fresh();
    rc = mmc_aging_replay(p, bad, &recorded);
    t_ok(rc == -EILSEQ && strstr(mmc_last_error(), ":2:"), "a damaged trace is refused at its line: %s", mmc_last_error());
    mmc_partition_destroy(p);
    unlink(path);
    unlink(bad);
    return t_done();
}
