/* alloc/search/engines.c: the registry of search engines, plugins and the reference predicate.
 *
 * Every built-in engine is listed here once; engines loaded from shared objects
 * (MMC_ENGINE_PLUGIN, mmc_engine_load) follow them, appended under a mutex and never removed
 * (a plugin stays loaded until exit), so that a lookup reads the list without a lock.
 * mmc_search_fits() is the one definition of "this block satisfies this request" that
 * engines, the NT layer's checks and the tests share.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "search.h"

const struct mmc_engine_ops *const _mmc_engines[] = {
    &_mmc_engine_linear,
    &_mmc_engine_bitmap,
    &_mmc_engine_buddy,
    &_mmc_engine_tlsf,
    &_mmc_engine_tree,
    NULL,
};

#define MAX_PLUGINS 16
static const struct mmc_engine_ops *plugins[MAX_PLUGINS];
static size_t nplugins; /* published with release after the entry is written */
static pthread_mutex_t plugin_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static int env_rc;
static char env_err[512];

static size_t nbuiltin(void)
{
    size_t n = 0;
    while (_mmc_engines[n])
        n++;
    return n;
}

static const struct mmc_engine_ops *lookup_loaded(const char *name)
{
    for (size_t i = 0; _mmc_engines[i]; i++)
        if (strcmp(_mmc_engines[i]->name, name) == 0)
            return _mmc_engines[i];
    const size_t n = __atomic_load_n(&nplugins, __ATOMIC_ACQUIRE);
    for (size_t i = 0; i < n; i++)
        if (strcmp(plugins[i]->name, name) == 0)
            return plugins[i];
    return NULL;
}

/* Check a plugin's operations; 0 or -errno with why[] filled. */
static int check_ops(const struct mmc_engine_ops *e, char *why, size_t len)
{
    static const char ok_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.+";
    if (!e->name || !*e->name || strlen(e->name) >= MMC_NAME_MAX ||
        strspn(e->name, ok_chars) != strlen(e->name)) {
        snprintf(why, len, "its name '%s' is not 1 to %d letters, digits or _-.+: give the "
                 "engine another name", e->name ? e->name : "(null)", MMC_NAME_MAX - 1);
        return -EINVAL;
    }
    const struct {
        const void *p;
        const char *what;
    } need[] = {
        {e->summary, "summary"}, {e->work_unit, "work_unit"}, {(const void *)e->create, "create()"},
        {(const void *)e->destroy, "destroy()"}, {(const void *)e->find, "find()"},
        {(const void *)e->take, "take()"}, {(const void *)e->give, "give()"},
        {(const void *)e->reserve, "reserve()"}, {(const void *)e->add, "add()"},
        {(const void *)e->metadata_bytes, "metadata_bytes()"},
    };
    for (size_t k = 0; k < sizeof(need) / sizeof(need[0]); k++)
        if (!need[k].p) {
            snprintf(why, len, "engine '%s' has no %s: every member of struct mmc_engine_ops "
                     "is required (mmcontig/engine.h)", e->name, need[k].what);
            return -ENOEXEC;
        }
    if (!e->fast_only_work) {
        snprintf(why, len, "engine '%s' has fast_only_work 0: give the work bound of a FAST_ONLY "
                 "call in its work unit (mmcontig/engine.h, rule 4)", e->name);
        return -ENOEXEC;
    }
    return 0;
}

static int load(const char *path, const char **name, char *err, size_t errlen)
{
    char why[400];
    int rc = 0;
    if (!path || !*path) {
        snprintf(err, errlen, "an empty plugin path: give the path of a shared object (x.so)");
        return -EINVAL;
    }
    pthread_mutex_lock(&plugin_lock);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *d = dlerror();
        snprintf(why, sizeof(why), "it does not load (%s): check the path%s%s%s and that it "
                 "was linked with -shared -fPIC", d ? d : "dlopen failed",
                 strchr(path, '/') ? "" : " (a name without '/' is searched on the library "
                 "path: write ./", strchr(path, '/') ? "" : path, strchr(path, '/') ? "" : ")");
        rc = -ENOENT;
        goto out;
    }
    mmc_engine_plugin_fn *fn;
    *(void **)&fn = dlsym(h, MMC_ENGINE_PLUGIN_SYMBOL);
    if (!fn) {
        snprintf(why, sizeof(why), "it exports no %s(): define it with "
                 "MMC_ENGINE_PLUGIN_DEFINE(ops) from <mmcontig/engine.h>", MMC_ENGINE_PLUGIN_SYMBOL);
        rc = -ENOEXEC;
        goto out_close;
    }
    uint32_t version = 0;
    const struct mmc_engine_ops *e = fn(&version);
    if (version != MMC_ENGINE_INTERFACE_VERSION) {
        snprintf(why, sizeof(why), "it was built against engine interface version %u, this "
                 "library implements version %u: rebuild it against this mmcontig's "
                 "<mmcontig/engine.h>", version, MMC_ENGINE_INTERFACE_VERSION);
        rc = -EPROTO;
        goto out_close;
    }
    if (!e) {
        snprintf(why, sizeof(why), "its %s() returned no operations", MMC_ENGINE_PLUGIN_SYMBOL);
        rc = -ENOEXEC;
        goto out_close;
    }
    for (size_t i = 0; i < nplugins; i++)
        if (plugins[i] == e) { /* the same object again */
            if (name)
                *name = e->name;
            goto out_close;
        }
    if ((rc = check_ops(e, why, sizeof(why))) < 0)
        goto out_close;
    const struct mmc_engine_ops *other = lookup_loaded(e->name);
    if (other) {
        snprintf(why, sizeof(why), "its engine name '%s' is taken by %s engine: rename the "
                 "engine (struct mmc_engine_ops.name)", e->name,
                 other == _mmc_engine_lookup_builtin(e->name) ? "a built-in" : "an already loaded");
        rc = -EEXIST;
        goto out_close;
    }
    if (nplugins == MAX_PLUGINS) {
        snprintf(why, sizeof(why), "%d plugins are loaded already, the most a process takes",
                 MAX_PLUGINS);
        rc = -ENOSPC;
        goto out_close;
    }
    plugins[nplugins] = e;
    __atomic_store_n(&nplugins, nplugins + 1, __ATOMIC_RELEASE);
    if (name)
        *name = e->name;
    goto out; /* stays loaded until exit */
out_close:
    if (rc < 0)
        dlclose(h);
out:
    pthread_mutex_unlock(&plugin_lock);
    if (rc < 0)
        snprintf(err, errlen, "search engine plugin %s: %s", path, why);
    return rc;
}

const struct mmc_engine_ops *_mmc_engine_lookup_builtin(const char *name)
{
    for (size_t i = 0; _mmc_engines[i]; i++)
        if (strcmp(_mmc_engines[i]->name, name) == 0)
            return _mmc_engines[i];
    return NULL;
}

static void env_load(void)
{
    const char *v = getenv("MMC_ENGINE_PLUGIN");
    if (!v || !*v)
        return;
    char *list = strdup(v), *save = NULL;
    if (!list) {
        env_rc = -ENOMEM;
        snprintf(env_err, sizeof(env_err), "MMC_ENGINE_PLUGIN: out of memory");
        return;
    }
    for (char *p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        char err[sizeof(env_err) - 32];
        int rc = load(p, NULL, err, sizeof(err));
        if (rc < 0 && !env_rc) {
            env_rc = rc;
            snprintf(env_err, sizeof(env_err), "MMC_ENGINE_PLUGIN: %s", err);
        }
    }
    free(list);
}

int _mmc_engine_plugins_from_env(void)
{
    pthread_once(&env_once, env_load);
    return env_rc;
}

MMC_API const char *mmc_engine_plugin_error(void)
{
    _mmc_engine_plugins_from_env();
    return env_rc ? env_err : NULL;
}

const struct mmc_engine_ops *_mmc_engine_lookup(const char *name)
{
    _mmc_engine_plugins_from_env();
    return lookup_loaded(name);
}

MMC_API int mmc_engine_load(const char *path, const char **name)
{
    char err[512];
    _mmc_clear_error();
    _mmc_engine_plugins_from_env();
    int rc = load(path, name, err, sizeof(err));
    if (rc < 0)
        _mmc_set_error("%s", err);
    return rc;
}

MMC_API const char *mmc_engine_name(size_t i)
{
    _mmc_engine_plugins_from_env();
    const size_t nb = nbuiltin();
    if (i < nb)
        return _mmc_engines[i]->name;
    return i - nb < __atomic_load_n(&nplugins, __ATOMIC_ACQUIRE) ? plugins[i - nb]->name : NULL;
}

MMC_API const char *mmc_engine_summary(const char *name)
{
    const struct mmc_engine_ops *e = name ? _mmc_engine_lookup(name) : NULL;
    return e ? e->summary : NULL;
}

MMC_API const char *mmc_engine_work_unit(const char *name)
{
    const struct mmc_engine_ops *e = name ? _mmc_engine_lookup(name) : NULL;
    return e ? e->work_unit : NULL;
}

MMC_API uint64_t mmc_engine_fast_only_work(const char *name)
{
    const struct mmc_engine_ops *e = name ? _mmc_engine_lookup(name) : NULL;
    return e ? e->fast_only_work : 0;
}

MMC_API bool mmc_search_fits(const struct mmc_frames *f, const struct mmc_search *rq, uint64_t first)
{
    if (rq->frames == 0 || first >= f->nframes || rq->frames > f->nframes - first)
        return false;
    const struct mmc_run *run = mmc_frame_run(f, first);
    if (!run)
        return false; /* absent */
    if (first + rq->frames > run->first_frame + run->frames)
        return false; /* leaves the run: not physically contiguous */
    if (!(rq->node_mask & (1ull << run->node)))
        return false;
    uint64_t s = mmc_frame_pfn(f, first), e = s + rq->frames - 1;
    if (s < rq->lowest_pfn || e > rq->highest_pfn)
        return false;
    if (rq->boundary_frames && s / rq->boundary_frames != e / rq->boundary_frames)
        return false;
    return _mmc_frames_count_free(f, first, first + rq->frames) == rq->frames;
}
