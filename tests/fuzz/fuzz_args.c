/* tests/fuzz/fuzz_args.c: libFuzzer target, the NT routines' arguments straight from the bytes.
 *
 * One simulated partition per engine (2 nodes, runs of about 3 hugepages, interleaved: built
 * once per process). Each input picks an engine, then up to 6 calls whose every argument is
 * taken from the input, raw 64-bit values included: MmAllocateContiguousMemoryEx (the only
 * contiguous routine that takes a PartitionObject) and mmc_allocate_pages_for_mdl (what
 * MmAllocatePagesForMdlEx does on the system partition). A form byte per call lets the fuzzer
 * reach valid calls easily by choosing, field by field, raw bytes or a sensible value.
 * fuzz_common.h decides the expected status from the rules and checks the result against the
 * oracle; at the end of the input everything is freed and the frame database must be exactly
 * as it was (same state hash).
 */
#include "fuzz_common.h"

static struct fz Z[16];
static uint64_t hash0[16];
static unsigned nz;

static void init_once(void)
{
    if (nz)
        return;
    for (size_t i = 0; mmc_engine_name(i) && nz < 16; i++) {
        struct mmc_sim_config sc;
        mmc_sim_config_init(&sc);
        sc.pool_bytes = 48ull << 20;
        sc.nnodes = 2;
        sc.mean_run_hugepages = 3;
        sc.node_split = MMC_SIM_NODES_INTERLEAVED;
        sc.seed = 7;
        snprintf(sc.algo, sizeof(sc.algo), "%s", mmc_engine_name(i));
        if (fz_open(&Z[nz], &sc) < 0)
            fz_fail("simulated partition for engine %s: %s", sc.algo, mmc_last_error());
        hash0[nz] = fz_stats(&Z[nz]).state_hash;
        nz++;
    }
}

static uint64_t pick(struct fz_in *in, bool raw, uint64_t sensible)
{
    return raw ? fz_u64(in) : sensible;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    struct fz_in in = {data, size};
    unsigned e = fz_u8(&in) % nz;
    struct fz *z = &Z[e];
    fz_misuse_on();
    for (unsigned call = 0; call < 6 && in.n; call++) {
        uint8_t kind = fz_u8(&in);
        uint16_t form = fz_u16(&in); /* bit set: that field raw from the input */
        if (kind & 1) {
            struct fz_ex a;
            a.bytes = pick(&in, form & 1, 1 + fz_u16(&in));
            a.lowest = pick(&in, form & 2, 0);
            a.highest = pick(&in, form & 4, UINT64_MAX);
            a.boundary = pick(&in, form & 8, 0);
            a.node = (uint32_t)pick(&in, form & 16, MM_ANY_NODE_OK);
            a.protect = (uint32_t)pick(&in, form & 32, PAGE_READWRITE);
            a.tag = (uint32_t)pick(&in, form & 64, 'sgrA');
            a.flags = (uint32_t)pick(&in, form & 128, 0);
            fz_call_ex(z, &a);
        } else {
            struct fz_mdl a;
            a.low = (int64_t)pick(&in, form & 1, 0);
            a.high = (int64_t)pick(&in, form & 2, INT64_MAX);
            a.skip = (int64_t)pick(&in, form & 4, 0);
            a.total = pick(&in, form & 8, 1 + fz_u16(&in));
            a.cache = (int)pick(&in, form & 16, MmCached);
            a.flags = (uint32_t)pick(&in, form & 32, 0);
            fz_call_mdl(z, &a);
        }
    }
    while (z->nitems)
        fz_free(z, z->nitems - 1, 1);
    struct mmc_stats st = fz_stats(z);
    FZ_CHECK(st.free_frames == st.pool_frames && st.state_hash == hash0[e],
             "engine %s: all freed, yet %" PRIu64 " of %" PRIu64 " frames free, state hash %016" PRIx64
             " (was %016" PRIx64 ")", z->engine, st.free_frames, st.pool_frames, st.state_hash, hash0[e]);
    return 0;
}
