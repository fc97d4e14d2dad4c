/*
 * alloc/check.h: the library's assertion layer, below every other file of alloc/.
 *
 * MMC_DEBUG_CHECKS comes from the generated config.h, set by
 * `meson setup -Ddebug_checks=off|on|expensive` (0, 1, 2):
 *   0  nothing is checked; the benchmark's builds use this, so it times the work alone.
 *   1  cheap checks: a `_locked` function's lock is held by the calling thread, the invariants
 *      of an engine's take and give on entry and exit (O(1) or O(block) each).
 *      ./scripts/test builds with this level.
 *   2  also the expensive ones: every block an engine returns re-checked against the frame
 *      database, the database recounted after every operation (O(frames) per call).
 *      The sanitizer builds of scripts/test-sanitizers use this level.
 *
 * A failed check is a bug in mmcontig (or in an engine plug-in), never a caller's error: it
 * names the condition, file, line and function on stderr and aborts, so a test or a sanitizer
 * stops at the first broken invariant instead of far from it.
 */
#ifndef MMC_CHECK_H
#define MMC_CHECK_H

#include "config.h"

#ifndef MMC_DEBUG_CHECKS
#error "config.h sets MMC_DEBUG_CHECKS: build with meson (its build root on the include path)"
#endif

__attribute__((noreturn, cold)) void _mmc_check_fail(const char *cond, const char *file, int line,
                                                      const char *func);

/* A cheap check (level 1 and up). The condition is not evaluated at level 0. */
#define _mmc_check(cond)                                                                       \
    do {                                                                                       \
        if (MMC_DEBUG_CHECKS >= 1 && !(cond))                                                  \
            _mmc_check_fail(#cond, __FILE__, __LINE__, __func__);                              \
    } while (0)

/* An expensive check (level 2 only). */
#define _mmc_check_expensive(cond)                                                             \
    do {                                                                                       \
        if (MMC_DEBUG_CHECKS >= 2 && !(cond))                                                  \
            _mmc_check_fail(#cond, __FILE__, __LINE__, __func__);                              \
    } while (0)

#endif
