#include <mmcontig/engine.h>
/* compiles on its own */
int main(void) { struct mmc_engine_ops e = {0}; return (int)(sizeof(e) == 0); }
