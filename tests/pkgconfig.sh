#!/usr/bin/env bash
# tests/pkgconfig.sh BUILD_DIR SOURCE_DIR: build tests/independent/nt_user.c as an outside
# program would, with nothing but pkg-config: first against the build tree
# (mmcontig-uninstalled), then against a staged `meson install` (mmcontig), and run both; then
# a program of the native and testing headers checks the installed version and soname.
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

# The installed headers and library agree on the version, the testing header builds beside the
# driver's, and the library's soname carries the soversion, not the project version.
cat > "$work/version.c" <<'C'
#include <mmcontig/mmcontig.h>
#include <mmcontig/testing.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
    int os[MMC_MAX_NODES];
    int n = mmc_node_map(os, MMC_MAX_NODES);
    printf("headers %s, library %s, %d node(s), node 0 is the kernel's %d\n", MMC_VERSION_STRING,
           mmc_version(), n, n > 0 ? os[0] : -1);
    return mmc_version_number() == MMC_VERSION && !strcmp(mmc_version(), MMC_VERSION_STRING) &&
           n >= 1 ? 0 : 1;
}
C
# shellcheck disable=SC2086
cc -std=c11 -Wall -Werror -o "$work/version" "$work/version.c" $flags
LD_LIBRARY_PATH=${libdir#-L} "$work/version"
echo "ok: the installed headers' version is the installed library's"
lib=$(find "$work/stage" -name 'libmmcontig.so.*.*' | head -n 1)
soname=$(objdump -p "$lib" | awk '$1 == "SONAME" {print $2}')
if [ "$soname" != "libmmcontig.so.1" ]; then
	echo "FAIL: the library's soname is '$soname', not libmmcontig.so.1 (mmc_abi_version)"
	exit 1
fi
echo "ok: soname $soname ($(basename "$lib"))"
if ! grep -q '^Requires.private:.*hwloc' "$pc/mmcontig.pc"; then
	echo "FAIL: mmcontig.pc does not require hwloc (Requires.private comes from the dependencies)"
	exit 1
fi
echo "ok: mmcontig.pc from the library's dependencies: $(grep -E '^(Requires|Libs)' "$pc/mmcontig.pc" | tr '\n' ' ')"
