#!/usr/bin/python3
# tests/test_fleet.py: README's "Many hosts" recipe, its collect-and-draw part (issue 14, item 5).
#
# Makes two real runs on this machine under two host names (`mmcontig bench` on simulated pools
# only, no hugepages, each inside its own UTS namespace: unshare -u, hostname lab-a / lab-b),
# lays them out as `clush --rcopy results --dest collected/` leaves them (collected/results.HOST/
# HOST/<UTC time>/), then runs the README's draw commands on them: `mmcontig merge` over the
# glob and `mmcontig compare` of the two hosts' runs. Needs root (unshare -u); skipped (77)
# without it.
#
#   tests/test_fleet.py MMCONTIG

import glob
import os
import shutil
import subprocess
import sys
import tempfile

from tap import Tap


def main():
    exe = os.path.abspath(sys.argv[1])
    if os.geteuid() != 0 or not shutil.which("unshare"):
        print("1..0 # SKIP needs root and unshare(1) to run under two host names")
        return 77
    tmp = tempfile.mkdtemp(prefix="mmc-fleet-")
    tap = Tap(tail=25)
    check = tap.check

    try:
        # on each "server": the same benchmark, into its own results/ (the README's clush -b line)
        for host in ("lab-a", "lab-b"):
            home = os.path.join(tmp, host)
            os.makedirs(home)
            cmd = (f"hostname {host} && '{exe}' bench --suite search,fastonly --algo linear,tree "
                   "--sim-pools 1G,4G,16G --benchmark_filter=sim-[0-9]+G/ --calls 20")
            p = subprocess.run(["unshare", "-u", "sh", "-c", cmd], cwd=home, capture_output=True,
                               text=True, timeout=300)
            runs = glob.glob(os.path.join(home, "results", host, "*"))
            check(p.returncode == 0 and len(runs) == 1,
                  f"{host}: mmcontig bench wrote results/{host}/<UTC time>/", p.stderr[-2000:])
            # what `clush -w lab-a,lab-b --rcopy results --dest collected/` leaves: results.HOST
            shutil.copytree(os.path.join(home, "results"),
                            os.path.join(tmp, "collected", f"results.{host}"))
        os.chdir(tmp)
        dirs = sorted(glob.glob("collected/results.*/*/*"))
        check(len(dirs) == 2, f"collected: {len(dirs)} run directories", dirs)
        p = subprocess.run([exe, "merge", *dirs, "--out", "fleet"], capture_output=True, text=True,
                           timeout=600)
        hosts = set()
        if os.path.exists("fleet/search.csv"):
            with open("fleet/search.csv") as f:
                hosts = {line.split(",")[1] for line in list(f)[1:]}
        check(p.returncode == 0 and os.path.exists("fleet/latency_vs_pool.png")
              and hosts == {"lab-a", "lab-b"},
              f"mmcontig merge draws both hosts together (hosts in the merged CSV: {sorted(hosts)})",
              p.stdout + p.stderr)
        p = subprocess.run([exe, "compare", *dirs, "--out", "fleet/compare"], capture_output=True,
                           text=True, timeout=600)
        check(p.returncode in (0, 1) and "cases in both" in p.stdout
              and os.path.exists("fleet/compare/compare_ratios.png")
              and os.path.exists("fleet/compare/compare.csv"),
              f"mmcontig compare matches the two hosts' cases (exit {p.returncode}: 0 or 1 by "
              "the machine's noise)", p.stdout[-2000:] + p.stderr)
    finally:
        os.chdir("/")
        shutil.rmtree(tmp, ignore_errors=True)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
