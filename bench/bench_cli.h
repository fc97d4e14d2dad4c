/* bench/bench_cli.h: the entry of `mmcontig bench`, for bench/mmcontig.c.
 *
 * Built without Google Benchmark (libbenchmark-dev missing at configure time), the subcommand
 * is a stub that says so and exits with 3 (not available in this build).
 */
#ifndef MMC_BENCH_CLI_H
#define MMC_BENCH_CLI_H

#include <stdio.h>

#include "config.h" /* MMC_HAVE_BENCH */

#if MMC_HAVE_BENCH
/* `mmcontig bench ...`: argv[0] is "bench". Returns the exit code (see `mmcontig bench --help`). */
int mmc_bench_main(int argc, char **argv);
#else
static inline int mmc_bench_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fputs("mmcontig bench: not available in this build: Google Benchmark (Debian "
          "libbenchmark-dev) was missing when meson configured; install it and reconfigure "
          "(scripts/bench does both)\n", stderr);
    return 3;
}
#endif

#endif /* MMC_BENCH_CLI_H */
