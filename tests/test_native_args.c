/* tests/test_native_args.c: every argument rule of the native API (mmcontig.h), table-driven.
 *
 * Each row is one rejected call: NULL where a pointer is required, enums, nodes, sizes and
 * offsets out of range, unknown engine names, bad MMC_* variables, bad fields of struct
 * mmc_config / mmc_sim_config / mmc_aging, bad layout files and aging traces, stale, bogus and
 * foreign handles. A row runs on each target it names: the system partition (a real pool), a
 * simulated partition, or a partition handle that is bogus or stale. For each the test checks
 *   - the return value (a negative errno; NULL or 0 for the routines without one),
 *   - that mmc_last_error() is no longer the sentinel set just before and names the problem,
 *   - the misuse counter (warn mode: misuse is reported and counted, the call ignored),
 *   - that the frame databases of the system partition AND of the simulated partition made at
 *     the start are unchanged: free frames, runs, live blocks / MDL / load frames, the state
 *     hash over every frame and the engine's index size.
 * The fields given to mmc_init() are tried before initialisation (afterwards it answers
 * -EALREADY), the same fields given to mmc_partition_create() after it.
 */
#include "common.h"
#include "mmcontig/testing.h"
#include "mmcontig/wdm.h"
#include "reliability.h"

#include <math.h>
#include <sys/stat.h>

#define M (1ull << 20)
static PHYSICAL_ADDRESS A(uint64_t v) { return (PHYSICAL_ADDRESS){.QuadPart = (LONGLONG)v}; }

/* ---- the state every rejected call must leave alone ---- */

static mmc_partition_t *S;      /* the simulated partition made at the start */
static bool have_sys;           /* the system partition exists (after mmc_init) */

struct snap {
    struct mmc_stats sys, sim;
};

static bool db_same(const struct mmc_stats *a, const struct mmc_stats *b)
{
    return a->free_frames == b->free_frames && a->runs == b->runs && a->live_blocks == b->live_blocks &&
           a->live_mdl_frames == b->live_mdl_frames && a->live_movable == b->live_movable &&
           a->live_standby == b->live_standby && a->state_hash == b->state_hash &&
           a->engine_metadata_bytes == b->engine_metadata_bytes &&
           a->largest_free_frames == b->largest_free_frames;
}

static struct snap take_snap(void)
{
    struct snap s;
    memset(&s, 0, sizeof(s));
    if (have_sys && mmc_partition_stats(NULL, &s.sys) < 0)
        memset(&s.sys, 0xff, sizeof(s.sys));
    if (mmc_partition_stats(S, &s.sim) < 0)
        memset(&s.sim, 0xff, sizeof(s.sim));
    return s;
}

/* ---- the error sentinel: a harmless rejected call whose message no row produces ---- */

static char sentinel[768];
static void set_sentinel(void)
{
    mmc_partition_set_placement(NULL, -777);
    snprintf(sentinel, sizeof(sentinel), "%s", mmc_last_error());
}

/* ---- MMC_* variables: set one, keep the rest of the process's ---- */

static const char *const vars[] = {"MMC_POOL", "MMC_PAGE", "MMC_ALGO", "MMC_ON_MISUSE", "MMC_TOPUP"};
#define NVARS (sizeof(vars) / sizeof(vars[0]))
static char *saved[NVARS];

static void env_save(bool clear)
{
    for (size_t i = 0; i < NVARS; i++) {
        const char *v = getenv(vars[i]);
        saved[i] = v ? strdup(v) : NULL;
        if (clear)
            unsetenv(vars[i]);
    }
}

static void env_restore(void)
{
    for (size_t i = 0; i < NVARS; i++) {
        if (saved[i])
            setenv(vars[i], saved[i], 1);
        else
            unsetenv(vars[i]);
        free(saved[i]);
        saved[i] = NULL;
    }
}

static void env_put(const char *kv) /* "NAME=value" */
{
    char name[64];
    const char *eq = strchr(kv, '=');
    snprintf(name, sizeof(name), "%.*s", (int)(eq - kv), kv);
    setenv(name, eq + 1, 1);
}

/* ---- temporary files (layouts, traces, XML) ---- */

static char tmpdir[64] = "/tmp/mmc-native-args-XXXXXX";
static char paths[256][128];
static unsigned npaths;

static const char *write_file(const char *name, const char *content)
{
    char *p = paths[npaths < 255 ? npaths++ : 255];
    snprintf(p, sizeof(paths[0]), "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs(content, f);
        fclose(f);
    }
    return p;
}

/* ---- configurations: one field wrong ---- */

enum cfield {
    CF_PAGE, CF_POOL, CF_POOL_NOTOPUP, CF_NODE_POOL, CF_ALGO, CF_ALGO_UNTERMINATED, CF_MISUSE,
    CF_TOPUP, CF_ENV, CF_OUT_NULL,
};

struct cfg_row {
    const char *what;
    enum cfield field;
    int node;               /* CF_NODE_POOL: node number, -1: the machine's node count */
    uint64_t u;             /* the value */
    const char *s;          /* CF_ALGO: the name; CF_ENV: "NAME=value" (cfg NULL) */
    const char *mention;    /* in mmc_last_error(); NULL for CF_NODE_POOL: "node N" */
    bool init_only;         /* (CF_OUT_NULL: mmc_partition_create only) */
};

static const struct cfg_row cfg_rows[] = {
    {"page_bytes 4096", CF_PAGE, 0, 4096, NULL, "page_bytes 4096", false},
    {"page_bytes 3 MiB", CF_PAGE, 0, 3 * M, NULL, "page_bytes 3145728", false},
    {"page_bytes 0", CF_PAGE, 0, 0, NULL, "page_bytes 0", false},
    {"page_bytes 2 GiB", CF_PAGE, 0, 2048 * M, NULL, "page_bytes", false},
    {"pool on the node past the last one", CF_NODE_POOL, -1, 4 * M, NULL, NULL, false},
    {"pool on node 63", CF_NODE_POOL, 63, 4 * M, NULL, NULL, false},
    {"node_pool_bytes[0] 2^50", CF_NODE_POOL, 0, 1ull << 50, NULL, "node_pool_bytes[0]", false},
    {"pool_bytes UINT64_MAX", CF_POOL, 0, UINT64_MAX, NULL, "pool_bytes", false},
    {"pool_bytes UINT64_MAX - 4 MiB (top-up off)", CF_POOL_NOTOPUP, 0, UINT64_MAX - 4 * M, NULL, "pool_bytes", false},
    {"pool_bytes 2^47 (top-up off)", CF_POOL_NOTOPUP, 0, 1ull << 47, NULL, "pool_bytes", false},
    {"on_misuse 7", CF_MISUSE, 0, 7, NULL, "on_misuse 7", false},
    {"on_misuse -1", CF_MISUSE, 0, (uint64_t)-1, NULL, "on_misuse -1", false},
    {"allow_topup 5", CF_TOPUP, 0, 5, NULL, "allow_topup 5", false},
    {"allow_topup -1", CF_TOPUP, 0, (uint64_t)-1, NULL, "allow_topup -1", false},
    {"algo no-such-engine", CF_ALGO, 0, 0, "no-such-engine", "no-such-engine", false},
    {"algo empty", CF_ALGO, 0, 0, "", "algo", false},
    {"algo not NUL-terminated", CF_ALGO_UNTERMINATED, 0, 0, NULL, "NUL-terminated", false},
    {"cfg NULL, MMC_PAGE=3M", CF_ENV, 0, 0, "MMC_PAGE=3M", "MMC_PAGE", false},
    {"cfg NULL, MMC_ALGO=no-such-engine", CF_ENV, 0, 0, "MMC_ALGO=no-such-engine", "MMC_ALGO", false},
    {"cfg NULL, MMC_POOL=lots", CF_ENV, 0, 0, "MMC_POOL=lots", "MMC_POOL", false},
    {"cfg NULL, MMC_TOPUP=yes", CF_ENV, 0, 0, "MMC_TOPUP=yes", "MMC_TOPUP", false},
    {"out NULL", CF_OUT_NULL, 0, 0, NULL, "out", true},
};

/* Apply a row to a valid configuration (16 MiB pool). *use_null: call with cfg NULL. */
static void cfg_apply(const struct cfg_row *r, struct mmc_config *c, bool *use_null, char *mention,
                      size_t mlen)
{
    mmc_config_init(c);
    c->pool_bytes = 16 * M;
    *use_null = false;
    snprintf(mention, mlen, "%s", r->mention ? r->mention : "");
    switch (r->field) {
    case CF_PAGE: c->page_bytes = r->u; break;
    case CF_POOL: c->pool_bytes = r->u; break;
    case CF_POOL_NOTOPUP: c->pool_bytes = r->u; c->allow_topup = 0; break; /* never a sysfs write */
    case CF_NODE_POOL: {
        int n = r->node < 0 ? (int)mmc_node_count() : r->node;
        if (r->node < 0 && !have_sys) { /* before init the count is 1: ask the topology */
            n = 1;
            while (n < MMC_MAX_NODES) {
                char d[64];
                snprintf(d, sizeof(d), "/sys/devices/system/node/node%d", n);
                struct stat st;
                if (stat(d, &st) != 0)
                    break;
                n++;
            }
        }
        c->node_pool_bytes[n] = r->u;
        if (!r->mention)
            snprintf(mention, mlen, "node %d", n);
        break;
    }
    case CF_ALGO: snprintf(c->algo, sizeof(c->algo), "%s", r->s); break;
    case CF_ALGO_UNTERMINATED: memset(c->algo, 'x', sizeof(c->algo)); break;
    case CF_MISUSE: c->on_misuse = (int)r->u; break;
    case CF_TOPUP: c->allow_topup = (int)r->u; break;
    case CF_ENV: *use_null = true; break;
    case CF_OUT_NULL: break;
    }
}

/* ---- the rows of every other routine ---- */

enum op {
    OP_CONFIG_ENV, OP_CREATE_SIM, OP_DESTROY, OP_CLEAR, OP_STATS, OP_RUNS, OP_LAYOUT, OP_QUERY,
    OP_MDL, OP_ENGINE_NAME, OP_TOPOLOGY, OP_SIM_CONFIG_INIT, OP_FRAG, OP_BUDDYINFO, OP_PLACEMENT,
    OP_LOAD_ALLOC, OP_LOAD_FREE, OP_LOAD_READ, OP_LOAD_WRITE, OP_LOAD_PFN, OP_AGING_INIT,
    OP_AGING_RUN, OP_AGING_REPLAY, OP_INIT_AGAIN,
};
static const char *const op_name[] = {
    "mmc_config_init", "mmc_partition_create_simulated", "mmc_partition_destroy",
    "mmc_partition_clear", "mmc_partition_stats", "mmc_partition_runs", "mmc_partition_print_layout",
    "mmc_query", "mmc_allocate_pages_for_mdl", "mmc_engine_name", "mmc_print_topology",
    "mmc_sim_config_init", "mmc_partition_frag", "mmc_partition_print_buddyinfo",
    "mmc_partition_set_placement", "mmc_load_alloc", "mmc_load_free", "mmc_load_read",
    "mmc_load_write", "mmc_load_pfn", "mmc_aging_init", "mmc_aging_run", "mmc_aging_replay",
    "mmc_init",
};

/* Partition handles a row is tried with. */
enum target {
    T_SYS = 1,          /* NULL: the system partition (real hugepages) */
    T_SYS_PTR = 2,      /* mmc_system_partition() */
    T_SIM = 4,          /* the simulated partition */
    T_BOGUS = 8,        /* a pointer to memory that is no partition, magic included */
    T_STALE_SIM = 16,   /* a simulated partition destroyed */
    T_STALE_REAL = 32,  /* a real partition destroyed */
};
#define T_EACH (T_SYS | T_SIM)
#define T_BAD (T_BOGUS | T_STALE_SIM | T_STALE_REAL)
static const char *target_name(unsigned t)
{
    switch (t) {
    case T_SYS: return "system";
    case T_SYS_PTR: return "system (its pointer)";
    case T_SIM: return "simulated";
    case T_BOGUS: return "bogus handle";
    case T_STALE_SIM: return "destroyed simulated partition";
    default: return "destroyed partition";
    }
}

/* Load handles a row passes. */
enum handle { H_LIVE, H_STALE, H_ZERO, H_FOREIGN, H_RANDOM, H_ARRAY_NULL };

/* Sub-cases, by op. */
enum {
    /* OP_QUERY */ Q_NULL, Q_STACK, Q_TOP, Q_FREE_FRAME, Q_MDL_FRAME, Q_LOAD_FRAME, Q_INFO_NULL,
};
enum { MDL_FLAGS, MDL_HOT_REMOVE, MDL_CACHE, MDL_TOTAL0, MDL_SKIP, MDL_LOW_HIGH, MDL_FULLY, MDL_CHUNKS, MDL_VALID };
enum {
    SF_CFG_NULL, SF_OUT_NULL, SF_PAGE, SF_POOL, SF_NNODES, SF_MEAN, SF_SPLIT, SF_ALGO,
    SF_ALGO_UNTERMINATED, SF_LAYOUT_PATH, SF_LAYOUT,
};
enum { AG_NULL, AG_THREADS, AG_TARGET, AG_MIX_MDL, AG_MIX_ZERO, AG_MIX_INF, AG_MIX_NAN, AG_RECORD, AG_VALID };
enum { RP_PATH_NULL, RP_HASH_NULL, RP_PATH, RP_FILE };

struct row {
    const char *what;
    enum op op;
    unsigned targets;       /* enum target bits */
    long a, b;              /* sub-case / enum / node / handle kind ... */
    uint64_t u, v;          /* sizes, offsets, counts, line numbers */
    double d;
    const char *s;          /* a name, a path, an environment setting, a file's content */
    long expect;            /* the return value */
    const char *mention;    /* in mmc_last_error(); NULL: none expected (a documented plain
                               answer: NULL past the last engine, PFN 0 of a stale handle) */
    unsigned misuse;        /* misuse reports expected */
};

#define NOLINE 0 /* a layout row whose message names the file only */

static const struct row rows[] = {
    /* mmc_config_init: NULL, and each variable that does not parse (cfg keeps the defaults) */
    {"cfg NULL", OP_CONFIG_ENV, T_SYS, 0, 0, 0, 0, 0, NULL, -EINVAL, "cfg", 0},
    {"MMC_POOL=abc", OP_CONFIG_ENV, T_SYS, 0, 0, 0, 0, 0, "MMC_POOL=abc", -EINVAL, "MMC_POOL='abc'", 0},
    {"MMC_POOL=0", OP_CONFIG_ENV, T_SYS, 0, 0, 0, 0, 0, "MMC_POOL=0", -EINVAL, "MMC_POOL", 0},
    {"MMC_POOL=-4M", OP_CONFIG_ENV, T_SYS, 0, 0, 0, 0, 0, "MMC_POOL=-4M", -EINVAL, "MMC_POOL", 0},
    {"MMC_POOL=16Q", OP_CONFIG_ENV, T_SYS, 0, 0, 0, 0, 0, "MMC_POOL=16Q", -EINVAL, "MMC_POOL", 0},
    {"MMC_POOL=16MX", OP_CONFIG_ENV, T_SYS, 0, 0, 0, 0, 0, "MMC_POOL=16MX", -EINVAL, "MMC_POOL", 0},
    {"MMC_POOL=99999999999T (overflows)", OP_CONFIG_ENV, T_SYS, 0, 0, 0, 0, 0, "MMC_POOL=99999999999T", -EINVAL, "MMC_POOL", 0},
    {"MMC_POOL=64:4M (node 64)", OP_CONFIG_ENV, T_SYS, 0, 0, 0, 0, 0, "MMC_POOL=64:4M", -EINVAL, "MMC_POOL", 0},
    {"MMC_POOL=0:4X", OP_CONFIG_ENV, T_SYS, 0, 0, 0, 0, 0, "MMC_POOL=0:4X", -EINVAL, "MMC_POOL", 0},
    {"MMC_POOL=0:", OP_CONFIG_ENV, T_SYS, 0, 0, 0, 0, 0, "MMC_POOL=0:", -EINVAL, "MMC_POOL", 0},
    {"MMC_POOL=:4M", OP_CONFIG_ENV, T_SYS, 0, 0, 0, 0, 0, "MMC_POOL=:4M", -EINVAL, "MMC_POOL", 0},
    {"MMC_POOL=0:0 (no pool, not the default)", OP_CONFIG_ENV, T_SYS, 0, 0, 0, 0, 0, "MMC_POOL=0:0", -EINVAL, "not all zero", 0},
    {"MMC_POOL=0:64M,0:32M (node 0 twice)", OP_CONFIG_ENV, T_SYS, 0, 0, 0, 0, 0, "MMC_POOL=0:64M,0:32M", -EINVAL, "each node once", 0},
    {"MMC_POOL=0:4M,,x", OP_CONFIG_ENV, T_SYS, 0, 0, 0, 0, 0, "MMC_POOL=0:4M,,x", -EINVAL, "MMC_POOL", 0},
    {"MMC_PAGE=4K", OP_CONFIG_ENV, T_SYS, 0, 0, 0, 0, 0, "MMC_PAGE=4K", -EINVAL, "MMC_PAGE='4K'", 0},
    {"MMC_PAGE=3M", OP_CONFIG_ENV, T_SYS, 0, 0, 0, 0, 0, "MMC_PAGE=3M", -EINVAL, "MMC_PAGE", 0},
    {"MMC_PAGE=2X", OP_CONFIG_ENV, T_SYS, 0, 0, 0, 0, 0, "MMC_PAGE=2X", -EINVAL, "MMC_PAGE", 0},
    {"MMC_PAGE=1T", OP_CONFIG_ENV, T_SYS, 0, 0, 0, 0, 0, "MMC_PAGE=1T", -EINVAL, "MMC_PAGE", 0},
    {"MMC_ALGO=no-such-engine", OP_CONFIG_ENV, T_SYS, 0, 0, 0, 0, 0, "MMC_ALGO=no-such-engine", -EINVAL, "no-such-engine", 0},
    {"MMC_ON_MISUSE=maybe", OP_CONFIG_ENV, T_SYS, 0, 0, 0, 0, 0, "MMC_ON_MISUSE=maybe", -EINVAL, "MMC_ON_MISUSE", 0},
    {"MMC_ON_MISUSE=1", OP_CONFIG_ENV, T_SYS, 0, 0, 0, 0, 0, "MMC_ON_MISUSE=1", -EINVAL, "MMC_ON_MISUSE", 0},
    {"MMC_TOPUP=2", OP_CONFIG_ENV, T_SYS, 0, 0, 0, 0, 0, "MMC_TOPUP=2", -EINVAL, "MMC_TOPUP", 0},
    {"MMC_TOPUP=yes", OP_CONFIG_ENV, T_SYS, 0, 0, 0, 0, 0, "MMC_TOPUP=yes", -EINVAL, "MMC_TOPUP", 0},
    {"MMC_TOPUP=-1", OP_CONFIG_ENV, T_SYS, 0, 0, 0, 0, 0, "MMC_TOPUP=-1", -EINVAL, "MMC_TOPUP", 0},

    /* mmc_init once initialised */
    {"mmc_init again", OP_INIT_AGAIN, T_SYS, 0, 0, 0, 0, 0, NULL, -EALREADY, "mmc_fini", 0},

    /* mmc_sim_config_init */
    {"cfg NULL", OP_SIM_CONFIG_INIT, T_SYS, 0, 0, 0, 0, 0, NULL, -EINVAL, "cfg", 0},
    {"MMC_ALGO=no-such-engine", OP_SIM_CONFIG_INIT, T_SYS, 0, 0, 0, 0, 0, "no-such-engine", -EINVAL, "no-such-engine", 0},

    /* mmc_partition_create_simulated: synthetic fields (64 MiB, 1 node, linear otherwise) */
    {"cfg NULL", OP_CREATE_SIM, T_SYS, SF_CFG_NULL, 0, 0, 0, 0, NULL, -EINVAL, "cfg", 0},
    {"out NULL", OP_CREATE_SIM, T_SYS, SF_OUT_NULL, 0, 0, 0, 0, NULL, -EINVAL, "out", 0},
    {"page_bytes 4096", OP_CREATE_SIM, T_SYS, SF_PAGE, 0, 4096, 0, 0, NULL, -EINVAL, "hugepage size 4096", 0},
    {"page_bytes 3 MiB", OP_CREATE_SIM, T_SYS, SF_PAGE, 0, 3 * M, 0, 0, NULL, -EINVAL, "hugepage size", 0},
    {"pool_bytes 0", OP_CREATE_SIM, T_SYS, SF_POOL, 0, 0, 0, 0, NULL, -EINVAL, "pool size 0", 0},
    {"pool_bytes 2^61", OP_CREATE_SIM, T_SYS, SF_POOL, 0, 1ull << 61, 0, 0, NULL, -EINVAL, "pool size", 0},
    {"nnodes 0", OP_CREATE_SIM, T_SYS, SF_NNODES, 0, 0, 0, 0, NULL, -EINVAL, "0 nodes", 0},
    {"nnodes 65", OP_CREATE_SIM, T_SYS, SF_NNODES, 0, 65, 0, 0, NULL, -EINVAL, "65 nodes", 0},
    {"nnodes 33 for 32 hugepages", OP_CREATE_SIM, T_SYS, SF_NNODES, 0, 33, 0, 0, NULL, -EINVAL, "one per hugepage", 0},
    {"mean_run_hugepages -1", OP_CREATE_SIM, T_SYS, SF_MEAN, 0, 0, 0, -1, NULL, -EINVAL, "mean run length", 0},
    {"mean_run_hugepages 0.5", OP_CREATE_SIM, T_SYS, SF_MEAN, 0, 0, 0, 0.5, NULL, -EINVAL, "mean run length", 0},
    {"mean_run_hugepages NaN", OP_CREATE_SIM, T_SYS, SF_MEAN, 0, 0, 0, NAN, NULL, -EINVAL, "mean run length", 0},
    {"mean_run_hugepages inf", OP_CREATE_SIM, T_SYS, SF_MEAN, 0, 0, 0, INFINITY, NULL, -EINVAL, "mean run length", 0},
    {"node_split 2", OP_CREATE_SIM, T_SYS, SF_SPLIT, 2, 0, 0, 0, NULL, -EINVAL, "node_split 2", 0},
    {"node_split -1", OP_CREATE_SIM, T_SYS, SF_SPLIT, -1, 0, 0, 0, NULL, -EINVAL, "node_split -1", 0},
    {"algo no-such-engine", OP_CREATE_SIM, T_SYS, SF_ALGO, 0, 0, 0, 0, "no-such-engine", -EINVAL, "no-such-engine", 0},
    {"algo empty", OP_CREATE_SIM, T_SYS, SF_ALGO, 0, 0, 0, 0, "", -EINVAL, "no search engine", 0},
    {"algo not NUL-terminated", OP_CREATE_SIM, T_SYS, SF_ALGO_UNTERMINATED, 0, 0, 0, 0, NULL, -EINVAL, "NUL-terminated", 0},
    /* ... and layout files (u: the line the message must name as file:line) */
    {"layout file missing", OP_CREATE_SIM, T_SYS, SF_LAYOUT_PATH, 0, 0, 0, 0, "/nonexistent/mmc-layout.csv", -ENOENT, "/nonexistent/mmc-layout.csv", 0},
    {"layout file is a directory", OP_CREATE_SIM, T_SYS, SF_LAYOUT_PATH, 0, 0, 0, 0, "@tmpdir", -EIO, "read error", 0},
    {"layout: wrong header", OP_CREATE_SIM, T_SYS, SF_LAYOUT, 0, 1, 0, 0,
     "pfn,frames\n1048576,512,0,2097152\n", -EINVAL, "header", 0},
    {"layout: base_pfn not a number", OP_CREATE_SIM, T_SYS, SF_LAYOUT, 0, 3, 0, 0,
     "base_pfn,frames,node,page_bytes\n1048576,512,0,2097152\nabc,512,0,2097152\n", -EINVAL, "base_pfn", 0},
    {"layout: frames negative", OP_CREATE_SIM, T_SYS, SF_LAYOUT, 0, 4, 0, 0,
     "# a comment\n\nbase_pfn,frames,node,page_bytes\n1048576,-512,0,2097152\n", -EINVAL, "frames", 0},
    {"layout: a field missing", OP_CREATE_SIM, T_SYS, SF_LAYOUT, 0, 2, 0, 0,
     "base_pfn,frames,node,page_bytes\n1048576,512,0\n", -EINVAL, "too few fields", 0},
    {"layout: a field too many", OP_CREATE_SIM, T_SYS, SF_LAYOUT, 0, 2, 0, 0,
     "base_pfn,frames,node,page_bytes\n1048576,512,0,2097152,7\n", -EINVAL, "more fields", 0},
    {"layout: a number beyond 64 bits", OP_CREATE_SIM, T_SYS, SF_LAYOUT, 0, 2, 0, 0,
     "base_pfn,frames,node,page_bytes\n99999999999999999999,512,0,2097152\n", -EINVAL, "64 bits", 0},
    {"layout: page_bytes 4096", OP_CREATE_SIM, T_SYS, SF_LAYOUT, 0, 2, 0, 0,
     "base_pfn,frames,node,page_bytes\n1048576,512,0,4096\n", -EINVAL, "page_bytes 4096", 0},
    {"layout: two hugepage sizes", OP_CREATE_SIM, T_SYS, SF_LAYOUT, 0, 3, 0, 0,
     "base_pfn,frames,node,page_bytes\n1048576,512,0,2097152\n2097152,262144,0,1073741824\n", -EINVAL, "one hugepage size", 0},
    {"layout: node 64", OP_CREATE_SIM, T_SYS, SF_LAYOUT, 0, 2, 0, 0,
     "base_pfn,frames,node,page_bytes\n1048576,512,64,2097152\n", -EINVAL, "node 64", 0},
    {"layout: frames not whole hugepages", OP_CREATE_SIM, T_SYS, SF_LAYOUT, 0, 2, 0, 0,
     "base_pfn,frames,node,page_bytes\n1048576,100,0,2097152\n", -EINVAL, "whole hugepages", 0},
    {"layout: base_pfn not hugepage-aligned", OP_CREATE_SIM, T_SYS, SF_LAYOUT, 0, 2, 0, 0,
     "base_pfn,frames,node,page_bytes\n1048577,512,0,2097152\n", -EINVAL, "whole hugepages", 0},
    {"layout: frames 0", OP_CREATE_SIM, T_SYS, SF_LAYOUT, 0, 2, 0, 0,
     "base_pfn,frames,node,page_bytes\n1048576,0,0,2097152\n", -EINVAL, "whole hugepages", 0},
    {"layout: runs descending", OP_CREATE_SIM, T_SYS, SF_LAYOUT, 0, 3, 0, 0,
     "base_pfn,frames,node,page_bytes\n2097152,512,0,2097152\n1048576,512,0,2097152\n", -EINVAL, "ascending", 0},
    {"layout: runs overlapping", OP_CREATE_SIM, T_SYS, SF_LAYOUT, 0, 3, 0, 0,
     "base_pfn,frames,node,page_bytes\n1048576,1024,0,2097152\n1049088,512,0,2097152\n", -EINVAL, "ascending", 0},
    {"layout: a run beyond the 64-bit address space", OP_CREATE_SIM, T_SYS, SF_LAYOUT, 0, 2, 0, 0,
     "base_pfn,frames,node,page_bytes\n4503599627370496,512,0,2097152\n", -EINVAL, "64-bit", 0},
    {"layout: no runs", OP_CREATE_SIM, T_SYS, SF_LAYOUT, 0, NOLINE, 0, 0,
     "base_pfn,frames,node,page_bytes\n# nothing\n", -EINVAL, "no runs", 0},

    /* mmc_partition_destroy: misuse, reported and ignored (warn mode) */
    {"NULL", OP_DESTROY, T_SYS, 0, 0, 0, 0, 0, NULL, 0, "mmc_partition_destroy", 1},
    {"the system partition", OP_DESTROY, T_SYS_PTR, 0, 0, 0, 0, 0, NULL, 0, "mmc_fini", 1},
    {"not a partition", OP_DESTROY, T_BAD, 0, 0, 0, 0, 0, NULL, 0, "not a live partition", 1},

    /* handles that are no partition, for every routine taking one */
    {"", OP_CLEAR, T_BAD, 0, 0, 0, 0, 0, NULL, -EINVAL, "not a live partition", 0},
    {"", OP_STATS, T_BAD, 0, 0, 0, 0, 0, NULL, -EINVAL, "not a live partition", 0},
    {"", OP_RUNS, T_BAD, 0, 0, 0, 0, 0, NULL, -EINVAL, "not a live partition", 0},
    {"", OP_LAYOUT, T_BAD, 0, 0, 0, 0, 0, NULL, -EINVAL, "not a live partition", 0},
    {"", OP_BUDDYINFO, T_BAD, 0, 0, 0, 0, 0, NULL, -EINVAL, "not a live partition", 0},
    {"node -1", OP_FRAG, T_BAD, -1, 0, 0, 0, 0, NULL, -EINVAL, "not a live partition", 0},
    {"plain", OP_PLACEMENT, T_BAD, MMC_PLACE_PLAIN, 0, 0, 0, 0, NULL, -EINVAL, "not a live partition", 0},
    {"1 movable", OP_LOAD_ALLOC, T_BAD, MMC_LOAD_MOVABLE, -1, 1, 0, 0, NULL, -EINVAL, "not a live partition", 0},
    {"a live handle", OP_LOAD_FREE, T_BAD, H_LIVE, 0, 1, 0, 0, NULL, -EINVAL, "not a live partition", 0},
    {"a live handle", OP_LOAD_READ, T_BAD, H_LIVE, 0, 0, 8, 0, NULL, -EINVAL, "not a live partition", 0},
    {"a live handle", OP_LOAD_WRITE, T_BAD, H_LIVE, 0, 0, 8, 0, NULL, -EINVAL, "not a live partition", 0},
    {"a live handle", OP_LOAD_PFN, T_BAD, H_LIVE, 0, 0, 0, 0, NULL, 0, "not a live partition", 0},
    {"4 KiB", OP_MDL, T_BAD, MDL_VALID, 0, 0, 0, 0, NULL, 0, "not a live partition", 0},
    {"a valid recipe", OP_AGING_RUN, T_BAD, AG_VALID, 0, 0, 0, 0, NULL, -EINVAL, "not a live partition", 0},
    {"a valid trace", OP_AGING_REPLAY, T_BAD, RP_FILE, 0, 0, 0, 0, "A 0 V 1 0 0 0 1\nend hash=0\n", -EINVAL, "not a live partition", 0},

    /* NULL where a pointer is required */
    {"st NULL", OP_STATS, T_EACH, 1, 0, 0, 0, 0, NULL, -EINVAL, "st", 0},
    {"runs NULL, max 4", OP_RUNS, T_EACH, 1, 0, 4, 0, 0, NULL, -EINVAL, "runs", 0},
    {"f NULL", OP_LAYOUT, T_EACH, 1, 0, 0, 0, 0, NULL, -EINVAL, "f is NULL", 0},
    {"f NULL", OP_BUDDYINFO, T_EACH, 1, 0, 0, 0, 0, NULL, -EINVAL, "f is NULL", 0},
    {"out NULL", OP_FRAG, T_EACH, -1, 1, 0, 0, 0, NULL, -EINVAL, "out", 0},
    {"f NULL", OP_TOPOLOGY, T_SYS, 1, 0, 0, 0, 0, NULL, -EINVAL, "f is NULL", 0},

    /* mmc_query: addresses of no block, info NULL */
    {"NULL", OP_QUERY, T_SYS, Q_NULL, 0, 0, 0, 0, NULL, -ENOENT, "no live contiguous block", 0},
    {"a stack address", OP_QUERY, T_SYS, Q_STACK, 0, 0, 0, 0, NULL, -ENOENT, "outside every partition", 0},
    {"the top of the address space", OP_QUERY, T_SYS, Q_TOP, 0, 0, 0, 0, NULL, -ENOENT, "no live contiguous block", 0},
    {"a free frame", OP_QUERY, T_EACH, Q_FREE_FRAME, 0, 0, 0, 0, NULL, -ENOENT, "no live contiguous block", 0},
    {"an MDL's frame", OP_QUERY, T_EACH, Q_MDL_FRAME, 0, 0, 0, 0, NULL, -ENOENT, "no live contiguous block", 0},
    {"a load frame", OP_QUERY, T_EACH, Q_LOAD_FRAME, 0, 0, 0, 0, NULL, -ENOENT, "no live contiguous block", 0},
    {"info NULL (a live block)", OP_QUERY, T_EACH, Q_INFO_NULL, 0, 0, 0, 0, NULL, -EINVAL, "info", 0},

    /* mmc_allocate_pages_for_mdl (the Windows rules; the return is NULL) */
    {"flags 0x800", OP_MDL, T_EACH, MDL_FLAGS, 0, 0, 0, 0, NULL, 0, "flags", 0},
    {"MM_ALLOCATE_AND_HOT_REMOVE", OP_MDL, T_EACH, MDL_HOT_REMOVE, 0, 0, 0, 0, NULL, 0, "HOT_REMOVE", 0},
    {"cache type 99", OP_MDL, T_EACH, MDL_CACHE, 0, 0, 0, 0, NULL, 0, "cache type 99", 0},
    {"TotalBytes 0", OP_MDL, T_EACH, MDL_TOTAL0, 0, 0, 0, 0, NULL, 0, "TotalBytes", 0},
    {"SkipBytes 512", OP_MDL, T_EACH, MDL_SKIP, 0, 0, 0, 0, NULL, 0, "SkipBytes", 0},
    {"Low above High", OP_MDL, T_EACH, MDL_LOW_HIGH, 0, 0, 0, 0, NULL, 0, "LowAddress", 0},
    {"5 GiB with FULLY_REQUIRED", OP_MDL, T_EACH, MDL_FULLY, 0, 0, 0, 0, NULL, 0, "FULLY_REQUIRED", 0},
    {"CHUNKS with Skip 3 pages", OP_MDL, T_EACH, MDL_CHUNKS, 0, 0, 0, 0, NULL, 0, "power of two", 0},

    /* mmc_engine_name past the last: NULL, no error */
    {"index SIZE_MAX", OP_ENGINE_NAME, T_SYS, 0, 0, SIZE_MAX, 0, 0, NULL, 0, NULL, 0},
    {"index 1000", OP_ENGINE_NAME, T_SYS, 0, 0, 1000, 0, 0, NULL, 0, NULL, 0},

    /* mmc_print_topology: XML files that are none */
    {"XML file missing", OP_TOPOLOGY, T_SYS, 0, 0, 0, 0, 0, "/nonexistent/topo.xml", -ENOENT, "/nonexistent/topo.xml", 0},
    {"XML file of garbage", OP_TOPOLOGY, T_SYS, 0, 0, 0, 0, 0, "@garbage", -EINVAL, "garbage.xml", 0},

    /* mmc_partition_frag */
    {"node -2", OP_FRAG, T_EACH, -2, 0, 0, 0, 0, NULL, -EINVAL, "node", 0},
    {"node 64", OP_FRAG, T_EACH, 64, 0, 0, 0, 0, NULL, -EINVAL, "node", 0},
    {"node INT_MIN", OP_FRAG, T_EACH, INT32_MIN, 0, 0, 0, 0, NULL, -EINVAL, "node", 0},

    /* mmc_partition_set_placement */
    {"5", OP_PLACEMENT, T_EACH, 5, 0, 0, 0, 0, NULL, -EINVAL, "placement 5", 0},
    {"-1", OP_PLACEMENT, T_EACH, -1, 0, 0, 0, 0, NULL, -EINVAL, "placement -1", 0},

    /* mmc_load_alloc (b: node; -3: the partition's node count) */
    {"kind 0", OP_LOAD_ALLOC, T_EACH, 0, -1, 1, 0, 0, NULL, -EINVAL, "kind", 0},
    {"kind 3 (frame state MMC_FRAME_MOVABLE, not a load kind)", OP_LOAD_ALLOC, T_EACH, 3, -1, 1, 0, 0, NULL, -EINVAL, "kind", 0},
    {"kind 4 (frame state MMC_FRAME_STANDBY)", OP_LOAD_ALLOC, T_EACH, 4, -1, 1, 0, 0, NULL, -EINVAL, "kind", 0},
    {"kind 5", OP_LOAD_ALLOC, T_EACH, 5, -1, 1, 0, 0, NULL, -EINVAL, "kind", 0},
    {"kind -1", OP_LOAD_ALLOC, T_EACH, -1, -1, 1, 0, 0, NULL, -EINVAL, "kind", 0},
    {"node -2", OP_LOAD_ALLOC, T_EACH, MMC_LOAD_MOVABLE, -2, 1, 0, 0, NULL, -EINVAL, "node", 0},
    {"node 64", OP_LOAD_ALLOC, T_EACH, MMC_LOAD_STANDBY, 64, 1, 0, 0, NULL, -EINVAL, "node", 0},
    {"node = the partition's node count", OP_LOAD_ALLOC, T_EACH, MMC_LOAD_MOVABLE, -3, 1, 0, 0, NULL, -EINVAL, "not a node of this partition", 0},
    {"out NULL, count 4", OP_LOAD_ALLOC, T_EACH, MMC_LOAD_MOVABLE, -1, 4, 1, 0, NULL, -EINVAL, "out", 0},

    /* mmc_load_free */
    {"handles NULL, count 2", OP_LOAD_FREE, T_EACH, H_ARRAY_NULL, 0, 2, 0, 0, NULL, -EINVAL, "handles", 0},
    {"a stale handle", OP_LOAD_FREE, T_EACH, H_STALE, 0, 1, 0, 0, NULL, -EINVAL, "mmc_load_free", 1},
    {"handle 0", OP_LOAD_FREE, T_EACH, H_ZERO, 0, 1, 0, 0, NULL, -EINVAL, "not a live load handle", 1},
    {"another partition's handle", OP_LOAD_FREE, T_EACH, H_FOREIGN, 0, 1, 0, 0, NULL, -EINVAL, "not a live load handle", 1},
    {"a made-up handle", OP_LOAD_FREE, T_EACH, H_RANDOM, 0, 1, 0, 0, NULL, -EINVAL, "not a live load handle", 1},

    /* mmc_load_read / mmc_load_write (u: off, v: len, b: buf NULL) */
    {"off 4097", OP_LOAD_READ, T_EACH, H_LIVE, 0, 4097, 0, 0, NULL, -EINVAL, "off 4097", 0},
    {"off 4000 + len 200", OP_LOAD_READ, T_EACH, H_LIVE, 0, 4000, 200, 0, NULL, -EINVAL, "4 KiB frame", 0},
    {"len 4097", OP_LOAD_WRITE, T_EACH, H_LIVE, 0, 0, 4097, 0, NULL, -EINVAL, "len 4097", 0},
    {"off SIZE_MAX, len 2", OP_LOAD_WRITE, T_EACH, H_LIVE, 0, SIZE_MAX, 2, 0, NULL, -EINVAL, "4 KiB frame", 0},
    {"off 4096, len SIZE_MAX", OP_LOAD_READ, T_EACH, H_LIVE, 0, 4096, SIZE_MAX, 0, NULL, -EINVAL, "4 KiB frame", 0},
    {"buf NULL", OP_LOAD_READ, T_EACH, H_LIVE, 1, 0, 8, 0, NULL, -EINVAL, "buf", 0},
    {"buf NULL", OP_LOAD_WRITE, T_EACH, H_LIVE, 1, 0, 8, 0, NULL, -EINVAL, "buf", 0},
    {"a stale handle", OP_LOAD_READ, T_EACH, H_STALE, 0, 0, 8, 0, NULL, -EINVAL, "mmc_load_read", 1},
    {"a stale handle", OP_LOAD_WRITE, T_EACH, H_STALE, 0, 0, 8, 0, NULL, -EINVAL, "mmc_load_write", 1},
    {"another partition's handle", OP_LOAD_WRITE, T_EACH, H_FOREIGN, 0, 0, 8, 0, NULL, -EINVAL, "not a live load handle", 1},
    {"a live handle, simulated", OP_LOAD_READ, T_SIM, H_LIVE, 0, 0, 8, 0, NULL, -EOPNOTSUPP, "simulated", 0},
    {"a live handle, simulated", OP_LOAD_WRITE, T_SIM, H_LIVE, 0, 0, 8, 0, NULL, -EOPNOTSUPP, "simulated", 0},

    /* mmc_load_pfn: a stale or unknown handle is PFN 0, not misuse */
    {"a stale handle", OP_LOAD_PFN, T_EACH, H_STALE, 0, 0, 0, 0, NULL, 0, NULL, 0},
    {"another partition's handle", OP_LOAD_PFN, T_EACH, H_FOREIGN, 0, 0, 0, 0, NULL, 0, NULL, 0},

    /* the aging trace */
    {"cfg NULL", OP_AGING_INIT, T_SYS, 0, 0, 0, 0, 0, NULL, 0, "cfg", 0},
    {"cfg NULL", OP_AGING_RUN, T_EACH, AG_NULL, 0, 0, 0, 0, NULL, -EINVAL, "cfg", 0},
    {"threads 0", OP_AGING_RUN, T_EACH, AG_THREADS, 0, 0, 0, 0, NULL, -EINVAL, "mmc_aging_run: threads", 0},
    {"threads 257", OP_AGING_RUN, T_EACH, AG_THREADS, 0, 257, 0, 0, NULL, -EINVAL, "mmc_aging_run: threads", 0},
    {"target_utilisation -0.1", OP_AGING_RUN, T_EACH, AG_TARGET, 0, 0, 0, -0.1, NULL, -EINVAL, "mmc_aging_run: target_utilisation", 0},
    {"target_utilisation 1.5", OP_AGING_RUN, T_EACH, AG_TARGET, 0, 0, 0, 1.5, NULL, -EINVAL, "mmc_aging_run: target_utilisation", 0},
    {"target_utilisation NaN", OP_AGING_RUN, T_EACH, AG_TARGET, 0, 0, 0, NAN, NULL, -EINVAL, "mmc_aging_run: target_utilisation", 0},
    {"mix_mdl -1", OP_AGING_RUN, T_EACH, AG_MIX_MDL, 0, 0, 0, -1, NULL, -EINVAL, "mmc_aging_run: mix weights", 0},
    {"mix_mdl NaN", OP_AGING_RUN, T_EACH, AG_MIX_NAN, 0, 0, 0, 0, NULL, -EINVAL, "mmc_aging_run: mix weights", 0},
    {"mix weights all 0", OP_AGING_RUN, T_EACH, AG_MIX_ZERO, 0, 0, 0, 0, NULL, -EINVAL, "mmc_aging_run: mix weights", 0},
    {"mix_contig inf", OP_AGING_RUN, T_EACH, AG_MIX_INF, 0, 0, 0, 0, NULL, -EINVAL, "mmc_aging_run: mix weights", 0},
    {"record_path in a missing directory", OP_AGING_RUN, T_EACH, AG_RECORD, 0, 0, 0, 0, "/nonexistent/trace.txt", -ENOENT, "/nonexistent/trace.txt", 0},
    {"path NULL", OP_AGING_REPLAY, T_EACH, RP_PATH_NULL, 0, 0, 0, 0, NULL, -EINVAL, "path", 0},
    {"recorded_hash NULL", OP_AGING_REPLAY, T_EACH, RP_HASH_NULL, 0, 0, 0, 0, NULL, -EINVAL, "recorded_hash", 0},
    {"trace missing", OP_AGING_REPLAY, T_EACH, RP_PATH, 0, 0, 0, 0, "/nonexistent/trace.txt", -ENOENT, "/nonexistent/trace.txt", 0},
    {"trace: a line of garbage", OP_AGING_REPLAY, T_EACH, RP_FILE, 0, 1, 0, 0, "garbage\n", -EINVAL, "not a line", 0},
    {"trace: an unknown kind", OP_AGING_REPLAY, T_EACH, RP_FILE, 0, 2, 0, 0, "# mmcontig aging trace v1\nA 0 Q 1 0 0 0 1\n", -EINVAL, "not a line", 0},
    {"trace: outcome 7", OP_AGING_REPLAY, T_EACH, RP_FILE, 0, 1, 0, 0, "A 0 V 1 0 0 0 7\n", -EINVAL, "not a line", 0},
    {"trace: object id 2^64-1", OP_AGING_REPLAY, T_EACH, RP_FILE, 0, 1, 0, 0, "A 18446744073709551615 V 1 0 0 0 1\n", -EINVAL, "not a line", 0},
    {"trace: frees an object never made", OP_AGING_REPLAY, T_EACH, RP_FILE, 0, 2, 0, 0, "# mmcontig aging trace v1\nF 3\n", -EILSEQ, "not live", 0},
    {"trace: 2^61 load frames", OP_AGING_REPLAY, T_EACH, RP_FILE, 0, 1, 0, 0, "A 0 V 2305843009213693952 0 0 0 1\n", -EILSEQ, "differs", 0},
    {"trace: an MDL of 0 pages", OP_AGING_REPLAY, T_EACH, RP_FILE, 0, 1, 0, 0, "A 0 M 0 0 0 0 1\n", -EILSEQ, "differs", 0},
};

/* ---- the world the rows act on ---- */

struct world {
    mmc_partition_t *sysp, *stale_sim, *stale_real;
    void *block[2];             /* a live contiguous block: system, simulated */
    PMDL mdl[2];                /* a live MDL */
    mmc_load_t load[2][6];      /* [0] live, [1] freed (stale), the rest live */
    mmc_load_t live[2], stale[2];
    uint64_t nnodes[2];         /* node count: system (the machine), simulated (its layout) */
};
static struct world W;
static uint32_t bogus[64];      /* no partition: "mmcp" everywhere, a magic that fools no one */

static mmc_partition_t *handle_of(unsigned t)
{
    switch (t) {
    case T_SYS: return NULL;
    case T_SYS_PTR: return W.sysp;
    case T_SIM: return S;
    case T_BOGUS: return (mmc_partition_t *)bogus;
    case T_STALE_SIM: return W.stale_sim;
    default: return W.stale_real;
    }
}

/* Index 0 for the system (and the bad handles), 1 for the simulated partition. */
static int side(unsigned t) { return t == T_SIM; }

static mmc_load_t load_handle(enum handle k, unsigned t)
{
    switch (k) {
    case H_LIVE: return W.live[side(t)];
    case H_STALE: return W.stale[side(t)];
    case H_ZERO: return 0;
    case H_FOREIGN: return W.live[!side(t)];
    case H_RANDOM: return 0xdeadbeef00000005ull;
    default: return 0;
    }
}

/* The address of frame `pfn` of a partition, from its runs; NULL if not in it. */
static void *va_of_pfn(mmc_partition_t *p, uint64_t pfn)
{
    struct mmc_run_info runs[256];
    long n = mmc_partition_runs(p, runs, 256);
    for (long r = 0; r < n && r < 256; r++)
        if (pfn >= runs[r].base_pfn && pfn < runs[r].base_pfn + runs[r].frames)
            return (char *)runs[r].va + ((pfn - runs[r].base_pfn) << 12);
    return NULL;
}

/* A free frame: the middle of the run with the most free frames (blocks come from the top,
 * MDL pages and load frames from the bottom). */
static void *free_frame(mmc_partition_t *p)
{
    struct mmc_run_info runs[256];
    long n = mmc_partition_runs(p, runs, 256), best = 0;
    for (long r = 1; r < n && r < 256; r++)
        if (runs[r].free_frames > runs[best].free_frames)
            best = r;
    return (char *)runs[best].va + (runs[best].frames / 2) * 4096;
}

static char extra_why[256]; /* a row's further check that failed, or "" */

/* One call. Returns what the routine returned (NULL / pointer as 0 / 1). */
static long run_row(const struct row *r, unsigned t)
{
    mmc_partition_t *h = handle_of(t);
    extra_why[0] = 0;
    switch (r->op) {
    case OP_CONFIG_ENV: {
        if (!r->s)
            return mmc_config_init(NULL);
        struct mmc_config def, got;
        env_save(true);
        mmc_config_init(&def);
        env_put(r->s);
        memset(&got, 0x5a, sizeof(got));
        long rc = mmc_config_init(&got);
        env_restore();
        if (memcmp(&def, &got, sizeof(def)) != 0)
            snprintf(extra_why, sizeof(extra_why), "cfg does not hold the defaults afterwards");
        return rc;
    }
    case OP_INIT_AGAIN:
        return mmc_init(NULL);
    case OP_SIM_CONFIG_INIT: {
        if (!r->s)
            return mmc_sim_config_init(NULL);
        struct mmc_sim_config c;
        env_save(false);
        setenv("MMC_ALGO", r->s, 1);
        long rc = mmc_sim_config_init(&c);
        env_restore();
        if (strcmp(c.algo, "tree") != 0)
            snprintf(extra_why, sizeof(extra_why), "algo is '%.32s', not the default tree", c.algo);
        return rc;
    }
    case OP_CREATE_SIM: {
        struct mmc_sim_config c;
        mmc_sim_config_init(&c);
        c.pool_bytes = 64 * M;
        snprintf(c.algo, sizeof(c.algo), "linear");
        char mention[256];
        switch (r->a) {
        case SF_PAGE: c.page_bytes = r->u; break;
        case SF_POOL: c.pool_bytes = r->u; break;
        case SF_NNODES: c.nnodes = (unsigned)r->u; break;
        case SF_MEAN: c.mean_run_hugepages = r->d; break;
        case SF_SPLIT: c.node_split = (int)r->b; break;
        case SF_ALGO: snprintf(c.algo, sizeof(c.algo), "%s", r->s); break;
        case SF_ALGO_UNTERMINATED: memset(c.algo, 'y', sizeof(c.algo)); break;
        case SF_LAYOUT_PATH: c.layout_file = !strcmp(r->s, "@tmpdir") ? tmpdir : r->s; break;
        case SF_LAYOUT: {
            char name[32];
            snprintf(name, sizeof(name), "layout-%zu.csv", (size_t)(r - rows));
            c.layout_file = write_file(name, r->s);
            if (r->u)
                snprintf(mention, sizeof(mention), "%s:%llu: ", c.layout_file, (unsigned long long)r->u);
            else
                snprintf(mention, sizeof(mention), "%s: ", c.layout_file);
            break;
        }
        default: break;
        }
        mmc_partition_t *out = NULL;
        long rc = mmc_partition_create_simulated(r->a == SF_CFG_NULL ? NULL : &c,
                                                 r->a == SF_OUT_NULL ? NULL : &out);
        if (out) {
            snprintf(extra_why, sizeof(extra_why), "a partition was made");
            mmc_partition_destroy(out);
        } else if (r->a == SF_LAYOUT && !strstr(mmc_last_error(), mention)) {
            snprintf(extra_why, sizeof(extra_why), "the message does not say '%.200s'", mention);
        }
        return rc;
    }
    case OP_DESTROY:
        mmc_partition_destroy(t == T_SYS ? NULL : h);
        return 0;
    case OP_CLEAR:
        return mmc_partition_clear(h);
    case OP_STATS: {
        struct mmc_stats st;
        return mmc_partition_stats(h, r->a ? NULL : &st);
    }
    case OP_RUNS: {
        struct mmc_run_info runs[4];
        return mmc_partition_runs(h, r->a ? NULL : runs, r->a ? (size_t)r->u : 4);
    }
    case OP_LAYOUT: case OP_BUDDYINFO: {
        FILE *f = r->a ? NULL : fopen("/dev/null", "w");
        long rc = r->op == OP_LAYOUT ? mmc_partition_print_layout(h, f) : mmc_partition_print_buddyinfo(h, f);
        if (f)
            fclose(f);
        return rc;
    }
    case OP_QUERY: {
        struct mmc_alloc_info info;
        int local = 0;
        const void *addr = NULL;
        switch (r->a) {
        case Q_STACK: addr = &local; break;
        case Q_TOP: addr = (const void *)UINTPTR_MAX; break;
        case Q_FREE_FRAME: addr = free_frame(h); break;
        case Q_MDL_FRAME: addr = va_of_pfn(h, MmGetMdlPfnArray(W.mdl[side(t)])[0]); break;
        case Q_LOAD_FRAME: addr = va_of_pfn(h, mmc_load_pfn(h, W.live[side(t)])); break;
        case Q_INFO_NULL: addr = W.block[side(t)]; break;
        default: break;
        }
        if (r->a != Q_NULL && !addr)
            snprintf(extra_why, sizeof(extra_why), "found no address for the row");
        return mmc_query(addr, r->a == Q_INFO_NULL ? NULL : &info);
    }
    case OP_MDL: {
        int64_t lo = 0, hi = INT64_MAX, skip = 0;
        uint64_t total = 4096;
        int cache = MmCached;
        uint32_t flags = 0;
        switch (r->a) {
        case MDL_FLAGS: flags = 0x800; break;
        case MDL_HOT_REMOVE: flags = MM_ALLOCATE_AND_HOT_REMOVE; break;
        case MDL_CACHE: cache = 99; break;
        case MDL_TOTAL0: total = 0; break;
        case MDL_SKIP: skip = 512; break;
        case MDL_LOW_HIGH: lo = 0x200000; hi = 0x100000; break;
        case MDL_FULLY: total = 5ull << 30; flags = MM_ALLOCATE_FULLY_REQUIRED; break;
        case MDL_CHUNKS: total = 6 * 4096; skip = 3 * 4096; flags = MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS; break;
        default: break;
        }
        PMDL m = mmc_allocate_pages_for_mdl(h, lo, hi, skip, total, cache, flags);
        if (m) {
            MmFreePagesFromMdl(m);
            ExFreePool(m);
        }
        return m != NULL;
    }
    case OP_ENGINE_NAME:
        return mmc_engine_name((size_t)r->u) != NULL;
    case OP_TOPOLOGY: {
        if (r->a)
            return mmc_print_topology(NULL, NULL);
        FILE *f = fopen("/dev/null", "w");
        const char *path = r->s;
        if (!strcmp(path, "@garbage"))
            path = write_file("garbage.xml", "<?xml version=\"1.0\"?>\n<topology><object type=\"Bogus\"\n");
        long rc = mmc_print_topology(f, path);
        fclose(f);
        return rc;
    }
    case OP_FRAG: {
        struct mmc_frag fr;
        return mmc_partition_frag(h, (int)r->a, r->b ? NULL : &fr);
    }
    case OP_PLACEMENT:
        return mmc_partition_set_placement(h, (int)r->a);
    case OP_LOAD_ALLOC: {
        mmc_load_t out[8] = {0};
        int node = r->b == -3 ? (int)W.nnodes[side(t)] : (int)r->b;
        long rc = mmc_load_alloc(h, (int)r->a, node, (size_t)r->u, r->v ? NULL : out);
        if (rc > 0)
            mmc_load_free(h, out, (size_t)rc);
        return rc;
    }
    case OP_LOAD_FREE: {
        mmc_load_t hh = load_handle((enum handle)r->a, t);
        return mmc_load_free(h, r->a == H_ARRAY_NULL ? NULL : &hh, (size_t)r->u);
    }
    case OP_LOAD_READ: case OP_LOAD_WRITE: {
        char buf[8192] = {0};
        mmc_load_t hh = load_handle((enum handle)r->a, t);
        if (r->op == OP_LOAD_READ)
            return mmc_load_read(h, hh, (size_t)r->u, r->b ? NULL : buf, (size_t)r->v);
        return mmc_load_write(h, hh, (size_t)r->u, r->b ? NULL : buf, (size_t)r->v);
    }
    case OP_LOAD_PFN:
        return (long)mmc_load_pfn(h, load_handle((enum handle)r->a, t));
    case OP_AGING_INIT:
        mmc_aging_init(NULL);
        return 0;
    case OP_AGING_RUN: {
        struct mmc_aging c;
        mmc_aging_init(&c);
        c.ops = 200;
        const char *rec = NULL;
        switch (r->a) {
        case AG_THREADS: c.threads = (unsigned)r->u; break;
        case AG_TARGET: c.target_utilisation = r->d; break;
        case AG_MIX_MDL: c.mix_mdl = r->d; break;
        case AG_MIX_NAN: c.mix_mdl = NAN; break;
        case AG_MIX_ZERO: c.mix_mdl = c.mix_contig = c.mix_movable = c.mix_standby = 0; break;
        case AG_MIX_INF: c.mix_contig = INFINITY; break;
        case AG_RECORD: rec = r->s; break;
        default: break;
        }
        return mmc_aging_run(h, r->a == AG_NULL ? NULL : &c, rec);
    }
    case OP_AGING_REPLAY: {
        uint64_t hash = 0;
        const char *path = r->s;
        char mention[256] = "";
        if (r->a == RP_FILE) {
            char name[32];
            snprintf(name, sizeof(name), "trace-%zu-%u.txt", (size_t)(r - rows), t);
            path = write_file(name, r->s);
            snprintf(mention, sizeof(mention), "%s:%llu: ", path, (unsigned long long)r->u);
        } else if (r->a == RP_PATH_NULL) {
            path = NULL;
        } else if (r->a == RP_HASH_NULL) {
            path = write_file("trace-hash-null.txt", "A 0 V 1 0 0 0 1\nend hash=0\n");
        }
        long rc = mmc_aging_replay(h, path, r->a == RP_HASH_NULL ? NULL : &hash);
        if (r->a == RP_FILE && r->u && !strstr(mmc_last_error(), mention))
            snprintf(extra_why, sizeof(extra_why), "the message does not say '%.200s'", mention);
        return rc;
    }
    }
    return 0;
}

/* Check one call: return, message, misuse count, both frame databases. */
static void check(const char *fn, const char *what, const char *tname, long rc, long expect,
                  const char *err, const char *mention, unsigned misuse, const struct snap *before,
                  const struct snap *after)
{
    t_ok(!strpbrk(err, "\r\n"), "%s(%s): %s: the message is one line", fn, tname, what);
    t_ok(rc == expect && !extra_why[0], "%s(%s): %s -> %ld (expected %ld)%s%s", fn, tname, what, rc,
         expect, extra_why[0] ? ": " : "", extra_why);
    if (mention)
        t_ok(err[0] && strcmp(err, sentinel) != 0 && strstr(err, mention),
             "%s(%s): %s: mmc_last_error() names it ('%s' in \"%s\")", fn, tname, what, mention, err);
    else
        t_ok(true, "%s(%s): %s: no error to report", fn, tname, what);
    uint64_t m0 = have_sys ? before->sys.misuse : before->sim.misuse;
    uint64_t m1 = have_sys ? after->sys.misuse : after->sim.misuse;
    t_ok((!have_sys || db_same(&before->sys, &after->sys)) && db_same(&before->sim, &after->sim) &&
             m1 - m0 == misuse,
         "%s(%s): %s: both frame databases unchanged (free %llu/%llu, hash %016llx/%016llx), "
         "misuse counted %llu (expected %u)",
         fn, tname, what, (unsigned long long)after->sys.free_frames,
         (unsigned long long)after->sim.free_frames, (unsigned long long)after->sys.state_hash,
         (unsigned long long)after->sim.state_hash, (unsigned long long)(m1 - m0), misuse);
}

/* Live objects in a partition, so that the frame database is not trivially all free. */
static void populate(mmc_partition_t *p, int i)
{
    SIZE_T n = 64 * 1024;
    NTSTATUS s = MmAllocateContiguousMemoryEx(&n, A(0), A(UINT64_MAX >> 1), A(0), MM_ANY_NODE_OK,
                                              PAGE_READWRITE, p, 'natv', 0, &W.block[i]);
    W.mdl[i] = mmc_allocate_pages_for_mdl(p, 0, INT64_MAX, 0, 8 * 4096, MmCached, MM_DONT_ZERO_ALLOCATION);
    mmc_load_t *h = W.load[i];
    long a = mmc_load_alloc(p, MMC_LOAD_MOVABLE, -1, 4, h);
    long b = mmc_load_alloc(p, MMC_LOAD_STANDBY, -1, 2, h + 4);
    W.live[i] = h[0];
    W.stale[i] = h[1];
    int f = mmc_load_free(p, &h[1], 1);
    t_ok(s == STATUS_SUCCESS && W.mdl[i] && a == 4 && b == 2 && f == 0,
         "%s partition: a 64 KiB block, an 8-page MDL, 6 load frames (one freed)", i ? "simulated" : "system");
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    setenv("MMC_ON_MISUSE", "warn", 1); /* misuse is reported, counted and ignored */
    setenv("MMC_POOL", "16M", 1);

    /* The simulated partition, before mmc_init: 2 nodes, runs of about 3 hugepages. */
    struct mmc_sim_config sc;
    mmc_sim_config_init(&sc);
    sc.pool_bytes = 128 * M;
    sc.nnodes = 2;
    sc.mean_run_hugepages = 3;
    sc.node_split = MMC_SIM_NODES_INTERLEAVED;
    sc.seed = 11;
    int rc = mmc_partition_create_simulated(&sc, &S);
    if (rc < 0) {
        printf("Bail out! simulated partition: %s\n", mmc_last_error());
        return 1;
    }
    W.nnodes[1] = 2;
    populate(S, 1);

    /* mmc_init with one bad field, before initialisation: -EINVAL, nothing initialised. */
    struct mmc_config probe;
    mmc_config_init(&probe);
    probe.algo[0] = 0;
    for (size_t i = 0; i < sizeof(cfg_rows) / sizeof(cfg_rows[0]); i++) {
        const struct cfg_row *r = &cfg_rows[i];
        if (r->init_only)
            continue;
        struct mmc_config c;
        bool use_null;
        char mention[128];
        cfg_apply(r, &c, &use_null, mention, sizeof(mention));
        struct snap before = take_snap();
        set_sentinel();
        if (use_null) {
            env_save(false);
            env_put(r->s);
        }
        long got = mmc_init(use_null ? NULL : &c);
        if (use_null)
            env_restore();
        char msg[768];
        snprintf(msg, sizeof(msg), "%s", mmc_last_error());
        extra_why[0] = 0;
        if (got == 0) {
            snprintf(extra_why, sizeof(extra_why), "it initialised");
            mmc_fini();
        } else if (mmc_init(&probe) != -EINVAL) { /* -EALREADY if the bad call initialised */
            snprintf(extra_why, sizeof(extra_why), "mmcontig is initialised afterwards");
        }
        struct snap after = take_snap();
        t_ok(got == -EINVAL && !extra_why[0], "mmc_init: %s -> %ld (expected %d)%s%s", r->what, got,
             -EINVAL, extra_why[0] ? ": " : "", extra_why);
        t_ok(msg[0] && strcmp(msg, sentinel) != 0 && strstr(msg, mention),
             "mmc_init: %s: mmc_last_error() names it ('%s' in \"%s\")", r->what, mention, msg);
        t_ok(db_same(&before.sim, &after.sim), "mmc_init: %s: the simulated partition is unchanged", r->what);
    }

    /* The real pool. */
    t_init_pool("16M");
    have_sys = true;
    W.sysp = mmc_system_partition();
    W.nnodes[0] = mmc_node_count();
    populate(NULL, 0);
    {
        struct mmc_sim_config c;
        mmc_sim_config_init(&c);
        c.pool_bytes = 16 * M;
        mmc_partition_create_simulated(&c, &W.stale_sim);
        mmc_partition_destroy(W.stale_sim);
        struct mmc_config rc_cfg;
        mmc_config_init(&rc_cfg);
        rc_cfg.pool_bytes = 4 * M;
        int r2 = mmc_partition_create(&rc_cfg, &W.stale_real);
        t_ok(W.stale_sim && r2 == 0, "a simulated and a real partition made and destroyed (%s)",
             r2 ? mmc_last_error() : "ok");
        mmc_partition_destroy(W.stale_real);
    }
    for (size_t i = 0; i < 64; i++)
        bogus[i] = 0x6d6d6370u;

    /* mmc_partition_create with one bad field. */
    for (size_t i = 0; i < sizeof(cfg_rows) / sizeof(cfg_rows[0]); i++) {
        const struct cfg_row *r = &cfg_rows[i];
        struct mmc_config c;
        bool use_null;
        char mention[128];
        cfg_apply(r, &c, &use_null, mention, sizeof(mention));
        struct snap before = take_snap();
        set_sentinel();
        if (use_null) {
            env_save(false);
            env_put(r->s);
        }
        mmc_partition_t *out = NULL;
        long got = mmc_partition_create(use_null ? NULL : &c, r->field == CF_OUT_NULL ? NULL : &out);
        if (use_null)
            env_restore();
        char err[768];
        snprintf(err, sizeof(err), "%s", mmc_last_error());
        extra_why[0] = 0;
        if (out) {
            snprintf(extra_why, sizeof(extra_why), "a partition was made");
            mmc_partition_destroy(out);
        }
        struct snap after = take_snap();
        check("mmc_partition_create", r->what, "system", got, -EINVAL, err, mention, 0, &before, &after);
    }

    /* Every other routine. */
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *r = &rows[i];
        for (unsigned t = 1; t <= T_STALE_REAL; t <<= 1) {
            if (!(r->targets & t))
                continue;
            struct snap before = take_snap();
            set_sentinel();
            long got = run_row(r, t);
            char err[768];
            snprintf(err, sizeof(err), "%s", mmc_last_error());
            struct snap after = take_snap();
            check(op_name[r->op], r->what[0] ? r->what : "a valid call", target_name(t), got,
                  r->expect, err, r->mention, r->misuse, &before, &after);
        }
    }

    /* A count beyond the pool is not an error: it takes what is free, and no more. */
    {
        struct mmc_stats b;
        mmc_partition_stats(S, &b);
        mmc_load_t *out = calloc(b.pool_frames, sizeof(*out));
        long got = mmc_load_alloc(S, MMC_LOAD_MOVABLE, -1, (size_t)1 << 61, out);
        int f = got > 0 ? mmc_load_free(S, out, (size_t)got) : -1;
        struct mmc_stats a;
        mmc_partition_stats(S, &a);
        t_ok(got == (long)b.free_frames && f == 0 && db_same(&a, &b),
             "mmc_load_alloc(simulated): count 2^61 takes the %llu free frames (got %ld), freed back",
             (unsigned long long)b.free_frames, got);
        free(out);
    }

    /* Everything back; the hugepages too. */
    for (int i = 0; i < 2; i++) {
        mmc_partition_t *p = i ? S : NULL;
        MmFreeContiguousMemory(W.block[i]);
        MmFreePagesFromMdl(W.mdl[i]);
        ExFreePool(W.mdl[i]);
        mmc_load_free(p, &W.load[i][0], 1);
        int f = mmc_load_free(p, &W.load[i][2], 4);
        struct mmc_stats st;
        mmc_partition_stats(p, &st);
        t_ok(f == 0 && st.free_frames == st.pool_frames && st.live_blocks == 0,
             "%s partition: every frame free again after the live objects are freed",
             i ? "simulated" : "system");
    }
    mmc_partition_destroy(S);
    mmc_fini();
    struct t_maps maps = t_count_maps();
    t_ok(maps.memfd == 0, "after mmc_fini no hugetlb memfd of the pool is mapped (%u)", maps.memfd);
    for (unsigned i = 0; i < npaths; i++)
        unlink(paths[i]);
    rmdir(tmpdir);
    return t_done();
}
