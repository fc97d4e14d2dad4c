#!/usr/bin/python3
"""tests/test_frag_kernel.py MMCONTIG_EXE: `mmcontig bench --suite frag-kernel`, bounded.

Runs the real-kernel mode with its helper capped at 256 MiB (MMC_FRAG_KERNEL_MAX) and checks
frag_kernel.csv: the header is results/README.md's, one row per size (2 MiB .. 1 GiB) and path,
FAST_ONLY rows never grow, an ordinary success reports the hugepages it added, and
frag_kernel.json holds the kernel's counters and buddyinfo before and after. Then the helper's
life: interrupted by SIGTERM, and killed by SIGKILL, the benchmark leaves no helper behind.
"""
import csv, json, os, signal, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import Tap  # noqa: E402

exe = sys.argv[1]
t = Tap()
ok = t.check


def children(pid):
    """The benchmark's forked helpers (comm mmcontig; git and the like are not)."""
    out = []
    try:
        kids = [int(x) for x in open(f"/proc/{pid}/task/{pid}/children").read().split()]
    except OSError:
        return []
    for k in kids:
        try:
            if open(f"/proc/{k}/comm").read().strip() == "mmcontig":
                out.append(k)
        except OSError:
            pass
    return out


def alive(pid):
    try:
        st = open(f"/proc/{pid}/stat").read().split()[2]
        return st != "Z"
    except OSError:
        return False


env = dict(os.environ, MMC_FRAG_KERNEL_MAX="256")
with tempfile.TemporaryDirectory() as out:
    p = subprocess.run([exe, "bench", "--suite", "frag-kernel", "--out", out], capture_output=True,
                       text=True, timeout=300, env=env)
    ok(p.returncode == 0, f"mmcontig bench --suite frag-kernel exits 0 ({p.returncode}) {p.stderr[-300:] if p.returncode else ''}")
    path = os.path.join(out, "frag_kernel.csv")
    rows = list(csv.DictReader(open(path))) if os.path.exists(path) else []
    header = open(path).readline().strip().split(",") if os.path.exists(path) else []
    readme = open(os.path.join(os.path.dirname(__file__), "..", "results", "README.md")).read()
    sect = readme.split("## Columns of frag_kernel.csv", 1)[-1].split("\n## ", 1)[0]
    ok(header and all(f"| {c} |" in sect for c in header), "every frag_kernel.csv column is documented in results/README.md")
    sizes = {(int(r["request_bytes"]), r["fast_only"]) for r in rows}
    ok(sizes == {(s << 20, f) for s in (2, 8, 64, 1024) for f in ("0", "1")}, f"2, 8, 64, 1024 MiB, FAST_ONLY and ordinary: {sorted(sizes)}")
    ok(all(int(r["held_bytes"]) <= 256 << 20 and int(r["held_bytes"]) > 0 for r in rows), "the helper held at most the cap")
    ok(all(r["hugepages_added"] == "0" and r["grow_ns"] == "0" for r in rows if r["fast_only"] == "1"),
       "FAST_ONLY never grows")
    ok(all(r["success"] == "0" for r in rows if r["fast_only"] == "1"), "FAST_ONLY fails on a full pool")
    ok(all(int(r["hugepages_added"]) * (2 << 20) >= int(r["request_bytes"]) for r in rows
           if r["fast_only"] == "0" and r["success"] == "1"),
       "an ordinary success added at least its size in hugepages")
    js = json.load(open(os.path.join(out, "frag_kernel.json")))
    ok(all(k in js for k in ("buddyinfo_before", "buddyinfo_after", "compact_stall_before", "compact_stall_after",
                             "compact_migrate_scanned_after")), "frag_kernel.json: buddyinfo and compaction counters before and after")

for sig in (signal.SIGTERM, signal.SIGKILL):
    with tempfile.TemporaryDirectory() as out:
        child = subprocess.Popen([exe, "bench", "--suite", "frag-kernel", "--out", out], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, env=dict(os.environ, MMC_FRAG_KERNEL_MAX="512"))
        helper = None
        t0 = time.monotonic()
        while helper is None and time.monotonic() - t0 < 30 and child.poll() is None:
            kids = children(child.pid)
            helper = kids[0] if kids else None
            time.sleep(0.05)
        child.send_signal(sig)
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        t1 = time.monotonic()
        while helper and alive(helper) and time.monotonic() - t1 < 5:
            time.sleep(0.05)
        ok(helper is not None and not alive(helper),
           f"{signal.Signals(sig).name} of the benchmark: its helper (pid {helper}) is gone and its memory given back")
sys.exit(t.done())
