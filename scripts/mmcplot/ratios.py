# scripts/mmcplot/ratios.py: the key ratios of the report, computed from one run's rows.
#
# Owns two comparisons, both between cases measured side by side in the same run on the same
# machine, both on the p50 of SUCCESSFUL calls (a failing engine can look fast; the success
# rates travel with every ratio):
#   best_vs_linear   linear's p50 over the best engine's at one fill level (70 %, or the
#                    level measured nearest to it within 5 points), no
#                    constraint, the reference pool; per request size and as a geometric mean
#                    over the sizes where linear and every other engine succeeded
#   peer_vs_mmcontig a peer's p50 (DPDK, the kernel) over mmcontig's best engine's, per request
#                    size and constraint of the peers suite
# Nothing here is a general speed-up claim: the report words them as what was measured.

import math

from . import charts, rundata, schema
from .rundata import label, success_rate


def geomean(values):
    values = [v for v in values if v and v > 0]
    if not values:
        return None
    return math.exp(sum(math.log(v) for v in values) / len(values))


def significance(a, b, metric="p50_ns"):
    """Whether two rows' metric differ beyond their 95 % intervals (results/README.md
    "Repetitions and intervals"): "significant", "not significant" (the intervals overlap), or
    None when either row has no interval (a run written before them)."""
    ia, ib = rundata.interval(a, metric), rundata.interval(b, metric)
    if ia is None or ib is None:
        return None
    return "not significant" if rundata.intervals_overlap(ia, ib) else "significant"


def _ok(r):
    return r is not None and (r.get("successes") or 0) > 0 and r.get("p50_ns")


def best_vs_linear(run, fill=70):
    """None when there is nothing to compare, else a dict:
    fill, pool (bytes, simulated, page), sizes (common sizes), best (engine), geomean, lo, hi,
    rows: [dict(size, linear, best_engine_at_size, best_at_size, ratio_best (best engine's),
    ratio_fastest, sr_linear, sr_best)], ranking: [(engine, geomean ratio)], reason (when None
    in geomean)."""
    ref_rows = charts.reference_rows(run)
    near = sorted({r.get("fill_pct") for r in ref_rows if r.get("fill_pct") is not None
                   and abs(r["fill_pct"] - fill) <= 5}, key=lambda f: abs(f - fill))
    if not near:
        return dict(reason=f"no search case within 5 points of {fill} % fill on the reference "
                           "pool without constraint")
    fill = near[0]
    rows = [r for r in ref_rows if r.get("fill_pct") == fill]
    idx = charts.index(rows, "engine", "request_bytes")
    engines = [e for e in charts.series_names(rows) if e != "linear"]
    if "linear" not in charts.series_names(rows):
        return dict(reason=f"no linear engine at {fill} % fill to compare with")
    if not engines:
        return dict(reason=f"only the linear engine was measured at {fill} % fill")
    sizes_lin = sorted(s for (e, s), r in idx.items() if e == "linear" and _ok(r))
    common = [s for s in sizes_lin if all(_ok(idx.get((e, s))) for e in engines)]
    basis = "every engine succeeded"
    ranking = []
    for e in engines:
        use = common or [s for s in sizes_lin if _ok(idx.get((e, s)))]
        g = geomean([idx[("linear", s)]["p50_ns"] / idx[(e, s)]["p50_ns"] for s in use])
        if g is not None:
            ranking.append((e, g, use))
    if not ranking:
        return dict(reason=f"no request size where linear and another engine both succeeded at {fill} % fill")
    if not common:
        basis = "linear and that engine succeeded"
    ranking.sort(key=lambda t: -t[1])
    best, g, use = ranking[0]
    per_size = []
    for s in use:
        lin = idx[("linear", s)]
        b = idx[(best, s)]
        fastest = min((e for e in engines if _ok(idx.get((e, s)))),
                      key=lambda e: idx[(e, s)]["p50_ns"])
        per_size.append(dict(size=s, linear=lin["p50_ns"], best=b["p50_ns"],
                             ratio=lin["p50_ns"] / b["p50_ns"],
                             fastest=fastest, fastest_p50=idx[(fastest, s)]["p50_ns"],
                             sr_linear=success_rate(lin), sr_best=success_rate(b),
                             ci_linear=rundata.interval(lin, "p50_ns"),
                             ci_best=rundata.interval(b, "p50_ns"),
                             significance=significance(lin, b)))
    ratios = [p["ratio"] for p in per_size]
    return dict(fill=fill, pool=run.reference_pool(), best=best, geomean=g, lo=min(ratios),
                hi=max(ratios), rows=per_size, basis=basis,
                ranking=[(e, r) for e, r, _ in ranking], reason=None)


def peer_vs_mmcontig(run):
    """[dict(peer, size, constraint, peer_p50, peer_sr, peer_violations, engine, engine_p50,
    engine_sr, engine_violations, ratio)] for every peer row that has mmcontig rows beside it
    (same request size and constraint). ratio = peer p50 / engine p50, None when either side
    had no successful call."""
    rows = [r for r in run.rows("peers") if not (r.get("flags") or 0) & schema.FLAG_FAST_ONLY]
    out = []
    keyed = {}
    for r in rows:
        keyed.setdefault((r.get("request_bytes"), r.get("constraint") or "none"), []).append(r)
    for (size, cons), group in sorted(keyed.items(), key=lambda kv: (kv[0][0] or 0, rundata.constraint_key(kv[0][1]))):
        # mmcontig searching its pool; its growth rows (state grow) are peers_ratio.csv's
        mine = [r for r in group if rundata.is_mmcontig(r) and r.get("state") != schema.STATE_GROW]
        others = [r for r in group if not rundata.is_mmcontig(r)]
        if not mine or not others:
            continue
        m_idx = charts.index(mine, "engine")
        m_ok = [r for r in m_idx.values() if _ok(r)]
        best = min(m_ok, key=lambda r: r["p50_ns"]) if m_ok else None
        for peer, pr in sorted(charts.index(others, "peer").items(), key=lambda kv: rundata.order_key(kv[0][0])):
            ratio = pr["p50_ns"] / best["p50_ns"] if best and _ok(pr) else None
            out.append(dict(peer=label(pr), size=size, constraint=cons,
                            peer_p50=pr.get("p50_ns") if _ok(pr) else None,
                            peer_p99=pr.get("p99_ns") if _ok(pr) else None,
                            peer_sr=success_rate(pr), peer_violations=pr.get("violations"),
                            engine=best.get("engine") if best else None,
                            engine_p50=best["p50_ns"] if best else None,
                            engine_p99=best.get("p99_ns") if best else None,
                            engine_sr=success_rate(best) if best else None,
                            engine_violations=best.get("violations") if best else None,
                            ratio=ratio,
                            significance=significance(pr, best) if ratio is not None else None))
    return out
