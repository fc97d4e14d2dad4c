/* alloc/partition.c: global state, partitions, contiguous blocks.
 *
 * Owns _mmc_g (topology, the list of partitions), mmc_init / mmc_fini, and
 * each partition: its pool, frame database, search engine, and the table of live contiguous
 * blocks (open addressing keyed by first frame, so a free checks its address in O(1)).
 *
 * Locking (docs/ARCHITECTURE.md, "Locking"): the global lock (lock.h: a reader-writer lock with
 * per-thread reader slots) guards the list of partitions and the topology: readers are every
 * routine that resolves an address or a handle, writers are init, fini and partition create /
 * destroy. Each partition has a lock per node and the partition lock; whoever holds the
 * partition lock holds every node lock too (_mmc_partition_lock). A contiguous allocation or
 * free with a node-parallel engine takes one node's lock at a time; everything else takes the
 * partition lock. A partition's views never move while it is on the list (addressed by
 * physical address: address -> PFN under the global lock alone, PFN -> node by the pool's
 * lock-free slot map); a frame's state, which a growth extends (grow.c: grow_lock), is read
 * under its node's lock or the partition lock.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "partition.h"

struct mmc_global _mmc_g;

/* ---- the table of live blocks ---- */

uint64_t _mmc_block_slot(uint64_t key, uint64_t cap)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdull;
    key ^= key >> 33;
    return key & (cap - 1);
}

int64_t _mmc_block_find(const struct mmc_block_table *bt, uint64_t first_frame)
{
    if (!bt->cap)
        return -1;
    for (uint64_t i = _mmc_block_slot(first_frame, bt->cap);; i = (i + 1) & (bt->cap - 1)) {
        if (bt->blocks[i].frames == 0)
            return -1;
        if (bt->blocks[i].first_frame == first_frame)
            return (int64_t)i;
    }
}

int _mmc_block_insert(struct mmc_block_table *bt, const struct mmc_block *b)
{
    if ((bt->live + 1) * 4 > bt->cap * 3) { /* keep load <= 75% */
        uint64_t ncap = bt->cap ? bt->cap * 2 : 64;
        struct mmc_block *nb = calloc(ncap, sizeof(*nb));
        if (!nb)
            return -ENOMEM;
        for (uint64_t i = 0; i < bt->cap; i++) {
            if (!bt->blocks[i].frames)
                continue;
            uint64_t j = _mmc_block_slot(bt->blocks[i].first_frame, ncap);
            while (nb[j].frames)
                j = (j + 1) & (ncap - 1);
            nb[j] = bt->blocks[i];
        }
        free(bt->blocks);
        bt->blocks = nb;
        bt->cap = ncap;
    }
    uint64_t j = _mmc_block_slot(b->first_frame, bt->cap);
    while (bt->blocks[j].frames)
        j = (j + 1) & (bt->cap - 1);
    bt->blocks[j] = *b;
    bt->live++;
    return 0;
}

/* Linear probing deletion by backward shift: no tombstones. */
void _mmc_block_remove(struct mmc_block_table *bt, uint64_t i)
{
    const uint64_t mask = bt->cap - 1;
    uint64_t j = i;
    bt->blocks[i].frames = 0;
    for (;;) {
        j = (j + 1) & mask;
        if (!bt->blocks[j].frames)
            break;
        uint64_t home = _mmc_block_slot(bt->blocks[j].first_frame, bt->cap);
        /* move j into the hole at i if its home is not in (i, j] cyclically */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            bt->blocks[i] = bt->blocks[j];
            bt->blocks[j].frames = 0;
            i = j;
        }
    }
    bt->live--;
}

uint64_t _mmc_partition_live_blocks(const struct mmc_partition *part)
{
    uint64_t n = 0;
    for (unsigned k = 0; k < part->nlocks; k++)
        n += part->node[k].bt.live;
    return n;
}

/* ---- locks ---- */

void _mmc_partition_lock(struct mmc_partition *part)
{
    _mmc_mutex_lock(&part->lock);
    for (unsigned k = 0; k < part->nlocks; k++)
        _mmc_mutex_lock(&part->node[k].lock);
}

void _mmc_partition_unlock(struct mmc_partition *part)
{
    for (unsigned k = part->nlocks; k-- > 0;)
        _mmc_mutex_unlock(&part->node[k].lock);
    _mmc_mutex_unlock(&part->lock);
}

/* Engines whose index of one node is apart from every other node's (find, take and give on
 * node n write nothing another node's calls read or write): linear (no state), bitmap (a run
 * per node, the run hint per node), tree (a trie per node), tlsf (an index per node), buddy
 * (head bitmaps per node: the section and span summaries and the per-order flags each node's
 * own). Not a plugin, which promises nothing. Read through part->node_parallel
 * (tests/test_nodelocks.c checks it is set for the five). */
static bool engine_node_parallel(const struct mmc_engine_ops *e)
{
    /* -Ddebug_checks=expensive recounts the whole frame database after changes
     * (_mmc_frames_verify): that needs it quiet, so every call takes the partition lock */
    if (MMC_DEBUG_CHECKS >= 2)
        return false;
    return e == &_mmc_engine_linear || e == &_mmc_engine_bitmap || e == &_mmc_engine_tree ||
           e == &_mmc_engine_tlsf || e == &_mmc_engine_buddy;
}

/* ---- partitions ---- */

const char *_mmc_partition_no_growth(const struct mmc_partition *part)
{
    if (part->pool.simulated)
        return "a simulated partition has no kernel to take hugepages from";
    if (!part->cfg.grow)
        return "MMC_GROW=0 / mmc_config.grow 0";
    return NULL;
}

/* The load's tables (load.c fills them; they are the partition's). */
static void load_free(struct mmc_load *l)
{
    free(l->slots);
    free(l->free_slots);
    mmc_tab_free(&l->frame_slot_tab);
    memset(l, 0, sizeof(*l));
}

static void partition_free(struct mmc_partition *part)
{
    if (part->engine_state)
        part->engine->destroy(part->engine_state);
    load_free(&part->load);
    _mmc_frames_destroy(&part->frames);
    _mmc_pool_destroy(&part->pool);
    for (unsigned k = 0; k < MMC_MAX_NODES; k++) {
        free(part->node[k].bt.blocks);
        _mmc_mutex_destroy(&part->node[k].lock);
    }
    _mmc_mutex_destroy(&part->lock);
    _mmc_mutex_destroy(&part->grow_lock);
    part->magic = 0;
    free(part);
}

int _mmc_partition_create_locked(const struct mmc_config *cfg, bool is_system,
                                 const struct mmc_layout *sim, struct mmc_partition **out)
{
    _mmc_check(_mmc_write_held());
    char err[640] = "";
    uint64_t node_pages[MMC_MAX_NODES];
    int rc;

    uint64_t page_bytes = sim ? sim->page_bytes : cfg->page_bytes;
    if (page_bytes != 2 * MMC_MIB && page_bytes != MMC_GIB) {
        _mmc_set_error("hugepage size %llu is not one mmcontig uses: 2 MiB or 1 GiB",
                       (unsigned long long)page_bytes);
        return -EINVAL;
    }
    const struct mmc_engine_ops *engine = _mmc_engine_lookup(cfg->algo);
    if (!engine) {
        _mmc_set_error("'%s' names no search engine (see mmcontig --help for the list)", cfg->algo);
        return -EINVAL;
    }
    if (!sim && (rc = _mmc_config_node_pages(cfg, _mmc_g.topo, node_pages)) < 0)
        return rc;

    /* its node parts and the frame database's node counters are a cache line each */
    struct mmc_partition *part = aligned_alloc(64, sizeof(*part));
    if (!part)
        return -ENOMEM;
    memset(part, 0, sizeof(*part));
    _mmc_mutex_init(&part->lock);
    _mmc_mutex_init(&part->grow_lock);
    for (unsigned k = 0; k < MMC_MAX_NODES; k++)
        _mmc_mutex_init(&part->node[k].lock);
    part->cfg = *cfg;
    part->is_system = is_system;
    part->engine = engine;
    if (sim)
        rc = _mmc_pool_simulate(&part->pool, sim->page_bytes, sim->nhugepages, sim->hp_pfn,
                                sim->hp_node, err, sizeof(err));
    else
        rc = _mmc_pool_build(&part->pool, _mmc_g.topo, node_pages, page_bytes, cfg->allow_topup,
                             err, sizeof(err));
    if (rc < 0) {
        _mmc_set_error("%s", err);
        free(part);
        return rc;
    }
    if (part->pool.span_frames > MMC_SPAN_MAX_FRAMES) {
        _mmc_set_error("the pool's physical span %#llx-%#llx is longer than the frame database "
                       "indexes (%llu TiB)%s", (unsigned long long)(part->pool.span_pfn << MMC_FRAME_SHIFT),
                       (unsigned long long)((part->pool.span_pfn + part->pool.span_frames) << MMC_FRAME_SHIFT),
                       (unsigned long long)(MMC_SPAN_MAX_FRAMES >> 28),
                       sim ? ": give the layout a narrower span" : "");
        partition_free(part);
        return -E2BIG;
    }
    rc = _mmc_frames_init(&part->frames, part->pool.span_pfn, part->pool.span_frames,
                          page_bytes >> MMC_FRAME_SHIFT, part->pool.nhugepages, part->pool.hp_pfn,
                          part->pool.hp_node);
    if (rc == 0)
        rc = _mmc_engine_open(engine, &part->frames, &part->engine, &part->engine_state);
    if (rc < 0) {
        _mmc_set_error("building the frame database or the '%s' engine failed: %s", engine->name,
                       strerror(-rc));
        partition_free(part);
        return rc;
    }
    for (unsigned n = 0; n < MMC_MAX_NODES; n++)
        part->st.topup_hugepages += part->pool.topup[n];
    /* every node the partition may ever hold: a simulated one never grows, a real one grows
     * on the machine's nodes only */
    part->nlocks = _mmc_partition_nnodes(part);
    if (part->nlocks == 0)
        part->nlocks = 1;
    part->node_parallel = engine_node_parallel(engine);
    snprintf(part->st.algo, sizeof(part->st.algo), "%s", engine->name);
    part->magic = MMC_PARTITION_MAGIC;
    part->next = _mmc_g.partitions;
    _mmc_g.partitions = part;
    *out = part;
    return 0;
}

/* Unlink and free; _mmc_g.lock held for writing. */
static void partition_destroy_locked(struct mmc_partition *part)
{
    _mmc_check(_mmc_write_held());
    for (struct mmc_partition **pp = &_mmc_g.partitions; *pp; pp = &(*pp)->next) {
        if (*pp == part) {
            *pp = part->next;
            break;
        }
    }
    uint64_t mdl = part->frames.present_frames - mmc_frames_free(&part->frames);
    const uint64_t live = _mmc_partition_live_blocks(part);
    if (live || mdl)
        fprintf(stderr,
                "mmcontig: %s partition destroyed with %llu contiguous block%s and %llu frame%s "
                "still allocated; released\n",
                part->is_system ? "system" : "a", (unsigned long long)live, live == 1 ? "" : "s",
                (unsigned long long)mdl, mdl == 1 ? "" : "s");
    partition_free(part);
}

/* At exit, a process that never called mmc_fini() (a driver-style program initialised by its
 * first NT call, or one that forgot) still gives back every hugepage its pools added to
 * nr_hugepages. Only the count is lowered: nothing is unmapped, so threads still running are
 * safe; the pages in use become surplus and the kernel frees them with the process's mappings.
 * If another thread holds the global lock at exit, nothing is done (the scripts' guard then
 * restores nr_hugepages). */
static void exit_giveback(void)
{
    if (_mmc_write_trylock() != 0)
        return;
    for (struct mmc_partition *p = _mmc_g.partitions; p; p = p->next)
        if (!p->pool.simulated)
            _mmc_pool_giveback_topup(&p->pool);
    _mmc_write_unlock();
}

static void register_exit_giveback(void)
{
    atexit(exit_giveback);
}

static int init(const struct mmc_config *cfg);
static void forget_failed_init(void);

MMC_API int mmc_init(const struct mmc_config *cfg)
{
    _mmc_clear_error(); /* the last error is this call's */
    forget_failed_init(); /* called explicitly: a start is tried in full again */
    return init(cfg);
}

static int init(const struct mmc_config *cfg)
{
    struct mmc_config def;
    char err[512] = "";
    int rc;

    if (!cfg) {
        rc = mmc_config_init(&def);
        if (rc < 0)
            return rc;
        cfg = &def;
    }
    _mmc_write_lock();
    if (_mmc_g.initialised) {
        _mmc_write_unlock();
        _mmc_set_error("mmcontig is initialised already: call mmc_fini() first");
        return -EALREADY;
    }
    if ((rc = _mmc_config_check(cfg, "mmc_init")) < 0) {
        _mmc_write_unlock();
        return rc;
    }
    rc = _mmc_topology_load(NULL, &_mmc_g.topo, err, sizeof(err));
    if (rc < 0) {
        _mmc_set_error("%s", err);
        _mmc_write_unlock();
        return rc;
    }
    __atomic_store_n(&_mmc_settings.on_misuse, cfg->on_misuse, __ATOMIC_RELAXED);
    rc = _mmc_partition_create_locked(cfg, true, NULL, &_mmc_g.system);
    if (rc < 0) {
        _mmc_topology_free(_mmc_g.topo);
        _mmc_g.topo = NULL;
    } else {
        __atomic_store_n(&_mmc_g.initialised, true, __ATOMIC_RELEASE);
        static pthread_once_t once = PTHREAD_ONCE_INIT;
        pthread_once(&once, register_exit_giveback);
    }
    _mmc_write_unlock();
    return rc;
}

MMC_API void mmc_fini(void)
{
    _mmc_write_lock();
    while (_mmc_g.partitions)
        partition_destroy_locked(_mmc_g.partitions);
    _mmc_g.system = NULL;
    _mmc_topology_free(_mmc_g.topo);
    _mmc_g.topo = NULL;
    __atomic_store_n(&_mmc_g.initialised, false, __ATOMIC_RELEASE);
    __atomic_store_n(&_mmc_settings.misuse, 0, __ATOMIC_RELAXED);
    _mmc_write_unlock();
    _mmc_os_fini();
}

/* A failed initialisation from the environment is remembered, so that every later NT call
 * does not retry it in full (a pool too big for the machine would take and give back gigabytes
 * each time): until an MMC_* variable changes or mmc_init() is called, the same error is
 * returned at once. */
static pthread_mutex_t failed_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    bool failed;
    int rc;
    char env[1024];             /* the MMC_* variables when it failed */
    char error[768];            /* mmc_last_error() then */
} failed_init;

/* The MMC_* variables, in environment order, into buf. */
static void mmc_environment(char *buf, size_t len)
{
    extern char **environ;
    size_t n = 0;
    buf[0] = 0;
    for (char **e = environ; e && *e && n < len; e++)
        if (!strncmp(*e, "MMC_", 4))
            n += (size_t)snprintf(buf + n, len - n, "%s\n", *e);
}

static void forget_failed_init(void)
{
    pthread_mutex_lock(&failed_lock);
    failed_init.failed = false;
    pthread_mutex_unlock(&failed_lock);
}

int _mmc_ensure_init(void)
{
    if (__atomic_load_n(&_mmc_g.initialised, __ATOMIC_ACQUIRE))
        return 0;
    char env[sizeof(failed_init.env)];
    mmc_environment(env, sizeof(env));
    pthread_mutex_lock(&failed_lock);
    if (failed_init.failed && !strcmp(env, failed_init.env)) {
        int rc = failed_init.rc;
        _mmc_set_error("%s", failed_init.error);
        pthread_mutex_unlock(&failed_lock);
        return rc;
    }
    int rc = init(NULL);
    if (rc == -EALREADY)
        rc = 0;
    if (rc < 0) {
        fprintf(stderr, "mmcontig: initialisation from the environment failed: %s (remembered "
                "until an MMC_* variable changes or mmc_init() is called)\n", mmc_last_error());
        failed_init.failed = true;
        failed_init.rc = rc;
        snprintf(failed_init.env, sizeof(failed_init.env), "%s", env);
        snprintf(failed_init.error, sizeof(failed_init.error), "%s", mmc_last_error());
    }
    pthread_mutex_unlock(&failed_lock);
    return rc;
}

MMC_API int mmc_partition_create(const struct mmc_config *cfg, mmc_partition_t **out)
{
    _mmc_clear_error(); /* the last error is this call's */
    struct mmc_config def;
    int rc = _mmc_ensure_init();
    if (rc < 0)
        return rc;
    if (!out) {
        _mmc_set_error("mmc_partition_create: out is NULL");
        return -EINVAL;
    }
    if (!cfg) {
        rc = mmc_config_init(&def);
        if (rc < 0)
            return rc;
        cfg = &def;
    }
    if ((rc = _mmc_config_check(cfg, "mmc_partition_create")) < 0)
        return rc;
    _mmc_write_lock();
    rc = _mmc_partition_create_locked(cfg, false, NULL, out);
    _mmc_write_unlock();
    return rc;
}

MMC_API void mmc_partition_destroy(mmc_partition_t *part)
{
    _mmc_write_lock();
    struct mmc_partition *p = _mmc_g.partitions;
    while (p && p != part)
        p = p->next;
    if (!p || p->is_system) {
        _mmc_write_unlock();
        _mmc_misuse(NULL, "mmc_partition_destroy", part, "%s",
                    p ? "the system partition is destroyed by mmc_fini() only"
                      : "not a live partition (destroyed twice, or never created)");
        return;
    }
    partition_destroy_locked(p);
    _mmc_write_unlock();
}

MMC_API long mmc_partition_clear(mmc_partition_t *handle)
{
    struct mmc_partition *p = _mmc_partition_resolve(handle);
    if (!p)
        return -EINVAL;
    _mmc_partition_lock(p);
    struct mmc_frames *f = &p->frames;
    long released = (long)(f->present_frames - mmc_frames_free(f));
    /* every stretch of frames in use, run by run, back through the engine as any free is */
    for (uint64_t r = 0; r < f->nruns; r++) {
        const uint64_t end = f->runs[r].first_frame + f->runs[r].frames;
        for (uint64_t i = f->runs[r].first_frame; i < end;) {
            if (mmc_frame_is_free(f, i)) {
                i++;
                continue;
            }
            uint64_t start = i;
            while (i < end && !mmc_frame_is_free(f, i))
                i++;
            _mmc_frames_set(f, start, i - start, MMC_FRAME_FREE);
            p->engine->give(p->engine_state, start, i - start);
        }
    }
    for (unsigned k = 0; k < p->nlocks; k++) {
        struct mmc_block_table *bt = &p->node[k].bt;
        if (bt->blocks)
            memset(bt->blocks, 0, bt->cap * sizeof(*bt->blocks));
        bt->live = 0;
    }
    struct mmc_load *l = &p->load;
    for (uint32_t i = 0; i < l->nslots; i++) {
        if (l->slots[i].live) {
            l->slots[i].live = false;
            l->slots[i].gen++;
            l->free_slots[l->nfree++] = i;
        }
    }
    if (l->frame_slot)
        memset(l->frame_slot, 0, f->nhugepages * f->hp_frames * sizeof(*l->frame_slot));
    _mmc_partition_unlock(p);
    _mmc_read_exit();
    return released;
}

MMC_API mmc_partition_t *mmc_system_partition(void)
{
    if (_mmc_ensure_init() < 0)
        return NULL;
    return _mmc_g.system;
}

struct mmc_partition *_mmc_partition_from_handle_locked(void *handle)
{
    _mmc_check(_mmc_read_held());
    if (!handle)
        return _mmc_g.system;
    for (struct mmc_partition *p = _mmc_g.partitions; p; p = p->next)
        if (p == handle && p->magic == MMC_PARTITION_MAGIC)
            return p;
    return NULL;
}

struct mmc_partition *_mmc_partition_of_va_locked(const void *va, bool *exec)
{
    _mmc_check(_mmc_read_held());
    uintptr_t a = (uintptr_t)va;
    for (struct mmc_partition *p = _mmc_g.partitions; p; p = p->next) {
        if (a - (uintptr_t)p->pool.rw < p->pool.view_bytes && p->pool.rw) {
            *exec = false;
            return p;
        }
        if (a - (uintptr_t)p->pool.rwx < p->pool.view_bytes && p->pool.rwx) {
            *exec = true;
            return p;
        }
    }
    return NULL;
}

MMC_API int mmc_partition_set_engine(mmc_partition_t *handle, const char *algo)
{
    const struct mmc_engine_ops *e = algo ? _mmc_engine_lookup(algo) : NULL;
    if (!e) {
        _mmc_set_error("mmc_partition_set_engine: '%s' names no search engine (mmcontig --help lists "
                       "them)", algo ? algo : "(null)");
        return -EINVAL;
    }
    struct mmc_partition *p = _mmc_partition_resolve(handle);
    if (!p)
        return -EINVAL;
    _mmc_partition_lock(p);
    void *state = NULL;
    const struct mmc_engine_ops *ops = NULL;
    int rc = _mmc_engine_open(e, &p->frames, &ops, &state);
    if (rc == 0) {
        p->engine->destroy(p->engine_state);
        p->engine = ops;
        p->engine_state = state;
        p->node_parallel = engine_node_parallel(e);
        snprintf(p->cfg.algo, sizeof(p->cfg.algo), "%s", e->name);
        snprintf(p->st.algo, sizeof(p->st.algo), "%s", e->name);
    } else {
        _mmc_set_error("mmc_partition_set_engine: building the '%s' index failed: %s (the partition "
                       "keeps '%s')", e->name, strerror(-rc), p->engine->name);
    }
    _mmc_partition_unlock(p);
    _mmc_read_exit();
    return rc;
}

struct mmc_partition *_mmc_partition_resolve(mmc_partition_t *handle)
{
    if (!handle && _mmc_ensure_init() < 0) /* only the system partition needs init */
        return NULL;
    _mmc_read_enter();
    struct mmc_partition *p = _mmc_partition_from_handle_locked(handle);
    if (!p) {
        _mmc_read_exit();
        _mmc_set_error("%p is not a live partition", (void *)handle);
    }
    return p;
}

MMC_API int mmc_partition_stats(mmc_partition_t *handle, struct mmc_stats *st)
{
    if (!st) {
        _mmc_set_error("mmc_partition_stats: st is NULL; pass a struct mmc_stats to fill");
        return -EINVAL;
    }
    struct mmc_partition *p = _mmc_partition_resolve(handle);
    if (!p)
        return -EINVAL;
    _mmc_partition_lock(p);
    const struct mmc_frames *f = &p->frames;
    *st = p->st;
    st->misuse = __atomic_load_n(&_mmc_settings.misuse, __ATOMIC_RELAXED);
    st->page_bytes = p->pool.page_bytes;
    st->hugepages = f->nhugepages;
    st->pool_frames = f->present_frames;
    st->free_frames = mmc_frames_free(f);
    st->runs = f->nruns;
    st->largest_run_frames = 0;
    for (uint64_t r = 0; r < f->nruns; r++)
        if (f->runs[r].frames > st->largest_run_frames)
            st->largest_run_frames = f->runs[r].frames;
    st->largest_free_frames = _mmc_frames_largest_free(f);
    st->live_blocks = _mmc_partition_live_blocks(p);
    for (unsigned k = 0; k < p->nlocks; k++) {
        st->contiguous_ok += p->node[k].contiguous_ok;
        st->contiguous_failed += p->node[k].contiguous_failed;
        st->frees += p->node[k].frees;
    }
    st->live_mdl_frames = st->live_movable = st->live_standby = 0;
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a over the words of the planes */
    for (uint64_t r = 0; r < f->nruns; r++) { /* in PFN order */
        for (uint64_t hp = f->runs[r].first_frame; hp < f->runs[r].first_frame + f->runs[r].frames;
             hp += f->hp_frames) {
            const uint32_t o = mmc_frame_ord(f, hp);
            for (uint64_t w = 0; w < f->wph; w++) {
                st->live_mdl_frames += (uint64_t)__builtin_popcountll(mmc_frames_words(f, MMC_PLANE_MDL, o)[w]);
                st->live_standby += (uint64_t)__builtin_popcountll(mmc_frames_words(f, MMC_PLANE_STANDBY, o)[w]);
                for (int k = 0; k < MMC_NPLANES; k++)
                    h = (h ^ mmc_frames_words(f, (enum mmc_plane)k, o)[w]) * 0x100000001b3ull;
            }
        }
    }
    st->live_movable = f->scattered_frames - st->live_mdl_frames - st->live_standby;
    st->state_hash = h;
    st->engine_metadata_bytes = p->engine->metadata_bytes(p->engine_state);
    st->frames_bytes = _mmc_frames_bytes(f);
    st->nnodes = _mmc_partition_nnodes(p);
    st->span_frames = p->pool.span_frames;
    st->pool_max_frames = _mmc_partition_no_growth(p) ? f->present_frames
                          : p->cfg.pool_max_bytes ? p->cfg.pool_max_bytes >> MMC_FRAME_SHIFT
                                                  : UINT64_MAX; /* what the kernel gives, less the reserve */
    for (unsigned n = 0; n < MMC_MAX_NODES; n++)
        st->node_free_frames[n] = f->node[n].free;
    _mmc_partition_unlock(p);
    _mmc_read_exit();
    return 0;
}

MMC_API long mmc_partition_runs(mmc_partition_t *handle, struct mmc_run_info *runs, size_t max)
{
    if (!runs && max) {
        _mmc_set_error("mmc_partition_runs: runs is NULL but max is %zu; pass an array of max "
                       "entries, or max 0 to count the runs", max);
        return -EINVAL;
    }
    struct mmc_partition *p = _mmc_partition_resolve(handle);
    if (!p)
        return -EINVAL;
    _mmc_partition_lock(p);
    const struct mmc_frames *f = &p->frames;
    for (uint64_t r = 0; r < f->nruns && r < max; r++)
        runs[r] = (struct mmc_run_info){
            .base_pfn = f->runs[r].base_pfn,
            .frames = f->runs[r].frames,
            .free_frames = _mmc_frames_run_free(f, r),
            .node = f->runs[r].node,
            .va = _mmc_pool_va(&p->pool, f->runs[r].base_pfn, false),
        };
    long n = (long)f->nruns;
    _mmc_partition_unlock(p);
    _mmc_read_exit();
    return n;
}

static void print_bytes(FILE *out, uint64_t b)
{
    if (b >= MMC_GIB && b % MMC_GIB == 0)
        fprintf(out, "%llu GiB", (unsigned long long)(b / MMC_GIB));
    else if (b >= MMC_MIB)
        fprintf(out, "%llu MiB", (unsigned long long)(b / MMC_MIB));
    else
        fprintf(out, "%llu KiB", (unsigned long long)(b / 1024));
}

MMC_API int mmc_partition_print_layout(mmc_partition_t *handle, FILE *out)
{
    if (!out) {
        _mmc_set_error("mmc_partition_print_layout: f is NULL; pass a stream (stdout...)");
        return -EINVAL;
    }
    struct mmc_partition *p = _mmc_partition_resolve(handle);
    if (!p)
        return -EINVAL;
    _mmc_partition_lock(p);
    const struct mmc_frames *f = &p->frames;
    fprintf(out, "%s partition: %llu hugepages of ", p->is_system ? "system" : "a",
            (unsigned long long)f->nhugepages);
    print_bytes(out, p->pool.page_bytes);
    fprintf(out, " = ");
    print_bytes(out, f->present_frames << MMC_FRAME_SHIFT);
    fprintf(out, ", %llu frames, %llu free; engine %s; views rw %p, rwx %p\n",
            (unsigned long long)f->present_frames, (unsigned long long)mmc_frames_free(f), p->engine->name,
            (void *)p->pool.rw, (void *)p->pool.rwx);
    for (unsigned n = 0; n < f->nnodes; n++) {
        if (!f->node[n].frames)
            continue;
        uint64_t runs = 0, largest = 0;
        for (uint64_t r = 0; r < f->nruns; r++)
            if (f->runs[r].node == n) {
                runs++;
                if (f->runs[r].frames > largest)
                    largest = f->runs[r].frames;
            }
        fprintf(out, "  node %u (OS node %u): %llu hugepages (%llu added to nr_hugepages), %llu "
                "runs, largest ", n, p->pool.simulated ? n : _mmc_g.topo->nodes[n].os_index,
                (unsigned long long)(f->node[n].frames / f->hp_frames), (unsigned long long)p->pool.topup[n],
                (unsigned long long)runs);
        print_bytes(out, largest << MMC_FRAME_SHIFT);
        fprintf(out, ", %llu frames free\n", (unsigned long long)f->node[n].free);
    }
    fprintf(out, "  %-4s %-4s %-22s %8s %10s %8s\n", "run", "node", "physical range", "size",
            "frames", "free");
    for (uint64_t r = 0; r < f->nruns; r++) {
        const struct mmc_run *run = &f->runs[r];
        char size[32];
        FILE *m = fmemopen(size, sizeof(size), "w");
        if (m) {
            print_bytes(m, run->frames << MMC_FRAME_SHIFT);
            fclose(m);
        }
        fprintf(out, "  %-4llu %-4u %#010llx-%#010llx %8s %10llu %8llu\n", (unsigned long long)r,
                run->node, (unsigned long long)(run->base_pfn << MMC_FRAME_SHIFT),
                (unsigned long long)((run->base_pfn + run->frames) << MMC_FRAME_SHIFT) - 1, size,
                (unsigned long long)run->frames, (unsigned long long)_mmc_frames_run_free(f, r));
    }
    _mmc_partition_unlock(p);
    _mmc_read_exit();
    return 0;
}

MMC_API unsigned mmc_node_count(void)
{
    _mmc_read_enter();
    unsigned n = _mmc_g.topo ? _mmc_g.topo->nnodes : 1;
    _mmc_read_exit();
    return n;
}

MMC_API int mmc_print_topology(FILE *f, const char *xml_path)
{
    char err[512] = "";
    struct mmc_topology *t = NULL;
    if (!f) {
        _mmc_set_error("mmc_print_topology: f is NULL; pass a stream (stdout...)");
        return -EINVAL;
    }
    int rc = _mmc_topology_load(xml_path, &t, err, sizeof(err));
    if (rc < 0) {
        _mmc_set_error("%s", err);
        return rc;
    }
    _mmc_topology_print(t, f);
    _mmc_topology_free(t);
    return 0;
}
