# scripts/lib.sh: set-up shared by scripts/test and scripts/bench (sourced, not run).
#
# Owns: installing the Debian packages mmcontig needs when they are missing, configuring and
# building meson in build/, and the hugepage safety net: the persistent hugepages and
# nr_overcommit_hugepages (2 MiB and 1 GiB) are recorded at start and written back at exit,
# after `mmcontig reclaim` (the library's own ledger of raises by dead processes), so the
# machine is left as it was found even if something outside mmcontig's ledger changed them.

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

# Record the persistent hugepages of every size (nr_hugepages - surplus_hugepages: a write of
# nr_hugepages sets those, and the surplus pages of live pools must not be turned persistent)
# and nr_overcommit_hugepages, and restore them when the calling script exits, after
# `mmcontig reclaim` has settled the ledgers of processes that died owing a raise.
MMC_HP_SAVED=()
mmc_hp_value() { # FILE: its value as a write sets it
	local d=${1%/*}
	case $1 in
	*/nr_hugepages) echo $(($(cat "$1") - $(cat "$d/surplus_hugepages" 2>/dev/null || echo 0))) ;;
	*) cat "$1" ;;
	esac
}
mmc_hugepage_guard() {
	local f
	for f in /sys/kernel/mm/hugepages/hugepages-*/nr_hugepages \
		/sys/kernel/mm/hugepages/hugepages-*/nr_overcommit_hugepages; do
		[ -r "$f" ] && MMC_HP_SAVED+=("$f=$(mmc_hp_value "$f")")
	done
	trap mmc_hugepage_restore EXIT
}
mmc_hugepage_restore() { # idempotent: the scripts call it before their last line, the trap again
	local kv f v now
	[ -x "$MMC_BUILD/bench/mmcontig" ] && "$MMC_BUILD/bench/mmcontig" reclaim >/dev/null 2>&1
	for kv in "${MMC_HP_SAVED[@]+"${MMC_HP_SAVED[@]}"}"; do
		f=${kv%=*} v=${kv##*=}
		now=$(mmc_hp_value "$f")
		if [ "$now" != "$v" ]; then
			mmc_say "${f##*/} of ${f%/*} was $v at start, is $now: writing $v back"
			echo "$v" >"$f" 2>/dev/null || mmc_say "could not write $f"
		fi
	done
	MMC_HP_SAVED=()
}
