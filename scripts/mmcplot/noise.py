# scripts/mmcplot/noise.py: whether a run's machine was quiet enough to trust (context.json
# `noise`, results/README.md).
#
# Owns the verdicts the report shows above everything else: warnings (the run is unreliable:
# steal time, a frequency that changed over the run) and notes (conditions that add noise:
# not pinned, SMT on, a governor other than performance, boost on, a costly timer), each a
# sentence naming what was measured and what to do. Plain standard library.

STEAL_WARN_PCT = 1.0      # steal time on the run's CPUs, share of their time
FREQ_WARN_RATIO = 1.05    # highest / lowest frequency seen on the run's CPUs
TIMER_NOTE_RATIO = 4.0    # p99 / p50 of a back-to-back clock_gettime pair


def verdicts(ctx):
    """[(level, text)], level "warn" (unreliable) or "note"; [] when nothing is to be said."""
    nz = ctx.get("noise") if isinstance(ctx, dict) else None
    if not isinstance(nz, dict):
        return [("note", "This run does not record the machine's noise (steal time, frequency, "
                         "pinning): it was written before context.json had `noise`; nothing can "
                         "be said of its reliability.")]
    out = []
    steal = nz.get("steal")
    if isinstance(steal, dict):
        pct = steal.get("affinity_steal_pct")
        if pct is None:
            pct = steal.get("steal_pct")
        if isinstance(pct, (int, float)) and pct >= STEAL_WARN_PCT:
            out.append(("warn", f"Steal time: the hypervisor ran other guests for {pct:.1f} % of "
                                "the time of this run's CPUs (/proc/stat). Latencies include those "
                                "pauses: the run is unreliable; rerun on a quiet host or on "
                                "dedicated CPUs."))
    else:
        out.append(("note", "Steal time over the run was not recorded (the run did not end "
                            "normally, or /proc/stat was unreadable)."))
    fr = nz.get("frequency_khz")
    if isinstance(fr, dict) and fr.get("min") and fr.get("max"):
        ratio = fr["max"] / fr["min"]
        if ratio >= FREQ_WARN_RATIO:
            out.append(("warn", f"CPU frequency changed over the run: {fr['min'] / 1000:.0f} to "
                                f"{fr['max'] / 1000:.0f} MHz on this run's CPUs ({fr.get('samples')} "
                                f"samples of {fr.get('source')}). Latencies measured at different "
                                "frequencies do not compare: the run is unreliable; set the "
                                "governor to performance and turn boost off."))
    cf = nz.get("cpufreq") if isinstance(nz.get("cpufreq"), dict) else {}
    govs = cf.get("governors") or {}
    other = sorted(g for g in govs if g != "performance")
    if other:
        out.append(("note", f"Frequency governor {', '.join(other)} on some of the run's CPUs: the "
                            "frequency follows the load (cpupower frequency-set -g performance)."))
    if str(cf.get("boost")) == "1" or str(cf.get("intel_pstate_no_turbo")) == "0":
        out.append(("note", "Boost (turbo) is on: the frequency depends on temperature and on "
                            "the other cores' load."))
    if nz.get("pinned") is False:
        out.append(("note", f"Not pinned: the process could run on all {nz.get('online_cpus')} "
                            "online CPUs (run it under taskset -c CPU, on an isolated CPU, for "
                            "less noise)."))
    smt = nz.get("smt") if isinstance(nz.get("smt"), dict) else {}
    if str(smt.get("active")) == "1":
        out.append(("note", "SMT is active: a sibling hardware thread shares the core with the "
                            "measured calls."))
    t = nz.get("timer") if isinstance(nz.get("timer"), dict) else {}
    if t.get("pair_p50_ns") and t.get("pair_p99_ns") and \
            t["pair_p99_ns"] >= TIMER_NOTE_RATIO * t["pair_p50_ns"]:
        out.append(("note", f"The timer is noisy: a clock_gettime pair costs {t['pair_p50_ns']:.0f} "
                            f"ns at p50 but {t['pair_p99_ns']:.0f} ns at p99."))
    return out
