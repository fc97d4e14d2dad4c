#!/bin/sh
# scripts/vm/init.sh — owns the guest's /init for scripts/numa-vm.
#
# Copied as /init into each per-run initramfs and run by busybox sh as
# PID 1.  It mounts proc, sysfs and devtmpfs, loads the environment the
# host wrote to /numa-vm/env (MMC_* and CI* variables plus MMC_VM_*
# facts about the shape), then runs every line of /numa-vm/tests in order
# (one test per line: guest path of the executable, then its arguments,
# split on whitespace), with a header line before and a result line after
# each.  Last, it reports the worst exit status (0..127) through
# /bin/vm-exit (isa-debug-exit port 0xf4), which ends qemu.
# The host (scripts/numa-vm) parses the "numa-vm:" lines printed here, so
# keep their format in step with it.

export PATH=/bin:/usr/bin:/sbin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# (no tmpfs on /tmp: the initramfs root is already in RAM, and staged
# files may live under /tmp)
mkdir -p /dev/shm /tmp /run
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs -o mode=0755 tmpfs /run # the hugepage lock and ledgers live in /run/mmcontig

# Host-provided environment (export lines, shell-quoted).
# shellcheck disable=SC1091 # written per run by scripts/numa-vm
. /numa-vm/env
export LD_LIBRARY_PATH=/lib
export HOME=/tmp TMPDIR=/tmp

uptime_s() { cut -d' ' -f1 /proc/uptime; }

echo   # the firmware's last line ("Booting from ROM..") has no newline
echo "numa-vm: guest up at $(uptime_s)s: kernel $(uname -r)," \
	"nodes $(cat /sys/devices/system/node/online)," \
	"cpus $(cat /sys/devices/system/cpu/online)," \
	"shape ${MMC_VM_SHAPE:-?}"

cd "${MMC_VM_CWD:-/}" || cd /
total=$(grep -c . /numa-vm/tests)
i=0 passed=0 failed=0 worst=0
set -f   # no globbing when splitting test lines into words
while read -r line <&3; do
	[ -n "$line" ] || continue
	i=$((i + 1))
	echo "numa-vm: ===== [$i/$total] RUN $line"
	t0=$(uptime_s)
	# shellcheck disable=SC2086 # word splitting is the argument format
	set -- $line
	"$@" </dev/null
	rc=$?
	t1=$(uptime_s)
	secs=$(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }")
	if [ "$rc" -eq 0 ]; then
		passed=$((passed + 1))
		echo "numa-vm: ===== [$i/$total] PASS (exit 0, ${secs}s) $line"
	else
		failed=$((failed + 1))
		echo "numa-vm: ===== [$i/$total] FAIL (exit $rc, ${secs}s) $line"
		[ "$rc" -gt "$worst" ] && worst=$rc
	fi
done 3</numa-vm/tests
set +f
[ "$worst" -gt 127 ] && worst=127
echo "numa-vm: guest done at $(uptime_s)s: passed=$passed failed=$failed worst=$worst"
exec /bin/vm-exit "$worst"
