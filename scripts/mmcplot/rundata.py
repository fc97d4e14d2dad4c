# scripts/mmcplot/rundata.py: reading one benchmark run directory.
#
# Owns RUN_DIR -> Run: context.json, and each suite's CSV as typed rows (dicts keyed by the
# header's column names, numbers as int/float, empty fields as None). A run with a suite missing
# or a column missing still loads: what is absent is listed in Run.notes, and each chart checks
# its own needs (schema.NEEDS). What cannot be read at all raises RunDirError with the file and
# line, so that the scripts exit nonzero with a clear message.

import csv
import json
import os

from . import schema


class RunDirError(Exception):
    """A run directory that cannot be used: the message says why and where."""


def _number(text, where):
    if text == "":
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise RunDirError(f"{where}: {text!r} is not a number") from None


def _number_list(text, where):
    """'812;;845' -> [812, None, 845]; '' -> []."""
    text = text.strip()
    if text == "":
        return []
    return [_number(t.strip(), where) for t in text.split(";")]


def read_csv(path, text_columns=schema.TEXT_COLUMNS):
    """Rows of one CSV as (header, rows, notes). A last row cut short (a run killed while
    writing) is dropped with a note; a short or long row elsewhere is an error."""
    notes = []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            lines = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise RunDirError(f"{path}: cannot read as CSV: {e}") from None
    if not lines or not lines[0]:
        raise RunDirError(f"{path}: empty file, expected a header line")
    header = [h.strip() for h in lines[0]]
    if len(set(header)) != len(header):
        raise RunDirError(f"{path}:1: repeated column names in the header")
    rows = []
    body = lines[1:]
    for i, fields in enumerate(body, start=2):
        if not fields:
            continue
        if len(fields) != len(header):
            if i == len(body) + 1 and len(fields) < len(header):
                notes.append(f"{os.path.basename(path)}: last row (line {i}) is incomplete "
                             "(run interrupted while writing?): ignored")
                continue
            raise RunDirError(f"{path}:{i}: {len(fields)} fields, the header has {len(header)}")
        row = {}
        for name, value in zip(header, fields):
            if name in text_columns:
                row[name] = value
            elif name in schema.LIST_COLUMNS:
                row[name] = _number_list(value, f"{path}:{i}: column {name}")
            else:
                row[name] = _number(value.strip(), f"{path}:{i}: column {name}")
        rows.append(row)
    return header, rows, notes


class Suite:
    """One suite's CSV: its header (the schema as written) and its rows."""

    def __init__(self, name, path, header, rows):
        self.name, self.path, self.header, self.rows = name, path, header, rows

    def missing(self, columns):
        return [c for c in columns if c not in self.header]


class Run:
    """One run directory: context (dict, may be empty) and suites by name."""

    def __init__(self, path):
        self.path = os.path.abspath(path)
        self.context = {}
        self.suites = {}
        self.notes = []

    # -- identity -------------------------------------------------------------------------
    @property
    def host(self):
        h = self.context.get("host")
        if h:
            return str(h)
        for s in self.suites.values():
            for r in s.rows:
                if r.get("host"):
                    return r["host"]
        return os.path.basename(os.path.dirname(self.path)) or "unknown host"

    @property
    def run_id(self):
        for s in self.suites.values():
            for r in s.rows:
                if r.get("run_id"):
                    return r["run_id"]
        return f"{self.host}-{os.path.basename(self.path)}"

    @property
    def is_fixture(self):
        """True for synthetic fixture runs written by tests/fixtures_bench.py."""
        return bool(self.context.get("fixture"))

    def rows(self, suite):
        s = self.suites.get(suite)
        return s.rows if s else []

    def seeds_text(self):
        seeds = self.context.get("seeds")
        if isinstance(seeds, dict):
            return ", ".join(f"{k} {v}" for k, v in seeds.items())
        if isinstance(seeds, list):
            return ", ".join(str(s) for s in seeds)
        if seeds is not None:
            return str(seeds)
        found = sorted({r.get("seed") for s in self.suites.values() for r in s.rows
                        if r.get("seed") is not None})
        return ", ".join(str(s) for s in found) or "?"

    def fast_only_bound(self, engine):
        """FAST_ONLY's work bound of an engine, in its unit: context.json fast_only_work_bound is
        {engine: bound}; a run written before the bounds were per engine holds one number for
        all. None when unknown."""
        b = self.context.get("fast_only_work_bound")
        if isinstance(b, dict):
            v = b.get(engine)
            return v if isinstance(v, (int, float)) and v > 0 else None
        if isinstance(b, (int, float)) and not isinstance(b, bool) and b > 0:
            return b
        return None

    def reference_pool(self):
        """The pool the per-fill charts use: the real (non-simulated) pool if the search suite
        has one (the largest if several), else the largest simulated pool. Returns
        (pool_bytes, simulated, page_bytes) or None."""
        rows = [r for r in self.rows("search") if r.get("pool_bytes")]
        if not rows:
            return None
        real = [r for r in rows if not r.get("simulated")]
        pick = real or rows
        pool = max(r["pool_bytes"] for r in pick)
        sim = 0 if real else 1
        pages = [r.get("page_bytes") for r in pick if r["pool_bytes"] == pool and r.get("page_bytes")]
        return pool, sim, (pages[0] if pages else None)


def load_run(path):
    """Read RUN_DIR. Raises RunDirError when it is not a run directory or a file is unreadable."""
    if not os.path.exists(path):
        raise RunDirError(f"{path}: no such directory")
    if not os.path.isdir(path):
        raise RunDirError(f"{path}: not a directory (expected a run directory such as "
                          "results/<host>/<UTC time>/)")
    run = Run(path)
    ctx_path = os.path.join(path, "context.json")
    if os.path.exists(ctx_path):
        try:
            with open(ctx_path, encoding="utf-8") as f:
                ctx = json.load(f)
        except (OSError, ValueError) as e:
            raise RunDirError(f"{ctx_path}: not valid JSON: {e}") from None
        if not isinstance(ctx, dict):
            raise RunDirError(f"{ctx_path}: expected a JSON object")
        run.context = ctx
    else:
        run.notes.append("context.json is missing: the run's context is unknown")
    for suite, fname in schema.SUITE_FILES.items():
        fpath = os.path.join(path, fname)
        if not os.path.exists(fpath):
            if suite == "frag":
                run.notes.append("frag.csv is absent (the frag suite has not run): "
                                 "no fragmentation time series")
            elif suite == "frag_kernel":
                run.notes.append("frag_kernel.csv is absent (the frag-kernel suite has not run): "
                                 "no real-kernel chart")
            elif suite == "scale":
                run.notes.append("scale.csv is absent (the scale suite has not run): "
                                 "no chart against threads")
            else:
                run.notes.append(f"{fname} is absent: no {suite} charts or tables")
            continue
        header, rows, notes = read_csv(fpath)
        run.notes.extend(notes)
        for r in rows:  # a fill reached by the aging trace (69.8) groups with its level (70)
            if isinstance(r.get("fill_pct"), float):
                r["fill_pct"] = int(round(r["fill_pct"]))
        expected = schema.SUITE_COLUMNS.get(suite, schema.CASE_COLUMNS)
        missing = [c for c in expected if c not in header]
        if missing:
            run.notes.append(f"{fname} lacks columns {', '.join(missing)}: "
                             "the charts that need them are skipped")
        if not rows:
            run.notes.append(f"{fname} has a header but no rows")
        run.suites[suite] = Suite(suite, fpath, header, rows)
    if not any(s in run.suites for s in schema.SUITE_FILES):
        raise RunDirError(f"{path}: not a run directory: none of "
                          f"{', '.join(schema.SUITE_FILES.values())} is there "
                          "(see results/README.md for the layout)")
    return run


def label(row):
    """The series a case row belongs to: the engine for mmcontig's rows, else the peer."""
    peer = row.get("peer") or "mmcontig"
    if peer == "mmcontig":
        return row.get("engine") or "mmcontig"
    return peer


def is_mmcontig(row):
    return (row.get("peer") or "mmcontig") == "mmcontig"


def order_key(name):
    if name in schema.ENGINE_ORDER:
        return (0, schema.ENGINE_ORDER.index(name), name)
    if name in schema.PEER_ORDER:
        return (2, schema.PEER_ORDER.index(name), name)
    return (1, 0, name)


def constraint_key(name):
    if name in schema.CONSTRAINT_ORDER:
        return (schema.CONSTRAINT_ORDER.index(name), name)
    return (len(schema.CONSTRAINT_ORDER), name)


def success_rate(row):
    calls = row.get("calls")
    if not calls:
        return None
    return (row.get("successes") or 0) / calls


def host_labels(runs):
    """One label per run: the host, with the start time when two runs share a host."""
    hosts = [r.host for r in runs]
    out = []
    for r in runs:
        if hosts.count(r.host) > 1:
            out.append(f"{r.host} {os.path.basename(r.path)}")
        else:
            out.append(r.host)
    return out


def interval(row, metric):
    """The 95 % interval (lo, hi) of a row's p50_ns or p99_ns (results/README.md "Repetitions and
    intervals"), or None when the row has none (an older run, no success)."""
    cols = schema.CI_COLUMNS.get(metric)
    if not cols:
        return None
    lo, hi = row.get(cols[0]), row.get(cols[1])
    if lo is None or hi is None:
        return None
    return lo, hi


def rep_values(row, metric):
    """Each repetition's p50 or p99 (the repetitions with a success), [] when unknown."""
    col = schema.REP_COLUMNS.get(metric)
    vals = row.get(col) if col else None
    if not isinstance(vals, list):
        return []
    return [v for v in vals if v is not None]


def intervals_overlap(a, b):
    """True when two intervals (lo, hi) overlap (or either is unknown: no claim can be made)."""
    if a is None or b is None:
        return True
    return a[0] <= b[1] and b[0] <= a[1]
