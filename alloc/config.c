/* alloc/config.c: the configuration's defaults and its MMC_* environment variables.
 *
 * One table of variables, each parsed into struct mmc_config; a variable that does not parse
 * leaves the default, makes mmc_config_init() return -EINVAL and says why in mmc_last_error().
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "partition.h"

#define DEFAULT_NODE_POOL_BYTES (256 * MMC_MIB)
/* Both views of a pool are reserved in the process's address space (47 bits of user space on
 * x86-64 with 4-level page tables): a pool above 64 TiB can never be mapped. The cap also keeps
 * the rounding to whole hugepages from overflowing. */
#define MAX_POOL_BYTES (64 * 1024 * MMC_GIB)

/* "512M", "8G", "1T", "4096K", "12345": bytes. 0 on success. */
static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    if (!isdigit((unsigned char)*s))
        return -EINVAL;
    unsigned long long v = strtoull(s, &end, 10);
    uint64_t mult = 1;
    switch (toupper((unsigned char)*end)) {
    case 'K': mult = 1024; end++; break;
    case 'M': mult = MMC_MIB; end++; break;
    case 'G': mult = MMC_GIB; end++; break;
    case 'T': mult = 1024 * MMC_GIB; end++; break;
    default: break;
    }
    if (toupper((unsigned char)*end) == 'I' && toupper((unsigned char)end[1]) == 'B')
        end += 2; /* 512MiB */
    else if (mult > 1 && toupper((unsigned char)*end) == 'B')
        end++;    /* 512MB, read as MiB */
    if (*end || v > UINT64_MAX / mult)
        return -EINVAL;
    *out = v * mult;
    return 0;
}

/* "8G" (whole pool) or "0:4G,1:4G" (per node number). */
static int parse_pool(const char *s, struct mmc_config *cfg)
{
    if (!strchr(s, ':'))
        return parse_size(s, &cfg->pool_bytes);
    uint64_t per_node[MMC_MAX_NODES] = {0}, seen[(MMC_MAX_NODES + 63) / 64] = {0};
    bool any = false;
    char buf[512];
    if (strlen(s) >= sizeof(buf))
        return -EINVAL;
    strcpy(buf, s);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(tok, ':'), *end;
        if (!colon)
            return -EINVAL;
        *colon = 0;
        unsigned long node = strtoul(tok, &end, 10);
        if (*end || end == tok || node >= MMC_MAX_NODES || (seen[node / 64] >> (node % 64) & 1))
            return -EINVAL; /* a node given twice: which size was meant? */
        seen[node / 64] |= 1ull << (node % 64);
        if (parse_size(colon + 1, &per_node[node]) < 0)
            return -EINVAL;
        any |= per_node[node] != 0;
    }
    if (!any)
        return -EINVAL; /* 0:0 is no pool, not the default */
    memcpy(cfg->node_pool_bytes, per_node, sizeof(per_node));
    cfg->pool_bytes = 0;
    return 0;
}

MMC_API int mmc_config_init(struct mmc_config *cfg)
{
    if (!cfg) {
        _mmc_set_error("mmc_config_init: cfg is NULL; pass a struct mmc_config to fill");
        return -EINVAL;
    }
    memset(cfg, 0, sizeof(*cfg));
    cfg->page_bytes = 2 * MMC_MIB;
    strcpy(cfg->algo, MMC_DEFAULT_ENGINE);
    cfg->on_misuse = MMC_MISUSE_ABORT;
    cfg->allow_topup = 1;
    cfg->grow = 1;

    int rc = 0;
    const char *v;
    if ((v = getenv("MMC_POOL")) && *v) {
        struct mmc_config tmp = *cfg;
        if (parse_pool(v, &tmp) == 0 && (tmp.pool_bytes || strchr(v, ':'))) {
            *cfg = tmp;
        } else {
            _mmc_set_error("MMC_POOL='%s' does not parse: give a size above zero (512M, 8G) or "
                           "sizes per node number, each node once and not all zero (0:4G,1:4G)", v);
            rc = -EINVAL;
        }
    }
    if ((v = getenv("MMC_PAGE")) && *v) {
        uint64_t b = 0;
        if (parse_size(v, &b) == 0 && (b == 2 * MMC_MIB || b == MMC_GIB)) {
            cfg->page_bytes = b;
        } else {
            _mmc_set_error("MMC_PAGE='%s' is not a hugepage size mmcontig uses: give 2M or 1G", v);
            rc = -EINVAL;
        }
    }
    if (_mmc_engine_plugins_from_env() < 0) { /* MMC_ENGINE_PLUGIN names one that is refused */
        _mmc_set_error("%s", mmc_engine_plugin_error());
        rc = -EINVAL;
    }
    if ((v = getenv("MMC_ALGO")) && *v) {
        if (_mmc_engine_lookup(v)) {
            snprintf(cfg->algo, sizeof(cfg->algo), "%s", v);
        } else {
            char known[256] = "";
            for (size_t i = 0; mmc_engine_name(i); i++)
                snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s", i ? ", " : "",
                         mmc_engine_name(i));
            _mmc_set_error("MMC_ALGO='%s' names no search engine; known: %s", v, known);
            rc = -EINVAL;
        }
    }
    if ((v = getenv("MMC_ON_MISUSE")) && *v) {
        if (strcasecmp(v, "abort") == 0)
            cfg->on_misuse = MMC_MISUSE_ABORT;
        else if (strcasecmp(v, "warn") == 0)
            cfg->on_misuse = MMC_MISUSE_WARN;
        else {
            _mmc_set_error("MMC_ON_MISUSE='%s': give abort or warn", v);
            rc = -EINVAL;
        }
    }
    if ((v = getenv("MMC_TOPUP")) && *v) {
        if (strcmp(v, "0") == 0 || strcmp(v, "1") == 0)
            cfg->allow_topup = *v == '1';
        else {
            _mmc_set_error("MMC_TOPUP='%s': give 0 or 1", v);
            rc = -EINVAL;
        }
    }
    if ((v = getenv("MMC_GROW")) && *v) {
        if (strcmp(v, "0") == 0 || strcmp(v, "1") == 0)
            cfg->grow = *v == '1';
        else {
            _mmc_set_error("MMC_GROW='%s': give 0 (the pool never grows) or 1", v);
            rc = -EINVAL;
        }
    }
    if ((v = getenv("MMC_POOL_MAX")) && *v) {
        uint64_t b = 0;
        if (parse_size(v, &b) == 0 && b > 0 && b <= MAX_POOL_BYTES) {
            cfg->pool_max_bytes = b;
        } else {
            _mmc_set_error("MMC_POOL_MAX='%s' does not parse: give the most the pool may grow to, "
                           "above zero (4G, 512M), or leave it unset for what the kernel will give "
                           "less a reserve", v);
            rc = -EINVAL;
        }
    }
    return rc;
}

/* The fields of a configuration given to mmc_init() or mmc_partition_create(), each against its
 * documented range (the node numbers of node_pool_bytes need the topology: see below). 0, or
 * -EINVAL with the error naming the field. */
int _mmc_config_check(const struct mmc_config *cfg, const char *fn)
{
    if (cfg->page_bytes != 2 * MMC_MIB && cfg->page_bytes != MMC_GIB) {
        _mmc_set_error("%s: page_bytes %llu is not a hugepage size mmcontig uses: give 2097152 "
                       "(2 MiB) or 1073741824 (1 GiB), or MMC_PAGE=2M | 1G", fn,
                       (unsigned long long)cfg->page_bytes);
        return -EINVAL;
    }
    if (!memchr(cfg->algo, '\0', sizeof(cfg->algo))) {
        _mmc_set_error("%s: algo is not NUL-terminated within %d bytes: give an engine name "
                       "(mmc_engine_name())", fn, MMC_NAME_MAX);
        return -EINVAL;
    }
    if (!_mmc_engine_lookup(cfg->algo)) {
        const char *perr = mmc_engine_plugin_error();
        _mmc_set_error("%s: algo '%s' names no search engine: give one of mmc_engine_name() "
                       "(mmcontig --help lists them)%s%s", fn, cfg->algo, perr ? "; " : "",
                       perr ? perr : "");
        return -EINVAL;
    }
    if (cfg->on_misuse != MMC_MISUSE_ABORT && cfg->on_misuse != MMC_MISUSE_WARN) {
        _mmc_set_error("%s: on_misuse %d: give MMC_MISUSE_ABORT (0) or MMC_MISUSE_WARN (1)", fn,
                       cfg->on_misuse);
        return -EINVAL;
    }
    if (cfg->allow_topup != 0 && cfg->allow_topup != 1) {
        _mmc_set_error("%s: allow_topup %d: give 0 or 1", fn, cfg->allow_topup);
        return -EINVAL;
    }
    if (cfg->grow != 0 && cfg->grow != 1) {
        _mmc_set_error("%s: grow %d: give 0 (never grow) or 1", fn, cfg->grow);
        return -EINVAL;
    }
    if (cfg->pool_max_bytes > MAX_POOL_BYTES) {
        _mmc_set_error("%s: pool_max_bytes %llu is beyond the 64 TiB a pool can map; ask for less "
                       "(MMC_POOL_MAX)", fn, (unsigned long long)cfg->pool_max_bytes);
        return -EINVAL;
    }
    uint64_t sum = 0;
    for (unsigned n = 0; n < MMC_MAX_NODES; n++) {
        if (cfg->node_pool_bytes[n] > MAX_POOL_BYTES) {
            _mmc_set_error("%s: node_pool_bytes[%u] %llu is beyond the 64 TiB a pool can map; "
                           "ask for less (MMC_POOL)", fn, n,
                           (unsigned long long)cfg->node_pool_bytes[n]);
            return -EINVAL;
        }
        sum += cfg->node_pool_bytes[n];
    }
    if (sum ? sum > MAX_POOL_BYTES : cfg->pool_bytes > MAX_POOL_BYTES) {
        _mmc_set_error("%s: %s %llu is beyond the 64 TiB a pool can map; ask for less (MMC_POOL)",
                       fn, sum ? "node_pool_bytes[] in all" : "pool_bytes",
                       (unsigned long long)(sum ? sum : cfg->pool_bytes));
        return -EINVAL;
    }
    return 0;
}

/* Hugepages per node number for a configuration. */
int _mmc_config_node_pages(const struct mmc_config *cfg, const struct mmc_topology *topo,
                           uint64_t *node_pages)
{
    const uint64_t pb = cfg->page_bytes;
    bool per_node = false;
    memset(node_pages, 0, MMC_MAX_NODES * sizeof(*node_pages));
    for (unsigned n = 0; n < MMC_MAX_NODES; n++) {
        if (!cfg->node_pool_bytes[n])
            continue;
        per_node = true;
        if (n >= topo->nnodes) {
            _mmc_set_error("the pool asks for memory on node %u but this machine has %u node%s "
                           "(0..%u); fix MMC_POOL", n, topo->nnodes, topo->nnodes > 1 ? "s" : "",
                           topo->nnodes - 1);
            return -EINVAL;
        }
        node_pages[n] = (cfg->node_pool_bytes[n] + pb - 1) / pb;
    }
    if (per_node)
        return 0;
    unsigned nodes = topo->nnodes < MMC_MAX_NODES ? topo->nnodes : MMC_MAX_NODES;
    uint64_t each = cfg->pool_bytes ? (cfg->pool_bytes + nodes - 1) / nodes : DEFAULT_NODE_POOL_BYTES;
    for (unsigned n = 0; n < nodes; n++)
        node_pages[n] = (each + pb - 1) / pb;
    return 0;
}
