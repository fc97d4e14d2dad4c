#include <mmcontig/mmcontig.h>
/* compiles on its own */
int main(void) { struct mmc_config c; return (int)(sizeof(c) == 0); }
