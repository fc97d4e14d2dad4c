/* alloc/base.h: what every file of libmmcontig shares: the system headers, the public headers, the
 * visibility and size macros, the leaf (errors, checks) and the locks. */
#ifndef MMC_BASE_H
#define MMC_BASE_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "mmcontig/mmcontig.h"
#include "mmcontig/testing.h"
#include "error.h"
#include "lock.h"

#define MMC_INTERNAL __attribute__((visibility("hidden")))
/* Exported from libmmcontig for the mmcontig program's check-engine (tests/engine_check.c,
 * which links the shared library): no installed header declares these, they are no public
 * interface and may change with any commit. */
#define MMC_TOOL __attribute__((visibility("default")))

#define MMC_FRAME_SHIFT 12
/* The engine a partition searches with when nothing names one: the fastest on constrained
 * requests in the benchmark (README, "Search engines"); linear stays the reference by name. */
#define MMC_DEFAULT_ENGINE "tree"
#define MMC_MIB (1024ull * 1024)
#define MMC_GIB (1024ull * MMC_MIB)

#endif /* MMC_BASE_H */
