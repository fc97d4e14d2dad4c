#include <mmcontig/testing.h>
/* compiles on its own */
int main(void) { mmc_load_t h = 0; return (int)(sizeof(h) == 0) + (MMC_LOAD_MOVABLE == MMC_LOAD_STANDBY); }
