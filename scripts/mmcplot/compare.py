# scripts/mmcplot/compare.py: two runs compared case by case (scripts/compare, mmcontig compare).
#
# Owns the matching of cases between two runs, the per-case ratios (B / A of p50 and p99 of the
# successful calls), the Mann-Whitney U test over the repetitions' own percentiles (rep_p50_ns,
# rep_p99_ns; as Google Benchmark's tools/compare.py does over its repetitions), the geometric
# means per suite and engine, the regression verdict behind the exit code, and the chart of the
# ratios. The statistics need the standard library only; the chart imports matplotlib (style).
#
# Significance of one case and metric (p50 or p99):
#   utest  when both runs have repetitions enough that the two-sided U test can reach alpha
#          (with 3 against 3 its smallest p is 0.1: never below 0.05), p < alpha;
#   ci     otherwise, the two rows' 95 % intervals (results/README.md "Repetitions and
#          intervals") do not overlap;
#   none   neither is known (runs written before the repetitions): never significant.
# A regression: B slower than A by more than the threshold (ratio > 1 + threshold) and
# significant, on a metric the caller selected.

import math

from . import rundata, schema

SUITES = ("search", "fastonly", "peers")
METRICS = ("p50_ns", "p99_ns")


# --- statistics -----------------------------------------------------------------------------

def _ranks(values):
    """Mid-ranks (1-based) of values, ties sharing their mean rank; and the tie groups' sizes."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    ties = []
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        if j > i:
            ties.append(j - i + 1)
        i = j + 1
    return ranks, ties


def _u_counts(n1, n2):
    """counts[u] = number of arrangements of n1 + n2 distinct values giving U = u for the first
    sample (the exact null distribution), by the recurrence f(n1, n2, u) = f(n1 - 1, n2, u - n2)
    + f(n1, n2 - 1, u)."""
    # table[b][u] for the current a, built up over a
    prev = [[1] for _ in range(n2 + 1)]  # a = 0: U = 0 only
    for a in range(1, n1 + 1):
        cur = [[1]]  # b = 0: U = 0 only
        for b in range(1, n2 + 1):
            size = a * b + 1
            row = [0] * size
            left = prev[b]  # f(a - 1, b, u - b)
            for u, c in enumerate(left):
                row[u + b] += c
            below = cur[b - 1]  # f(a, b - 1, u)
            for u, c in enumerate(below):
                row[u] += c
            cur.append(row)
        prev = cur
    return prev[n2]


def mann_whitney(x, y):
    """Two-sided Mann-Whitney U test of samples x and y: (U of x, p). Exact when there are no
    ties and n1 * n2 <= 400, else the normal approximation with the tie and continuity
    corrections. None when either sample is empty."""
    n1, n2 = len(x), len(y)
    if not n1 or not n2:
        return None
    ranks, ties = _ranks(list(x) + list(y))
    r1 = sum(ranks[:n1])
    u1 = r1 - n1 * (n1 + 1) / 2
    mu = n1 * n2 / 2
    if not ties and n1 * n2 <= 400:
        counts = _u_counts(n1, n2)
        total = sum(counts)
        u = min(u1, n1 * n2 - u1)
        tail = sum(counts[: int(math.floor(u)) + 1]) / total
        return u1, min(1.0, 2 * tail)
    n = n1 + n2
    tie_term = sum(t ** 3 - t for t in ties) / (n * (n - 1))
    var = n1 * n2 / 12 * ((n + 1) - tie_term)
    if var <= 0:  # every value equal: no evidence of a difference
        return u1, 1.0
    z = (abs(u1 - mu) - 0.5) / math.sqrt(var)
    p = math.erfc(max(z, 0) / math.sqrt(2))
    return u1, min(1.0, p)


def min_p(n1, n2):
    """The smallest two-sided p the exact U test can give for these sample sizes."""
    if not n1 or not n2:
        return 1.0
    return min(1.0, 2 / math.comb(n1 + n2, n1))


def geomean(values):
    values = [v for v in values if v and v > 0]
    if not values:
        return None
    return math.exp(sum(math.log(v) for v in values) / len(values))


# --- matching -------------------------------------------------------------------------------

def case_key(r):
    """What names a case across runs: suite, who, pool, request, constraint, state, fill, node,
    flags (and the boundary of a cut state). A near-largest request is a share of the state's
    largest stretch, which differs between machines: its key holds the share instead."""
    state = r.get("state") or schema.STATE_AGED
    req = r.get("request_bytes")
    if state == "near-largest" and r.get("largest_free_bytes"):
        req = f"{round(100 * (req or 0) / r['largest_free_bytes'])}%"
    return (r.get("suite"), r.get("peer") or "mmcontig", r.get("engine") or "",
            # a peer's pool_bytes is the machine's (MemTotal) or DPDK's -m: not part of its name
            r.get("pool_bytes") if (r.get("peer") or "mmcontig") == "mmcontig" else "",
            r.get("simulated"), r.get("page_bytes"), req, r.get("constraint") or "none", state,
            r.get("fill_pct"), r.get("node"), r.get("flags") or 0,
            r.get("boundary") if state == "cut" else "")


def case_name(r):
    """A short readable name of a case (for the table)."""
    from . import units
    who = rundata.label(r)
    state = r.get("state") or schema.STATE_AGED
    pool = units.fmt_bytes(r.get("pool_bytes")) + (" sim" if r.get("simulated") else "")
    req = units.fmt_bytes(r.get("request_bytes"))
    parts = [r.get("suite") or "?", who, pool, req, r.get("constraint") or "none"]
    if state != schema.STATE_AGED:
        parts.append(f"state {state}")
    if state in (schema.STATE_AGED, "near-largest"):
        parts.append(f"fill {r.get('fill_pct')}")
    if r.get("node") not in (None, "", "any"):
        parts.append(f"node {r.get('node')}")
    return " / ".join(str(p) for p in parts)


def _ok(r):
    return (r.get("successes") or 0) > 0


class Case:
    """One matched case: rows a and b, and per metric: ratio (b / a), p, test, significant."""

    def __init__(self, key, a, b):
        self.key, self.a, self.b = key, a, b
        self.name = case_name(b)
        self.suite = b.get("suite")
        self.who = rundata.label(b)
        self.ratio, self.p, self.test, self.significant = {}, {}, {}, {}


def compare_cases(run_a, run_b, alpha=0.05):
    """(cases, only_a, only_b): the matched cases and the keys found in one run only."""
    cases, only_a, only_b = [], [], []
    for suite in SUITES:
        ia = {case_key(r): r for r in run_a.rows(suite)}
        ib = {case_key(r): r for r in run_b.rows(suite)}
        only_a += [k for k in ia if k not in ib]
        only_b += [k for k in ib if k not in ia]
        for k, rb in ib.items():
            ra = ia.get(k)
            if ra is None:
                continue
            c = Case(k, ra, rb)
            for m in METRICS:
                va, vb = ra.get(m), rb.get(m)
                if not (_ok(ra) and _ok(rb) and va and vb):
                    c.ratio[m] = None
                    c.test[m] = "n/a"
                    c.significant[m] = False
                    c.p[m] = None
                    continue
                c.ratio[m] = vb / va
                xa, xb = rundata.rep_values(ra, m), rundata.rep_values(rb, m)
                if len(xa) >= 2 and len(xb) >= 2 and min_p(len(xa), len(xb)) < alpha:
                    _u, p = mann_whitney(xa, xb)
                    c.p[m] = p
                    c.test[m] = "utest"
                    c.significant[m] = p < alpha
                elif rundata.interval(ra, m) and rundata.interval(rb, m):
                    c.p[m] = None
                    c.test[m] = "ci"
                    c.significant[m] = not rundata.intervals_overlap(rundata.interval(ra, m),
                                                                    rundata.interval(rb, m))
                else:
                    c.p[m] = None
                    c.test[m] = "none"
                    c.significant[m] = False
            cases.append(c)
    return cases, only_a, only_b


def summary(cases):
    """[(suite, who, n, geomean p50 ratio, geomean p99 ratio, significant slower, significant
    faster)] per suite and engine or peer, in the usual order."""
    groups = {}
    for c in cases:
        groups.setdefault((c.suite, c.who), []).append(c)
    out = []
    for (suite, who), cs in sorted(groups.items(), key=lambda kv: (SUITES.index(kv[0][0])
                                                                   if kv[0][0] in SUITES else 9,
                                                                   rundata.order_key(kv[0][1]))):
        g50 = geomean([c.ratio["p50_ns"] for c in cs])
        g99 = geomean([c.ratio["p99_ns"] for c in cs])
        slower = sum(1 for c in cs if c.significant["p50_ns"] and c.ratio["p50_ns"] > 1)
        faster = sum(1 for c in cs if c.significant["p50_ns"] and c.ratio["p50_ns"] < 1)
        out.append((suite, who, len(cs), g50, g99, slower, faster))
    return out


def regressions(cases, threshold, metrics=("p50_ns",)):
    """The cases that regressed: significant and B / A > 1 + threshold on a selected metric."""
    out = []
    for c in cases:
        for m in metrics:
            r = c.ratio.get(m)
            if r is not None and c.significant.get(m) and r > 1 + threshold:
                out.append((c, m))
    return out


def reps_of(run):
    """The most repetitions any row of the run merged (0 for runs written before them)."""
    n = 0
    for s in SUITES:
        for r in run.rows(s):
            if isinstance(r.get("reps"), int):
                n = max(n, r["reps"])
    return n


# --- the chart ------------------------------------------------------------------------------

def chart(cases, run_a, run_b, label_a, label_b, threshold, alpha):
    """The ratios' chart: one panel per suite, a column of points per engine or peer (B / A of
    p50, log scale), significant slower red, significant faster green, the rest grey; the
    geometric mean as a bar across each column, the threshold dashed. Returns a figure."""
    from matplotlib import ticker
    from . import charts as ch, style
    suites = [s for s in SUITES if any(c.suite == s for c in cases)]
    fig, axes = style.subplots(1, max(1, len(suites)), panel_w=3.6, panel_h=3.4, sharey=True)
    lo, hi = 1.0, 1.0
    for ax, suite in zip(axes[0], suites):
        cs = [c for c in cases if c.suite == suite and c.ratio["p50_ns"]]
        whos = sorted({c.who for c in cs}, key=rundata.order_key)
        for xi, who in enumerate(whos):
            mine = sorted((c for c in cs if c.who == who), key=lambda c: c.ratio["p50_ns"])
            n = len(mine)
            for k, c in enumerate(mine):
                r = c.ratio["p50_ns"]
                lo, hi = min(lo, r), max(hi, r)
                jitter = (k / max(1, n - 1) - 0.5) * 0.5 if n > 1 else 0
                if c.significant["p50_ns"]:
                    colour = "#C00000" if r > 1 else "#1A7F37"
                    ax.plot(xi + jitter, r, "o", markersize=3.4, color=colour, alpha=0.9, zorder=3)
                else:
                    ax.plot(xi + jitter, r, "o", markersize=3.0, markerfacecolor="none",
                            markeredgecolor="#999999", markeredgewidth=0.6, zorder=2)
            g = geomean([c.ratio["p50_ns"] for c in mine])
            if g:
                ax.plot([xi - 0.4, xi + 0.4], [g, g], color=style.colour(who), linewidth=3.2,
                        alpha=0.75, zorder=1.5, solid_capstyle="butt")
        ax.axhline(1.0, color="#444444", linewidth=0.8, zorder=1)
        ax.axhline(1 + threshold, color="#C00000", linewidth=0.8, linestyle="--", zorder=1)
        ax.set_xticks(range(len(whos)))
        ax.set_xticklabels(whos, rotation=40, ha="right", rotation_mode="anchor")
        ax.set_xlim(-0.6, len(whos) - 0.4)
        ax.set_title(f"{suite} ({len(cs)} cases)")
        ax.grid(axis="x", visible=False)
    for ax in axes[0]:
        ax.set_yscale("log")
        span = max(hi * 1.15, (1 + threshold) * 1.1), min(lo / 1.15, 0.9)
        ax.set_ylim(span[1], span[0])
        fmt = ticker.FuncFormatter(lambda v, _p: f"{v:.3g}\u00d7")
        ax.yaxis.set_major_formatter(fmt)
        ax.yaxis.set_minor_formatter(fmt)
        ax.tick_params(axis="y", which="minor", labelsize=7.5)
    axes[0][0].set_ylabel("p50 ratio, B \u00f7 A")
    from matplotlib.lines import Line2D
    legend = [
        (Line2D([], [], marker="o", linestyle="none", color="#C00000"), "slower, significant"),
        (Line2D([], [], marker="o", linestyle="none", color="#1A7F37"), "faster, significant"),
        (Line2D([], [], marker="o", linestyle="none", markerfacecolor="none",
                markeredgecolor="#999999"), "not significant"),
        (Line2D([], [], color="#555555", linewidth=3.2, alpha=0.75),
         "geometric mean\n(in the engine's colour)"),
        (Line2D([], [], color="#C00000", linestyle="--"), f"threshold {1 + threshold:g}\u00d7"),
    ]
    tests = {c.test["p50_ns"] for c in cases}
    how = []
    if "utest" in tests:
        how.append(f"Mann-Whitney U over the repetitions' p50, p < {alpha:g}")
    if "ci" in tests:
        how.append("where the repetitions are too few for the U test to reach that level (3 "
                   "against 3: its smallest p is 0.1), the two 95 % intervals not overlapping")
    note = ("One point per case measured in both runs (its successful calls' p50 in B over A); "
            "the bar across each column is the geometric mean of that engine's or peer's ratios. "
            "Read it with the table of scripts/compare (compare.csv has every case). "
            "Significant: " + ("; ".join(how) if how else "never (no repetitions in these runs)")
            + ".")
    sub = f"A = {label_a} \u00b7 B = {label_b} \u00b7 above 1\u00d7: B slower"
    style.frame(fig, "Case by case: run B against run A", sub, ch.footer([run_a, run_b]), note,
                legend, None, ch.banner([run_a, run_b]))
    return fig
