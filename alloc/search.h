/* alloc/search.h: the search engines' registry, the checking shim and the built-in engines. */
#ifndef MMC_SEARCH_H
#define MMC_SEARCH_H

#include "frames.h"

/* ------------------------------------------------------------------------------------------
 * search/: the search engines, one file each, behind one interface (search/engines.c)
 * ---------------------------------------------------------------------------------------- */

/* struct mmc_search, struct mmc_engine_ops, their rules and the reference predicate
 * (mmc_search_fits): mmcontig/engine.h. */

/* engines.c */
MMC_TOOL const struct mmc_engine_ops *_mmc_engine_lookup(const char *name);
MMC_INTERNAL extern const struct mmc_engine_ops *const _mmc_engines[];
/* checked.c: create engine e over f; *ops and *state are what the partition calls: e itself
 * when the checks are off, else a shim that checks the interface's contract around e. */
MMC_INTERNAL int _mmc_engine_open(const struct mmc_engine_ops *e, const struct mmc_frames *f,
                                  const struct mmc_engine_ops **ops, void **state);
/* A built-in engine by name (no plugin), or NULL. */
MMC_INTERNAL const struct mmc_engine_ops *_mmc_engine_lookup_builtin(const char *name);
/* Load the engines MMC_ENGINE_PLUGIN names, once per process (every lookup calls it). 0, or
 * the first refusal's -errno with its message kept for mmc_engine_plugin_error(). */
MMC_INTERNAL int _mmc_engine_plugins_from_env(void);

/* linear.c */
MMC_INTERNAL extern const struct mmc_engine_ops _mmc_engine_linear;
/* bitmap.c */
MMC_INTERNAL extern const struct mmc_engine_ops _mmc_engine_bitmap;
/* buddy.c, tlsf.c, tree.c */
MMC_INTERNAL extern const struct mmc_engine_ops _mmc_engine_buddy;
MMC_INTERNAL extern const struct mmc_engine_ops _mmc_engine_tlsf;
MMC_INTERNAL extern const struct mmc_engine_ops _mmc_engine_tree;

#endif /* MMC_SEARCH_H */
