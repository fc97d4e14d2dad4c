#!/usr/bin/python3
# tests/fixtures_bench.py: SYNTHETIC benchmark runs for testing scripts/plot, report and merge.
#
# Owns the fixture generator: it writes a run directory in the exact layout and CSV schema of
# results/README.md (search.csv, fastonly.csv, peers.csv, optionally frag.csv and frag_kernel.csv, context.json),
# with numbers from a made-up latency model (linear and bitmap grow with the pool, buddy and
# tree with its log, tlsf flat; large requests failing at high fill; DPDK slow and violating
# boundaries above the page size, as peers-and-metrics.md describes). The numbers are NOT
# measurements: context.json carries "fixture": true and the charts say so in a red banner.
# Never commit its output under results/.
#
#   tests/fixtures_bench.py OUT_DIR [--host H] [--seed N] [--frag] [--scale] [--small]
#   prints the run directory it wrote (OUT_DIR/<host>/<UTC time>/)

import argparse
import csv
import json
import math
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from mmcplot import schema  # noqa: E402  (plain data: no matplotlib needed)

COLUMNS = schema.CASE_COLUMNS
FRAG_COLUMNS = schema.FRAG_COLUMNS
FRAG_KERNEL_COLUMNS = schema.FRAG_KERNEL_COLUMNS
SCALE_COLUMNS = schema.SCALE_COLUMNS
KiB, MiB, GiB, TiB = 1 << 10, 1 << 20, 1 << 30, 1 << 40
NONE_HIGHEST = (1 << 64) - 1
# context.json noise of a run on a busy shared host (for make_run's context_extra): 6 % steal
# on the run's CPUs, frequency from 1.8 to 3.4 GHz, not pinned, ondemand, boost on
NOISY = {"noise": {"affinity_cpus": [0, 1], "online_cpus": 2, "pinned": False,
                   "smt": {"active": "1", "control": "on"},
                   "cpufreq": {"available": True, "driver": "acpi-cpufreq",
                               "governors": {"ondemand": [0, 1]}, "boost": "1",
                               "intel_pstate_no_turbo": None},
                   "frequency_khz": {"source": "scaling_cur_freq", "samples": 200,
                                     "start_min": 1800000, "start_max": 3400000,
                                     "end_min": 1800000, "end_max": 2200000,
                                     "min": 1800000, "max": 3400000},
                   "steal": {"source": "/proc/stat", "steal_ticks": 2900, "total_ticks": 48000,
                             "steal_pct": 6.04, "affinity_steal_ticks": 2900,
                             "affinity_total_ticks": 48000, "affinity_steal_pct": 6.04},
                   "timer": {"pair_p50_ns": 30, "pair_p99_ns": 160, "pair_max_ns": 90000,
                             "resolution_ns": 1}}}
ENGINES = ["linear", "bitmap", "buddy", "tlsf", "tree"]
FILLS = [0, 50, 70, 90]
CONSTRAINTS = ["none", "range", "boundary", "range+boundary", "node"]
META = {"linear": 1, "bitmap": 0.125, "buddy": 0.25, "tlsf": 0.5, "tree": 4}
# made-up work per ns of latency (units of each engine: frames, words, blocks, stretches, cells)
WORK_PER_NS = {"linear": 2.2, "bitmap": 0.1, "buddy": 0.05, "tlsf": 0.03, "tree": 0.08}
# FAST_ONLY work bounds per engine, as mmc_engine_fast_only_work() gives them
FAST_ONLY_WORK_BOUND = {"linear": 8192, "bitmap": 4096, "buddy": 8192, "tlsf": 1024, "tree": 8192}


def row(**kw):
    """One CSV row with every column, defaults for a plain mmcontig case."""
    r = {c: "" for c in COLUMNS}
    r.update(peer="mmcontig", simulated=0, page_bytes=2 * MiB, constraint="none", state="aged",
             lowest=0, highest=NONE_HIGHEST, boundary=0, node="any", fill_pct=0, flags=0,
             budget_stopped=0, trades=0, frames_moved=0, frames_dropped=0, hugepages_added=0,
             compactions=0, grow_ns=0, violations=0)
    r.update(kw)
    return r


def write_run(out_dir, host, stamp, suites, context):
    """Write suites {name: [row dict]} and context to out_dir/host/stamp; return the path."""
    path = os.path.join(out_dir, host, stamp)
    os.makedirs(path, exist_ok=True)
    for name, rows in suites.items():
        cols = {"frag": FRAG_COLUMNS, "frag_kernel": FRAG_KERNEL_COLUMNS, "scale": SCALE_COLUMNS}.get(name, COLUMNS)
        with open(os.path.join(path, f"{name}.csv"), "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(cols)
            for r in rows:
                r["run_id"] = r.get("run_id") or f"{host}-{stamp}"
                r["host"] = r.get("host") or host
                if name not in ("frag", "frag_kernel", "scale"):
                    r["suite"] = r.get("suite") or name
                w.writerow([_text(r.get(c, "")) for c in cols])
    with open(os.path.join(path, "context.json"), "w") as f:
        json.dump(context, f, indent=2)
        f.write("\n")
    return path


def _text(v):
    if isinstance(v, float):
        return f"{v:.6g}" if abs(v) < 1e6 else str(int(round(v)))
    return str(v)


def context(host, stamp, seed, pool_bytes, cores=2):
    bi = ("Node 0, zone      DMA      0      0      0      0      0      0      0      0      1      1      2\n"
          "Node 0, zone    DMA32    612    402    288    160     97     51     30     18     11      9    380\n"
          "Node 0, zone   Normal  {a}  {b}  1130   877   540   301   170    98    61    40   {c}\n")
    return {
        "fixture": True,
        "note": "SYNTHETIC fixture written by tests/fixtures_bench.py: not a measurement",
        "host": host,
        "kernel": "Linux 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01) x86_64",
        "cpu": {"model": "Fixture CPU @ 2.40GHz", "cores": cores},
        "git_commit": "0123456789abcdef0123456789abcdef01234567",
        "topology": {"nodes": [{"node": 0, "cpus": list(range(cores)), "memory_bytes": 24 * GiB,
                                "hugepages": {"2048kB": 0, "1048576kB": 0}}],
                     "distances": [[10]]},
        "hugepages": {"hugepages-2048kB": {"nr_hugepages": 0, "free_hugepages": 0,
                                           "nr_overcommit_hugepages": 0, "resv_hugepages": 0,
                                           "surplus_hugepages": 0},
                      "hugepages-1048576kB": {"nr_hugepages": 0, "free_hugepages": 0,
                                              "nr_overcommit_hugepages": 0, "resv_hugepages": 0,
                                              "surplus_hugepages": 0}},
        "buddyinfo_before": bi.format(a=4012, b=2230, c=4870),
        "buddyinfo_after": bi.format(a=9120, b=5311, c=4310),
        "buddyinfo_frag": {"before": buddyinfo_frag(bi.format(a=4012, b=2230, c=4870)),
                           "after": buddyinfo_frag(bi.format(a=9120, b=5311, c=4310))},
        "seeds": {"fill": seed, "requests": seed + 1},
        "engines": ENGINES,
        "engine_work_units": {"linear": "frames and runs examined",
                              "bitmap": "runs and 64-bit words examined",
                              "buddy": "free blocks and bitmap words examined",
                              "tlsf": "free stretches examined",
                              "tree": "tree cells visited (a leaf is a cell)"},
        "fast_only_work_bound": FAST_ONLY_WORK_BOUND,
        "noise": {"affinity_cpus": [1], "online_cpus": cores, "pinned": True,
                  "smt": {"active": "0", "control": "off"},
                  "cpufreq": {"available": True, "driver": "acpi-cpufreq",
                              "governors": {"performance": [1]}, "boost": "0",
                              "intel_pstate_no_turbo": None},
                  "frequency_khz": {"source": "scaling_cur_freq", "samples": 120,
                                    "start_min": 2400000, "start_max": 2400000,
                                    "end_min": 2400000, "end_max": 2400000,
                                    "min": 2400000, "max": 2400000},
                  "steal": {"source": "/proc/stat", "steal_ticks": 3, "total_ticks": 48000,
                            "steal_pct": 0.006, "affinity_steal_ticks": 1,
                            "affinity_total_ticks": 24000, "affinity_steal_pct": 0.004},
                  "timer": {"pair_p50_ns": 30, "pair_p99_ns": 32, "pair_max_ns": 2900,
                            "resolution_ns": 1}},
        "preset": "quick",
        "command_line": f"mmcontig bench --preset quick --seed {seed} --pool {pool_bytes >> 20}M",
        "mmcontig_version": "0.0.0-fixture",
        "start_utc": stamp, "end_utc": stamp,
    }


class Model:
    """The made-up latency model (ns)."""

    def __init__(self, seed):
        self.seed = seed
        self.rng = random.Random(seed)

    def noise(self, sigma=0.08):
        return math.exp(self.rng.gauss(0, sigma))

    def largest_free(self, pool, fill):
        share = {0: 1.0, 50: 0.02, 70: 0.004, 90: 0.0006}.get(fill, max(1e-4, 1 - fill / 100))
        return max(2 * MiB, pool * share)

    def success(self, pool, fill, req, constraint):
        if req > pool:
            return 0.0
        largest = self.largest_free(pool, fill)
        if constraint in ("range", "range+boundary"):
            largest = min(largest, 4 * GiB * (1 - fill / 100) + 2 * MiB)
        x = math.log2(req / largest)
        return 1 / (1 + math.exp(2.5 * x))

    def p50(self, engine, pool, fill, req, constraint, frame_bytes=4 * KiB):
        frames = pool / frame_bytes
        scan = {0: 0.0005, 50: 0.04, 70: 0.15, 90: 0.5}.get(fill, fill / 200)
        scan = min(1.0, scan * (1 + math.log2(max(1, req / (2 * MiB))) / 4))
        cons = {"none": 1, "range": 1.4, "boundary": 1.8, "range+boundary": 2.3, "node": 1.2}[constraint]
        small = 0.8 if req < 2 * MiB else 1.0
        if engine == "linear":
            t = 180 + 0.45 * frames * scan * cons
        elif engine == "bitmap":
            t = 140 + 0.018 * frames * scan * cons
        elif engine == "buddy":
            t = 160 + 22 * math.log2(frames) * (1 + fill / 100) * (cons ** 1.5)
        elif engine == "tlsf":
            t = 110 + 35 * (1 + fill / 150) * cons ** 2.2
        else:  # tree
            t = 230 + 26 * math.log2(frames) * (1 + fill / 200) * cons
        return t * small * self.noise()

    def tail(self, p50):
        p90 = p50 * (1.15 + 0.35 * self.rng.random())
        p99 = p90 * (1.6 + 1.4 * self.rng.random())
        p999 = p99 * (1.3 + 1.2 * self.rng.random())
        mx = max(p999 * (1.5 + 6 * self.rng.random()), 18000 * self.noise(0.4))
        mean = p50 * 1.1 + (p99 - p50) * 0.03
        return dict(p50_ns=round(p50), p90_ns=round(p90), p99_ns=round(p99),
                    p999_ns=round(p999), max_ns=round(mx), mean_ns=round(mean))

    @staticmethod
    def calls_for(p50):
        return int(min(20000, max(200, 2e7 / p50)))


def constraint_fields(constraint, req):
    f = {}
    if "range" in constraint:
        f.update(lowest=0, highest=4 * GiB - 1)
    if "boundary" in constraint:
        f.update(boundary=max(4 * MiB, 1 << (max(req, 1) - 1).bit_length() + 1))
    if constraint == "node":
        f.update(node=0)
    return f


def case_row(m, suite, engine, pool, sim, req, constraint, fill, seed, flags=0, oracle=False):
    s = m.success(pool, fill, req, constraint)
    trades = 0
    if not flags and fill >= 70 and 0.05 < s < 0.95:
        trades = int(200 * (1 - s))
        s = min(1.0, s + 0.15)
    p50 = m.p50(engine, pool, fill, req, constraint)
    calls = m.calls_for(p50)
    succ = int(round(calls * s))
    fn = ""
    if oracle:
        fn_share = 0.0
        if flags and engine == "buddy" and fill >= 50:
            fn_share = 0.04 + 0.25 * (fill - 50) / 40
        elif flags and engine == "tlsf" and fill >= 70 and constraint != "none":
            fn_share = 0.02 + 0.1 * (fill - 70) / 20
        lost = int(round(succ * fn_share))
        succ -= lost
        fn = lost
        if flags:
            p50 *= 0.7
    r = row(suite=suite, engine=engine, pool_bytes=pool, simulated=sim, request_bytes=req,
            constraint=constraint, fill_pct=fill, flags=flags, calls=calls, successes=succ,
            false_negatives=fn, trades=0 if flags else trades,
            frames_moved=0 if flags else trades * 37, frames_dropped=0 if flags else trades * 21,
            seed=seed,
            metadata_bytes_per_frame=META[engine], **constraint_fields(constraint, req))
    if succ:
        r.update(m.tail(p50))
    work = max(1, round(p50 * WORK_PER_NS[engine]))
    if flags:
        work = min(work, FAST_ONLY_WORK_BOUND[engine])
    bound = FAST_ONLY_WORK_BOUND[engine]
    r.update(work_p50=work, work_p99=min(work * 3, bound) if flags else work * 3,
             work_max=min(work * 8, bound) if flags else work * 8)
    if succ < calls:
        if engine == "linear":
            fail = 180 + 0.45 * pool / (4 * KiB) * (0.3 if flags else 1.0)
        elif engine == "bitmap":
            fail = 140 + 0.018 * pool / (4 * KiB)
        else:
            fail = p50 * (0.6 if flags else 1.8)
        fail *= m.noise()
        r.update(fail_p50_ns=round(fail), fail_p99_ns=round(fail * 1.9),
                 fail_max_ns=round(max(fail * 4, 20000)))
    return r


def peers_rows(m, pool, seed, engines):
    rows = []
    for req in [4 * KiB, 64 * KiB, 1 * MiB, 2 * MiB, 8 * MiB, 64 * MiB, 1 * GiB]:
        for constraint in ["none", "boundary"]:
            for e in engines:
                rows.append(case_row(m, "peers", e, pool, 0, req, constraint, 0, seed))
            # DPDK: fast while a request fits one hugepage, slow and failing above it
            # (descending layout), bound applied to virtual addresses.
            calls = 2000 if req <= 2 * MiB else 60
            if req <= 2 * MiB:
                p50, s, viol = 120 * m.noise(0.1), 1.0, 0
            elif req <= 8 * MiB:
                p50, s, viol = 150e6 * m.noise(0.03), 0.5, 0
            elif req <= 64 * MiB:
                p50, s, viol = 310e6 * m.noise(0.05), 0.1, 0
            else:
                p50, s, viol = None, 0.0, 0
            succ = int(calls * s)
            if constraint == "boundary" and req > 2 * MiB and succ:
                viol = max(1, int(succ * 0.3))
            r = row(suite="peers", engine="", peer="dpdk", state="", pool_bytes=pool, request_bytes=req,
                    constraint=constraint, calls=calls, successes=succ, violations=viol,
                    seed=seed, **constraint_fields(constraint, req))
            if succ:
                r.update(m.tail(p50))
            if succ < calls:
                r.update(fail_p50_ns=round(400e6), fail_p99_ns=round(520e6),
                         fail_max_ns=round(600e6))
            rows.append(r)
        if req == 2 * MiB:
            r = row(suite="peers", engine="", peer="kernel-hugetlb-2M", state="", pool_bytes=pool,
                    request_bytes=req, calls=500, successes=500, seed=seed)
            r.update(m.tail(48000 * m.noise(0.1)))
            rows.append(r)
        if req == 1 * GiB:
            r = row(suite="peers", engine="", peer="kernel-hugetlb-1G", state="", pool_bytes=pool,
                    page_bytes=GiB, request_bytes=req, calls=10, successes=4, seed=seed,
                    fail_p50_ns=900e6, fail_p99_ns=1.4e9, fail_max_ns=1.4e9)
            r.update(m.tail(240e6 * m.noise(0.1)))
            rows.append(r)
    return rows


def buddyinfo_frag(text):
    """context.json buddyinfo_frag as bench/context.c writes it (the benchmark computes it with
    the library's mmc_frag_from_blocks; the fixture, being a fixture, with the same formula)."""
    out = []
    for line in text.splitlines():
        parts = line.replace(",", " ").split()
        if len(parts) < 5 or parts[0] != "Node":
            continue
        counts = [int(x) for x in parts[4:]]
        free = sum(c << k for k, c in enumerate(counts))
        u = {j: 1.0 if not free else (free - sum(c << k for k, c in enumerate(counts) if k >= j)) / free
             for j in (9, 11)}
        out.append(dict(node=int(parts[1]), zone=parts[3], free_frames=free, u9=round(u[9], 6),
                        u11=round(u[11], 6), fi9=-1.0, fi11=-1.0 if any(counts[11:]) else 0.5))
    return out


def frag_kernel_rows(m):
    """Rows shaped as bench/frag_kernel.c writes them: per size FAST_ONLY, the ordinary path,
    DPDK and DPDK --legacy-mem (the three last in the suite's rotating order)."""
    rows = []
    peers = ["mmcontig", "dpdk", "dpdk-legacy"]
    for i, size in enumerate([2 * MiB, 8 * MiB, 64 * MiB, GiB]):
        pages = size // (2 * MiB)
        base = dict(held_bytes=2 * GiB, request_bytes=size, hugepages_added="", grow_ns="", raise_hugepages="",
                    raise_ns="", eal_init_ns="", compact_stall=0, compact_success=0, compact_fail=0,
                    compact_migrate_scanned=0, pagemap_ok="", why="", seed=m.seed)
        rows.append(dict(base, peer="mmcontig", fast_only=1, success=0, latency_ns=2000 + int(500 * m.rng.random()),
                         hugepages_added=0, grow_ns=0, raise_hugepages=0,
                         why="FAST_ONLY: no free run in the pool satisfies the request"))
        for k in range(3):
            peer = peers[(k + i) % 3]
            ok = size <= 8 * MiB or (peer == "mmcontig" and size == GiB)
            stall = int(40 * m.rng.random()) if size >= 64 * MiB else 0
            r = dict(base, peer=peer, fast_only=0, success=int(ok), pagemap_ok=1 if ok else "",
                     compact_stall=stall, compact_success=stall // 2, compact_fail=stall - stall // 2,
                     compact_migrate_scanned=stall * 5000)
            if peer == "mmcontig":
                grow = int(pages * 2.5e6 * (1 + 0.2 * m.rng.random()))
                r.update(latency_ns=grow + 40000, hugepages_added=pages, grow_ns=grow, raise_hugepages=pages)
            else:
                legacy = peer == "dpdk-legacy"
                r.update(latency_ns=6000 if legacy else int(pages * 1.1e6), raise_hugepages=pages + 3,
                         raise_ns=int((pages + 3) * 3000 * (1 + stall)), hugepages_added=0 if legacy or not ok else pages + 1,
                         eal_init_ns=int((pages * 6e6 if legacy else 0) + 1.6e8))
            if not ok:
                r["why"] = ("rte_memzone_reserve_bounded: Cannot allocate memory" if peer != "mmcontig"
                            else "the pool's cap is reached")
            rows.append(r)
    return rows


def frag_rows(m, engines):
    """Rows shaped as bench/suite_frag.c writes them: per engine and policy a series on a log
    scale of operations, one row per sample and probe (2, 8, 64 MiB, with and without FAST_ONLY)."""
    rows = []
    grid = [0] + [round(10 ** (k / 4)) for k in range(8, 25)]
    for e in engines:
        for policy in ["plain", "clustered"]:
            moved = dropped = 0
            hist = []
            for ops in grid:
                age = min(1.0, math.log10(ops + 1) / 4)
                k = 1.0 if policy == "plain" else 0.8
                u = {j: min(1.0, (0.6 + 0.1 * (j - 9)) * age * k + 0.02 * m.rng.random()) for j in (9, 11, 14)}
                u[18] = 1.0
                hist.append((ops, u))
                trades = int(4 * age * m.rng.random())
                moved += 8 * trades
                dropped += 4 * trades
                for probe, j in ((2 * MiB, 9), (8 * MiB, 11), (64 * MiB, 14)):
                    last = [h[j] for o, h in hist if o > ops // 10]
                    prev = [h[j] for o, h in hist if ops // 100 < o <= ops // 10]
                    change = ("" if ops // 100 < 100 or not prev else
                              round(sum(last) / len(last) - sum(prev) / len(prev), 4))
                    for fast in (1, 0):
                        succ = 3 if u[j] < 0.9 else (0 if fast else 2)
                        tr = 0 if fast or succ == 0 else int(m.rng.random() < 0.3)
                        rows.append(dict(mode="pool", pool_bytes=GiB, page_bytes=GiB, t_s=round(ops * 3e-6, 3),
                                         ops=ops, engine=e, policy=policy,
                                         u9=round(u[9], 4), u11=round(u[11], 4), u14=round(u[14], 4), u18=1.0,
                                         fi9=-1, fi11=-1 if u[11] < 1 else 0.9, fi14=0.95,
                                         largest_free_bytes=int(GiB * (1 - age) + 2 * MiB), probe_bytes=probe,
                                         probe_fast_only=fast, probe_order=j, probe_u=round(u[j], 4),
                                         probe_u_decade_change=change, probe_calls=3, probe_successes=succ,
                                         probe_success_rate=round(succ / 3, 3),
                                         probe_p50_ns=round(m.p50(e, 16 * GiB, int(age * 90), probe, "none")) if succ else "",
                                         probe_trades=tr, probe_frames_moved=8 * tr, probe_frames_dropped=4 * tr,
                                         probe_hugepages_added=0, probe_grow_ns=0,
                                         trades=trades, frames_moved=moved, frames_dropped=dropped, hugepages=1,
                                         utilisation=round(0.8 * age, 4), seed=m.seed))
    return rows


def grow_rows(m, seed, engines, suite, flags):
    """Rows shaped as the grow cases (results/README.md "Growth"): a full 64 MiB real pool per
    call; the ordinary path grows it (made-up: ~60 us per 2 MiB hugepage), FAST_ONLY fails."""
    rows = []
    for e in engines:
        for req in (2 * MiB, 8 * MiB, 64 * MiB, 256 * MiB):
            r = row(suite=suite, engine=e, state="grow", pool_bytes=64 * MiB, request_bytes=req,
                    fill_pct=100, largest_free_bytes=0, flags=flags, calls=5, seed=seed,
                    false_negatives=0, metadata_bytes_per_frame=META[e], work_p50=0, work_p99=0,
                    work_max=0)
            if flags:
                r.update(successes=0, fail_p50_ns=round(300 * m.noise()), fail_p99_ns=600,
                         fail_max_ns=900)
            else:
                hp = req // (2 * MiB)
                t = 60000 * hp * m.noise()
                r.update(successes=5, hugepages_added=5 * hp, grow_ns=round(5 * t * 0.9),
                         compactions=0)
                r.update(m.tail(t))
            rows.append(r)
    return rows


def scenario_rows(m, pool, seed, engines, suite, flags):
    """Rows shaped as the scenarios of bench/suite_search.c: needle, cut, near-largest on the
    real pool, dma32 on its simulated layout (results/README.md "Scenarios")."""
    rows = []
    largest = 1595 * 4 * KiB
    cases = [("needle", 64 * KiB, "none", 6, {}), ("needle", 1536 * KiB, "range", 0, {}),
             ("cut", 12 * KiB, "boundary", 75, dict(boundary=64 * KiB)),
             ("cut", 64 * KiB, "boundary", 53, dict(boundary=256 * KiB)),
             ("near-largest", largest * 9 // 10 // 4096 * 4096, "none", 70, {}),
             ("near-largest", largest, "none", 70, {}),
             ("aged", 64 * KiB, "dma32", 50, dict(highest=0xFFFFFFFF, simulated=1, pool_bytes=8 * GiB)),
             ("aged", 12 * MiB, "dma32", 50, dict(highest=0xFFFFFFFF, simulated=1, pool_bytes=8 * GiB))]
    for e in engines:
        for state, req, cons, fill, extra in cases:
            r = case_row(m, suite, e, pool, 0, req, "none", fill, seed, flags=flags, oracle=True)
            r.update(state=state, constraint=cons, largest_free_bytes=largest, **extra)
            if state == "needle" and e == "linear":  # a top-down scan meets the needle last
                work = 129421 if not flags else FAST_ONLY_WORK_BOUND[e] + 1
                r.update(work_p50=work, work_p99=work, work_max=work)
                if flags:
                    r.update(successes=0, false_negatives=r["calls"], p50_ns="", p90_ns="",
                             p99_ns="", p999_ns="", max_ns="", mean_ns="", fail_p50_ns=63000,
                             fail_p99_ns=70000, fail_max_ns=90000)
            if req > 9 * MiB:  # larger than the largest stretch of the aged state: all fail
                r.update(successes=0, p50_ns="", p90_ns="", p99_ns="", p999_ns="", max_ns="",
                         mean_ns="", fail_p50_ns=2000, fail_p99_ns=4000, fail_max_ns=9000,
                         false_negatives=0)
            rows.append(r)
    return rows


def add_reps(rows, reps, rng, sigma=0.04):
    """The repetition columns of results/README.md "Repetitions and intervals": each
    repetition's p50 and p99 drawn around the row's own (log-normal, sigma), and the 95 %
    interval as the benchmark makes it (hull of a made-up interval over the calls and the
    interval over the repetitions: Student's t on their logarithms from 3 repetitions, the two
    values' hull with 2)."""
    t975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
            9: 2.262, 10: 2.228, 11: 2.201}
    for r in rows:
        r["reps"] = reps
        for k in ("p50", "p99"):
            v = r.get(f"{k}_ns")
            if v in ("", None):
                r[f"rep_{k}_ns"] = ";".join("" for _ in range(reps))
                r[f"{k}_ci_lo_ns"] = r[f"{k}_ci_hi_ns"] = ""
                continue
            vals = [max(1, round(v * math.exp(rng.gauss(0, sigma * (2 if k == "p99" else 1)))))
                    for _ in range(reps)]
            r[f"rep_{k}_ns"] = ";".join(str(x) for x in vals)
            calls_half = v * (0.01 if k == "p50" else 0.06)
            lo, hi = v - calls_half, v + calls_half
            if reps == 2:
                lo, hi = min(lo, *vals), max(hi, *vals)
            elif reps >= 3:
                logs = [math.log(x) for x in vals]
                mean = sum(logs) / reps
                sd = math.sqrt(sum((x - mean) ** 2 for x in logs) / (reps - 1))
                half = t975.get(reps - 1, 1.96 + 2.4 / (reps - 1)) * sd / math.sqrt(reps)
                lo, hi = min(lo, math.exp(mean - half)), max(hi, math.exp(mean + half))
            r[f"{k}_ci_lo_ns"] = max(0, math.floor(min(lo, v)))
            r[f"{k}_ci_hi_ns"] = math.ceil(max(hi, v))


def scale_rows(m, engines, real_pool, seed):
    """Rows shaped as bench/suite_scale.c writes them: per pool, mix, placement and engine,
    threads 1, 2, 4; the engines (all node-parallel) scale on their own nodes in the simulated
    pool, not when all threads share node 0 or the real pool's one node."""
    rows = []
    for pool, pool_bytes, mixes in (("sim", 8 * GiB, ("small", "medium")),
                                    ("real", real_pool, ("small", "medium", "mdl"))):
        for e in engines:
            for mix in mixes:
                for placement in (("own", "one") if pool == "sim" else ("own",)):
                    base = {"small": 2e6, "medium": 8e5, "mdl": 1e5}[mix] * (0.7 + 0.6 * m.rng.random())
                    parallel = placement == "own" and pool == "sim"
                    for t in (1, 2, 4):
                        eff = (min(t, 2) * 0.9 ** (t - 1)) if parallel else 1 / (1 + 0.3 * (t - 1))
                        rate = base * (1 if t == 1 else eff)
                        p99 = round(1e9 / base * (3 + t * (1 if parallel else 4)))
                        rows.append(dict(pool=pool, pool_bytes=pool_bytes, nodes=2 if pool == "sim" else 1,
                                         engine=e, mix=mix, placement=placement, threads=t,
                                         cpus=" ".join(str(i % 2) for i in range(t)), duration_s=0.25,
                                         pairs=int(rate * 0.25), failed=0, pairs_per_s=round(rate),
                                         pairs_per_s_per_thread=round(rate / t),
                                         speedup=round(rate / base, 3), alloc_p50_ns=round(p99 / 3),
                                         alloc_p99_ns=p99, alloc_p999_ns=p99 * 2,
                                         free_p50_ns=round(p99 / 4), free_p99_ns=round(p99 / 2),
                                         reps=3, rep_pairs_per_s=";".join(str(round(rate * f)) for f in (0.97, 1, 1.02)),
                                         seed=seed))
    return rows


def make_run(out_dir, host="fixture-a", seed=42, stamp="20240501T120000Z", frag=False,
             small=False, real_pool=2 * GiB, speed=1.0, reps=3, rep_seed=None, slower=None,
             context_extra=None, scale=False):
    """A whole synthetic run; small=True makes a quicker one (fewer sizes and pools). reps:
    repetitions per case (the interval columns); rep_seed: the seed of the repetitions' noise
    (default: seed), so that two runs of one seed differ only by it; slower: {engine: factor}
    multiplies that engine's search and fastonly latencies (a planted regression);
    context_extra: keys merged into context.json."""
    m = Model(seed)
    engines = ENGINES
    if small:
        sizes = [4 * KiB, 2 * MiB, 64 * MiB]
        sims = [1 * GiB, 16 * GiB, 1 * TiB]
        constraints = ["none", "boundary"]
    else:
        sizes = [1 << k for k in range(12, 27)] + [1 * GiB]
        sims = [1 * GiB, 4 * GiB, 16 * GiB, 64 * GiB, 256 * GiB, 1 * TiB]
        constraints = CONSTRAINTS
    search, fast = [], []
    for e in engines:
        for fill in FILLS:
            for c in constraints:
                for req in sizes:
                    if req > real_pool:
                        continue
                    search.append(case_row(m, "search", e, real_pool, 0, req, c, fill, seed))
            for pool in sims:
                for req in [4 * KiB, 2 * MiB, 64 * MiB, 1 * GiB]:
                    if req * 4 <= pool:
                        search.append(case_row(m, "search", e, pool, 1, req, "none", fill, seed))
            for c in constraints[:3]:
                for req in sizes:
                    if req > real_pool:
                        continue
                    for flags in (1, 0):
                        fast.append(case_row(m, "fastonly", e, real_pool, 0, req, c, fill, seed,
                                             flags=flags, oracle=True))
    for r in search + fast:
        for k in ("p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns", "mean_ns"):
            if r.get(k) != "":
                r[k] = round(r[k] * speed)
    search += scenario_rows(m, real_pool, seed, engines, "search", 0)
    fast += scenario_rows(m, real_pool, seed, engines, "fastonly", 1)
    search += grow_rows(m, seed, engines, "search", 0)
    fast += grow_rows(m, seed, engines, "fastonly", 1)
    for r in search + fast:
        f = (slower or {}).get(r.get("engine"))
        if f:
            for k in ("p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns", "mean_ns"):
                if r.get(k) != "":
                    r[k] = round(r[k] * f)
    suites = {"search": search, "fastonly": fast, "peers": peers_rows(m, real_pool, seed, engines)}
    rng = random.Random(seed if rep_seed is None else rep_seed)
    for name in ("search", "fastonly", "peers"):
        add_reps(suites[name], reps, rng)
    if frag:
        suites["frag"] = frag_rows(m, engines)
        suites["frag_kernel"] = frag_kernel_rows(m)
    if scale:
        suites["scale"] = scale_rows(m, engines, real_pool, seed)
    ctx = context(host, stamp, seed, real_pool)
    ctx.update(context_extra or {})
    return write_run(out_dir, host, stamp, suites, ctx)


def main():
    ap = argparse.ArgumentParser(description="Write one SYNTHETIC benchmark run directory "
                                 "(fixture for the scripts' tests; not a measurement).")
    ap.add_argument("out_dir", help="parent directory; the run goes to OUT_DIR/<host>/<UTC time>")
    ap.add_argument("--host", default="fixture-a")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--stamp", default="20240501T120000Z", help="the run's UTC time stamp")
    ap.add_argument("--frag", action="store_true", help="write frag.csv and frag_kernel.csv too")
    ap.add_argument("--scale", action="store_true", help="write scale.csv too")
    ap.add_argument("--small", action="store_true", help="fewer sizes, pools and constraints")
    ap.add_argument("--speed", type=float, default=1.0, help="multiply search/fastonly latency")
    ap.add_argument("--reps", type=int, default=3, help="repetitions per case (default 3)")
    ap.add_argument("--rep-seed", type=int, help="seed of the repetitions' noise (default --seed)")
    ap.add_argument("--slower", action="append", default=[], metavar="ENGINE:FACTOR",
                    help="multiply one engine's search/fastonly latency (a planted regression)")
    a = ap.parse_args()
    slower = {e: float(f) for e, f in (x.split(":", 1) for x in a.slower)}
    print(make_run(a.out_dir, a.host, a.seed, a.stamp, a.frag, a.small, speed=a.speed,
                   reps=a.reps, rep_seed=a.rep_seed, slower=slower, scale=a.scale))


if __name__ == "__main__":
    main()
