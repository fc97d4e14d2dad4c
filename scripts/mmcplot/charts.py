# scripts/mmcplot/charts.py: the chart set of scripts/plot and scripts/merge.
#
# Owns what each chart shows and which rows it takes. Every chart function takes a list of
# runs: one run (scripts/plot), or runs from several hosts (scripts/merge), the host then being
# one more dimension (line style, or a row of panels). Every function returns a Chart whose
# figure is None and whose `skipped` says why when the data it needs is absent, so a missing
# suite or column never stops the others.
#
# The CSVs hold per-case percentiles (p50, p90, p99, p99.9, max of the successful calls, from a
# log-bucketed histogram), not raw samples: the "ECDF" is drawn through those points and says
# so; nothing below p50 is known.

import math

import numpy as np

from . import rundata, schema, style, units
from .rundata import label, success_rate

NINES = [("p50_ns", 0.5), ("p90_ns", 0.9), ("p99_ns", 0.99), ("p999_ns", 0.999), ("max_ns", 1.0)]
NINES_POS = {0.5: -math.log10(0.5), 0.9: 1.0, 0.99: 2.0, 0.999: 3.0, 1.0: 4.0}
NINES_LABELS = ["50 %\n(p50)", "90 %", "99 %", "99.9 %", "100 %\n(max)"]


class Chart:
    """One chart: name (file stem), title, figure (None when skipped), caption, skip reason."""

    def __init__(self, name, title, fig=None, caption="", skipped=None):
        self.name, self.title, self.fig, self.caption, self.skipped = (
            name, title, fig, caption, skipped)


# --- intervals ---------------------------------------------------------------------------------

CI_NOTE = ("Error bars: 95 % interval of the percentile (the hull of the interval over the calls "
           "and the one over the repetitions; results/README.md \"Repetitions and intervals\"); "
           "a bar without its lower cap reaches down to near 0.")


def ci_segment(ax, pos, v, iv, colour, horizontal=False, width=0.9, cap=True, alpha=0.9):
    """One interval iv = (lo, hi) around value v at position pos (x, or y when horizontal), on
    a log axis: the upper end takes part in the axis' limits, the lower end only when it is
    within a factor 100 of v (an interval reaching down to ~0 is drawn to the axis' edge,
    without its lower cap, instead of stretching the axis to 1 ns)."""
    from matplotlib.collections import LineCollection
    lo, hi = iv
    keep_lo = lo > 0 and lo >= v / 100
    lo_draw = lo if keep_lo else v / 1e4
    seg = [(lo_draw, pos), (hi, pos)] if horizontal else [(pos, lo_draw), (pos, hi)]
    ax.add_collection(LineCollection([seg], colors=[colour], linewidths=width, alpha=alpha,
                                     zorder=3), autolim=False)
    mark = "|" if horizontal else "_"
    for end, scale in ((hi, True), (lo, keep_lo)):
        if not cap or end <= 0 or (end == lo and not keep_lo):
            continue
        xy = ((end,), (pos,)) if horizontal else ((pos,), (end,))
        ax.plot(*xy, linestyle="none", marker=mark, color=colour, markersize=5, alpha=alpha,
                markeredgewidth=width, scalex=scale if horizontal else False,
                scaley=False if horizontal else scale, zorder=3)


def draw_ci(ax, xs, rows, col, colour, horizontal=False, ys=None):
    """Error bars of col's 95 % interval at the points (xs, value) (or (value, ys) when
    horizontal), each by ci_segment. Returns True if any was drawn."""
    drawn = False
    for k, r in enumerate(rows):
        v, iv = r.get(col), rundata.interval(r, col)
        if v is None or iv is None or iv[1] <= iv[0]:
            continue
        ci_segment(ax, ys[k] if horizontal else xs[k], v, iv, colour, horizontal)
        drawn = True
    return drawn


# --- choosing rows -----------------------------------------------------------------------------

def check_needs(runs, key):
    """None when the chart can be drawn, else the reason it cannot."""
    suite, cols = schema.NEEDS[key]
    have = [r for r in runs if suite in r.suites]
    if not have:
        if suite == "frag":
            return ("frag.csv is absent (the frag suite has not run yet); expected columns: "
                    + ", ".join(schema.FRAG_COLUMNS))
        return f"{suite}.csv is absent"
    missing = sorted({c for r in have for c in r.suites[suite].missing(cols)})
    if missing:
        return f"{suite}.csv lacks column(s) {', '.join(missing)}"
    if not any(r.suites[suite].rows for r in have):
        return f"{suite}.csv has no rows"
    return None


def _flags(r):
    return r.get("flags") or 0


def is_matrix(r):
    """A row of the matrix (aged state, a matrix constraint), not of a scenario. Runs written
    before the state column are all matrix."""
    return (r.get("state") or schema.STATE_AGED) == schema.STATE_AGED and r.get("constraint") != "dma32"


def is_scenario(r):
    return rundata.is_mmcontig(r) and not is_matrix(r)


def reference_rows(run, constraint="none"):
    """Matrix search rows on the run's reference pool with one constraint, without FAST_ONLY."""
    ref = run.reference_pool()
    if not ref:
        return []
    pool, sim, _ = ref
    return [r for r in run.rows("search") if is_matrix(r)
            and r.get("constraint", "none") == constraint and r.get("pool_bytes") == pool
            and (r.get("simulated") or 0) == sim and not _flags(r) & schema.FLAG_FAST_ONLY]


def pick(rows):
    """One row for one case: the only one, or with repetitions the one of median p50."""
    if not rows:
        return None
    if len(rows) == 1:
        return rows[0]
    ok = sorted((r for r in rows if r.get("p50_ns") is not None), key=lambda r: r["p50_ns"])
    return ok[len(ok) // 2] if ok else rows[0]


def index(rows, *keys):
    groups = {}
    for r in rows:
        groups.setdefault(tuple(r.get(k) for k in keys), []).append(r)
    return {k: pick(v) for k, v in groups.items()}


def series_names(rows):
    return sorted({label(r) for r in rows}, key=rundata.order_key)


def pick_sizes(rows, k=3):
    """Up to k request sizes to show: smallest, middle (log scale) and largest of those that
    succeeded at least at half of the fill levels."""
    fills = {r.get("fill_pct") for r in rows}
    ok = {}
    for r in rows:
        if (r.get("successes") or 0) > 0:
            ok.setdefault(r["request_bytes"], set()).add(r.get("fill_pct"))
    sizes = sorted(s for s, f in ok.items() if len(f) * 2 >= len(fills)) or sorted(ok)
    if len(sizes) <= k:
        return sizes
    if k == 3:
        return [sizes[0], sizes[len(sizes) // 2], sizes[-1]]
    step = (len(sizes) - 1) / (k - 1)
    return [sizes[round(i * step)] for i in range(k)]


# --- words around the charts -----------------------------------------------------------------

def _ctx(value):
    if value is None:
        return "?"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_ctx(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_ctx(v) for v in value)
    return str(value)


def pool_text(run, rows=None):
    """The reference pool of the run's search suite, or the pool(s) of the given rows."""
    if rows is not None:
        pools = sorted({(r.get("pool_bytes"), r.get("simulated") or 0, r.get("page_bytes"))
                        for r in rows if r.get("pool_bytes") and rundata.is_mmcontig(r)})
        if len(pools) != 1:
            return f"{len(pools)} pools" if pools else "pool unknown"
        ref = pools[0]
    else:
        ref = run.reference_pool()
    if not ref:
        return "pool unknown"
    pool, sim, page = ref
    return (f"pool {units.fmt_bytes(pool)} {'simulated' if sim else 'real'}"
            + (f", {units.fmt_bytes(page)} pages" if page else ""))


def where(runs, pools=True, suite=None):
    """Host(s) and pool(s): the search suite's reference pool, or the pools of `suite`'s rows."""
    hosts = rundata.host_labels(runs)
    text = [pool_text(r, r.rows(suite) if suite else None) for r in runs]
    if len(runs) == 1:
        return f"host {hosts[0]}" + (f" \u00b7 mmcontig {text[0]}" if pools else "")
    if pools:
        return "; ".join(f"{h}: {t}" for h, t in zip(hosts, text))
    return f"{len(runs)} hosts: " + ", ".join(hosts)


def footer(runs):
    parts = []
    for run in runs:
        c = run.context
        cpu = c.get("cpu")
        if isinstance(cpu, dict):
            cpu = f"{cpu.get('model', '?')} ({cpu.get('cores', '?')} cores)"
        commit = str(c.get("git_commit") or "?")[:12]
        parts.append(f"run {run.run_id} \u00b7 seeds {run.seeds_text()} \u00b7 {_ctx(c.get('kernel'))}"
                     f" \u00b7 CPU {_ctx(cpu)} \u00b7 git {commit}"
                     + (f" \u00b7 mmcontig {c['mmcontig_version']}" if c.get("mmcontig_version") else ""))
    return " | ".join(parts)


def banner(runs):
    return "SYNTHETIC FIXTURE DATA \u2014 not a measurement" if any(r.is_fixture for r in runs) else None


def legend_items(names, runs, with_line=True, heading="Engine"):
    items = []
    multi = len(runs) > 1
    if multi:
        items.append(style.header_item(heading))
    items += [(style.series_handle(n, with_line=with_line), n) for n in names]
    if multi:
        from matplotlib.lines import Line2D
        items.append(style.header_item("Host"))
        for i, h in enumerate(rundata.host_labels(runs)):
            items.append((Line2D([], [], color="#444444", linestyle=style.host_style(i)), h))
    return items


def _finish(fig, runs, title, subtitle, note, legend=None, legend_title=None):
    style.frame(fig, title, subtitle, footer(runs), note, legend, legend_title, banner(runs))


# --- (a) latency distribution ------------------------------------------------------------------

def latency_ecdf(runs):
    name, title = "latency_ecdf", "Search latency distribution per engine"
    skip = check_needs(runs, name)
    if skip:
        return Chart(name, title, skipped=skip)
    per_run = [(i, run, reference_rows(run)) for i, run in enumerate(runs)]
    allrows = [r for _, _, rows in per_run for r in rows]
    if not allrows:
        return Chart(name, title, skipped="search.csv has no rows without constraint on the reference pool")
    sizes = pick_sizes(allrows)
    fills = sorted({r["fill_pct"] for r in allrows})
    names = series_names(allrows)
    fig, axes = style.subplots(len(sizes), len(fills), panel_w=2.75, panel_h=2.3,
                               sharey=True, sharex="row")
    for si, size in enumerate(sizes):
        for fi, fill in enumerate(fills):
            ax = axes[si][fi]
            failed = []
            for i, run, rows in per_run:
                idx = index(rows, "engine", "request_bytes", "fill_pct")
                for n in names:
                    r = idx.get((n, size, fill))
                    if r is None:
                        continue
                    if not r.get("successes"):
                        failed.append(n)
                        continue
                    xs, ys, prev = [], [], 0
                    for col, q in NINES:
                        v = r.get(col)
                        if v is None:
                            continue
                        prev = max(prev, v)  # percentiles are monotone; guard rounding
                        xs.append(prev)
                        ys.append(NINES_POS[q])
                    ax.plot(xs, ys, color=style.colour(n), marker=style.marker(n),
                            linestyle=style.host_style(i) if len(runs) > 1 else "-",
                            markersize=4.5, linewidth=1.4, alpha=0.9)
            if failed:
                ax.text(0.98, 0.03, "all calls failed:\n" + ", ".join(sorted(set(failed), key=rundata.order_key)),
                        transform=ax.transAxes, ha="right", va="bottom", fontsize=7.5,
                        color=style.WARN_COLOUR)
            ax.set_title(f"{units.fmt_bytes(size)} requests \u00b7 fill {fill} %")
            ax.set_yticks([NINES_POS[q] for _, q in NINES])
            ax.set_yticklabels(NINES_LABELS)
            ax.set_ylim(0.1, 4.3)
            if ax.lines:
                style.log_ns_axis(ax, "x")
            if si == len(sizes) - 1:
                ax.set_xlabel("latency per successful call")
            if fi == 0:
                ax.set_ylabel("share of calls \u2264 latency")
    for row in axes:  # share x per row: set scale once lines exist on any panel of the row
        if any(a.lines for a in row):
            for a in row:
                if not a.lines:
                    style.log_ns_axis(a, "x")
    note = ("Each line joins one case's measured p50, p90, p99, p99.9 and max of its successful calls "
            "(log-bucketed histogram, relative error \u2264 1/64): an ECDF known only at those points, "
            "interpolated between them; nothing below p50 is recorded. Vertical axis on a 'nines' scale.")
    sub = f"{where(runs)} \u00b7 no constraint \u00b7 without FAST_ONLY \u00b7 rows: request size, columns: fill level"
    _finish(fig, runs, title, sub, note, legend_items(names, runs))
    return Chart(name, title, fig, note)


# --- (b) p50 and p99 against fill level --------------------------------------------------------

def latency_vs_fill(runs):
    name, title = "latency_vs_fill", "Search latency against fill level"
    skip = check_needs(runs, name)
    if skip:
        return Chart(name, title, skipped=skip)
    per_run = [(i, run, reference_rows(run)) for i, run in enumerate(runs)]
    allrows = [r for _, _, rows in per_run for r in rows]
    if not allrows:
        return Chart(name, title, skipped="search.csv has no rows without constraint on the reference pool")
    sizes = pick_sizes(allrows, k=min(4, len({r['request_bytes'] for r in allrows})))
    fills = sorted({r["fill_pct"] for r in allrows})
    names = series_names(allrows)
    fig, axes = style.subplots(2, len(sizes), panel_w=2.9, panel_h=2.4, sharey=True, sharex=True)
    partial = any_ci = False
    for ci, size in enumerate(sizes):
        for ri, (col, what) in enumerate([("p50_ns", "p50"), ("p99_ns", "p99")]):
            ax = axes[ri][ci]
            for i, run, rows in per_run:
                idx = index(rows, "engine", "request_bytes", "fill_pct")
                for n in names:
                    pts = [(f, idx.get((n, size, f))) for f in fills]
                    pts = [(f, r) for f, r in pts if r is not None and r.get(col) is not None
                           and (r.get("successes") or 0) > 0]
                    if not pts:
                        continue
                    xs = [f for f, _ in pts]
                    ys = [r[col] for _, r in pts]
                    ls = style.host_style(i) if len(runs) > 1 else "-"
                    ax.plot(xs, ys, color=style.colour(n), linestyle=ls, linewidth=1.5)
                    any_ci = draw_ci(ax, xs, [r for _, r in pts], col, style.colour(n)) or any_ci
                    full = [(x, y) for (x, y), (_, r) in zip(zip(xs, ys), pts) if success_rate(r) >= 1]
                    part = [(x, y) for (x, y), (_, r) in zip(zip(xs, ys), pts) if success_rate(r) < 1]
                    partial = partial or bool(part)
                    for group, face in ((full, style.colour(n)), (part, "white")):
                        if group:
                            ax.plot(*zip(*group), linestyle="none", marker=style.marker(n),
                                    markerfacecolor=face, markeredgecolor=style.colour(n),
                                    markeredgewidth=1.3, markersize=5.5)
            ax.set_title(f"{what} \u00b7 {units.fmt_bytes(size)} requests")
            ax.set_xticks(fills)
            ax.set_xticklabels([f"{f} %" for f in fills])
            if ri == 1:
                ax.set_xlabel("fill level (share of frames in use)")
            if ci == 0:
                ax.set_ylabel(f"{what} latency, successful calls")
    for row in axes:
        for ax in row:
            if ax.lines:
                style.log_ns_axis(ax, "y")
                break
    note = ("Filled marks: every call succeeded; open marks: some calls failed (their latency is "
            "not in these percentiles); a missing mark: every call failed."
            if partial else "Every call of every case shown succeeded.")
    if any_ci:
        note += " " + CI_NOTE
    sub = f"{where(runs)} \u00b7 no constraint \u00b7 without FAST_ONLY"
    _finish(fig, runs, title, sub, note, legend_items(names, runs))
    return Chart(name, title, fig, note)


# --- (c) latency against pool size -------------------------------------------------------------

def _slope(points):
    """Least-squares slope of log(latency) on log(pool) over >= 2 distinct pools, else None."""
    pools = {p for p, _ in points}
    if len(pools) < 2:
        return None
    x = np.log10([p for p, _ in points])
    y = np.log10([v for _, v in points])
    return float(np.polyfit(x, y, 1)[0])


def pool_sweep_choice(rows):
    """(fill, request size) of the pool-size sweep: fill 70 % if swept there, else the highest
    swept fill; the request size swept over the most pools (the nearest to 2 MiB on a tie)."""
    pools_at = {}
    for r in rows:
        if (r.get("successes") or 0) > 0 and r.get("p50_ns") is not None:
            pools_at.setdefault((r["fill_pct"], r["request_bytes"]), set()).add(r["pool_bytes"])
    swept = {k: len(v) for k, v in pools_at.items() if len(v) >= 2}
    if not swept:
        return None
    fills = {f for f, _ in swept}
    fill = 70 if 70 in fills else max(fills)
    size = max((s for f, s in swept if f == fill),
               key=lambda s: (swept[(fill, s)], -abs(math.log2(s / (2 << 20)))))
    return fill, size


def pool_slopes(run_rows, fill, size):
    """{engine: (slope_p50, slope_p99, points)} for one run's rows."""
    out = {}
    for n in series_names(run_rows):
        sel = [r for r in run_rows if label(r) == n and r["fill_pct"] == fill
               and r["request_bytes"] == size and (r.get("successes") or 0) > 0]
        idx = index(sel, "pool_bytes", "simulated")
        pts = sorted(idx.values(), key=lambda r: r["pool_bytes"])
        s50 = _slope([(r["pool_bytes"], r["p50_ns"]) for r in pts if r.get("p50_ns")])
        s99 = _slope([(r["pool_bytes"], r["p99_ns"]) for r in pts if r.get("p99_ns")])
        out[n] = (s50, s99, pts)
    return out


def _search_plain(run):
    return [r for r in run.rows("search") if is_matrix(r) and r.get("constraint", "none") == "none"
            and not _flags(r) & schema.FLAG_FAST_ONLY and r.get("pool_bytes")]


def latency_vs_pool(runs):
    name, title = "latency_vs_pool", "Search latency against pool size"
    skip = check_needs(runs, name)
    if skip:
        return Chart(name, title, skipped=skip)
    per_run = [_search_plain(run) for run in runs]
    choice = pool_sweep_choice([r for rows in per_run for r in rows])
    if not choice:
        return Chart(name, title, skipped="search.csv has no case measured at two or more pool sizes")
    fill, size = choice
    fig, axes = style.subplots(1, 2, panel_w=4.8, panel_h=3.3, sharey=True)
    items = []
    multi = len(runs) > 1
    all_pools = set()
    any_real = any_ci = False
    for i, rows in enumerate(per_run):
        slopes = pool_slopes(rows, fill, size)
        for n, (s50, s99, pts) in slopes.items():
            if not pts:
                continue
            fmt = lambda s: "n/a" if s is None else f"{s:.2f}"  # noqa: E731
            lab = f"{n}{' @ ' + rundata.host_labels(runs)[i] if multi else ''}: {fmt(s50)} / {fmt(s99)}"
            ls = style.host_style(i) if multi else "-"
            items.append((style.series_handle(n, linestyle=ls), lab))
            for ax, col in zip(axes[0], ("p50_ns", "p99_ns")):
                good = [r for r in pts if r.get(col)]
                xs = np.array([r["pool_bytes"] for r in good], dtype=float)
                ys = np.array([r[col] for r in good], dtype=float)
                all_pools.update(xs)
                if len(set(xs)) >= 2:
                    k, b = np.polyfit(np.log10(xs), np.log10(ys), 1)
                    fx = np.array([xs.min(), xs.max()])
                    ax.plot(fx, 10 ** (b + k * np.log10(fx)), color=style.colour(n),
                            linestyle=ls, linewidth=1.3, alpha=0.85)
                any_ci = draw_ci(ax, xs, good, col, style.colour(n)) or any_ci
                sim = np.array([bool(r.get("simulated")) for r in good])
                ax.plot(xs[sim], ys[sim], linestyle="none", marker=style.marker(n),
                        color=style.colour(n), markersize=5.5)
                if (~sim).any():
                    any_real = True
                    ax.plot(xs[~sim], ys[~sim], linestyle="none", marker=style.marker(n),
                            markerfacecolor="white", markeredgecolor=style.colour(n),
                            markeredgewidth=1.6, markersize=7.5)
    for ax, what in zip(axes[0], ("p50", "p99")):
        ax.set_xscale("log")
        style.bytes_ticks(ax, all_pools)
        ax.tick_params(axis="x", labelrotation=0)
        style.log_ns_axis(ax, "y")
        ax.set_xlabel("pool size")
        ax.set_title(f"{what} of successful calls")
    axes[0][0].set_ylabel("latency per call")
    note = ("Lines: least-squares fit of log latency on log pool size; the legend gives its slope "
            "for p50 / p99 (1: proportional to the pool, 0: independent of it). ")
    note += ("Filled marks: simulated partitions (frame database over a synthetic layout, no memory); "
             "open marks: the real hugepage pool." if any_real else
             "All marks are simulated partitions (frame database over a synthetic layout, no memory).")
    if any_ci:
        note += " " + CI_NOTE
    sub = (f"{where(runs, pools=False)} \u00b7 {units.fmt_bytes(size)} requests \u00b7 fill {fill} % "
           "\u00b7 no constraint \u00b7 without FAST_ONLY")
    _finish(fig, runs, title, sub, note, items, legend_title="slope p50 / p99")
    return Chart(name, title, fig, note)


# --- (d) FAST_ONLY: decision time against false negatives ---------------------------------------

def fn_rate(successes, false_negatives):
    """False negatives over the calls for which the oracle found a block."""
    denom = (successes or 0) + (false_negatives or 0)
    return None if denom == 0 or false_negatives is None else false_negatives / denom


def decision_bounds(r, col_ok, col_fail):
    """Bounds of a percentile over ALL calls from the successful and failed calls' percentiles:
    the overall q-quantile lies between the two groups' q-quantiles."""
    vals = []
    if (r.get("successes") or 0) > 0 and r.get(col_ok) is not None:
        vals.append(r[col_ok])
    if (r.get("calls") or 0) > (r.get("successes") or 0) and r.get(col_fail) is not None:
        vals.append(r[col_fail])
    if not vals:
        return None
    return min(vals), max(vals)


def fastonly_summary(rows, fill_levels=None):
    """Per (engine, fill) over the FAST_ONLY cases: calls, successes, false negatives (None when
    not measured), trades, and the cases' decision-time bounds. Returns
    {(engine, fill): dict(cases, calls, ok, fn, trades, fn_rate, p50=[(lo, hi)], p99=[...])}."""
    out = {}
    for r in rows:
        if not _flags(r) & schema.FLAG_FAST_ONLY or not is_matrix(r):
            continue
        d = out.setdefault((label(r), r.get("fill_pct")), dict(cases=0, calls=0, ok=0, fn=None,
                                                               trades=0, p50=[], p99=[]))
        d["cases"] += 1
        d["calls"] += r.get("calls") or 0
        d["ok"] += r.get("successes") or 0
        d["trades"] += r.get("trades") or 0
        if r.get("false_negatives") is not None:
            d["fn"] = (d["fn"] or 0) + r["false_negatives"]
        for key, cols in (("p50", ("p50_ns", "fail_p50_ns")), ("p99", ("p99_ns", "fail_p99_ns"))):
            b = decision_bounds(r, *cols)
            if b:
                d[key].append(b)
    for d in out.values():
        d["fn_rate"] = fn_rate(d["ok"], d["fn"])
    return out


def fastonly_fn(runs):
    name, title = "fastonly_decision_vs_fn", "FAST_ONLY: time to decide against false negatives"
    skip = check_needs(runs, "fastonly_fn")
    if skip:
        return Chart(name, title, skipped=skip)
    per_run = [[r for r in run.rows("fastonly") if _flags(r) & schema.FLAG_FAST_ONLY] for run in runs]
    if not any(per_run):
        return Chart(name, title, skipped="fastonly.csv has no row with the FAST_ONLY flag (flags & 1)")
    hosts = rundata.host_labels(runs)
    multi = len(runs) > 1
    fig, axes = style.subplots(len(runs), 2, panel_w=4.3, panel_h=3.2, sharey=True, sharex=True)
    allrows = [r for rows in per_run for r in rows]
    names = series_names(allrows)
    fills = sorted({r.get("fill_pct") for r in allrows})
    msize = {f: 4.0 + 2.2 * k for k, f in enumerate(fills)}
    items = []
    warn_all = []
    from matplotlib.lines import Line2D
    for i, rows in enumerate(per_run):
        summ = fastonly_summary(rows)
        for n in names:
            keys = [(n, f) for f in fills if (n, f) in summ]
            if not keys:
                continue
            tot_fn = [summ[k]["fn"] for k in keys if summ[k]["fn"] is not None]
            rate = fn_rate(sum(summ[k]["ok"] for k in keys), sum(tot_fn)) if tot_fn else None
            tr = sum(summ[k]["trades"] for k in keys)
            if tr:
                warn_all.append(f"{n}{' @ ' + hosts[i] if multi else ''}: {tr} trades")
            lab = f"{n}{' @ ' + hosts[i] if multi else ''}: {units.fmt_pct(rate, 'not measured')}"
            items.append((style.series_handle(n), lab))
            for ax, key in zip(axes[i], ("p50", "p99")):
                pts = []
                for k in keys:
                    d = summ[k]
                    if d["fn_rate"] is None or not d[key]:
                        continue
                    hi = sorted(h for _, h in d[key])
                    lo = min(lo_ for lo_, _ in d[key])
                    pts.append((100 * d["fn_rate"], hi[len(hi) // 2], lo, hi[-1], k[1]))
                if not pts:
                    continue
                ax.plot([p[0] for p in pts], [p[1] for p in pts], color=style.colour(n),
                        linewidth=1.2, alpha=0.8)
                for x, med, lo, top, f in pts:
                    ax.plot([x, x], [lo, top], color=style.colour(n), linewidth=0.8, alpha=0.45)
                    ax.plot([x], [med], marker=style.marker(n), color=style.colour(n),
                            markersize=msize[f], markeredgecolor="white", markeredgewidth=0.6)
        for ax, what in zip(axes[i], ("p50", "p99")):
            style.log_ns_axis(ax, "y")
            ax.set_title(f"{what} time to decide" + (f" \u00b7 {hosts[i]}" if multi else ""))
            ax.xaxis.set_major_formatter(lambda v, _p: f"{v:g} %")
            if i == len(runs) - 1:
                ax.set_xlabel("false-negative rate")
        axes[i][0].set_ylabel("latency per call, all outcomes")
    lo_x, hi_x = axes[0][0].get_xlim()
    axes[0][0].set_xlim(min(-1.0, lo_x), max(hi_x, 5))
    items.append(style.header_item("Fill level (mark size)"))
    for f in fills:
        items.append((Line2D([], [], linestyle="none", marker="o", color="#777777",
                             markersize=msize[f]), f"{f} %"))
    note = ("One mark per engine and fill level, over its FAST_ONLY matrix cases (request size x "
            "constraint; the scenarios are in the scenarios chart). "
            "False-negative rate: failed calls for which the exhaustive oracle found a block, over "
            "successes + those. Time to decide covers successful and failed calls: per case it lies "
            "between the two groups' percentiles; the mark is the median over cases of the upper one, "
            "the bar spans all cases from the lowest lower to the highest upper value.")
    if warn_all:
        note += "\nFAST_ONLY MADE TRADES (must be 0): " + "; ".join(warn_all)
        for row in axes:
            row[1].text(0.98, 0.97, "\u26a0 trades under FAST_ONLY:\n" + "\n".join(warn_all),
                        transform=row[1].transAxes, ha="right", va="top", fontsize=8,
                        color=style.WARN_COLOUR, weight="bold")
    else:
        note += " Trades under FAST_ONLY: 0 in every case, as required."
    sub = f"{where(runs, suite='fastonly')} \u00b7 fastonly suite, calls with FAST_ONLY"
    _finish(fig, runs, title, sub, note, items, legend_title="false-negative rate")
    return Chart(name, title, fig, note)


# --- FAST_ONLY against the ordinary path, with the slow path's counters -------------------

def same_state_rows(run, suite, fast_only):
    """The real pool's matrix rows (the reference pool, every constraint) and the grow rows of
    one suite, with or without FAST_ONLY."""
    ref = run.reference_pool()
    out = []
    for r in run.rows(suite):
        if bool(_flags(r) & schema.FLAG_FAST_ONLY) != fast_only or not rundata.is_mmcontig(r):
            continue
        if (r.get("state") or schema.STATE_AGED) == schema.STATE_GROW:
            out.append(r)
        elif is_matrix(r) and ref and r.get("pool_bytes") == ref[0] and (r.get("simulated") or 0) == ref[1]:
            out.append(r)
    return out


def state_key(r):
    """x position key: the fill level of an aged row, "grow" for the growth rows."""
    return "grow" if (r.get("state") or "") == schema.STATE_GROW else r.get("fill_pct")


def path_summary(rows, fast_only):
    """{(engine, state key): dict(calls, ok, t=[per-case time], slow counters summed)}; time per
    case: FAST_ONLY the upper of its successful and failed p50 (time to decide), the ordinary
    path its successful calls' p50 (failed p50 when none succeeded)."""
    out = {}
    for r in rows:
        d = out.setdefault((label(r), state_key(r)), dict(calls=0, ok=0, t=[], **{c: 0 for c in schema.SLOW_COLUMNS}))
        d["calls"] += r.get("calls") or 0
        d["ok"] += r.get("successes") or 0
        for c in schema.SLOW_COLUMNS:
            d[c] += r.get(c) or 0
        if fast_only:
            b = decision_bounds(r, "p50_ns", "fail_p50_ns")
            t = b[1] if b else None
        else:
            t = r.get("p50_ns") if (r.get("successes") or 0) else r.get("fail_p50_ns")
        if t:
            d["t"].append(t)
    return out


def fastonly_vs_ordinary(runs):
    name, title = "fastonly_vs_ordinary", "FAST_ONLY against the ordinary path on the same states"
    skip = check_needs(runs, name)
    if skip:
        return Chart(name, title, skipped=skip)
    run = runs[0]  # one run: the two paths compared on its states
    fast = path_summary(same_state_rows(run, "fastonly", True), True)
    plain = path_summary(same_state_rows(run, "search", False), False)
    if not fast or not plain:
        return Chart(name, title, skipped="fastonly.csv or search.csv has no real-pool matrix or grow "
                                          "rows to pair (both suites are needed)")
    keys = sorted({k for _, k in fast} | {k for _, k in plain}, key=lambda k: (k == "grow", k if k != "grow" else 0))
    names = sorted({e for e, _ in fast} | {e for e, _ in plain}, key=rundata.order_key)
    fig, axes = style.subplots(1, 2, panel_w=5.8, panel_h=3.3)
    a_s, a_t = axes[0]
    xs = list(range(len(keys)))
    for n in names:
        for summ, ls, mk in ((plain, "-", style.marker(n)), (fast, "--", "x")):
            pts = [(x, summ.get((n, k))) for x, k in zip(xs, keys)]
            pts = [(x, d) for x, d in pts if d and d["calls"]]
            if not pts:
                continue
            a_s.plot([x for x, _ in pts], [100 * d["ok"] / d["calls"] for _, d in pts], color=style.colour(n),
                     linestyle=ls, marker=mk, markersize=4.5, linewidth=1.3)
            tp = [(x, sorted(d["t"])[len(d["t"]) // 2]) for x, d in pts if d["t"]]
            if tp:
                a_t.plot([x for x, _ in tp], [t for _, t in tp], color=style.colour(n), linestyle=ls,
                         marker=mk, markersize=4.5, linewidth=1.3)
    # the ordinary path's counters, summed over the engines' cases at each state, under its tick
    ticks = []
    for x, k in zip(xs, keys):
        tot = {c: sum(d[c] for (e, kk), d in plain.items() if kk == k) for c in schema.SLOW_COLUMNS}
        lines = [f"{k} %" if k != "grow" else "grow"]
        if tot["trades"]:
            lines += [f"{tot['trades']:,} trades", f"{tot['frames_moved']:,} moved",
                      f"{tot['frames_dropped']:,} dropped"]
        if tot["hugepages_added"]:
            lines += [f"+{tot['hugepages_added']:,} hugepages", f"{units.fmt_ns(tot['grow_ns'])} growing"]
        ticks.append("\n".join(lines))
        fs = sum(d[c] for (e, kk), d in fast.items() if kk == k for c in schema.SLOW_COLUMNS if c != "grow_ns")
        if fs:
            a_s.text(x, 50, "\u26a0 FAST_ONLY traded or grew", ha="center", fontsize=7, color=style.WARN_COLOUR)
    for ax in (a_s, a_t):
        ax.set_xticks(xs)
    a_s.set_xticklabels(ticks, fontsize=6.5)
    a_t.set_xticklabels([f"{k} %" if k != "grow" else "grow" for k in keys])
    a_t.set_xlabel("fill level of the aged real pool, or grow (a full 64 MiB pool)")
    a_s.set_ylim(-3, 103)
    a_s.set_ylabel("calls that returned memory, %")
    a_s.set_title("success rate (counters: ordinary path, all engines)")
    a_t.set_yscale("log")
    style.log_ns_axis(a_t, "y")
    a_t.set_ylabel("median over cases of p50")
    a_t.set_title("ordinary: latency \u00b7 FAST_ONLY: time to decide")
    from matplotlib.lines import Line2D
    items = legend_items(names, runs[:1], with_line=False)
    items += [style.header_item("Path"),
              (Line2D([], [], color="#444444", linestyle="-"), "ordinary (search suite)"),
              (Line2D([], [], color="#444444", linestyle="--", marker="x"), "FAST_ONLY (fastonly suite)")]
    note = ("Per engine and state, over the real pool's matrix cases (every request size and constraint) "
            "and the grow cases: the same states for both paths (each fastonly case runs right after its "
            "search twin). Ordinary time: p50 of the successful calls (of the failed ones where none "
            "succeeded); FAST_ONLY: the upper of its successful and failed p50. Counters (trades, load "
            "frames moved and dropped, hugepages added, time growing) are the ordinary path's, summed "
            "over the engines; FAST_ONLY's must be 0.")
    sub = f"{where(runs, pools=False)} · search and fastonly suites"
    _finish(fig, runs, title, sub, note, items)
    return Chart(name, title, fig, note)


# --- (e) fragmentation under load, to steady state (frag.csv) ------------------------------------
# The numbers are the benchmark's (the library's measures): nothing here recomputes U(j) or FI(j).

FRAG_PROBES = [(2 * 1024 * 1024, "u9", "U(9)"), (8 * 1024 * 1024, "u11", "U(11)"),
               (64 * 1024 * 1024, "u14", "U(14)")]
POLICY_STYLE = {"plain": "-", "clustered": "--"}


def frag_pool_rows(run):
    """The pool mode's rows (runs before the kernel mode have no `mode` column: all pool)."""
    return [r for r in run.rows("frag") if (r.get("mode") or "pool") == "pool"]


def probe_name(nbytes, fast):
    return f"{units.fmt_bytes(nbytes)} {'FAST_ONLY' if fast else 'ordinary'}"


def _frag_engines(runs):
    rows = [r for run in runs for r in frag_pool_rows(run)]
    return rows, series_names(rows), sorted({r.get("policy") or "" for r in rows},
                                            key=lambda p: (p != "plain", p))


def _log_ops_axis(ax):
    ax.set_xscale("symlog", linthresh=100)
    ax.set_xlim(left=0)


def frag_steady(runs):
    """One panel per engine: U(9), U(11), U(14) against operations, per placement (<= 6 lines)."""
    name, title = "frag_steady", "Fragmentation under load, to steady state: U(j) against operations"
    skip = check_needs(runs, name)
    if skip:
        return Chart(name, title, skipped=skip)
    rows, names, policies = _frag_engines(runs)
    if not rows:
        return Chart(name, title, skipped="frag.csv has no pool rows")
    measures = [("u9", "U(9) 2 MiB", "#1f77b4"), ("u11", "U(11) 8 MiB", "#d62728"),
                ("u14", "U(14) 64 MiB", "#2ca02c")]
    fig, axes = style.subplots(1, len(names), panel_w=2.9, panel_h=2.6, sharey=True)
    for ax, n in zip(axes[0], names):
        for pol in policies:
            one = {}
            for r in rows:  # one point per sample: its first probe row
                if label(r) == n and (r.get("policy") or "") == pol and r.get("ops") is not None:
                    one.setdefault(r["ops"], r)
            pts = sorted(one.items())
            for col, _, colour in measures:
                xy = [(o, r[col]) for o, r in pts if r.get(col) is not None]
                if xy:
                    ax.plot(*zip(*xy), color=colour, linestyle=POLICY_STYLE.get(pol, ":"), linewidth=1.3)
        ax.set_title(n)
        ax.set_ylim(-0.03, 1.03)
        _log_ops_axis(ax)
        ax.set_xlabel("operations of the aging trace")
    axes[0][0].set_ylabel("unusable free space index")
    from matplotlib.lines import Line2D
    items = [style.header_item("Measure")] + [(Line2D([], [], color=c), t) for _, t, c in measures]
    items.append(style.header_item("Placement"))
    items += [(Line2D([], [], color="#444444", linestyle=POLICY_STYLE.get(p, ":")), p) for p in policies]
    note = ("U(j): share of free memory unusable for an aligned order-j block (the kernel's unusable "
            "free space index, measured by the library, alloc/frag.c). x: operations, linear to 100 then "
            "log; samples 4 per decade. The report says whether U(j) settled over the last decade.")
    rows0 = rows[0]
    sub = (f"{where(runs, pools=False)} \u00b7 frag suite \u00b7 pool "
           f"{units.fmt_bytes(rows0.get('pool_bytes') or 0)} of {units.fmt_bytes(rows0.get('page_bytes') or 0)} "
           "hugepages \u00b7 target utilisation 0.8")
    _finish(fig, runs, title, sub, note, items)
    return Chart(name, title, fig, note)


def frag_success_vs_u(runs):
    """The expert chart: per engine (rows) and probe size (columns), the success rate against U(j) of
    the probe's order at that moment; FAST_ONLY and ordinary, per placement (4 series)."""
    name, title = "frag_success_vs_u", "Success of 2, 8 and 64 MiB requests against U(j) of their order"
    skip = check_needs(runs, name)
    if skip:
        return Chart(name, title, skipped=skip)
    rows, names, policies = _frag_engines(runs)
    if not rows:
        return Chart(name, title, skipped="frag.csv has no pool rows")
    fig, axes = style.subplots(len(names), len(FRAG_PROBES), panel_w=3.0, panel_h=1.9,
                               sharex=True, sharey=True)
    flag_style = {0: ("o", "#1f77b4"), 1: ("x", "#d62728")}
    for ri, n in enumerate(names):
        for ci, (nbytes, _, uname) in enumerate(FRAG_PROBES):
            ax = axes[ri][ci]
            for pol in policies:
                for fast in (0, 1):
                    pts = [(r["probe_u"], r["probe_success_rate"]) for r in rows
                           if label(r) == n and (r.get("policy") or "") == pol
                           and r.get("probe_bytes") == nbytes and (r.get("probe_fast_only") or 0) == fast
                           and r.get("probe_u") is not None and r.get("probe_success_rate") is not None]
                    if pts:
                        m, c = flag_style[fast]
                        size = 16 if pol == "plain" else 30
                        if m == "x":
                            ax.scatter(*zip(*pts), marker=m, s=size, color=c, linewidths=0.9, alpha=0.75)
                        else:
                            ax.scatter(*zip(*pts), marker=m, s=size, facecolors=c if pol == "plain" else "none",
                                       edgecolors=c, linewidths=0.9, alpha=0.75)
            ax.set_xlim(-0.03, 1.03)
            ax.set_ylim(-0.06, 1.06)
            if ri == 0:
                ax.set_title(f"{units.fmt_bytes(nbytes)} requests")
            if ri == len(names) - 1:
                ax.set_xlabel(f"{uname} at the sample")
            if ci == 0:
                ax.set_ylabel(f"{n}\nsuccess rate")
    from matplotlib.lines import Line2D
    items = [style.header_item("Path")]
    items += [(Line2D([], [], linestyle="none", marker="o", color="#1f77b4"), "ordinary"),
              (Line2D([], [], linestyle="none", marker="x", color="#d62728"), "FAST_ONLY")]
    items.append(style.header_item("Placement"))
    items += [(Line2D([], [], linestyle="none", marker="o", color="#444444", markersize=4), "plain (small, filled)"),
              (Line2D([], [], linestyle="none", marker="o", markerfacecolor="none", color="#444444",
                      markersize=7), "clustered (large, open)")]
    note = ("One mark per sample of the aging trace: the share of the probe's calls that returned memory "
            "against U(j) of the probe's order (j = 9, 11, 14) measured just before. U(j) counts aligned "
            "blocks: an unaligned request may still succeed at U(j) = 1. The ordinary path may trade load "
            "away or grow the pool; FAST_ONLY may do neither.")
    sub = f"{where(runs, pools=False)} \u00b7 frag suite \u00b7 per engine and placement"
    _finish(fig, runs, title, sub, note, items)
    return Chart(name, title, fig, note)


def frag_cost(runs):
    """What each ordinary success cost, per probe size (columns) and measure (rows), one line per
    engine (plain placement solid, clustered dashed: <= 5 engines x 2)."""
    name, title = "frag_cost", "Cost of each ordinary success: trades, frames moved, hugepages added, time"
    skip = check_needs(runs, name)
    if skip:
        return Chart(name, title, skipped=skip)
    rows, names, policies = _frag_engines(runs)
    ordinary = [r for r in rows if not (r.get("probe_fast_only") or 0)]
    if not ordinary:
        return Chart(name, title, skipped="frag.csv has no ordinary probe rows")
    measures = [("probe_trades", "trades per success", "per"), ("probe_frames_moved",
                "frames moved per success", "per"), ("probe_hugepages_added",
                "hugepages added per success", "per"), ("probe_p50_ns", "p50 latency of a success", "ns")]
    fig, axes = style.subplots(len(measures), len(FRAG_PROBES), panel_w=3.0, panel_h=1.8, sharex=True)
    for ci, (nbytes, _, _) in enumerate(FRAG_PROBES):
        for mi, (col, ylabel, kind) in enumerate(measures):
            ax = axes[mi][ci]
            for n in names:
                for pol in policies:
                    pts = []
                    for r in ordinary:
                        if (label(r) != n or (r.get("policy") or "") != pol or r.get("probe_bytes") != nbytes
                                or not r.get("probe_successes") or r.get(col) is None or r.get("ops") is None):
                            continue
                        v = r[col] / r["probe_successes"] if kind == "per" else r[col]
                        pts.append((r["ops"], v))
                    if pts:
                        ax.plot(*zip(*sorted(pts)), color=style.colour(n),
                                linestyle=POLICY_STYLE.get(pol, ":"), linewidth=1.2, marker=".",
                                markersize=3)
            if kind == "ns" and ax.lines:
                style.log_ns_axis(ax, "y")
            _log_ops_axis(ax)
            if mi == 0:
                ax.set_title(f"{units.fmt_bytes(nbytes)} ordinary")
            if ci == 0:
                ax.set_ylabel(ylabel, fontsize=8)
            if mi == len(measures) - 1:
                ax.set_xlabel("operations")
            if not ax.lines:
                ax.text(0.5, 0.5, "no success", transform=ax.transAxes, ha="center", va="center",
                        fontsize=8, color=style.MUTED)
    from matplotlib.lines import Line2D
    items = [style.header_item("Engine")] + [(style.series_handle(n, with_marker=False), n) for n in names]
    items.append(style.header_item("Placement"))
    items += [(Line2D([], [], color="#444444", linestyle=POLICY_STYLE.get(p, ":")), p) for p in policies]
    note = ("Per sample: the ordinary probe's trades, movable frames copied and hugepages the pool grew "
            "by, divided by its successful calls; p50 of the successful calls. A panel without lines: "
            "no ordinary success of that size. FAST_ONLY's counters are 0 by construction (frag.csv).")
    sub = f"{where(runs, pools=False)} \u00b7 frag suite \u00b7 ordinary path only"
    _finish(fig, runs, title, sub, note, items)
    return Chart(name, title, fig, note)


# --- (e1) the real kernel's fragmentation (frag_kernel.csv) -------------------------------------

# The paths of a request, in the order each panel lists them: (name, peer, fast_only).
FK_PATHS = [("mmcontig FAST_ONLY", "mmcontig", 1), ("mmcontig ordinary (growth)", "mmcontig", 0),
            ("DPDK (dynamic memory)", "dpdk", 0), ("DPDK --legacy-mem", "dpdk-legacy", 0)]
# The times of a request, one bar each: (column, legend text, hatch, fill alpha).
FK_PARTS = [("latency_ns", "the call", None, 1.0),
            ("raise_ns", "before it: the kernel's raise of nr_hugepages", "////", 0.35),
            ("eal_init_ns", "before it: rte_eal_init", "....", 0.15)]


def fk_path_of(r):
    """The FK_PATHS name of a frag_kernel.csv row, or None."""
    for name, peer, fast in FK_PATHS:
        if (r.get("peer") or "mmcontig") == peer and int(r.get("fast_only") or 0) == fast:
            return name
    return None


def _fk_dpdk_status(run):
    """What frag_kernel.json says of DPDK ("not built: ..."), or that it does not say."""
    import json
    import os
    try:
        with open(os.path.join(run.path, "frag_kernel.json"), encoding="utf-8") as f:
            return str(json.load(f).get("dpdk") or "frag_kernel.json does not say why")
    except (OSError, ValueError):
        return "frag_kernel.json is absent or unreadable"


def frag_kernel(runs):
    """One panel per request size (a row of panels per host): per path a bar for the call and,
    for DPDK, for the kernel's raise of nr_hugepages and EAL's start before it; failures
    hollow, successes marked by their pagemap check."""
    name, title = "frag_kernel", "The real kernel fragmented: growth, FAST_ONLY and DPDK per request size"
    skip = check_needs(runs, name)
    if skip:
        return Chart(name, title, skipped=skip)
    have = [run for run in runs if run.rows("frag_kernel")]
    sizes = sorted({r["request_bytes"] for run in have for r in run.rows("frag_kernel") if r.get("request_bytes")})
    paths = [p for p in FK_PATHS if any(fk_path_of(r) == p[0] for run in have for r in run.rows("frag_kernel"))]
    fig, axes = style.subplots(len(have), len(sizes), panel_w=2.9, panel_h=2.3, sharex=True, sharey=True)
    hosts = rundata.host_labels(have)
    nparts = len(FK_PARTS)
    h = 0.8 / nparts
    for ri, run in enumerate(have):
        by = {(fk_path_of(r), r.get("request_bytes")): r for r in run.rows("frag_kernel")}
        for ci, size in enumerate(sizes):
            ax = axes[ri][ci]
            for pi, (pname, peer, _) in enumerate(paths):
                r = by.get((pname, size))
                if r is None:
                    ax.text(1.0, pi, " not run", transform=ax.get_yaxis_transform(), va="center",
                            fontsize=7, color=style.MUTED)
                    continue
                col = style.colour(peer if peer != "mmcontig" else pname)
                for k, (part, _, hatch, alpha) in enumerate(FK_PARTS):
                    v = r.get(part)
                    if not v:
                        continue
                    y = pi - 0.4 + h * (k + 0.5)
                    failed = part == "latency_ns" and not r.get("success")
                    ax.barh(y, v, height=h * 0.92, left=1, color="white" if failed else col,
                            alpha=1.0 if failed else alpha, edgecolor=col, hatch="xx" if failed else hatch,
                            linewidth=0.8)
                ok, pm = r.get("success"), r.get("pagemap_ok")
                mark = ("ok" if pm != 0 else "ok, NOT contiguous") if ok else "failed"
                ax.text(max(r.get("latency_ns") or 1, 1) * 1.4, pi - 0.4 + h * 0.5,
                        f"{units.fmt_ns(r.get('latency_ns'))} {mark}", va="center", ha="left", fontsize=6.5,
                        color=style.WARN_COLOUR if (not ok and r.get("fast_only") != 1) or pm == 0 else "#222222")
            ax.set_yticks(range(len(paths)))
            ax.set_yticklabels([p[0].replace(" (", "\n(") for p in paths], fontsize=7.5)
            ax.set_ylim(len(paths) - 0.5, -0.5)
            ax.grid(axis="y", visible=False)
            if ri == 0:
                ax.set_title(f"{units.fmt_bytes(size)} request")
            if ri == len(have) - 1:
                ax.set_xlabel("time (log)")
            if len(have) > 1 and ci == 0:
                ax.set_ylabel(hosts[ri], fontsize=8)
    vals = [r[p] for run in have for r in run.rows("frag_kernel") for p, *_ in FK_PARTS if r.get(p)]
    if vals:
        axes[0][0].set_xscale("log")
        axes[0][0].set_xlim(min(vals) / 2, max(vals) * 200)  # room for the text after the bars
        style.log_ns_axis(axes[0][0], "x")
        from matplotlib import ticker  # a label every three decades: 1 us, 1 ms, 1 s
        axes[0][0].xaxis.set_major_locator(ticker.LogLocator(base=1000, numticks=8))
    from matplotlib.patches import Patch
    items = [style.header_item("Path")]
    for pname, peer, _ in paths:
        items.append((Patch(facecolor=style.colour(peer if peer != "mmcontig" else pname)), pname))
    items.append(style.header_item("Bar"))
    dpdk = any(p[1] != "mmcontig" for p in paths)
    for _, text, hatch, alpha in FK_PARTS if dpdk else FK_PARTS[:1]:
        items.append((Patch(facecolor="#444444", alpha=alpha, hatch=hatch, edgecolor="#444444"), text))
    items.append((Patch(facecolor="white", edgecolor="#444444", hatch="xx"), "the call failed"))
    held = {r.get("held_bytes") for run in have for r in run.rows("frag_kernel")}
    note = ("One request per path and size on the state the helper left (frag_kernel.csv). mmcontig's "
            "ordinary call includes its growth (the raise of nr_hugepages, faults, the frame database); "
            "DPDK's raise and EAL start come before its rte_memzone_reserve_bounded call and are drawn "
            "apart: like for like with the ordinary call is their sum. Text: the call's time; \"ok\": the "
            "block read back from pagemap is physically contiguous. FAST_ONLY must fail (the pool holds "
            "no free block); why each other failure failed: the report's table.")
    if not dpdk:
        note += " No DPDK rows: " + "; ".join(_fk_dpdk_status(run) for run in have) + "."
    sub = (f"{where(have, pools=False)} \u00b7 frag-kernel suite \u00b7 helper held "
           + ", ".join(units.fmt_bytes(x) for x in sorted(v for v in held if v)))
    _finish(fig, have, title, sub, note, items)
    return Chart(name, title, fig, note)


# --- (e2) scaling against threads (scale.csv) --------------------------------------------------

SCALE_PANELS = [("sim", "small"), ("sim", "medium"), ("real", "small"), ("real", "medium"),
                ("real", "mdl")]
SCALE_MIX_TEXT = {"small": "4K-64K", "medium": "1M-8M, range + 16M boundary", "mdl": "MDL 64K-1M"}


def scale_threads(runs):
    """Per pool and mix: total throughput (alloc + free pairs per second) against threads per
    engine, with ideal scaling (the 1-thread rate times the threads) as a dashed line of the
    engine's colour, and the allocation p99 against threads. Placement own (thread i on node
    i mod nodes) solid; one (every thread on node 0) dotted. The DPDK peer's rows (pool dpdk,
    placement any: its memzones on its own hugepages of the real pool's size) join the real
    pool's panels of their mix, solid."""
    name, title = "scale_threads", "Throughput and p99 latency against threads"
    skip = check_needs(runs, name)
    if skip:
        return Chart(name, title, skipped=skip)
    rows = [r for run in runs[:1] for r in run.rows("scale")]
    def in_panel(r, pool, mix):
        return r.get("mix") == mix and (r.get("pool") == pool or (pool == "real" and r.get("pool") == "dpdk"))
    panels = [p for p in SCALE_PANELS if any(in_panel(r, *p) for r in rows)]
    if not panels:
        return Chart(name, title, skipped="scale.csv has no rows of a known pool and mix")
    names = series_names(rows)
    fig, axes = style.subplots(2, len(panels), panel_w=3.0, panel_h=2.4)
    for col, (pool, mix) in enumerate(panels):
        top, bot = axes[0][col], axes[1][col]
        prow = [r for r in rows if in_panel(r, pool, mix)]
        tmax = 1
        for n in names:
            for placement, ls in (("own", "-"), ("one", ":"), ("any", "-")):
                pts = sorted((r["threads"], r["pairs_per_s"], r.get("alloc_p99_ns")) for r in prow
                             if label(r) == n and r.get("placement") == placement
                             and r.get("threads") and r.get("pairs_per_s") is not None)
                if not pts:
                    continue
                tmax = max(tmax, pts[-1][0])
                top.plot([p[0] for p in pts], [p[1] for p in pts], color=style.colour(n),
                         marker=style.marker(n), linestyle=ls, linewidth=1.3, markersize=4)
                bot.plot([p[0] for p in pts if p[2]], [p[2] for p in pts if p[2]], color=style.colour(n),
                         marker=style.marker(n), linestyle=ls, linewidth=1.3, markersize=4)
                one = [p[1] for p in pts if p[0] == 1]
                if placement in ("own", "any") and one:
                    top.plot([p[0] for p in pts], [one[0] * p[0] for p in pts], color=style.colour(n),
                             linestyle="--", linewidth=0.8, alpha=0.45)
        top.set_title(f"{pool} \u00b7 {SCALE_MIX_TEXT.get(mix, mix)}", fontsize=9)
        top.set_ylim(bottom=0)
        from matplotlib.ticker import EngFormatter
        top.yaxis.set_major_formatter(EngFormatter())
        if bot.lines:
            style.log_ns_axis(bot, "y")
        for ax in (top, bot):
            ax.set_xlim(0.8, tmax * 1.1)
            ax.set_xticks(sorted({r["threads"] for r in prow if r.get("threads")}))
        bot.set_xlabel("threads")
    axes[0][0].set_ylabel("pairs / s (alloc + free)")
    axes[1][0].set_ylabel("allocation p99")
    from matplotlib.lines import Line2D
    items = [style.header_item("Engine")] + [(style.series_handle(n), n) for n in names]
    items += [style.header_item("Line"),
              (Line2D([], [], color="#444444", linestyle="-"), "own node per thread"),
              (Line2D([], [], color="#444444", linestyle=":"), "all threads on node 0"),
              (Line2D([], [], color="#444444", linestyle="--", alpha=0.45), "ideal (1 thread x T)")]
    durations = sorted({r["duration_s"] / (r.get("reps") or 1) for r in rows if r.get("duration_s")})
    note = ("Each thread pinned to a CPU, a closed loop of one free and one allocation per step "
            "(16 blocks live per thread) for the point's duration; sim: a simulated pool of two "
            "nodes (no memory touched), real: the system partition of real hugepages. An engine "
            "that is not node-parallel takes the partition lock on every call. dpdk (in the real "
            "panels): rte_memzone_reserve_bounded(IOVA_CONTIG) and rte_memzone_free on DPDK's own "
            "hugepages, as many as the real pool's, in a process of its own (medium without the "
            "range, which DPDK cannot ask for).")
    reps = sorted({r.get("reps") for r in rows if r.get("reps")})
    dur = (f"{min(durations):.2f}-{max(durations):.2f} s per point"
           + (f", median of {'/'.join(str(x) for x in reps)} repetitions" if reps else "")) if durations else ""
    sub = f"{where(runs, pools=False)} \u00b7 scale suite \u00b7 {dur}"
    _finish(fig, runs, title, sub, note, items)
    return Chart(name, title, fig, note)


# --- (f) success heat map ----------------------------------------------------------------------

def success_heatmap(runs):
    name, title = "success_heatmap", "Share of calls that returned memory: request size against fill"
    skip = check_needs(runs, name)
    if skip:
        return Chart(name, title, skipped=skip)
    per_run = [reference_rows(run) for run in runs]
    allrows = [r for rows in per_run for r in rows]
    if not allrows:
        return Chart(name, title, skipped="search.csv has no rows without constraint on the reference pool")
    names = series_names(allrows)
    sizes = sorted({r["request_bytes"] for r in allrows})
    fills = sorted({r["fill_pct"] for r in allrows})
    hosts = rundata.host_labels(runs)
    panel_h = max(2.4, 0.5 + 0.2 * len(sizes))
    panel_w = max(1.55, 0.3 + 0.32 * len(fills))
    fig, axes = style.subplots(len(runs), len(names), panel_w=panel_w, panel_h=panel_h,
                               sharey=True, sharex=True)
    from matplotlib import colormaps
    cmap = colormaps["cividis"].copy()
    cmap.set_bad("#E4E4E4")
    im = None
    for i, rows in enumerate(per_run):
        for j, n in enumerate(names):
            ax = axes[i][j]
            idx = index([r for r in rows if label(r) == n], "request_bytes", "fill_pct")
            grid = np.full((len(sizes), len(fills)), np.nan)
            for si, s in enumerate(sizes):
                for fj, f in enumerate(fills):
                    r = idx.get((s, f))
                    if r is not None and success_rate(r) is not None:
                        grid[si, fj] = success_rate(r)
            im = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=0, vmax=1, aspect="auto",
                           origin="lower", interpolation="nearest")
            for si in range(len(sizes)):
                for fj in range(len(fills)):
                    v = grid[si, fj]
                    if np.isnan(v):
                        txt = "n/a"
                    elif 0 < v < 0.005:
                        txt = "<1"  # a success is never rounded away,
                    elif 0.995 <= v < 1:
                        txt = ">99"  # nor is a failure
                    else:
                        txt = f"{100 * v:.0f}"
                    colour_txt = "#333333" if np.isnan(v) else ("black" if v > 0.55 else "white")
                    ax.text(fj, si, txt, ha="center", va="center", fontsize=6.5, color=colour_txt)
            ax.grid(False)
            ax.set_xticks(range(len(fills)))
            ax.set_xticklabels([f"{f}" for f in fills])
            ax.set_yticks(range(len(sizes)))
            ax.set_yticklabels([units.fmt_bytes(s) for s in sizes])
            for sp in ax.spines.values():
                sp.set_visible(False)
            ttl = n + (f"\n{hosts[i]}" if len(runs) > 1 else "")
            ax.set_title(ttl, color=style.colour(n) if n in style.FIXED_COLOURS else "black",
                         weight="bold")
            if i == len(runs) - 1:
                ax.set_xlabel("fill %")
        axes[i][0].set_ylabel("request size")
    cb = fig.colorbar(im, ax=axes, shrink=0.6, aspect=30, pad=0.02)
    cb.set_label("calls that returned memory")
    cb.ax.yaxis.set_major_formatter(lambda v, _p: f"{100 * v:.0f} %")
    note = ("Cell: successes / calls, in percent (grey n/a: not measured). Successes depend on the "
            "layout the seeded aging trace reached, not only on the engine.")
    sub = f"{where(runs)} \u00b7 no constraint \u00b7 without FAST_ONLY"
    _finish(fig, runs, title, sub, note)
    return Chart(name, title, fig, note)


# --- peers -------------------------------------------------------------------------------------

def peers(runs):
    name, title = "peers", "mmcontig engines against DPDK and the kernel, same requests, same run"
    skip = check_needs(runs, name)
    if skip:
        return Chart(name, title, skipped=skip)
    per_run = [[r for r in run.rows("peers") if not _flags(r) & schema.FLAG_FAST_ONLY] for run in runs]
    allrows = [r for rows in per_run for r in rows]
    if not allrows:
        return Chart(name, title, skipped="peers.csv has no rows")
    constraints = sorted({r.get("constraint") or "none" for r in allrows}, key=rundata.constraint_key)
    names = series_names(allrows)
    sizes = sorted({r["request_bytes"] for r in allrows})
    hosts = rundata.host_labels(runs)
    fig, axes = style.subplots(len(runs) * len(constraints), 1, panel_w=min(14, 1.0 + 0.85 * len(sizes) * max(1, len(names)) / 3),
                               panel_h=2.9, sharey=True)
    flat = [a[0] for a in axes]
    lo_all, hi_all = [], []
    any_viol = any_fail = any_ci = False
    for i, rows in enumerate(per_run):
        for k, c in enumerate(constraints):
            ax = flat[i * len(constraints) + k]
            idx = index([r for r in rows if (r.get("constraint") or "none") == c],
                        "engine", "peer", "state", "request_bytes")
            by = {}
            for (eng, peer, _state, size), r in idx.items():
                by.setdefault(size, []).append(r)
            for gi, size in enumerate(sizes):
                group = sorted(by.get(size, []), key=lambda r: (r.get("state") == schema.STATE_GROW,
                                                                 rundata.order_key(label(r))))
                width = 0.84 / max(1, len(group))
                for bi, r in enumerate(group):
                    n = label(r)
                    grown = r.get("state") == schema.STATE_GROW
                    x = gi - 0.42 + width * (bi + 0.5)
                    p50, p99 = r.get("p50_ns"), r.get("p99_ns")
                    notes = []
                    sr = success_rate(r)
                    if (r.get("successes") or 0) > 0 and p50:
                        ax.bar(x, p50, width=width * 0.92, color=style.colour(n),
                               edgecolor="white", linewidth=0.4, bottom=0,
                               hatch="xxx" if grown else None)
                        lo_all.append(p50)
                        hi_all.append(max(p50, p99 or 0))
                        top = p50
                        if p99 and p99 > p50:
                            ax.errorbar(x, p50, yerr=[[0], [p99 - p50]], color="#222222",
                                        elinewidth=0.9, capsize=2, capthick=0.9, fmt="none")
                            top = p99
                        for col, mark in (("p50_ns", "#000000"), ("p99_ns", "#777777")):
                            iv = rundata.interval(r, col)
                            if iv and r.get(col) and iv[1] > iv[0]:
                                any_ci = True
                                ci_segment(ax, x, r[col], iv, mark, width=2.6, cap=False,
                                           alpha=0.6)
                                top = max(top, iv[1])
                                hi_all.append(iv[1])
                    else:
                        top = None
                        notes.append("all failed")
                        any_fail = True
                    if sr is not None and 0 < sr < 1:
                        notes.append(f"{100 * sr:.0f} % ok")
                        any_fail = True
                    if r.get("violations"):
                        notes.append(f"\u2717 {r['violations']} viol.")
                        any_viol = True
                    if notes:
                        warn = bool(r.get("violations")) or top is None
                        colour_txt = style.WARN_COLOUR if warn else "#333333"
                        if top:
                            ax.annotate("\n".join(notes), (x, top), xytext=(0, 3),
                                        textcoords="offset points", ha="center", va="bottom",
                                        fontsize=6.5, rotation=90, color=colour_txt)
                        else:  # no bar: write it standing on the axis, in the series' colour box
                            ax.text(x, 0.03, "\n".join(notes), transform=ax.get_xaxis_transform(),
                                    ha="center", va="bottom", fontsize=6.5, rotation=90,
                                    color=colour_txt,
                                    bbox=dict(boxstyle="square,pad=0.15", fc="white",
                                              ec=style.colour(n), lw=0.8, ls="--"))
            ax.set_xticks(range(len(sizes)))
            ax.set_xticklabels([units.fmt_bytes(s) for s in sizes])
            ax.set_xlim(-0.55, len(sizes) - 0.45)
            ax.grid(axis="x", visible=False)
            ttl = f"constraint: {c}" + (f" \u00b7 {hosts[i]}" if len(runs) > 1 else "")
            ax.set_title(ttl, loc="left")
            ax.set_ylabel("latency per call")
    for ax in flat:
        ax.set_yscale("log")
    if lo_all:
        bottom = 10 ** math.floor(math.log10(min(lo_all) / 2))
        top = max(hi_all) * 12  # room above the tallest whisker for the rotated notes
        for ax in flat:
            ax.set_ylim(bottom=bottom, top=top)
    for ax in flat:
        style.log_ns_axis(ax, "y")
    flat[-1].set_xlabel("request size")
    from matplotlib.patches import Patch
    items = [(Patch(color=style.colour(n)), n) for n in names]
    note = "Bars: p50 of successful calls; whiskers: p99."
    if any_ci:
        note += (" Thick dark strokes: the 95 % interval of p50 (on the bar's top) and of p99 (grey, "
                 "at the whisker's top).")
    if any(r.get("state") == schema.STATE_GROW for r in allrows):
        note += (" Cross-hatched: mmcontig growing a full 64 MiB pool for the request (state grow: "
                 "hugepages taken from the kernel inside the call; DPDK's came at its EAL start).")
    if any_fail:
        note += " 'x % ok': share of calls that returned memory; 'all failed': none did."
    if any_viol:
        note += (" \u2717 viol.: returned blocks that broke a constraint (contiguity, range, alignment, "
                 "boundary) when read back from pagemap.")
    note += " Each bar is one case measured in the same run on the same machine."
    sub = f"{where(runs, suite='peers')} \u00b7 peers suite \u00b7 one panel per constraint"
    _finish(fig, runs, title, sub, note, items)
    return Chart(name, title, fig, note)


# --- scenarios: the cases where the engines differ, time beside work ------------------------

def scenario_label(r):
    """One line naming a scenario case: state, request, constraint (and fill where it is set)."""
    st = r.get("state") or schema.STATE_AGED
    size = units.fmt_bytes(r.get("request_bytes"))
    if st == "near-largest":
        # the share, not the size: runs before the engines shared one partition gave each
        # engine its own hugepages, so its largest stretch could differ (results/README.md)
        lf = r.get("largest_free_bytes")
        share = f"{100 * r['request_bytes'] / lf:.0f} %" if lf and r.get("request_bytes") else "?"
        return f"near-largest {share} · fill {r.get('fill_pct')} %"
    if st == "cut":
        return f"cut {size} · boundary {units.fmt_bytes(r.get('boundary'))}"
    if r.get("constraint") == "dma32":
        return f"dma32 {size} · fill {r.get('fill_pct')} %"
    return f"{st} {size} · {r.get('constraint') or 'none'}"


def scenario_groups(rows):
    """[(label, {engine: row})] of the scenario rows, in run order of their first row."""
    groups = {}
    for r in rows:
        if is_scenario(r):
            groups.setdefault(scenario_label(r), {})[label(r)] = r
    return list(groups.items())


def _hbars(ax, groups, names, value, fail_value=None, success_notes=True, ci_col=None):
    """Grouped horizontal bars: one group per scenario, one bar per engine; value(row) -> number
    or None; fail_value(row): a hatched bar for cases where every call failed."""
    h = 0.84 / max(1, len(names))
    for gi, (_, by) in enumerate(groups):
        for k, n in enumerate(names):
            r = by.get(n)
            if r is None:
                continue
            y = gi - 0.42 + h * (k + 0.5)
            v = value(r)
            if v is not None and v > 0:
                ax.barh(y, v, height=h * 0.9, color=style.colour(n), left=0)
                iv = rundata.interval(r, ci_col) if ci_col else None
                if iv and iv[1] > iv[0]:
                    ci_segment(ax, y, v, iv, "#222222", horizontal=True, width=0.8)
            elif fail_value is not None and fail_value(r):
                ax.barh(y, fail_value(r), height=h * 0.9, color="white", edgecolor=style.colour(n),
                        hatch="////", linewidth=0.8)
            sr = success_rate(r)
            if success_notes and sr is not None and sr < 1:
                ax.text(1.0, y, f" {100 * sr:.0f} % ok", transform=ax.get_yaxis_transform(),
                        va="center", ha="left", fontsize=6, color=style.WARN_COLOUR, clip_on=False)
    ax.set_yticks(range(len(groups)))
    ax.set_yticklabels([g for g, _ in groups])
    ax.set_ylim(len(groups) - 0.5, -0.5)
    ax.grid(axis="y", visible=False)


def scenarios(runs):
    name, title = "scenarios", "Engines on the scenarios: latency beside search work"
    skip = check_needs(runs, name)
    if skip:
        return Chart(name, title, skipped=skip)
    run = runs[0]  # one run: the scenarios are compared engine by engine, not host by host
    search = [r for r in run.rows("search") if is_scenario(r)]
    fast = {(label(r), scenario_label(r)): r for r in run.rows("fastonly") if is_scenario(r)
            and _flags(r) & schema.FLAG_FAST_ONLY}
    groups = scenario_groups(search)
    if not groups:
        return Chart(name, title, skipped="search.csv has no scenario rows (state needle, cut, "
                                          "near-largest or constraint dma32)")
    names = series_names(search)
    fig, axes = style.subplots(1, 3, panel_w=3.9, panel_h=max(3.0, 0.42 * len(groups) + 1.0),
                               sharey=True)
    a_t, a_w, a_f = axes[0]
    _hbars(a_t, groups, names, lambda r: r.get("p50_ns") if (r.get("successes") or 0) else None,
           fail_value=lambda r: r.get("fail_p50_ns"), ci_col="p50_ns")
    a_t.set_xscale("log")
    style.log_ns_axis(a_t, "x")
    a_t.set_title("search p50 latency\n(hatched: every call failed; their p50)", fontsize=8.5)
    _hbars(a_w, groups, names, lambda r: r.get("work_p50"), success_notes=False)
    a_w.set_xscale("log")
    a_w.set_title("search work p50, all calls\n(each engine's own unit)", fontsize=8.5)
    fgroups = [(g, {n: fast[(n, g)] for n in names if (n, g) in fast}) for g, _ in groups]
    _hbars(a_f, fgroups, names, lambda r: r.get("work_max"))
    bounds = {n: run.fast_only_bound(n) for n in names}
    h = 0.84 / max(1, len(names))
    for gi in range(len(fgroups)):  # each engine's own bound, dashed across its own bar
        for k, n in enumerate(names):
            if bounds.get(n) and n in fgroups[gi][1]:
                y = gi - 0.42 + h * (k + 0.5)
                a_f.plot([bounds[n]] * 2, [y - h / 2, y + h / 2], color=style.WARN_COLOUR,
                         linewidth=1.0, linestyle="--")
    for gi, (_, by) in enumerate(fgroups):
        for k, n in enumerate(names):
            r = by.get(n)
            if r is not None and (r.get("false_negatives") or 0) > 0:
                a_f.text(0.0, gi - 0.42 + h * (k + 0.5), f"{r['false_negatives']} FN ",
                         transform=a_f.get_yaxis_transform(), ha="right", va="center",
                         fontsize=6, color=style.WARN_COLOUR)
    a_f.set_xscale("log")
    known = [b for b in bounds.values() if b]
    if known:
        a_f.set_xlim(0.7, max(known) * 4)
    a_f.set_title("FAST_ONLY: worst call's decision work\n(FN: false negatives; each engine's "
                  "bound dashed)", fontsize=8.5)
    a_w.set_xlim(left=0.7)
    for ax in (a_w, a_f):
        ax.xaxis.set_major_formatter(lambda v, _p: f"{v:,.0f}" if v >= 1 else f"{v:g}")
    a_w.set_xlabel("units examined per call")
    a_f.set_xlabel("units examined, worst call")
    a_t.set_xlabel("latency per call")
    wu = run.context.get("engine_work_units") or {}
    note = ("Scenarios (results/README.md): each state built once in the pool's one partition and "
            "searched by every engine in turn (mmc_partition_set_engine), so all meet the same free "
            "map, held fixed over the case. Work is what the engine examined per call, in its own unit: "
            + "; ".join(f"{n}: {wu[n]}" for n in names if n in wu)
            + ". Units differ between engines: compare each engine's bars across scenarios, and "
            "engines by how their work moves, not by its absolute value.")
    if any(rundata.interval(r, "p50_ns") for r in search):
        note += " Latency bars' whiskers: the 95 % interval of p50 (results/README.md \"Repetitions and intervals\")."
    sub = f"{where(runs, pools=False)} · search suite (left, middle), fastonly suite (right)"
    _finish(fig, runs, title, sub, note, legend_items(names, runs[:1], with_line=False))
    return Chart(name, title, fig, note)


ALL = [latency_ecdf, latency_vs_fill, latency_vs_pool, fastonly_fn, fastonly_vs_ordinary, frag_steady,
       frag_success_vs_u, frag_cost, frag_kernel,
       success_heatmap, peers, scenarios, scale_threads]


def draw_all(runs):
    """Every chart, in order; a chart that fails to draw becomes a skipped one with the error."""
    style.setup()
    out = []
    for fn in ALL:
        try:
            out.append(fn(runs))
        except Exception as e:  # a bug in one chart must not hide the others
            out.append(Chart(fn.__name__, fn.__name__, skipped=f"internal error: {type(e).__name__}: {e}"))
    return out
