#!/usr/bin/python3
# tests/test_report_browser.py: the report as a browser shows it (issue 14, item 6).
#
# Writes a fixture run's report.html, then has Debian's chromium render it headless: the DOM
# after parsing (--dump-dom) holds the sections in a results section's order (method and
# machine, reliability, key ratios with intervals, charts, tables, context) and its tables; a
# screenshot of the whole page shows the embedded charts drawn (each engine's colour of the
# chart palette over many pixels, not a broken-image icon) and the fixture banner. Skipped (77)
# when chromium is not installed.
#
#   tests/test_report_browser.py SOURCE_ROOT

import os
import re
import shutil
import subprocess
import sys
import tempfile

from tap import Tap


def main():
    source = sys.argv[1]
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("1..0 # SKIP chromium is not installed (apt-get install chromium)")
        return 77
    sys.path.insert(0, os.path.join(source, "tests"))
    sys.path.insert(0, os.path.join(source, "scripts"))
    import fixtures_bench as fx
    from mmcplot import style
    import matplotlib.image as mpimg
    import numpy as np

    tmp = tempfile.mkdtemp(prefix="mmc-browser-")
    tap = Tap(tail=20)
    check = tap.check

    try:
        d = fx.make_run(tmp, "browser-host", seed=11, small=True, frag=True, reps=3)
        html = os.path.join(tmp, "report.html")
        p = subprocess.run([os.path.join(source, "scripts", "report"), d, "--out", html],
                           capture_output=True, text=True, timeout=600)
        check(p.returncode == 0, "scripts/report writes the page", p.stderr)
        url = "file://" + html
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                 f"--user-data-dir={os.path.join(tmp, 'profile')}"]
        p = subprocess.run([chromium, *flags, "--dump-dom", url], capture_output=True, text=True,
                           timeout=180)
        dom = p.stdout
        order = [m.group(1) for m in re.finditer(r'<h2 id="([a-z]+)"', dom)]
        check(order[:4] == ["measured", "ratios", "charts", "search"] and order[-1] == "context",
              f"chromium parses the page; its sections in a results section's order ({order})",
              p.stderr[-1500:])
        check(dom.count("<table") >= 8 and 'id="table-best-vs-linear"' in dom
              and "[95 % interval]" in dom,
              f"its tables are there ({dom.count('<table')}), the key ratios with their intervals")
        check(dom.count("<img") >= 8 and 'id="method"' in dom and 'id="machine"' in dom
              and 'id="reliability"' in dom,
              f"what was measured, on what machine, the reliability verdict, {dom.count('<img')} charts")
        shot = os.path.join(tmp, "page.png")
        p = subprocess.run([chromium, *flags, f"--screenshot={shot}", "--window-size=1400,16000",
                            url], capture_output=True, text=True, timeout=240)
        check(os.path.exists(shot), "chromium takes a screenshot of the page", p.stderr[-1500:])
        if os.path.exists(shot):
            img = (mpimg.imread(shot)[:, :, :3] * 255).astype(np.int16)
            drawn = []
            for eng in ("linear", "bitmap", "buddy", "tlsf", "tree"):
                hexc = style.colour(eng).lstrip("#")
                rgb = np.array([int(hexc[i:i + 2], 16) for i in (0, 2, 4)], dtype=np.int16)
                hits = int((np.abs(img - rgb).max(axis=2) < 24).sum())
                drawn.append((eng, hits))
            check(all(h > 2000 for _, h in drawn),
                  "the screenshot shows the charts drawn: every engine's colour over many pixels "
                  + ", ".join(f"{e} {h}" for e, h in drawn))
            red = np.array([0xC0, 0, 0], dtype=np.int16)
            top = img[:200]
            check(int((np.abs(top - red).max(axis=2) < 24).sum()) > 5000,
                  "the fixture's red banner is at the top of the page")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
