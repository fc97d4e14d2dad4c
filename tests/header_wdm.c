#include <mmcontig/wdm.h>
/* compiles on its own */
int header_wdm_ok(void);
int header_wdm_ok(void) { return (int)sizeof(MDL); }
int main(void) { return header_wdm_ok() == 48 ? 0 : 1; }
