#!/usr/bin/python3
"""tests/test_frag_kernel.py MMCONTIG_EXE: `mmcontig bench --suite frag-kernel`, bounded.

Runs the real-kernel mode with its helper capped at 256 MiB (MMC_FRAG_KERNEL_MAX) and checks
frag_kernel.csv: the header is results/README.md's, one row per size (2 MiB .. 1 GiB) and path
(mmcontig FAST_ONLY and ordinary; DPDK and DPDK --legacy-mem when the DPDK peer is built, none
and frag_kernel.json saying why when it is not), FAST_ONLY rows never grow, an ordinary success
reports the hugepages it added, every block that succeeded is physically contiguous per
pagemap, every DPDK row says what the kernel supplied before it (or why it failed), each DPDK
child gave back its raise itself (no dead child's ledger had to be settled for it), and
nr_hugepages is as before once the suite is done. Then the children's life: interrupted by
SIGTERM while a DPDK child runs, and killed by SIGKILL, the benchmark leaves no helper and no
DPDK child behind, and nr_hugepages comes back (after SIGKILL, once the dead processes' ledgers
are settled, as `mmcontig reclaim` or the next mmcontig process does).
"""
import csv, json, os, re, signal, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import Tap, hugepage_counts  # noqa: E402

exe = sys.argv[1]
t = Tap()
ok = t.check


def children(pid, dpdk=False):
    """The benchmark's forked helpers (comm mmcontig; git and the like are not), or with dpdk its
    DPDK children (`mmcontig bench __frag-kernel-dpdk ...`)."""
    out = []
    try:
        kids = [int(x) for x in open(f"/proc/{pid}/task/{pid}/children").read().split()]
    except OSError:
        return []
    for k in kids:
        try:
            is_dpdk = b"__frag-kernel-dpdk" in open(f"/proc/{k}/cmdline", "rb").read()
            if is_dpdk == dpdk and (dpdk or open(f"/proc/{k}/comm").read().strip() == "mmcontig"):
                out.append(k)
        except OSError:
            pass
    return out


nr_hugepages = hugepage_counts  # the machine's: 2 MiB and 1 GiB, nr and overcommit


def restored(before, wait=15):
    """nr_hugepages back to `before`; other agents' tests move it for moments, so a few seconds'
    grace before it counts as not restored."""
    t0 = time.monotonic()
    while nr_hugepages() != before and time.monotonic() - t0 < wait:
        time.sleep(0.2)
    return nr_hugepages() == before


def alive(pid):
    try:
        st = open(f"/proc/{pid}/stat").read().split()[2]
        return st != "Z"
    except OSError:
        return False


helptext = subprocess.run([exe, "bench", "--help"], capture_output=True, text=True).stdout
have_dpdk = "DPDK NOT BUILT" not in helptext
sizes_all = [s << 20 for s in (2, 8, 64, 1024)]
env = dict(os.environ, MMC_FRAG_KERNEL_MAX="256")
nr_before = nr_hugepages()
with tempfile.TemporaryDirectory() as out:
    bench = subprocess.Popen([exe, "bench", "--suite", "frag-kernel", "--out", out], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
    stdout, stderr = bench.communicate(timeout=300)
    p = subprocess.CompletedProcess(bench.args, bench.returncode, stdout, stderr)
    ok(p.returncode == 0, f"mmcontig bench --suite frag-kernel exits 0 ({p.returncode}) {p.stderr[-300:] if p.returncode else ''}")
    path = os.path.join(out, "frag_kernel.csv")
    rows = list(csv.DictReader(open(path))) if os.path.exists(path) else []
    header = open(path).readline().strip().split(",") if os.path.exists(path) else []
    readme = open(os.path.join(os.path.dirname(__file__), "..", "results", "README.md")).read()
    sect = readme.split("## Columns of frag_kernel.csv", 1)[-1].split("\n## ", 1)[0]
    ok(header and all(f"| {c} |" in sect for c in header), "every frag_kernel.csv column is documented in results/README.md")
    paths = sorted((int(r["request_bytes"]), r["peer"], r["fast_only"]) for r in rows)
    want = [(s, "mmcontig", f) for s in sizes_all for f in ("0", "1")]
    if have_dpdk:
        want += [(s, p, "0") for s in sizes_all for p in ("dpdk", "dpdk-legacy")]
    ok(paths == sorted(want), f"2, 8, 64, 1024 MiB: FAST_ONLY, ordinary{', DPDK, DPDK --legacy-mem' if have_dpdk else ''}, once each: {paths}")
    ok(all(int(r["held_bytes"]) <= 256 << 20 and int(r["held_bytes"]) > 0 for r in rows), "the helper held at most the cap")
    ok(all(r["hugepages_added"] == "0" and r["grow_ns"] == "0" for r in rows if r["fast_only"] == "1"),
       "FAST_ONLY never grows")
    ok(all(r["success"] == "0" for r in rows if r["fast_only"] == "1"), "FAST_ONLY fails on a full pool")
    ok(all(int(r["hugepages_added"]) * (2 << 20) >= int(r["request_bytes"]) for r in rows
           if r["peer"] == "mmcontig" and r["fast_only"] == "0" and r["success"] == "1"),
       "an ordinary success added at least its size in hugepages")
    ok(all(r["pagemap_ok"] == "1" for r in rows if r["success"] == "1"),
       "every block that succeeded (mmcontig's and DPDK's) is physically contiguous per pagemap",
       [r for r in rows if r["success"] == "1" and r["pagemap_ok"] != "1"])
    ok(all(r["success"] == "1" or r["why"] for r in rows), "every failure says why")
    dp = [r for r in rows if r["peer"] != "mmcontig"]
    ok(all(r["fast_only"] == "0" and r["raise_ns"] != "" and r["eal_init_ns"] != "" and r["grow_ns"] == "" and
           (int(r["raise_hugepages"]) * (2 << 20) > int(r["request_bytes"]) or
            (r["success"] == "0" and r["raise_hugepages"] == "0" and "nr_hugepages" in r["why"]))
           for r in dp),
       "each DPDK row: the kernel's raise before it (more hugepages than the request) timed apart, "
       "or the raise's failure named", dp)
    ok(all(r["raise_ns"] == "" and r["eal_init_ns"] == "" for r in rows if r["peer"] == "mmcontig"),
       "mmcontig rows leave the DPDK-only columns empty")
    js = json.load(open(os.path.join(out, "frag_kernel.json")))
    ok(all(k in js for k in ("buddyinfo_before", "buddyinfo_after", "compact_stall_before", "compact_stall_after",
                             "compact_migrate_scanned_after")), "frag_kernel.json: buddyinfo and compaction counters before and after")
    ok(js.get("dpdk", "").startswith("ran: " if have_dpdk else "not built"), f"frag_kernel.json says what DPDK did: {js.get('dpdk')}")
    ok(restored(nr_before), f"the hugepage counts are as before the suite: {nr_before} ({nr_hugepages()})")
    # its children's pids follow the benchmark's (another process's settled ledger is not theirs)
    owing = [ln for ln in p.stderr.splitlines()
             if re.search(r"pid (\d+) died owing", ln) and int(re.search(r"pid (\d+)", ln).group(1)) > bench.pid]
    ok(not owing, "each DPDK child gave back its raise itself (no ledger of a dead one had to be settled)", owing)

for sig in (signal.SIGTERM, signal.SIGKILL):
    nr_before = nr_hugepages()
    with tempfile.TemporaryDirectory() as out:
        child = subprocess.Popen([exe, "bench", "--suite", "frag-kernel", "--out", out], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, env=dict(os.environ, MMC_FRAG_KERNEL_MAX="512"))
        helper = dpdk = None
        t0 = time.monotonic()
        # with DPDK built, the signal comes while a DPDK child runs (the helper runs then too)
        while (helper is None or (have_dpdk and dpdk is None)) and time.monotonic() - t0 < 60 and child.poll() is None:
            kids = children(child.pid)
            helper = helper or (kids[0] if kids else None)
            kids = children(child.pid, dpdk=True)
            dpdk = dpdk or (kids[0] if kids else None)
            time.sleep(0.02)
        child.send_signal(sig)
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        t1 = time.monotonic()
        while any(p and alive(p) for p in (helper, dpdk)) and time.monotonic() - t1 < 5:
            time.sleep(0.05)
        name = signal.Signals(sig).name
        ok(helper is not None and not alive(helper),
           f"{name} of the benchmark: its helper (pid {helper}) is gone and its memory given back")
        if have_dpdk:
            ok(dpdk is not None and not alive(dpdk), f"{name} of the benchmark while a DPDK child ran: the child (pid {dpdk}) is gone")
        if sig == signal.SIGTERM:
            ok(child.returncode == 143, f"SIGTERM: the benchmark exits 143 ({child.returncode})")
        else:  # what the dead processes raised is in their ledgers: settled as any mmcontig process
            # does, once they are reaped (a zombie still counts as alive to the ledger's check)
            while dpdk and os.path.exists(f"/proc/{dpdk}") and time.monotonic() - t1 < 10:
                time.sleep(0.05)
            subprocess.run([exe, "reclaim"], capture_output=True)
        ok(restored(nr_before), f"{name}: the hugepage counts are as before: {nr_before} ({nr_hugepages()})")
sys.exit(t.done())
