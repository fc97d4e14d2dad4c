/* scripts/vm/exit.c — owns the guest side of the numa-vm exit status.
 *
 * Tiny static helper run as the last step of the numa-vm /init: it writes
 * one byte to qemu's isa-debug-exit port (0xf4), which makes qemu exit at
 * once with status (v << 1) | 1.  Usage inside the guest:  vm-exit V
 * (0 <= V <= 127; larger values are clamped).  If the port write does not
 * stop the machine (no isa-debug-exit device), it falls back to reboot(2),
 * which with -no-reboot ends qemu with status 0 ("no report").
 * Built by scripts/numa-vm with: gcc -static -O2 -o vm-exit exit.c
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/io.h>
#include <sys/reboot.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long v = argc > 1 ? strtol(argv[1], NULL, 0) : 0;

	if (v < 0)
		v = 127;
	if (v > 127)
		v = 127;
	sync();
	if (ioperm(0xf4, 4, 1) != 0) {
		perror("vm-exit: ioperm");
	} else {
		outb((unsigned char)v, 0xf4);
		/* not reached when qemu has the isa-debug-exit device */
	}
	fprintf(stderr, "vm-exit: isa-debug-exit did not stop the VM\n");
	reboot(RB_POWER_OFF);
	return 1;
}
