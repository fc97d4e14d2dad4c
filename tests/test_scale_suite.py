#!/usr/bin/python3
"""tests/test_scale_suite.py MMCONTIG_EXE DPDK(0|1): `mmcontig bench --suite scale`.

Runs the scale suite for two engines (linear and tlsf) at 1 and 2 threads with short points, then checks scale.csv: the header is
scripts/mmcplot/schema.py's and every column is documented in results/README.md; every pool x
mix x placement x engine series has a row per thread count (sim: small, medium x own, one;
real: small, medium, mdl; dpdk: small, medium x any when the DPDK peer is built, none when
not); each row merges 3 repetitions whose throughputs it lists, its pairs_per_s is their median
and its speedup the ratio of the medians (1 at one thread); calls succeeded, percentiles are
ordered, the CPUs listed are as many as the threads. Then the hugepage counts are those from
before (the DPDK child raised nr_hugepages and gave it back).
"""
import os, statistics, subprocess, sys, tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mmcplot import schema  # noqa: E402
from tap import Tap, hugepage_counts, schema_rows  # noqa: E402

exe, dpdk = sys.argv[1], sys.argv[2] == "1"
t = Tap()
ok = t.check


counts = hugepage_counts


before = counts()
with tempfile.TemporaryDirectory() as out:
    p = subprocess.run([exe, "bench", "--suite", "scale", "--algo", "linear,tlsf", "--threads", "1,2",
                        "--scale-seconds", "0.05", "--out", out], capture_output=True, text=True, timeout=300)
    ok(p.returncode == 0, f"mmcontig bench --suite scale exits 0 ({p.returncode}) {p.stderr[-400:] if p.returncode else ''}")
    rows = schema_rows(t, os.path.join(out, "scale.csv"), schema.SCALE_COLUMNS)
    want = {("sim", e, m, pl) for e in ("linear", "tlsf") for m in ("small", "medium") for pl in ("own", "one")}
    want |= {("real", e, m, "own") for e in ("linear", "tlsf") for m in ("small", "medium", "mdl")}
    if dpdk:
        want |= {("dpdk", "dpdk", m, "any") for m in ("small", "medium")}
    got = {}
    for r in rows:
        got.setdefault((r["pool"], r["engine"], r["mix"], r["placement"]), []).append(r)
    ok(set(got) == want, f"the series expected (dpdk {'built' if dpdk else 'not built'}): "
       f"missing {sorted(want - set(got))}, unexpected {sorted(set(got) - want)}")
    ok(all(sorted(int(r["threads"]) for r in rs) == [1, 2] for rs in got.values()), "a row per thread count, 1 and 2")
    if not dpdk:
        ok("no DPDK rows: the DPDK peer is not built" in p.stderr, "without DPDK the suite says why its rows are absent")
    bad = []
    for r in rows:
        reps = [float(x) for x in r["rep_pairs_per_s"].split(";")]
        if int(r["reps"]) != 3 or len(reps) != 3:
            bad.append(f"{r['pool']}/{r['engine']}/{r['mix']}/{r['threads']}: reps {r['reps']} {r['rep_pairs_per_s']}")
        elif abs(float(r["pairs_per_s"]) - statistics.median(reps)) > 1:
            bad.append(f"{r['pool']}/{r['engine']}/{r['mix']}/{r['threads']}: pairs_per_s {r['pairs_per_s']} is not the median of {reps}")
    ok(not bad, "3 repetitions per row, pairs_per_s their median: " + "; ".join(bad[:3]))
    bad = []
    for key, rs in got.items():
        one = [r for r in rs if r["threads"] == "1"]
        for r in rs:
            sp = float(r["speedup"]) if r["speedup"] else None
            p1, pr = (float(one[0]["pairs_per_s"]), float(r["pairs_per_s"])) if one else (0, 0)
            slack = 0.0015 + 0.5 / p1 * (1 + pr / p1) if p1 else 0  # 3 decimals; rates rounded to 1/s
            if not one or sp is None or abs(sp - pr / p1) > slack:
                bad.append(f"{key}/{r['threads']}: speedup {r['speedup']}")
    ok(not bad, "speedup is pairs_per_s over the 1-thread row's: " + "; ".join(bad[:3]))
    ok(all(int(r["pairs"]) > 0 and 0 < int(r["alloc_p50_ns"]) <= int(r["alloc_p99_ns"]) <= int(r["alloc_p999_ns"])
           and int(r["free_p50_ns"]) <= int(r["free_p99_ns"]) for r in rows),
       "every row has successful pairs and ordered percentiles")
    ok(all(len(r["cpus"].split()) == int(r["threads"]) for r in rows), "a CPU listed per thread")
after = counts()
ok(after == before, f"hugepage counts restored: before {before}, after {after}")
sys.exit(t.done())
