/* tests/fuzz/fuzz_api.c: libFuzzer target, sequences of API calls on a simulated partition.
 *
 * The input is decoded into a simulated layout (size, nodes, run lengths, node split, seed,
 * engine), then into up to 256 calls: the Ex routine with mostly sensible arguments (sizes not
 * always page multiples, ranges inside and around the pool, boundaries, nodes, protections,
 * FAST_ONLY), MDLs with every flag, load frames, frees of all kinds, misuse in warn mode
 * (interior, foreign, double frees; MDL pages and MDLs freed twice; stale load handles),
 * queries and translations, placement changes, and the partition destroyed under live
 * allocations and made again. fuzz_common.h checks every call against its model and oracle,
 * and the statistics after each. Needs no hugepages and no root.
 */
#include "fuzz_common.h"

static const char *engine_at(unsigned k)
{
    size_t n = 0;
    while (mmc_engine_name(n))
        n++;
    return mmc_engine_name(k % n);
}

static int open_from(struct fz *z, struct fz_in *in, struct mmc_sim_config *sc)
{
    mmc_sim_config_init(sc);
    sc->pool_bytes = (1 + fz_u8(in) % 16) * (2ull << 20);
    sc->nnodes = 1 + fz_u8(in) % 4;
    uint8_t shape = fz_u8(in);
    sc->mean_run_hugepages = shape % 5;
    sc->node_split = (shape >> 4) & 1;
    sc->seed = fz_u16(in);
    snprintf(sc->algo, sizeof(sc->algo), "%s", engine_at(fz_u8(in)));
    return fz_open(z, sc);
}

/* An address near the pool: a run's start or end plus or minus a little, or raw. */
static uint64_t addr_near(const struct fz *z, struct fz_in *in)
{
    uint8_t how = fz_u8(in);
    const struct mmc_run_info *r = &z->runs[fz_u8(in) % z->nruns];
    int64_t delta = (int16_t)fz_u16(in);
    switch (how % 6) {
    case 0:
        return 0;
    case 1:
        return UINT64_MAX;
    case 2:
        return r->base_pfn * 4096 + (uint64_t)(delta * 4096);
    case 3:
        return (r->base_pfn + r->frames) * 4096 + (uint64_t)(delta * 4096) - 1;
    case 4:
        return r->base_pfn * 4096 + (uint64_t)delta;
    default:
        return fz_u64(in);
    }
}

static void call_ex(struct fz *z, struct fz_in *in)
{
    struct fz_ex a;
    uint8_t form = fz_u8(in);
    a.bytes = (1 + fz_u16(in) % 96) * 4096ull;
    if (form & 1)
        a.bytes -= fz_u8(in) % 4096; /* not a page multiple */
    if ((form & 0x0e) == 0x0e)
        a.bytes = fz_u32(in); /* anything, 0 included */
    if (form & 0x10) {
        a.lowest = addr_near(z, in);
        a.highest = addr_near(z, in);
    } else {
        a.lowest = 0;
        a.highest = UINT64_MAX;
    }
    uint8_t b = fz_u8(in);
    a.boundary = b % 4 == 0 ? 0 : b % 4 == 1 ? 1ull << (12 + fz_u8(in) % 20) : b % 4 == 2 ? (uint64_t)fz_u16(in) << 12 : fz_u64(in);
    uint8_t nd = fz_u8(in);
    a.node = nd % 3 == 0 ? MM_ANY_NODE_OK : nd % (z->nnodes + 1);
    static const uint32_t prot[] = {PAGE_READWRITE, PAGE_EXECUTE_READWRITE, PAGE_READWRITE | PAGE_NOCACHE,
                                    PAGE_READWRITE | PAGE_WRITECOMBINE, PAGE_EXECUTE_READWRITE | PAGE_NOCACHE,
                                    PAGE_READONLY, PAGE_READWRITE | PAGE_NOCACHE | PAGE_WRITECOMBINE, 0};
    uint8_t pr = fz_u8(in);
    a.protect = pr % 9 < 8 ? prot[pr % 9] : fz_u32(in);
    if (pr % 9 == 7)
        a.protect = PAGE_READWRITE;
    a.tag = (form & 0x20) && fz_u8(in) == 0 ? 0 : 'zzuF';
    uint8_t fl = fz_u8(in);
    a.flags = fl % 8 < 5 ? 0 : fl % 8 < 7 ? MM_ALLOCATE_CONTIGUOUS_MEMORY_FAST_ONLY : fz_u32(in);
    if (z->nitems < FZ_MAX_ITEMS)
        fz_call_ex(z, &a);
}

static void call_mdl(struct fz *z, struct fz_in *in)
{
    struct fz_mdl a;
    uint8_t form = fz_u8(in);
    if (form & 1) {
        a.low = (int64_t)addr_near(z, in);
        a.high = (int64_t)addr_near(z, in);
    } else {
        a.low = 0;
        a.high = -1;
    }
    uint8_t sk = fz_u8(in);
    a.skip = sk % 4 == 0 ? 0 : sk % 4 == 1 ? (int64_t)(1ull << (12 + fz_u8(in) % 16)) : sk % 4 == 2 ? (int64_t)fz_u32(in) : (int64_t)fz_u64(in);
    a.total = (1 + fz_u16(in) % 512) * 4096ull;
    if (form & 2)
        a.total -= fz_u8(in) % 4096;
    if ((form & 0x0c) == 0x0c)
        a.total = fz_u64(in);
    uint8_t c = fz_u8(in);
    a.cache = c % 8 == 7 ? (int)(int8_t)fz_u8(in) : (int)(c % 7) - (c % 7 == 6 ? 7 : 0);
    static const uint32_t fl[] = {0, MM_DONT_ZERO_ALLOCATION, MM_ALLOCATE_FULLY_REQUIRED, MM_ALLOCATE_FROM_LOCAL_NODE_ONLY,
                                  MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS, MM_ALLOCATE_PREFER_CONTIGUOUS,
                                  MM_ALLOCATE_NO_WAIT | MM_ALLOCATE_FAST_LARGE_PAGES | MM_ALLOCATE_TRIM_IF_NECESSARY,
                                  MM_ALLOCATE_AND_HOT_REMOVE};
    uint8_t f = fz_u8(in);
    a.flags = f & 0x80 ? fz_u16(in) : (fl[f % 8] | fl[(f >> 3) % 8]);
    if (z->nitems < FZ_MAX_ITEMS)
        fz_call_mdl(z, &a);
}

static void translate(struct fz *z, struct fz_in *in)
{
    if (!z->nitems)
        return;
    const struct fz_item *it = &z->items[fz_u8(in) % z->nitems];
    if (it->kind != FZ_K_CONTIG)
        return;
    uint64_t off = fz_u32(in) % (it->frames * 4096);
    char *va = (char *)it->p + off;
    uint64_t pa = (uint64_t)MmGetPhysicalAddress(va).QuadPart;
    FZ_CHECK(pa == fz_pfn(z, it->first + off / 4096) * 4096 + off % 4096,
             "MmGetPhysicalAddress(base + %#" PRIx64 ") = %#" PRIx64 ", the model says frame %" PRIu64, off, pa,
             it->first + off / 4096);
    struct mmc_alloc_info info;
    FZ_CHECK(mmc_query(va, &info) == 0 && info.base == it->p && info.bytes == it->frames * 4096,
             "mmc_query(base + %#" PRIx64 ") does not find its block", off);
    FZ_CHECK(MmGetVirtualForPhysical((PHYSICAL_ADDRESS){.QuadPart = (LONGLONG)pa}) == NULL,
             "MmGetVirtualForPhysical answers for a simulated PFN (not the machine's)");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_in in = {data, size};
    struct fz z;
    struct mmc_sim_config sc;
    if (open_from(&z, &in, &sc) < 0)
        return 0;
    for (unsigned step = 0; step < 128 && in.n; step++) {
        uint8_t op = fz_u8(&in);
        switch (op % 16) {
        case 0: case 1: case 2: case 3: case 4:
            call_ex(&z, &in);
            break;
        case 5: case 6:
            call_mdl(&z, &in);
            break;
        case 7: case 8: case 9: case 10:
            if (z.nitems) {
                unsigned k = fz_u8(&in) % z.nitems;
                fz_free(&z, k, fz_u8(&in));
            }
            break;
        case 11: {
            uint8_t b = fz_u8(&in);
            fz_call_load(&z, b & 1 ? MMC_LOAD_MOVABLE : MMC_LOAD_STANDBY,
                         (b >> 1) % (z.nnodes + 1) == z.nnodes ? -1 : (int)((b >> 1) % (z.nnodes + 1)),
                         1 + fz_u8(&in) % FZ_MAX_LOAD);
            break;
        }
        case 12: {
            uint8_t w = fz_u8(&in);
            uint8_t k = fz_u8(&in);
            fz_misuse_contig(&z, w % 4, k, fz_u32(&in));
            break;
        }
        case 13:
            translate(&z, &in);
            break;
        case 14:
            if (fz_u8(&in) < 32) { /* destroyed under live allocations, and made again */
                fz_close(&z);
                if (fz_open(&z, &sc) < 0)
                    fz_fail("the same simulated configuration was refused the second time: %s", mmc_last_error());
            }
            break;
        default: {
            uint8_t pl = fz_u8(&in);
            int rc = mmc_partition_set_placement(z.part, pl % 3);
            FZ_CHECK((rc == 0) == (pl % 3 < 2), "mmc_partition_set_placement(%d) = %d", pl % 3, rc);
            break;
        }
        }
    }
    /* free what is left, each checked; then the partition is all free */
    while (z.nitems)
        fz_free(&z, z.nitems - 1, 1);
    struct mmc_stats st = fz_stats(&z);
    FZ_CHECK(st.free_frames == st.pool_frames && st.live_blocks == 0, "all freed, yet %" PRIu64 " of %" PRIu64
             " frames free, %" PRIu64 " blocks", st.free_frames, st.pool_frames, st.live_blocks);
    fz_close(&z);
    return 0;
}
