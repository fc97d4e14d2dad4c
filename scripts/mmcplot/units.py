# scripts/mmcplot/units.py: bytes and nanoseconds written for people.
#
# Owns the text of every quantity the charts and the report show: binary byte prefixes
# (4 KiB, 2 MiB, 1 TiB) and time with its own unit (850 ns, 1.2 us written with the micro sign,
# 3.4 ms), and the matplotlib tick formatters built on them.

import math

_BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]


def fmt_bytes(n):
    if n is None:
        return "?"
    n = float(n)
    i = 0
    while abs(n) >= 1024 and i < len(_BYTE_UNITS) - 1:
        n /= 1024
        i += 1
    if n == int(n):
        return f"{int(n)} {_BYTE_UNITS[i]}"
    return f"{n:.3g} {_BYTE_UNITS[i]}"


_TIME_UNITS = [(1e9, "s"), (1e6, "ms"), (1e3, "\u00b5s"), (1, "ns")]


def fmt_ns(ns, digits=3):
    """850 ns, 1.23 us, 15.2 ms; None -> an en dash."""
    if ns is None or (isinstance(ns, float) and math.isnan(ns)):
        return "\u2013"
    for scale, unit in _TIME_UNITS:
        if abs(ns) >= scale or scale == 1:
            v = ns / scale
            if v >= 100 or v == int(v):
                return f"{v:.0f} {unit}"
            return f"{v:.{digits}g} {unit}"
    return f"{ns} ns"


def fmt_pct(x, none="\u2013"):
    """A share 0..1 as a percentage: 100 %, 99.5 %, 0.12 %."""
    if x is None:
        return none
    p = 100.0 * x
    if 99.95 <= p < 100:
        return "> 99.9 %"  # never round a failure away
    if 0 < p < 0.01:
        return "< 0.01 %"
    if p == 0 or p == 100 or p >= 10:
        return f"{p:.0f} %" if p == int(p) else f"{p:.1f} %"
    return f"{p:.2g} %"


def fmt_ratio(r):
    """6.00x, 14.1x, 3,200x (with the multiplication sign)."""
    if r is None or not math.isfinite(r):
        return "\u2013"
    if r >= 100:
        return f"{r:,.0f}\u00d7"
    if r >= 10:
        return f"{r:.1f}\u00d7"
    return f"{r:.2f}\u00d7"


def ns_tick(value, _pos=None):
    """Tick label for a log latency axis: only decades and their 2x/5x get text."""
    if value <= 0:
        return ""
    return fmt_ns(value)


def bytes_tick(value, _pos=None):
    if value <= 0:
        return ""
    return fmt_bytes(value)
