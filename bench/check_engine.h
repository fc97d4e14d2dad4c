/* bench/check_engine.h: the entry of `mmcontig check-engine`, for bench/mmcontig.c. */
#ifndef MMC_CHECK_ENGINE_H
#define MMC_CHECK_ENGINE_H

/* `mmcontig check-engine ...`: argv[0] is "check-engine". Returns the exit code. */
int mmc_check_engine_main(int argc, char **argv);

#endif
