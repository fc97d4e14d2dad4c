# scripts/lib.sh: set-up shared by scripts/test and scripts/bench (sourced, not run).
#
# Owns: installing the Debian packages mmcontig needs when they are missing, configuring and
# building meson in build/, and the hugepage safety net: nr_hugepages (2 MiB and 1 GiB) is
# recorded at start and written back at exit, so that even a test process killed before
# mmc_fini (which gives back what it added) leaves the machine as it found it.

MMC_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MMC_BUILD=${MMC_BUILD:-$MMC_ROOT/build}

mmc_say() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }

# Install the named Debian packages that are not installed yet.
mmc_need_packages() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		mmc_say "missing Debian packages: ${missing[*]}; run as root, or: sudo apt-get install ${missing[*]}"
		return 1
	fi
	mmc_say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null || apt-get update
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		apt-get install -y --no-install-recommends "${missing[@]}"
}

MMC_BUILD_PACKAGES=(gcc g++ libc6-dev meson ninja-build pkg-config libnuma-dev libhwloc-dev python3 python3-matplotlib
	libbenchmark-dev libdpdk-dev)

# Configure (once) and build build/.
mmc_build() {
	if [ ! -f "$MMC_BUILD/build.ninja" ]; then
		meson setup "$MMC_BUILD" "$MMC_ROOT" "$@" >/dev/null ||
			{ mmc_say "meson setup failed"; meson setup --reconfigure "$MMC_BUILD" "$MMC_ROOT" "$@"; }
	fi
	ninja -C "$MMC_BUILD" >/dev/null || ninja -C "$MMC_BUILD"
}

# Record nr_hugepages of every size and restore it when the calling script exits.
MMC_HP_SAVED=()
mmc_hugepage_guard() {
	local f
	for f in /sys/kernel/mm/hugepages/hugepages-*/nr_hugepages; do
		[ -r "$f" ] && MMC_HP_SAVED+=("$f=$(cat "$f")")
	done
	trap mmc_hugepage_restore EXIT
}
mmc_hugepage_restore() { # idempotent: the scripts call it before their last line, the trap again
	local kv f v now
	for kv in "${MMC_HP_SAVED[@]+"${MMC_HP_SAVED[@]}"}"; do
		f=${kv%=*} v=${kv##*=}
		now=$(cat "$f")
		if [ "$now" != "$v" ]; then
			mmc_say "nr_hugepages of ${f%/nr_hugepages} was $v at start, is $now: writing $v back"
			echo "$v" >"$f" 2>/dev/null || mmc_say "could not write $f"
		fi
	done
	MMC_HP_SAVED=()
}
