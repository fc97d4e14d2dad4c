/* alloc/error.c: the leaf (error.h): the thread's last error and search work, misuse
 * reporting, the process-wide settings, and the assertion layer's failure report (check.h). */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "mmcontig/mmcontig.h"
#include "error.h"

struct mmc_settings _mmc_settings = {.on_misuse = MMC_MISUSE_ABORT};

/* initial-exec: no __tls_get_addr call on every allocation (the library is not dlopen'ed
 * after start-up by its users; the static TLS block has room for these 776 bytes) */
static __thread __attribute__((tls_model("initial-exec"))) char last_error[768];
static __thread __attribute__((tls_model("initial-exec"))) uint64_t last_search_work;

void _mmc_set_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof(last_error), fmt, ap);
    va_end(ap);
}

MMC_API const char *mmc_last_error(void) { return last_error; }
void _mmc_clear_error(void) { last_error[0] = '\0'; }
void _mmc_set_search_work(uint64_t work) { last_search_work = work; }
MMC_API uint64_t mmc_last_search_work(void) { return last_search_work; }

void _mmc_misuse(struct mmc_partition *part, const char *routine, const void *addr, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    bool warn = __atomic_load_n(&_mmc_settings.on_misuse, __ATOMIC_RELAXED) == MMC_MISUSE_WARN;
    fprintf(stderr, "mmcontig: %s(%p): %s%s\n", routine, addr, why,
            warn ? " (ignored: MMC_ON_MISUSE=warn)" : "; aborting (MMC_ON_MISUSE=warn reports and goes on)");
    _mmc_set_error("%s(%p): %s (misuse: the call was ignored)", routine, addr, why);
    if (!warn)
        abort();
    (void)part;
    __atomic_add_fetch(&_mmc_settings.misuse, 1, __ATOMIC_RELAXED);
}

void _mmc_check_fail(const char *cond, const char *file, int line, const char *func)
{
    fprintf(stderr, "mmcontig: internal check failed: %s (%s:%d, %s); this is a bug in mmcontig "
            "or in the engine plug-in in use\n", cond, file, line, func);
    abort();
}
