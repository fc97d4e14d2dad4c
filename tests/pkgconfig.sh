#!/usr/bin/env bash
# tests/pkgconfig.sh BUILD_DIR SOURCE_DIR: build tests/independent/nt_user.c as an outside
# program would, with nothing but pkg-config: first against the build tree
# (mmcontig-uninstalled), then against a staged `meson install` (mmcontig), and run both.
set -euo pipefail
build=$1 src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prog=$src/tests/independent/nt_user.c
nr=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
nr0=$(cat "$nr")
# The program never calls mmc_fini (as a driver would not): at exit the library must still give
# back what its implicit initialisation added to nr_hugepages.
check_given_back() {
	if [ "$(cat "$nr")" != "$nr0" ]; then
		echo "FAIL: nr_hugepages is $(cat "$nr") after the $1 program exited, $nr0 before"
		exit 1
	fi
	echo "ok: nr_hugepages back to $nr0 after the $1 program exited without mmc_fini"
}

export PKG_CONFIG_PATH=$build/meson-uninstalled
flags=$(pkg-config --cflags --libs mmcontig-uninstalled)
echo "uninstalled: cc $flags"
# shellcheck disable=SC2086
cc -std=c11 -Wall -Werror -Wno-multichar -o "$work/uninstalled" "$prog" $flags
LD_LIBRARY_PATH=$build "$work/uninstalled"
check_given_back uninstalled

meson install -C "$build" --destdir "$work/stage" --quiet >/dev/null
pc=$(dirname "$(find "$work/stage" -name mmcontig.pc | head -n 1)")
export PKG_CONFIG_PATH=$pc PKG_CONFIG_SYSROOT_DIR=$work/stage # as if installed at the prefix
flags=$(pkg-config --cflags --libs mmcontig)
echo "installed: cc $flags"
# shellcheck disable=SC2086
cc -std=c11 -Wall -Werror -Wno-multichar -o "$work/installed" "$prog" $flags
libdir=$(pkg-config --libs-only-L mmcontig | tr -d " ")
LD_LIBRARY_PATH=${libdir#-L} "$work/installed"
check_given_back installed
