/* alloc/version.c: the library's version at run time (mmc_version, mmc_version_number), from the
 * generated mmcontig/version.h the library is compiled with; a program compiled against other
 * headers compares them with MMC_VERSION. */
#include "mmcontig/mmcontig.h"

MMC_API unsigned mmc_version_number(void) { return MMC_VERSION; }
MMC_API const char *mmc_version(void) { return MMC_VERSION_STRING; }
