#!/usr/bin/python3
# tests/test_scripts.py: tests of scripts/plot, scripts/report and scripts/merge.
#
# Owns the checks that the three scripts, run as a user runs them (their own executables,
# Debian's /usr/bin/python3 with python3-matplotlib), turn SYNTHETIC fixture runs
# (tests/fixtures_bench.py) into valid files: PNG signatures, SVG that parses as XML, an HTML
# report with its tables and embedded images and no external asset; that a ratio matches a
# hand-computed value on a tiny fixture; that missing suites/columns are skipped with a note;
# that bad input exits nonzero with a clear message; and that the scripts' schema is the one
# results/README.md documents. This file itself needs only the standard library.

import base64
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SCRIPTS = os.path.join(ROOT, "scripts")
sys.path.insert(0, HERE)
sys.path.insert(0, SCRIPTS)

import fixtures_bench as fx  # noqa: E402
from mmcplot import schema  # noqa: E402  (schema.py is plain data: no matplotlib needed)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHARTS = ["latency_ecdf", "latency_vs_fill", "latency_vs_pool", "fastonly_decision_vs_fn",
          "fastonly_vs_ordinary",
          "frag_steady", "frag_success_vs_u", "frag_cost", "frag_kernel", "success_heatmap", "peers", "scenarios", "scale_threads"]


def run(script, *args):
    """Run scripts/<script> as an executable; returns CompletedProcess (text)."""
    return subprocess.run([os.path.join(SCRIPTS, script), *map(str, args)], capture_output=True,
                          text=True, timeout=600)


def is_png(path):
    with open(path, "rb") as f:
        return f.read(8) == PNG_SIGNATURE


def is_svg(path):
    root = ET.parse(path).getroot()
    return root.tag.endswith("svg")


class Base(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        probe = subprocess.run(["/usr/bin/python3", "-c", "import matplotlib, numpy"],
                               capture_output=True, text=True)
        if probe.returncode:
            raise RuntimeError("the scripts need Debian's python3-matplotlib: "
                               "apt-get install python3-matplotlib\n" + probe.stderr)
        cls.tmp = tempfile.mkdtemp(prefix="mmc-scripts-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def assertRan(self, p, code=0):
        self.assertEqual(p.returncode, code, f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")


class SchemaTest(unittest.TestCase):
    def test_readme_columns_match(self):
        """results/README.md, scripts/mmcplot/schema.py and the fixture agree on the columns."""
        with open(os.path.join(ROOT, "results", "README.md"), encoding="utf-8") as f:
            text = f.read()
        section = text.split("## Columns", 1)[1].split("\n## ", 1)[0]
        cols = []
        for m in re.finditer(r"^\| *([a-z0-9_, ]+?) *\|", section, re.M):
            cols += [c.strip() for c in m.group(1).split(",") if c.strip() != "column"]
        self.assertEqual(cols, schema.CASE_COLUMNS)
        frag = text.split("## Columns of frag.csv", 1)[1].split("\n## ", 1)[0]
        fcols = [m.group(1) for m in re.finditer(r"^\| *([a-z0-9_]+) *\|", frag, re.M) if m.group(1) != "column"]
        self.assertEqual(fcols, schema.FRAG_COLUMNS)
        scale = text.split("## Columns of scale.csv", 1)[1].split("\n## ", 1)[0]
        scols = [m.group(1) for m in re.finditer(r"^\| *([a-z0-9_]+) *\|", scale, re.M) if m.group(1) != "column"]
        self.assertEqual(scols, schema.SCALE_COLUMNS)
        fk = text.split("## Columns of frag_kernel.csv", 1)[1].split("\n## ", 1)[0]
        fkcols = [m.group(1) for m in re.finditer(r"^\| *([a-z0-9_]+) *\|", fk, re.M) if m.group(1) != "column"]
        self.assertEqual(fkcols, schema.FRAG_KERNEL_COLUMNS)


class PlotTest(Base):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.run_dir = fx.make_run(cls.tmp, "fixture-a", seed=42, frag=True, small=True, scale=True)

    def test_plot_every_chart_png_and_svg(self):
        out = os.path.join(self.tmp, "charts-all")
        p = run("plot", self.run_dir, "--out", out, "--formats", "png,svg")
        self.assertRan(p)
        self.assertNotIn("internal error", p.stderr)
        for name in CHARTS:
            png, svg = (os.path.join(out, f"{name}.{e}") for e in ("png", "svg"))
            self.assertTrue(os.path.exists(png), name)
            self.assertTrue(is_png(png), png)
            self.assertGreater(os.path.getsize(png), 20000, png)
            self.assertTrue(is_svg(svg), svg)

    def test_plot_default_out_is_run_dir_charts(self):
        d = os.path.join(self.tmp, "copy-default")
        shutil.copytree(self.run_dir, d)
        p = run("plot", d, "--formats", "png")
        self.assertRan(p)
        self.assertTrue(is_png(os.path.join(d, "charts", "peers.png")))
        self.assertFalse(os.path.exists(os.path.join(d, "charts", "peers.svg")))

    def test_without_frag_the_chart_is_skipped_with_a_note(self):
        d = os.path.join(self.tmp, "nofrag")
        shutil.copytree(self.run_dir, d)
        os.remove(os.path.join(d, "frag.csv"))
        p = run("plot", d, "--out", os.path.join(d, "c"), "--formats", "png")
        self.assertRan(p)
        self.assertIn("frag.csv is absent", p.stderr)
        self.assertIn(", ".join(schema.FRAG_COLUMNS), p.stderr)  # the expected columns are named
        self.assertFalse(os.path.exists(os.path.join(d, "c", "frag_steady.png")))
        self.assertTrue(is_png(os.path.join(d, "c", "latency_ecdf.png")))

    def test_missing_column_skips_only_the_charts_that_need_it(self):
        d = os.path.join(self.tmp, "nop999")
        shutil.copytree(self.run_dir, d)
        path = os.path.join(d, "search.csv")
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
        k = rows[0].index("p999_ns")
        with open(path, "w", newline="") as f:
            csv.writer(f, lineterminator="\n").writerows([r[:k] + r[k + 1:] for r in rows])
        p = run("plot", d, "--out", os.path.join(d, "c"), "--formats", "png")
        self.assertRan(p)
        self.assertRegex(p.stderr, r"latency_ecdf: skipped: search.csv lacks column\(s\) p999_ns")
        self.assertFalse(os.path.exists(os.path.join(d, "c", "latency_ecdf.png")))
        self.assertTrue(is_png(os.path.join(d, "c", "latency_vs_fill.png")))

    def test_interrupted_last_row_is_dropped_with_a_note(self):
        d = os.path.join(self.tmp, "cut")
        shutil.copytree(self.run_dir, d)
        with open(os.path.join(d, "peers.csv"), "a") as f:
            f.write("fixture-a-x,fixture-a,peers,tlsf,mmcontig,2147")  # killed mid-row
        p = run("plot", d, "--out", os.path.join(d, "c"), "--formats", "png")
        self.assertRan(p)
        self.assertIn("incomplete", p.stderr)
        self.assertTrue(is_png(os.path.join(d, "c", "peers.png")))


class BadInputTest(Base):
    def check_bad(self, script, path, message):
        p = run(script, path)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(message, p.stderr)
        self.assertNotIn("Traceback", p.stderr)

    def test_missing_dir(self):
        for script in ("plot", "report"):
            self.check_bad(script, os.path.join(self.tmp, "nope"), "no such directory")

    def test_file_not_dir(self):
        f = os.path.join(self.tmp, "afile")
        open(f, "w").close()
        self.check_bad("plot", f, "not a directory")

    def test_empty_dir(self):
        d = os.path.join(self.tmp, "empty")
        os.makedirs(d, exist_ok=True)
        self.check_bad("plot", d, "not a run directory")
        self.check_bad("report", d, "not a run directory")

    def test_malformed_csv_names_file_and_line(self):
        d = os.path.join(self.tmp, "malformed")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "search.csv"), "w") as f:
            f.write(",".join(schema.CASE_COLUMNS) + "\n" + "a,b,c\n"
                    + ",".join("x" * len(schema.CASE_COLUMNS)) + "\n")
        self.check_bad("plot", d, f"search.csv:2: 3 fields, the header has {len(schema.CASE_COLUMNS)}")

    def test_not_a_number(self):
        d = os.path.join(self.tmp, "nan")
        fx.write_run(d, "h", "20240101T000000Z",
                     {"search": [fx.row(engine="linear", pool_bytes="lots", request_bytes=4096,
                                        calls=1, successes=1)]},
                     {"host": "h"})
        self.check_bad("plot", os.path.join(d, "h", "20240101T000000Z"),
                       "column pool_bytes: 'lots' is not a number")

    def test_bad_formats(self):
        p = run("plot", self.tmp, "--formats", "gif")
        self.assertEqual(p.returncode, 2)
        self.assertIn("formats must be", p.stderr)

    def test_merge_needs_out_and_good_dirs(self):
        p = run("merge", os.path.join(self.tmp, "nope"))
        self.assertEqual(p.returncode, 2)
        self.assertIn("--out", p.stderr)
        p = run("merge", os.path.join(self.tmp, "nope"), "--out", os.path.join(self.tmp, "m0"))
        self.assertEqual(p.returncode, 2)
        self.assertIn("no such directory", p.stderr)

    def test_help_tells_the_truth(self):
        for script, words in (("plot", ["RUN_DIR", "--out", "--formats", "latency_ecdf", "frag.csv",
                                        "percentiles, not raw samples"]),
                              ("report", ["RUN_DIR", "report.html", "buddyinfo", "70 % fill"]),
                              ("merge", ["RUN_DIR", "--out", "same columns", "host"]),
                              ("compare", ["RUN_A", "RUN_B", "--threshold", "Mann-Whitney",
                                           "compare.csv", "Exit status"])):
            p = run(script, "--help")
            self.assertRan(p)
            for w in words:
                self.assertIn(w, p.stdout, f"{script} --help lacks {w!r}")


def tiny_run(out_dir):
    """A hand-made run: linear p50 4000 / 9000 ns and bitmap 1000 / 1000 ns at 70 % fill for
    4 KiB / 2 MiB requests (linear / bitmap = 4 and 9: geometric mean 6.00); tree slower than
    bitmap; in peers at 8 MiB, DPDK p50 150 ms against tlsf 1.5 us (ratio 100,000) and linear
    3000 ns."""
    GiB, MiB = 1 << 30, 1 << 20
    search = []
    p50 = {("linear", 4096): 4000, ("linear", 2 * MiB): 9000, ("bitmap", 4096): 1000,
           ("bitmap", 2 * MiB): 1000, ("tree", 4096): 2000, ("tree", 2 * MiB): 3000}
    for fill in (0, 70):
        for (engine, size), v in p50.items():
            v = v if fill == 70 else v // 2
            search.append(fx.row(engine=engine, pool_bytes=GiB, request_bytes=size, fill_pct=fill,
                                 calls=1000, successes=1000, p50_ns=v, p90_ns=v * 2, p99_ns=v * 3,
                                 p999_ns=v * 4, max_ns=v * 10, mean_ns=v, seed=1))
    peers = [
        fx.row(engine="tlsf", pool_bytes=GiB, request_bytes=8 * MiB, calls=100, successes=100,
               p50_ns=1500, p90_ns=2000, p99_ns=4000, p999_ns=5000, max_ns=9000, mean_ns=1600, seed=1),
        fx.row(engine="linear", pool_bytes=GiB, request_bytes=8 * MiB, calls=100, successes=100,
               p50_ns=3000, p90_ns=4000, p99_ns=8000, p999_ns=9000, max_ns=19000, mean_ns=3100, seed=1),
        fx.row(engine="", peer="dpdk", pool_bytes=GiB, request_bytes=8 * MiB, calls=10, successes=5,
               p50_ns=150000000, p90_ns=155000000, p99_ns=160000000, p999_ns=160000000,
               max_ns=160000000, mean_ns=151000000, fail_p50_ns=400000000,
               fail_p99_ns=500000000, fail_max_ns=500000000, violations=2, seed=1),
    ]
    ctx = fx.context("tiny", "20240101T000000Z", 1, GiB)
    return fx.write_run(out_dir, "tiny", "20240101T000000Z", {"search": search, "peers": peers}, ctx)


class ReportTest(Base):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.run_dir = fx.make_run(cls.tmp, "fixture-a", seed=42, frag=True, small=True, scale=True)
        cls.proc = run("report", cls.run_dir)
        with open(os.path.join(cls.run_dir, "report.html"), encoding="utf-8") as f:
            cls.html = f.read()

    def test_report_written(self):
        self.assertRan(self.proc)
        self.assertTrue(self.html.startswith("<!DOCTYPE html>"))

    def test_tables_present(self):
        for tid in ["context", "hugepages", "buddyinfo", "table-best-vs-linear",
                    "table-peer-vs-mmcontig", "table-search-fill-0", "table-search-fill-70",
                    "table-search-constraints", "table-search-pool-slope", "table-fastonly",
                    "table-peers", "table-frag", "table-frag-kernel", "table-scenarios",
                    "table-fastonly-work"]:
            self.assertIn(f'id="{tid}"', self.html, tid)

    def test_frag_kernel_dpdk_beside_growth_or_why_not(self):
        """The frag-kernel table lists DPDK's rows beside mmcontig's; a run without them (DPDK not
        built) says why, from frag_kernel.json, instead of leaving them out silently."""
        fk = re.search(r'id="table-frag-kernel">.*?</table>', self.html, re.S).group(0)
        for path in ("mmcontig FAST_ONLY", "mmcontig ordinary (growth)", "DPDK (dynamic memory)", "DPDK --legacy-mem"):
            self.assertIn(path, fk)
        self.assertNotIn("No DPDK rows", self.html)
        d = os.path.join(self.tmp, "nodpdk")
        shutil.copytree(self.run_dir, d)
        path = os.path.join(d, "frag_kernel.csv")
        with open(path, encoding="utf-8") as f:
            lines = [ln for ln in f if ",dpdk" not in ln]
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(lines)
        with open(os.path.join(d, "frag_kernel.json"), "w", encoding="utf-8") as f:
            json.dump({"held_bytes": 1 << 31, "dpdk": "not built: libdpdk-dev was missing"}, f)
        p = run("report", d)
        self.assertRan(p)
        with open(os.path.join(d, "report.html"), encoding="utf-8") as f:
            h = f.read()
        self.assertIn("No DPDK rows", h)
        self.assertIn("not built: libdpdk-dev was missing", h)

    def test_work_beside_time(self):
        """Work p50 sits beside p50 in the tables; FAST_ONLY's work is set against each engine's
        own bound: the fixture's linear needle stops at 8,193 units, one past linear's bound of
        8,192, and the table names each engine's bound."""
        self.assertRegex(self.html, r"/ [0-9.,]+ [\u00b5nm]?s \u00b7 w [0-9,]+")
        fo = re.search(r'id="table-fastonly-work">.*?</table>', self.html, re.S).group(0)
        self.assertIn("8,193", fo)
        self.assertNotIn("65,536", self.html)
        for bound in ("8,192", "4,096", "1,024"):
            self.assertIn(f'<td class="n">{bound}</td>', fo)
        sc = re.search(r'id="table-scenarios">.*?</table>', self.html, re.S).group(0)
        self.assertIn("8,193 (bound)", sc)
        self.assertIn("needle 64 KiB \u00b7 none", sc)

    def test_old_context_with_one_bound(self):
        """A run written when FAST_ONLY had one bound for every engine (a number in
        context.json) still reports against that number."""
        d = os.path.join(self.tmp, "old-bound")
        shutil.copytree(self.run_dir, d)
        path = os.path.join(d, "context.json")
        with open(path) as f:
            ctx = json.load(f)
        ctx["fast_only_work_bound"] = 65536
        with open(path, "w") as f:
            json.dump(ctx, f)
        p = run("report", d, "--out", os.path.join(d, "r.html"))
        self.assertRan(p)
        with open(os.path.join(d, "r.html"), encoding="utf-8") as f:
            fo = re.search(r'id="table-fastonly-work">.*?</table>', f.read(), re.S).group(0)
        self.assertIn('<td class="n">65,536</td>', fo)

    def test_images_embedded_and_self_contained(self):
        imgs = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', self.html)
        self.assertEqual(len(imgs), len(CHARTS))
        for b64 in imgs:
            self.assertEqual(base64.b64decode(b64)[:8], PNG_SIGNATURE)
        self.assertNotRegex(self.html, r'(src|href)="(https?:)?//')
        self.assertNotIn("<script", self.html)
        self.assertNotIn("<link", self.html)

    def test_context_shown(self):
        for text in ("Linux 6.1.0-18-amd64", "0123456789abcdef", "Node 0, zone   Normal",
                     "nr_hugepages", "fill 42", "SYNTHETIC FIXTURE"):
            self.assertIn(text, self.html)

    def test_ratio_against_hand_computed_value(self):
        d = tiny_run(os.path.join(self.tmp, "tiny"))
        p = run("report", d, "--out", os.path.join(self.tmp, "tiny.html"))
        self.assertRan(p)
        with open(os.path.join(self.tmp, "tiny.html"), encoding="utf-8") as f:
            page = f.read()
        para = re.search(r'id=ratio-best-vs-linear>(.*?)</p>', page, re.S).group(1)
        # linear / bitmap = 4000/1000 = 4 and 9000/1000 = 9: geometric mean sqrt(36) = 6
        self.assertIn("<b>6.00\u00d7</b> that of <b>bitmap</b>", para)
        self.assertIn("from 4.00\u00d7 to 9.00\u00d7 across 2 request sizes", para)
        self.assertIn("measured side by side", para)
        # DPDK 150 ms over tlsf 1500 ns = 100,000; with DPDK's 50 % success and 2 violations
        dpdk = re.search(r"id=ratio-dpdk>(.*?)</div>", page, re.S).group(1)
        self.assertIn("8 MiB: 100,000\u00d7 (150 ms vs tlsf 1.5 \u00b5s; DPDK success 50 %)", dpdk)
        row = re.search(r'id="table-peer-vs-mmcontig">.*?</table>', page, re.S).group(0)
        self.assertIn('<td class="n warn">2</td>', row)
        # absent suites are said to be absent, not silently dropped
        self.assertIn("fastonly.csv is absent", page)
        self.assertIn("frag.csv is absent", page)


class MergeTest(Base):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.a = fx.make_run(cls.tmp, "host-a", seed=1, stamp="20240501T000000Z", small=True, frag=True, scale=True)
        cls.b = fx.make_run(cls.tmp, "host-b", seed=2, stamp="20240502T000000Z", small=True, speed=0.5)

    def test_merge_two_hosts(self):
        out = os.path.join(self.tmp, "merged")
        p = run("merge", self.a, self.b, "--out", out, "--formats", "png,svg")
        self.assertRan(p)
        self.assertNotIn("internal error", p.stderr)
        for name in CHARTS:
            self.assertTrue(is_png(os.path.join(out, f"{name}.png")), name)
            self.assertTrue(is_svg(os.path.join(out, f"{name}.svg")), name)
        for suite in ("search", "fastonly", "peers"):
            n = 0
            for d in (self.a, self.b):
                with open(os.path.join(d, f"{suite}.csv")) as f:
                    n += sum(1 for _ in f) - 1
            with open(os.path.join(out, f"{suite}.csv")) as f:
                rows = list(csv.reader(f))
            self.assertEqual(rows[0], schema.CASE_COLUMNS)
            self.assertEqual(len(rows) - 1, n, suite)
            self.assertEqual({r[1] for r in rows[1:]}, {"host-a", "host-b"})
        with open(os.path.join(out, "runs.txt")) as f:
            self.assertEqual(len(f.read().split()), 2)

    def test_merge_refuses_mixed_schemas(self):
        d = os.path.join(self.tmp, "extra-col")
        shutil.copytree(self.b, d)
        path = os.path.join(d, "peers.csv")
        with open(path) as f:
            lines = f.read().splitlines()
        with open(path, "w") as f:
            f.write("\n".join([lines[0] + ",numa_distance"] + [l + ",10" for l in lines[1:]]) + "\n")
        p = run("merge", self.a, d, "--out", os.path.join(self.tmp, "m-mixed"))
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("refusing to merge runs of different schemas", p.stderr)
        self.assertIn("peers.csv", p.stderr)
        self.assertIn("adds numa_distance", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "m-mixed", "peers.png")))

    def test_merge_refuses_the_same_run_twice(self):
        p = run("merge", self.a, self.a, "--out", os.path.join(self.tmp, "m-twice"))
        self.assertEqual(p.returncode, 2)
        self.assertIn("given twice", p.stderr)


class NoiseTest(Base):
    """The report warns when steal time or frequency changes make the run unreliable, notes what
    adds noise, and says so when the machine was quiet or the run recorded nothing."""

    def page(self, name, **kw):
        d = fx.make_run(os.path.join(self.tmp, name), name, seed=7, small=True, **kw)
        out = os.path.join(self.tmp, f"{name}.html")
        p = run("report", d, "--out", out)
        self.assertRan(p)
        with open(out, encoding="utf-8") as f:
            return re.search(r"<div id=reliability>(.*?)</div>\s*<h2", f.read(), re.S).group(1)

    def test_noisy_run_is_called_unreliable(self):
        text = self.page("noisy", context_extra=fx.NOISY)
        self.assertIn("This run is unreliable", text)
        self.assertIn("6.0 % of the time of this run\u2019s CPUs".replace("\u2019", "&#x27;"), text)
        self.assertIn("1800 to 3400 MHz", text)
        for what in ("ondemand", "Boost", "Not pinned", "SMT is active", "timer is noisy"):
            self.assertIn(what, text)

    def test_quiet_run_says_so(self):
        text = self.page("quiet")
        self.assertNotIn("unreliable:", text)
        self.assertIn("No steal time or frequency change", text)

    def test_run_without_noise_says_nothing_can_be_said(self):
        text = self.page("old", context_extra={"noise": None})
        self.assertIn("does not record the machine", text)


class CompareTest(Base):
    """scripts/compare on fixture runs: a planted regression (tree 1.3x slower in B) is found by
    the U test over 9 repetitions and makes it exit 1; two runs that differ only by noise exit
    0; with 3 repetitions it falls back on the intervals and says so; bad input exits 2."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.a = fx.make_run(cls.tmp, "cmp-a", seed=5, small=True, reps=9, rep_seed=1)
        cls.b = fx.make_run(cls.tmp, "cmp-b", seed=5, small=True, reps=9, rep_seed=2,
                            slower={"tree": 1.3})
        cls.same = fx.make_run(cls.tmp, "cmp-same", seed=5, small=True, reps=9, rep_seed=3)
        cls.q_a = fx.make_run(cls.tmp, "cmp-qa", seed=5, small=True, reps=3, rep_seed=1)
        cls.q_b = fx.make_run(cls.tmp, "cmp-qb", seed=5, small=True, reps=3, rep_seed=2,
                              slower={"tree": 1.3})

    def test_planted_regression_exits_1_with_table_chart_and_csv(self):
        out = os.path.join(self.tmp, "cmp-out")
        p = run("compare", self.a, self.b, "--out", out)
        self.assertRan(p, 1)
        self.assertIn("REGRESSION:", p.stdout)
        regs = p.stdout.split("REGRESSION:", 1)[1].strip().splitlines()[1:]
        self.assertTrue(regs and all("/ tree /" in line for line in regs), regs[:5])
        self.assertTrue(all("utest" in line for line in regs))
        summary = [l for l in p.stdout.splitlines() if re.match(r"^search +tree ", l)]
        self.assertEqual(len(summary), 1, p.stdout[:3000])
        self.assertIn(" 1.300 ", summary[0])  # the geometric mean of tree's p50 ratios
        for e in ("linear", "bitmap", "buddy", "tlsf"):
            line = [l for l in p.stdout.splitlines() if re.match(rf"^search +{e} ", l)][0]
            self.assertIn(" 1.000 ", line)
        self.assertTrue(is_png(os.path.join(out, "compare_ratios.png")))
        self.assertTrue(is_svg(os.path.join(out, "compare_ratios.svg")))
        with open(os.path.join(out, "compare.csv")) as f:
            rows = list(csv.DictReader(f))
        tree = [r for r in rows if r["engine"] == "tree" and r["suite"] == "search" and r["p50_ratio"]]
        self.assertTrue(tree and all(abs(float(r["p50_ratio"]) - 1.3) < 0.01 for r in tree))
        self.assertTrue(all(r["p50_test"] == "utest" for r in tree))
        self.assertGreater(sum(r["p50_significant"] == "1" for r in tree), len(tree) * 0.8)

    def test_threshold_above_the_regression_exits_0(self):
        p = run("compare", self.a, self.b, "--threshold", "0.5", "--no-chart",
                "--out", os.path.join(self.tmp, "cmp-t"))
        self.assertRan(p, 0)
        self.assertIn("no regression", p.stdout)

    def test_noise_only_exits_0(self):
        p = run("compare", self.a, self.same, "--no-chart", "--out", os.path.join(self.tmp, "cmp-n"))
        self.assertRan(p, 0)

    def test_three_repetitions_fall_back_on_the_intervals(self):
        p = run("compare", self.q_a, self.q_b, "--no-chart", "--out", os.path.join(self.tmp, "cmp-q"))
        self.assertIn("cannot reach p < 0.05", p.stdout)
        self.assertRan(p, 1)
        regs = p.stdout.split("REGRESSION:", 1)[1].strip().splitlines()[1:]
        self.assertTrue(regs and all("/ tree /" in l and ", ci" in l for l in regs), regs[:3])

    def test_mann_whitney_against_known_values(self):
        from mmcplot import compare
        self.assertEqual(compare.mann_whitney([1, 2, 3], [4, 5, 6]), (0.0, 0.1))
        u, pv = compare.mann_whitney(list(range(1, 10)), list(range(10, 19)))
        self.assertEqual(u, 0.0)
        self.assertAlmostEqual(pv, 2 / 48620)  # 2 / C(18, 9)
        # scipy.stats.mannwhitneyu([1,2,2,3,5,5,6,7,9],[4,4,6,8,9,10,11,12,12]) (ties: normal
        # approximation with continuity correction) gives p = 0.02128
        self.assertAlmostEqual(compare.mann_whitney([1, 2, 2, 3, 5, 5, 6, 7, 9],
                                                    [4, 4, 6, 8, 9, 10, 11, 12, 12])[1], 0.02128, 4)
        self.assertEqual(compare.mann_whitney([7, 7, 7], [7, 7, 7])[1], 1.0)

    def test_bad_input_exits_2(self):
        p = run("compare", self.a, self.a)
        self.assertEqual(p.returncode, 2)
        self.assertIn("same directory", p.stderr)
        p = run("compare", self.a, os.path.join(self.tmp, "nope"))
        self.assertEqual(p.returncode, 2)
        self.assertIn("no such directory", p.stderr)
        p = run("compare", self.a, self.b, "--threshold", "-1")
        self.assertEqual(p.returncode, 2)
        self.assertIn("--threshold", p.stderr)

    def test_report_flags_overlapping_intervals(self):
        """The report calls a ratio not significant when its two intervals overlap."""
        d = fx.make_run(os.path.join(self.tmp, "sig"), "sig", seed=5, small=True, reps=3)
        # make DPDK's 4 KiB none row and the best engine's overlap: widen DPDK's interval
        path = os.path.join(d, "peers.csv")
        with open(path) as f:
            rows = list(csv.DictReader(f))
        cols = list(rows[0].keys())
        for r in rows:
            if r["peer"] == "dpdk" and r["request_bytes"] == "4096" and r["constraint"] == "none":
                r["p50_ci_lo_ns"], r["p50_ci_hi_ns"] = "1", "100000000"
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, cols, lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
        out = os.path.join(self.tmp, "sig.html")
        p = run("report", d, "--out", out)
        self.assertRan(p)
        with open(out, encoding="utf-8") as f:
            page = f.read()
        dpdk = re.search(r"id=ratio-dpdk>(.*?)</div>", page, re.S).group(1)
        self.assertRegex(dpdk, r"4 KiB: [^<]*NOT significant: the 95 % intervals overlap")
        self.assertIn("(not significant: intervals overlap)", page)
        self.assertIn("(significant)", page)


if __name__ == "__main__":
    unittest.main(verbosity=2)
