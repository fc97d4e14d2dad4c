#!/usr/bin/python3
# tests/test_install.py: the installed tool draws its own charts (issue 14, item 4).
#
# Installs the build into a staging directory (meson install --destdir), then, with the
# installed copy only (its mmcontig, its libmmcontig, its scripts in PREFIX/DATADIR/mmcontig/
# scripts; no PYTHONPATH, the working directory outside the source tree), draws a fixture run's
# report and charts and compares two fixture runs. The build tree's mmcontig runs the source
# tree's scripts; an installed one (not under the build root) only ever its own, so this checks
# what a server without the source tree gets. The public headers (testing.h and the generated
# version.h among them) and the library under its soversion are checked in the same staging.
#
#   tests/test_install.py BUILD_ROOT SOURCE_ROOT PREFIX BINDIR LIBDIR DATADIR

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from tap import Tap


def check_headers_and_library(check, build, root, libdir):
    """The public headers (the driver's, the testing one, the generated version.h with the
    project's version) and the library under its soversion, libmmcontig.so.N -> .so.N.x.y."""
    inc = os.path.join(root, "include", "mmcontig")
    names = ("mmcontig.h", "wdm.h", "engine.h", "testing.h", "version.h")
    missing = [h for h in names if not os.path.exists(os.path.join(inc, h))]
    check(not missing, f"headers installed in {inc}: {', '.join(names)}", f"missing: {missing}")
    p = subprocess.run(["meson", "introspect", build, "--projectinfo"], capture_output=True,
                       text=True, timeout=60)
    version = json.loads(p.stdout)["version"] if p.returncode == 0 else "?"
    text = open(os.path.join(inc, "version.h")).read() if not missing else ""
    found = [re.search(rf"#define MMC_VERSION_{k} (\d+)", text) for k in ("MAJOR", "MINOR", "PATCH")]
    numbers = ".".join(m.group(1) if m else "?" for m in found)
    check(numbers == version, f"the installed version.h says {numbers}, the project {version}")
    lib = os.path.join(root, libdir)
    so = os.path.join(lib, "libmmcontig.so")
    chain = []
    while os.path.islink(so) and len(chain) < 4:
        so = os.path.join(lib, os.readlink(so))
        chain.append(os.path.basename(so))
    check(len(chain) == 2 and re.fullmatch(r"libmmcontig\.so\.\d+", chain[0])
          and re.fullmatch(r"libmmcontig\.so\.\d+\.\d+\.\d+", chain[1])
          and os.path.isfile(so),
          f"the library is installed under its soversion: libmmcontig.so -> {' -> '.join(chain)}"
          f" (mmc_abi_version, not the project version {version})")


def main():
    build, source, prefix, bindir, libdir, datadir = sys.argv[1:7]
    sys.path.insert(0, os.path.join(source, "tests"))
    import fixtures_bench as fx

    tmp = tempfile.mkdtemp(prefix="mmc-install-")
    tap = Tap(tail=30)
    check = tap.check

    try:
        stage = os.path.join(tmp, "stage")
        p = subprocess.run(["meson", "install", "-C", build, "--destdir", stage, "--no-rebuild",
                            "--quiet"], capture_output=True, text=True, timeout=300)
        check(p.returncode == 0, "meson install --destdir into a staging directory",
              p.stdout + p.stderr)
        root = stage + prefix
        exe = os.path.join(root, bindir, "mmcontig")
        scripts = os.path.join(root, datadir, "mmcontig", "scripts")
        check(os.access(exe, os.X_OK), f"the program is installed ({exe})")
        check_headers_and_library(check, build, root, libdir)
        for f in ("plot", "report", "merge", "compare", "mmcplot/charts.py", "mmcplot/compare.py",
                  "mmcplot/need.py"):
            path = os.path.join(scripts, f)
            check(os.path.exists(path) and (os.access(path, os.X_OK) or f.endswith(".py")),
                  f"scripts installed: {f}")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        env["LD_LIBRARY_PATH"] = os.path.join(root, libdir)
        work = os.path.join(tmp, "work")
        os.makedirs(work)
        run_a = fx.make_run(os.path.join(tmp, "runs"), "inst-a", seed=3, small=True, reps=9,
                            rep_seed=1)
        run_b = fx.make_run(os.path.join(tmp, "runs"), "inst-b", seed=3, small=True, reps=9,
                            rep_seed=2, slower={"buddy": 1.5})

        def mm(*args):
            return subprocess.run([exe, *args], capture_output=True, text=True, cwd=work, env=env,
                                  timeout=600)

        html = os.path.join(tmp, "report.html")
        p = mm("report", run_a, "--out", html)
        page = open(html, encoding="utf-8").read() if os.path.exists(html) else ""
        check(p.returncode == 0 and page.count("data:image/png;base64,") >= 5
              and "Key ratios" in page,
              "the installed `mmcontig report` draws a report with its charts embedded",
              p.stdout + p.stderr)
        p = mm("plot", run_a, "--out", os.path.join(tmp, "charts"), "--formats", "png")
        pngs = [f for f in os.listdir(os.path.join(tmp, "charts"))] if os.path.isdir(
            os.path.join(tmp, "charts")) else []
        check(p.returncode == 0 and "latency_vs_fill.png" in pngs,
              f"the installed `mmcontig plot` draws the charts ({len(pngs)} files)",
              p.stdout + p.stderr)
        p = mm("compare", run_a, run_b, "--out", os.path.join(tmp, "cmp"))
        check(p.returncode == 1 and "REGRESSION" in p.stdout
              and os.path.exists(os.path.join(tmp, "cmp", "compare_ratios.png")),
              "the installed `mmcontig compare` finds the planted regression (exit 1) and draws "
              "its chart", p.stdout[-3000:] + p.stderr)
        p = mm("merge", run_a, run_b, "--out", os.path.join(tmp, "merged"), "--formats", "png")
        check(p.returncode == 0 and os.path.exists(os.path.join(tmp, "merged", "peers.png")),
              "the installed `mmcontig merge` draws two runs together", p.stdout + p.stderr)
        # without the scripts beside it, the installed program says what is wrong and what to do
        shutil.rmtree(scripts)
        p = mm("report", run_a)
        check(p.returncode == 2 and "not installed beside this mmcontig" in p.stderr
              and "meson install" in p.stderr,
              "without its scripts the installed program names the problem and the remedy",
              p.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
