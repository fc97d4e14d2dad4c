#!/usr/bin/python3
"""tests/test_frag_suite.py MMCONTIG_EXE: `mmcontig bench --suite frag` over real hugepages.

Runs the frag suite for two engines, then checks frag.csv: the header is results/README.md's,
every engine x policy x probe has its time series, the load reaches the target utilisation, the
measures are in range, FAST_ONLY probes never trade, and the file parses as CSV.
"""
import csv, os, subprocess, sys, tempfile

exe = sys.argv[1]
fails = 0
n = 0


def ok(cond, what):
    global fails, n
    n += 1
    print(("ok" if cond else "not ok") + f" {n} - {what}")
    fails += 0 if cond else 1


with tempfile.TemporaryDirectory() as out:
    p = subprocess.run([exe, "bench", "--suite", "frag", "--algo", "tree,linear", "--out", out],
                       capture_output=True, text=True, timeout=300)
    ok(p.returncode == 0, f"mmcontig bench --suite frag exits 0 ({p.returncode}) {p.stderr[-300:] if p.returncode else ''}")
    path = os.path.join(out, "frag.csv")
    rows = list(csv.DictReader(open(path))) if os.path.exists(path) else []
    header = open(path).readline().strip().split(",") if os.path.exists(path) else []
    readme = open(os.path.join(os.path.dirname(__file__), "..", "results", "README.md")).read()
    ok(header and all(f"| {c} |" in readme for c in header), "every frag.csv column is documented in results/README.md")
    series = {(r["engine"], r["policy"], r["probe_bytes"], r["probe_fast_only"]) for r in rows}
    ok(len(series) == 2 * 2 * 2 * 2, f"2 engines x 2 policies x 2 probe sizes x FAST_ONLY or not: {len(series)} series")
    last = {}
    for r in rows:
        last[(r["engine"], r["policy"])] = r
    ok(all(abs(float(r["utilisation"]) - 0.8) < 0.05 for r in last.values()),
       "each aged partition ends near the 0.8 target: " + ", ".join(f"{k[0]}/{k[1]} {float(r['utilisation']):.3f}" for k, r in last.items()))
    ok(all(0 <= float(r["u9"]) <= 1 and 0 <= float(r["u18"]) <= 1 and
           (float(r["fi9"]) == -1 or 0 <= float(r["fi9"]) <= 1) for r in rows), "U(9), U(18) in [0, 1], FI(9) in [0, 1] or -1")
    ok(all(int(r["probe_trades"]) == 0 for r in rows if r["probe_fast_only"] == "1"), "FAST_ONLY probes never trade")
    # whether trades happen depends on the kernel's layout of the pool (test_load covers trading)
    ok(all(int(a["frames_moved"]) <= int(b["frames_moved"]) and int(a["frames_dropped"]) <= int(b["frames_dropped"])
           for a, b in zip(rows, rows[1:]) if (a["engine"], a["policy"]) == (b["engine"], b["policy"])),
       "moved and dropped frames only grow along each series")
    bad = [(a["engine"], a["policy"], a["ops"], b["ops"]) for a, b in zip(rows, rows[1:])
           if (a["engine"], a["policy"]) == (b["engine"], b["policy"]) and int(a["ops"]) > int(b["ops"])]
    ok(not bad, f"samples in order of the trace {bad[:3]}")
print(f"1..{n}")
sys.exit(1 if fails else 0)
