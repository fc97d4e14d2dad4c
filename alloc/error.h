/*
 * alloc/error.h: the leaf of libmmcontig, below every other file: the calling thread's last
 * error and search work, misuse reporting, and the process-wide settings that reporting reads.
 * Any layer may call it; it calls nothing of the library. The assertion layer (check.h) sits
 * beside it and reports through it.
 */
#ifndef MMC_ERROR_H
#define MMC_ERROR_H

#include <stdint.h>

#include "check.h"

#ifndef MMC_INTERNAL
#define MMC_INTERNAL __attribute__((visibility("hidden")))
#endif

/* Process-wide settings and counters (each field read and written atomically). */
struct mmc_settings {
    int on_misuse;   /* enum mmc_misuse_mode: set by mmc_init from its configuration */
    uint64_t misuse; /* misuse detected in this process since mmc_init */
};
MMC_INTERNAL extern struct mmc_settings _mmc_settings;

/* Forget the thread's last error (a call that may fail starts with it, so that a success
 * leaves none). */
MMC_INTERNAL void _mmc_clear_error(void);
/* Set the thread's last error. */
MMC_INTERNAL void _mmc_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Record the work (engine units) of the thread's last contiguous search. */
MMC_INTERNAL void _mmc_set_search_work(uint64_t work);

struct mmc_partition;
/* Report a misuse: diagnostic, then abort() or count (process-wide). part may be NULL. */
MMC_INTERNAL void _mmc_misuse(struct mmc_partition *part, const char *routine, const void *addr,
                              const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
