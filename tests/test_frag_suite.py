#!/usr/bin/python3
"""tests/test_frag_suite.py MMCONTIG_EXE: `mmcontig bench --suite frag` over real hugepages.

Runs the frag suite for two engines on a short trace (--frag-ops 20000), then checks frag.csv:
the header is scripts/mmcplot/schema.py's and results/README.md's, every engine x policy x
probe (2, 8, 64 MiB, FAST_ONLY or not) has its series, samples lie on the log grid of
operations, the measures are in range and probe_u is U(j) of the probe's order, the decade
change is what the rows say, FAST_ONLY probes count no trade, frame moved or hugepage added,
and the load reaches the target. Then a long run interrupted by SIGINT: it stops within
seconds (the trace's stop flag), its rows parse, and the hugepage counts are restored.
"""
import csv, os, signal, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mmcplot import schema  # noqa: E402
from tap import Tap, hugepage_counts, schema_rows  # noqa: E402

exe = sys.argv[1]
t = Tap()
ok = t.check


counts = hugepage_counts


with tempfile.TemporaryDirectory() as out:
    p = subprocess.run([exe, "bench", "--suite", "frag", "--algo", "tree,linear", "--frag-ops", "20000",
                        "--out", out], capture_output=True, text=True, timeout=300)
    ok(p.returncode == 0, f"mmcontig bench --suite frag exits 0 ({p.returncode}) {p.stderr[-300:] if p.returncode else ''}")
    rows = schema_rows(t, os.path.join(out, "frag.csv"), schema.FRAG_COLUMNS)
    series = {(r["engine"], r["policy"], r["probe_bytes"], r["probe_fast_only"]) for r in rows}
    ok(len(series) == 2 * 2 * 3 * 2, f"2 engines x 2 policies x 3 probe sizes x FAST_ONLY or not: {len(series)} series")
    grid = {0, 20000} | {round(10 ** (k / 4)) for k in range(8, 18)}
    ok(rows and {int(r["ops"]) for r in rows} <= grid, f"samples on the log grid of operations: {sorted({int(r['ops']) for r in rows})}")
    ok(all(r["mode"] == "pool" for r in rows), "mode pool on every row")
    order = {str(2 << 20): ("9", "u9"), str(8 << 20): ("11", "u11"), str(64 << 20): ("14", "u14")}
    ok(all(r["probe_order"] == order[r["probe_bytes"]][0] and r["probe_u"] == r[order[r["probe_bytes"]][1]] for r in rows),
       "probe_order and probe_u are the probe size's order and its U(j)")
    ok(all(all(0 <= float(r[c]) <= 1 for c in ("u9", "u11", "u14", "u18")) and
           all(float(r[c]) == -1 or 0 <= float(r[c]) <= 1 for c in ("fi9", "fi11", "fi14")) for r in rows),
       "U(j) in [0, 1], FI(j) in [0, 1] or -1")
    # the decade change, recomputed from the rows the bench wrote
    bad = []
    for key in {(r["engine"], r["policy"], r["probe_bytes"], r["probe_fast_only"]) for r in rows}:
        s = [r for r in rows if (r["engine"], r["policy"], r["probe_bytes"], r["probe_fast_only"]) == key]
        for i, r in enumerate(s):
            o = int(r["ops"])
            last = [float(q["probe_u"]) for q in s[:i + 1] if int(q["ops"]) > o // 10]
            prev = [float(q["probe_u"]) for q in s[:i + 1] if o // 100 < int(q["ops"]) <= o // 10]
            want = "" if o // 100 < 100 or not last or not prev else sum(last) / len(last) - sum(prev) / len(prev)
            got = r["probe_u_decade_change"]
            if (want == "") != (got == "") or (got != "" and abs(float(got) - want) > 2e-4):
                bad.append((key, r["ops"], got, want))
    ok(not bad and any(r["probe_u_decade_change"] != "" for r in rows), f"probe_u_decade_change: mean U(j) over the last decade minus over the one before {bad[:2]}")
    fast = [r for r in rows if r["probe_fast_only"] == "1"]
    ok(fast and all(int(r[c]) == 0 for r in fast for c in ("probe_trades", "probe_frames_moved", "probe_frames_dropped",
                                                              "probe_hugepages_added", "probe_grow_ns")),
       "FAST_ONLY probes never trade, move, drop or grow")
    ok(all(int(r["probe_successes"]) <= int(r["probe_calls"]) for r in rows), "successes <= calls")
    last = {}
    for r in rows:
        last[(r["engine"], r["policy"])] = r
    ok(all(abs(float(r["utilisation"]) - 0.8) < 0.05 for r in last.values()),
       "each aged partition ends near the 0.8 target: " + ", ".join(f"{k[0]}/{k[1]} {float(r['utilisation']):.3f}" for k, r in last.items()))
    ok(all(int(a["frames_moved"]) <= int(b["frames_moved"]) and int(a["frames_dropped"]) <= int(b["frames_dropped"])
           for a, b in zip(rows, rows[1:]) if (a["engine"], a["policy"]) == (b["engine"], b["policy"])),
       "moved and dropped frames only grow along each series")

with tempfile.TemporaryDirectory() as out:
    before = counts()
    child = subprocess.Popen([exe, "bench", "--suite", "frag", "--algo", "tree", "--frag-ops", "100000000",
                              "--out", out], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(4)
    t0 = time.monotonic()
    child.send_signal(signal.SIGINT)
    try:
        _, err = child.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        child.kill()
        _, err = child.communicate()
    took = time.monotonic() - t0
    ok(took < 10, f"SIGINT stops a 10^8-operation trace between operations ({took:.1f} s)")
    rows = list(csv.DictReader(open(os.path.join(out, "frag.csv"))))
    ok(rows and all(len(r) == len(schema.FRAG_COLUMNS) and None not in r.values() for r in rows),
       f"the interrupted run's frag.csv parses, every row whole ({len(rows)} rows)")
    ok(counts() == before, f"hugepage counts restored after the interrupt ({counts()} vs {before})")
sys.exit(t.done())
