/* alloc/config.c: the configuration's defaults and its MMC_* environment variables.
 *
 * One table of variables, each parsed into struct mmc_config; a variable that does not parse
 * leaves the default, makes mmc_config_init() return -EINVAL and says why in mmc_last_error().
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

#define DEFAULT_NODE_POOL_BYTES (256 * MMC_MIB)

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
    uint64_t per_node[MMC_MAX_NODES] = {0};
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
        if (*end || end == tok || node >= MMC_MAX_NODES)
            return -EINVAL;
        if (parse_size(colon + 1, &per_node[node]) < 0)
            return -EINVAL;
    }
    memcpy(cfg->node_pool_bytes, per_node, sizeof(per_node));
    cfg->pool_bytes = 0;
    return 0;
}

MMC_API int mmc_config_init(struct mmc_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->page_bytes = 2 * MMC_MIB;
    strcpy(cfg->algo, "linear");
    cfg->on_misuse = MMC_MISUSE_ABORT;
    cfg->allow_topup = 1;

    int rc = 0;
    const char *v;
    if ((v = getenv("MMC_POOL")) && *v) {
        struct mmc_config tmp = *cfg;
        if (parse_pool(v, &tmp) == 0 && (tmp.pool_bytes || strchr(v, ':'))) {
            *cfg = tmp;
        } else {
            _mmc_set_error("MMC_POOL='%s' does not parse: give a size (512M, 8G) or sizes per "
                           "node number (0:4G,1:4G)", v);
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
    return rc;
}

/* Hugepages per node number for a configuration. */
MMC_INTERNAL int _mmc_config_node_pages(const struct mmc_config *cfg, const struct mmc_topology *topo,
                                        uint64_t *node_pages);
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
