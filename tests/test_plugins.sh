#!/usr/bin/env bash
# tests/test_plugins.sh BUILD_DIR SOURCE_DIR MMCONTIG NOBOUNDARY_SO BOTTOMUP_SO: search engines
# from shared objects (issue 16), TAP. No hugepages: check-engine builds its own frame
# databases and simulated partitions, and the benchmark runs on simulated pools only.
#   - the wrong plugin (ignores the boundary) is caught by check-engine, with a short trace
#     that --replay fails on again (and the correct example passes);
#   - plugins that do not load, lack the symbol, were built against another interface version
#     or take a built-in's name are refused with the file and the reason, from the command
#     line and from MMC_ENGINE_PLUGIN;
#   - the example built from a staged `meson install` (its installed source and headers only)
#     passes check-engine, and `mmcontig bench --plugin` writes its rows in search.csv and
#     fastonly.csv beside a built-in engine's.
set -uo pipefail
build=$1 src=$2 mmc=$3 noboundary=$4 bottomup=$5
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
n=0 failed=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi; }
note() { sed 's/^/# /' "$@"; }

# ---- the wrong plugin is caught, shrunk, replayable ----
"$mmc" check-engine --scale 0.2 --shrink-time 30 --out "$work/nb.trace" "$noboundary" >"$work/nb.out" 2>&1
rc=$?
note "$work/nb.out" | tail -n 12
grep -q "verdict: FAIL" "$work/nb.out"; v=$?
ok $(( rc == 1 && v == 0 ? 0 : 1 )) "check-engine catches the plugin that ignores the boundary (exit $rc)"
ops=$(grep -cE '^(alloc|pin|free|grow|rebuild)' "$work/nb.trace" 2>/dev/null || echo 0)
grep -q "boundary\|rule 1" "$work/nb.out"; v=$?
ok $(( ops >= 1 && ops <= 20 && v == 0 ? 0 : 1 )) "its failing sequence is shrunk to $ops operations (at most 20) and names the broken rule"
"$mmc" check-engine --replay "$work/nb.trace" >"$work/replay.out" 2>&1
rc=$?
grep -q "verdict: FAIL" "$work/replay.out"; v=$?
ok $(( rc == 1 && v == 0 ? 0 : 1 )) "check-engine --replay of the trace fails again, loading the plugin the trace names (exit $rc)"
"$mmc" check-engine --replay "$work/nb.trace" "$bottomup" >"$work/replay2.out" 2>&1
ok $? "the same trace passes with the correct example engine"

# ---- refusals: the file and the reason ----
cat >"$work/nover.c" <<'C'
#include <mmcontig/engine.h>
extern const struct mmc_engine_ops *mmc_engine_plugin(uint32_t *version);
__attribute__((visibility("default"))) const struct mmc_engine_ops *mmc_engine_plugin(uint32_t *version)
{
    *version = 100;
    return 0;
}
C
cat >"$work/nosym.c" <<'C'
__attribute__((visibility("default"))) int not_an_engine(void);
int not_an_engine(void) { return 0; }
C
sed 's/\.name = "bottomup"/.name = "linear"/' "$src/examples/bottomup/bottomup.c" >"$work/taken.c"
for p in nover nosym taken; do
    cc -std=c11 -shared -fPIC -I"$src/include" -I"$build/include" -o "$work/$p.so" "$work/$p.c" || echo "# cc $p failed"
done
echo "not a shared object" >"$work/junk.so"
check_refusal() { # what file reason
    "$mmc" check-engine --scale 0.01 "$2" >"$work/ref.out" 2>&1
    local rc=$?
    note "$work/ref.out" | tail -n 2
    grep -qF "$2" "$work/ref.out" && grep -q "$3" "$work/ref.out"
    ok $(( rc == 2 && $? == 0 ? 0 : 1 )) "$1 is refused naming the file and the reason (exit $rc)"
}
check_refusal "a plugin of another interface version" "$work/nover.so" "interface version 100.*rebuild it"
check_refusal "a shared object without mmc_engine_plugin" "$work/nosym.so" "exports no mmc_engine_plugin"
check_refusal "a file that is no shared object" "$work/junk.so" "does not load"
check_refusal "a missing file" "$work/missing.so" "does not load"
check_refusal "a plugin that takes a built-in engine's name" "$work/taken.so" "taken by a built-in"
MMC_ENGINE_PLUGIN="$bottomup,$work/nover.so" "$mmc" bench --suite search --sim-pools 1G \
    --benchmark_filter=sim --benchmark_list_tests=true >"$work/env.out" 2>&1
rc=$?
note "$work/env.out" | tail -n 2
grep -q "MMC_ENGINE_PLUGIN: search engine plugin $work/nover.so: it was built against" "$work/env.out"
ok $(( rc == 2 && $? == 0 ? 0 : 1 )) "MMC_ENGINE_PLUGIN naming a refused plugin stops mmcontig bench with its message (exit $rc)"
MMC_ENGINE_PLUGIN="$bottomup" "$mmc" bench --help >"$work/help.out" 2>&1
grep -q "default all: .*bottomup" "$work/help.out"
ok $? "an engine from MMC_ENGINE_PLUGIN is listed by mmcontig bench --help"

# ---- the example from the installed headers only ----
if meson install -C "$build" --destdir "$work/stage" --no-rebuild --quiet >"$work/install.out" 2>&1; then
    ok 0 "meson install stages the tree"
else
    note "$work/install.out"
    ok 1 "meson install stages the tree"
fi
hdr=$(find "$work/stage" -path '*/include/mmcontig/engine.h' | head -n 1)
ex=$(find "$work/stage" -path '*/examples/bottomup/bottomup.c' | head -n 1)
ok $([ -n "$hdr" ] && [ -n "$ex" ] && echo 0 || echo 1) "engine.h and the example's source are installed (${hdr#"$work/stage"}, ${ex#"$work/stage"})"
pc=$(dirname "$(find "$work/stage" -name mmcontig.pc | head -n 1)")
cflags=$(PKG_CONFIG_PATH=$pc PKG_CONFIG_SYSROOT_DIR=$work/stage pkg-config --cflags mmcontig)
# shellcheck disable=SC2086
cc -std=c11 -O2 -Wall -Wextra -Werror -shared -fPIC $cflags -o "$work/bottomup.so" "$ex" >"$work/cc.out" 2>&1
rc=$?
note "$work/cc.out"
ok $rc "the installed example builds against the installed headers alone (cc \$(pkg-config --cflags mmcontig): ${cflags//$work\/stage/})"
"$mmc" check-engine --scale 0.1 "$work/bottomup.so" >"$work/ce.out" 2>&1
rc=$?
note "$work/ce.out" | tail -n 3
ok $rc "the example built outside the tree passes mmcontig check-engine"
"$mmc" bench --plugin "$work/bottomup.so" --suite search,fastonly --algo linear,bottomup \
    --sim-pools 1G --calls 50 --benchmark_filter=sim --out "$work/run" >"$work/bench.out" 2>&1
rc=$?
note "$work/bench.out" | tail -n 3
ok $rc "mmcontig bench --plugin runs on simulated pools (exit $rc)"
for csv in search fastonly; do
    f="$work/run/$csv.csv"
    col=$(head -n 1 "$f" 2>/dev/null | tr ',' '\n' | grep -nx engine | cut -d: -f1)
    nb=$( [ -n "$col" ] && cut -d, -f"$col" "$f" | grep -cx bottomup || echo 0)
    nl=$( [ -n "$col" ] && cut -d, -f"$col" "$f" | grep -cx linear || echo 0)
    ok $(( nb > 0 && nb == nl ? 0 : 1 )) "$csv.csv has the plugin's rows beside linear's ($nb and $nl)"
done
grep -q '"engine_plugins": {"bottomup": ' "$work/run/context.json"
ok $? "context.json names the plugin's file"
if python3 -c 'import matplotlib, numpy' 2>/dev/null; then
    python3 "$src/scripts/plot" "$work/run" --formats svg >"$work/plot.out" 2>&1
    rc=$?
    charts=$(grep -l bottomup "$work"/run/charts/*.svg 2>/dev/null | wc -l)
    ok $(( rc == 0 && charts > 0 ? 0 : 1 )) "scripts/plot draws the plugin's engine ($charts charts name it)"
else
    n=$((n + 1))
    echo "ok $n - scripts/plot draws the plugin's engine # SKIP python3-matplotlib or numpy missing"
fi

echo "1..$n"
[ "$failed" = 0 ]
