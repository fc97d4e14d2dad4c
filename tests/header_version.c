#include <mmcontig/version.h>
/* compiles on its own, and its numbers are usable in #if */
#if MMC_VERSION < MMC_VERSION_CHECK(0, 0, 1) || MMC_VERSION_MAJOR < 0
#error "MMC_VERSION is not a usable preprocessor number"
#endif
int main(void) { return MMC_VERSION == MMC_VERSION_CHECK(MMC_VERSION_MAJOR, MMC_VERSION_MINOR, MMC_VERSION_PATCH) ? 0 : 1; }
