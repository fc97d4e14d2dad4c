/* alloc/sim.c: simulated physical layouts, and the simulated partitions built on them.
 *
 * Owns the two sources of a layout (hugepage PFNs ascending, a node number per hugepage):
 *   synthetic  runs of geometrically distributed length (in hugepages) separated by random gaps,
 *              dealt to nodes in PFN blocks (node 0 lowest, as on real machines) or round-robin
 *              by run; deterministic for a seed (rand.h, never rand()).
 *   replay     a layout CSV as `mmcontig layout --record FILE` writes it: a header
 *              `base_pfn,frames,node,page_bytes`, then one run per line, ascending PFN.
 * and mmc_partition_create_simulated(), which hands either to _mmc_partition_create_locked():
 * a frame database and an engine over reserved, never-backed address space.
 *
 * A simulated partition needs neither hugepages nor root nor mmc_init(): it takes _mmc_g.lock
 * for writing and goes on the global list like any other, so mmc_partition_destroy() and
 * mmc_fini() release it. Its node numbers are its own (up to 64, whatever the machine has), so
 * the NT routines order its nodes (nodes.c) by number instead of the machine's
 * distances.
 *
 * Memory: per hugepage 8 + 1 bytes here (freed once the partition has copied them); the
 * partition itself costs the frame database's byte per frame plus the engine's index. A 1 TiB
 * layout of 2 MiB hugepages is 2^19 hugepages: 4.5 MiB of tables here.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "rand.h"

/* Lowest PFN of a synthetic layout: 4 GiB, above the ISA/PCI holes; a multiple of both
 * hugepage sizes' frames. Highest PFN we accept anywhere: PFN << 12 must fit 64 bits. */
#define SIM_BASE_PFN (4 * MMC_GIB >> MMC_FRAME_SHIFT)
#define SIM_MAX_PFN (UINT64_MAX >> MMC_FRAME_SHIFT)
#define SIM_MAX_GAP_HUGEPAGES 8 /* gaps between runs: 1..8 hugepages (0..8 when interleaved) */

/* ---- synthetic layouts ---- */

int _mmc_sim_synthetic(const struct mmc_sim_spec *spec, uint64_t **hp_pfn, uint8_t **hp_node,
                       uint64_t *nhugepages)
{
    const uint64_t pb = spec->page_bytes;
    *hp_pfn = NULL;
    *hp_node = NULL;
    *nhugepages = 0;
    if (pb != 2 * MMC_MIB && pb != MMC_GIB) {
        _mmc_set_error("simulated layout: hugepage size %" PRIu64 " is not 2 MiB or 1 GiB", pb);
        return -EINVAL;
    }
    if (spec->pool_bytes == 0 || spec->pool_bytes > (UINT64_MAX >> 4)) {
        _mmc_set_error("simulated layout: pool size %" PRIu64 " bytes is not usable (give 1 "
                       "hugepage to 2^60 bytes)", spec->pool_bytes);
        return -EINVAL;
    }
    const uint64_t nh = (spec->pool_bytes + pb - 1) / pb, hp_frames = pb >> MMC_FRAME_SHIFT;
    if (spec->nnodes == 0 || spec->nnodes > MMC_MAX_NODES || spec->nnodes > nh) {
        _mmc_set_error("simulated layout: %u nodes for %" PRIu64 " hugepages: give 1..%u nodes, "
                       "at most one per hugepage", spec->nnodes, nh, MMC_MAX_NODES);
        return -EINVAL;
    }
    if (!(spec->mean_run_hugepages >= 0) || spec->mean_run_hugepages > 1e15 || /* NaN too */
        (spec->mean_run_hugepages > 0 && spec->mean_run_hugepages < 1)) {
        _mmc_set_error("simulated layout: mean run length %g hugepages: give 0 (one run per "
                       "node) or >= 1", spec->mean_run_hugepages);
        return -EINVAL;
    }
    if (spec->node_split != MMC_SIM_NODES_BLOCKS && spec->node_split != MMC_SIM_NODES_INTERLEAVED) {
        _mmc_set_error("simulated layout: node_split %d is neither MMC_SIM_NODES_BLOCKS nor "
                       "MMC_SIM_NODES_INTERLEAVED", spec->node_split);
        return -EINVAL;
    }
    uint64_t *pfn = malloc(nh * sizeof(*pfn));
    uint8_t *node = malloc(nh);
    if (!pfn || !node) {
        free(pfn);
        free(node);
        _mmc_set_error("simulated layout: no memory for %" PRIu64 " hugepages' tables", nh);
        return -ENOMEM;
    }

    uint64_t rng = spec->seed;
    /* Each hugepage after the first of a run continues it with probability 1 - 1/mean: run
     * lengths are geometric with that mean, drawn in O(1) per hugepage and without libm. */
    const double mean = spec->mean_run_hugepages;
    const double p_continue = mean > 1 ? 1 - 1 / mean : 0;
    const bool one_run_per_node = mean == 0;
    const bool interleaved = spec->node_split == MMC_SIM_NODES_INTERLEAVED && !one_run_per_node;
    const unsigned nn = spec->nnodes;
    uint64_t cur = SIM_BASE_PFN + (_mmc_rand(&rng) % 64) * hp_frames;
    uint64_t run_no = 0;

    for (uint64_t h = 0; h < nh; run_no++) {
        /* the node of this run, and where its node's share ends (blocks) */
        unsigned nd;
        uint64_t end = nh;
        if (interleaved) {
            nd = (unsigned)(run_no % nn);
        } else {
            nd = (unsigned)((h * nn) / nh);
            while ((uint64_t)(nd + 1) * nh / nn <= h) /* integer rounding of the share */
                nd++;
            end = (uint64_t)(nd + 1) * nh / nn;
        }
        uint64_t len = 1;
        if (one_run_per_node)
            len = end - h;
        else
            while (h + len < end && _mmc_rand_unit(&rng) < p_continue)
                len++;
        for (uint64_t k = 0; k < len; k++, h++) {
            pfn[h] = cur;
            node[h] = (uint8_t)nd;
            cur += hp_frames;
        }
        /* a gap: interleaved layouts sometimes put the next node's run right after this one,
         * physically adjacent yet a different run (a block must not span it) */
        uint64_t gap = _mmc_rand(&rng) % (SIM_MAX_GAP_HUGEPAGES + 1);
        if (gap == 0 && !interleaved)
            gap = 1;
        cur += gap * hp_frames;
    }
    *hp_pfn = pfn;
    *hp_node = node;
    *nhugepages = nh;
    return 0;
}

/* ---- replay of a recorded layout ---- */

/* One unsigned decimal field ending at ',' (or at the end of the line for the last one).
 * Advances *s past the comma. NULL, or what is wrong with it. */
static const char *parse_field(char **s, uint64_t *v, bool last)
{
    char *p = *s;
    while (*p == ' ' || *p == '\t')
        p++;
    if (!isdigit((unsigned char)*p))
        return *p == '\0' || *p == ',' ? "is missing" : "is not an unsigned decimal number";
    errno = 0;
    char *end;
    unsigned long long x = strtoull(p, &end, 10);
    if (errno == ERANGE)
        return "does not fit 64 bits";
    while (*end == ' ' || *end == '\t')
        end++;
    if (last ? *end != '\0' : *end != ',')
        return *end == ',' ? "is followed by more fields than the header's four"
                           : *end ? "is not an unsigned decimal number" : "is followed by too few fields";
    *v = x;
    *s = last ? end : end + 1;
    return NULL;
}

/* What a layout file's lines have built so far. */
struct replay {
    const char *path;
    unsigned long lineno;
    uint64_t *pfn, cap, nh, pb, prev_end;
    uint8_t *node;
};

/* One run's fields (base_pfn, frames, node, page_bytes) against the file's rules and the runs
 * before it. 0, or -EINVAL with the error naming the line. */
static int replay_check(struct replay *r, const uint64_t v[4])
{
    const uint64_t base = v[0], frames = v[1], nd = v[2], bytes = v[3];
    const char *path = r->path;
    const unsigned long lineno = r->lineno;
    if (bytes != 2 * MMC_MIB && bytes != MMC_GIB) {
        _mmc_set_error("%s:%lu: page_bytes %" PRIu64 " is not 2097152 (2 MiB) or "
                       "1073741824 (1 GiB)", path, lineno, bytes);
        return -EINVAL;
    }
    if (r->pb && bytes != r->pb) {
        _mmc_set_error("%s:%lu: page_bytes %" PRIu64 " differs from the %" PRIu64 " of the "
                       "lines before: a pool has one hugepage size", path, lineno, bytes, r->pb);
        return -EINVAL;
    }
    r->pb = bytes;
    const uint64_t hp_frames = bytes >> MMC_FRAME_SHIFT;
    if (nd >= MMC_MAX_NODES) {
        _mmc_set_error("%s:%lu: node %" PRIu64 " is out of range (0..%u)", path, lineno, nd,
                       MMC_MAX_NODES - 1);
        return -EINVAL;
    }
    if (frames == 0 || frames % hp_frames || base % hp_frames) {
        _mmc_set_error("%s:%lu: run at PFN %" PRIu64 " of %" PRIu64 " frames is not whole "
                       "hugepages of %" PRIu64 " frames (base_pfn and frames must be "
                       "non-zero multiples of it)", path, lineno, base, frames, hp_frames);
        return -EINVAL;
    }
    if (base > SIM_MAX_PFN || frames > SIM_MAX_PFN - base + 1) {
        _mmc_set_error("%s:%lu: run at PFN %" PRIu64 " of %" PRIu64 " frames ends beyond "
                       "the 64-bit physical address space", path, lineno, base, frames);
        return -EINVAL;
    }
    if (r->nh && base < r->prev_end) {
        _mmc_set_error("%s:%lu: run at PFN %" PRIu64 " starts below the end (PFN %" PRIu64
                       ") of the run before: runs must be ascending and disjoint", path,
                       lineno, base, r->prev_end);
        return -EINVAL;
    }
    r->prev_end = base + frames;
    return 0;
}

/* Append a checked run's hugepages. 0 or -ENOMEM with the error set. */
static int replay_append(struct replay *r, const uint64_t v[4])
{
    const uint64_t hp_frames = r->pb >> MMC_FRAME_SHIFT, add = v[1] / hp_frames;
    if (r->nh + add > r->cap) {
        uint64_t ncap = r->cap ? r->cap : 1024;
        while (ncap < r->nh + add)
            ncap *= 2;
        uint64_t *np = realloc(r->pfn, ncap * sizeof(*r->pfn));
        if (np)
            r->pfn = np;
        uint8_t *nn = realloc(r->node, ncap);
        if (nn)
            r->node = nn;
        if (!np || !nn) {
            _mmc_set_error("%s:%lu: no memory for %" PRIu64 " hugepages", r->path, r->lineno, ncap);
            return -ENOMEM;
        }
        r->cap = ncap;
    }
    for (uint64_t k = 0; k < add; k++, r->nh++) {
        r->pfn[r->nh] = v[0] + k * hp_frames;
        r->node[r->nh] = (uint8_t)v[2];
    }
    return 0;
}

/* One line of the file, trimmed: blank, comment, header or run. 0 or -EINVAL / -ENOMEM. */
static int replay_line(struct replay *r, char *line, bool *seen_header)
{
    static const char header[] = "base_pfn,frames,node,page_bytes";
    static const char *const names[4] = {"base_pfn", "frames", "node", "page_bytes"};
    char *s = line;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s == '\0' || *s == '#')
        return 0; /* blank lines and comments */
    if (!*seen_header && !isdigit((unsigned char)*s)) {
        if (strcmp(s, header) != 0) {
            _mmc_set_error("%s:%lu: header is '%s', expected '%s'", r->path, r->lineno, s, header);
            return -EINVAL;
        }
        *seen_header = true;
        return 0;
    }
    *seen_header = true; /* a file without the header is accepted */
    uint64_t v[4];
    for (int k = 0; k < 4; k++) {
        const char *why = parse_field(&s, &v[k], k == 3);
        if (why) {
            _mmc_set_error("%s:%lu: field %d (%s) %s in '%s' (expected %s)", r->path, r->lineno,
                           k + 1, names[k], why, line, header);
            return -EINVAL;
        }
    }
    int rc = replay_check(r, v);
    return rc < 0 ? rc : replay_append(r, v);
}

int _mmc_sim_replay(const char *path, uint64_t *page_bytes, uint64_t **hp_pfn, uint8_t **hp_node,
                    uint64_t *nhugepages)
{
    *hp_pfn = NULL;
    *hp_node = NULL;
    *nhugepages = 0;
    *page_bytes = 0;
    FILE *in = fopen(path, "r");
    if (!in) {
        int e = errno;
        _mmc_set_error("cannot open layout file '%s': %s (record one with `mmcontig layout "
                       "--record FILE`)", path, strerror(e));
        return -e;
    }
    struct replay r = {.path = path};
    char *line = NULL;
    size_t linecap = 0;
    bool seen_header = false;
    int rc = 0;
    ssize_t len;
    while (rc == 0 && (len = getline(&line, &linecap, in)) >= 0) {
        r.lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' ||
                           line[len - 1] == ' ' || line[len - 1] == '\t'))
            line[--len] = '\0';
        rc = replay_line(&r, line, &seen_header);
    }
    if (rc == 0 && ferror(in)) {
        _mmc_set_error("%s:%lu: read error: %s", path, r.lineno + 1, strerror(errno));
        rc = -EIO;
    } else if (rc == 0 && r.nh == 0) {
        _mmc_set_error("%s: no runs (a header `base_pfn,frames,node,page_bytes`, then one run "
                       "per line)", path);
        rc = -EINVAL;
    }
    free(line);
    fclose(in);
    if (rc < 0) {
        free(r.pfn);
        free(r.node);
        return rc;
    }
    *hp_pfn = r.pfn;
    *hp_node = r.node;
    *nhugepages = r.nh;
    *page_bytes = r.pb;
    return 0;
}

/* ---- the public API ---- */

MMC_API int mmc_sim_config_init(struct mmc_sim_config *cfg)
{
    if (!cfg) {
        _mmc_set_error("mmc_sim_config_init: cfg is NULL; pass a struct mmc_sim_config to fill");
        return -EINVAL;
    }
    memset(cfg, 0, sizeof(*cfg));
    cfg->pool_bytes = MMC_GIB;
    cfg->page_bytes = 2 * MMC_MIB;
    cfg->mean_run_hugepages = 0;
    cfg->nnodes = 1;
    cfg->node_split = MMC_SIM_NODES_BLOCKS;
    cfg->seed = 1;
    cfg->layout_file = NULL;
    strcpy(cfg->algo, MMC_DEFAULT_ENGINE);
    if (_mmc_engine_plugins_from_env() < 0) {
        _mmc_set_error("%s", mmc_engine_plugin_error());
        return -EINVAL;
    }
    const char *v = getenv("MMC_ALGO");
    if (v && *v) {
        if (!_mmc_engine_lookup(v)) {
            _mmc_set_error("MMC_ALGO='%s' names no search engine (see mmc_engine_name())", v);
            return -EINVAL;
        }
        snprintf(cfg->algo, sizeof(cfg->algo), "%s", v);
    }
    return 0;
}

MMC_API int mmc_partition_create_simulated(const struct mmc_sim_config *cfg, mmc_partition_t **out)
{
    _mmc_clear_error(); /* the last error is this call's */
    uint64_t *pfn = NULL, nh = 0, pb;
    uint8_t *node = NULL;
    int rc;

    if (!cfg || !out) {
        _mmc_set_error("mmc_partition_create_simulated: %s is NULL", cfg ? "out" : "cfg");
        return -EINVAL;
    }
    *out = NULL;
    if (!memchr(cfg->algo, '\0', sizeof(cfg->algo))) {
        _mmc_set_error("mmc_partition_create_simulated: algo is not NUL-terminated");
        return -EINVAL;
    }
    if (cfg->layout_file) {
        rc = _mmc_sim_replay(cfg->layout_file, &pb, &pfn, &node, &nh);
    } else {
        struct mmc_sim_spec spec = {
            .pool_bytes = cfg->pool_bytes,
            .page_bytes = cfg->page_bytes,
            .mean_run_hugepages = cfg->mean_run_hugepages,
            .nnodes = cfg->nnodes,
            .node_split = cfg->node_split,
            .seed = cfg->seed,
        };
        pb = cfg->page_bytes;
        rc = _mmc_sim_synthetic(&spec, &pfn, &node, &nh);
    }
    if (rc < 0)
        return rc;

    struct mmc_config pc;
    memset(&pc, 0, sizeof(pc));
    pc.pool_bytes = nh * pb;
    pc.page_bytes = pb;
    memcpy(pc.algo, cfg->algo, sizeof(pc.algo));
    pc.on_misuse = __atomic_load_n(&_mmc_settings.on_misuse, __ATOMIC_RELAXED);
    pc.allow_topup = 0;
    const struct mmc_layout layout = {.page_bytes = pb, .nhugepages = nh, .hp_pfn = pfn,
                                      .hp_node = node};
    /* No mmc_init() needed: only the list and its lock, which are static. */
    _mmc_write_lock();
    rc = _mmc_partition_create_locked(&pc, false, &layout, out);
    _mmc_write_unlock();
    free(pfn);
    free(node);
    return rc;
}
