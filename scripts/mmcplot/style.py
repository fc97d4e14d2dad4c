# scripts/mmcplot/style.py: how every chart looks.
#
# Owns the colour-blind-safe palette (Okabe & Ito, 2008; yellow left out: too light on white),
# one colour and one marker per engine or peer that stay the same in every chart, line styles
# for hosts, the matplotlib settings, and the frame around each figure: a title that says what
# is shown, a subtitle that says where (host, pool, page size, slice), a legend in its own band
# at the right so it never covers data, a note saying what the marks are, and a footer with
# the run's identity (run id, kernel, CPU, commit, seeds).

import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from . import units  # noqa: E402

OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "sky": "#56B4E9", "green": "#009E73",
    "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7", "grey": "#7F7F7F",
}
FIXED_COLOURS = {
    "linear": OKABE_ITO["black"], "bitmap": OKABE_ITO["orange"], "buddy": OKABE_ITO["sky"],
    "tlsf": OKABE_ITO["green"], "tree": OKABE_ITO["vermillion"],
    "dpdk": OKABE_ITO["blue"], "kernel-hugetlb-2M": OKABE_ITO["purple"],
    "kernel-hugetlb-1G": OKABE_ITO["grey"],
}
SPARE_COLOURS = ["#882255", "#44AA99", "#999933", "#332288", "#AA4499", "#117733"]  # Tol muted
FIXED_MARKERS = {
    "linear": "o", "bitmap": "s", "buddy": "^", "tlsf": "D", "tree": "v",
    "dpdk": "P", "kernel-hugetlb-2M": "X", "kernel-hugetlb-1G": "*",
}
SPARE_MARKERS = ["h", "p", "<", ">", "8", "d"]
HOST_STYLES = ["-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 3))]
WARN_COLOUR = "#C00000"
MUTED = "#555555"
_assigned = {}


def colour(name):
    if name in FIXED_COLOURS:
        return FIXED_COLOURS[name]
    if name not in _assigned:
        _assigned[name] = len(_assigned)
    return SPARE_COLOURS[_assigned[name] % len(SPARE_COLOURS)]


def marker(name):
    if name in FIXED_MARKERS:
        return FIXED_MARKERS[name]
    if name not in _assigned:
        _assigned[name] = len(_assigned)
    return SPARE_MARKERS[_assigned[name] % len(SPARE_MARKERS)]


def host_style(i):
    return HOST_STYLES[i % len(HOST_STYLES)]


def setup():
    plt.rcParams.update({
        "font.family": "DejaVu Sans",
        "font.size": 10, "axes.titlesize": 10, "axes.labelsize": 10,
        "xtick.labelsize": 9, "ytick.labelsize": 9, "legend.fontsize": 9,
        "axes.spines.top": False, "axes.spines.right": False,
        "axes.grid": True, "grid.color": "#DDDDDD", "grid.linewidth": 0.6,
        "axes.axisbelow": True, "lines.linewidth": 1.6, "lines.markersize": 5.5,
        "figure.facecolor": "white", "savefig.facecolor": "white",
        "svg.hashsalt": "mmcontig", "svg.fonttype": "path",
        "figure.constrained_layout.h_pad": 0.06, "figure.constrained_layout.w_pad": 0.06,
    })


MIN_WIDTH_IN = 6.5  # room for the title, the notes and the footer however few panels


def subplots(nrows, ncols, panel_w=3.3, panel_h=2.5, **kw):
    width = max(MIN_WIDTH_IN, panel_w * ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, panel_h * nrows),
                             layout="constrained", squeeze=False, **kw)
    return fig, axes


def log_ns_axis(ax, axis="y"):
    """A log latency axis labelled in ns / us / ms / s; 2x and 5x ticks too when the data
    spans less than two decades, so that a short axis still has several labels, and no more
    labels than the axis has room for (about one per 0.55 inch across, 0.24 inch up)."""
    a = ax.yaxis if axis == "y" else ax.xaxis
    (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
    lo, hi = (ax.get_ylim() if axis == "y" else ax.get_xlim())
    span = (hi / lo) if lo > 0 else 1e9
    subs = (1.0, 2.0, 5.0) if span < 100 else (1.0,)
    bbox = ax.get_position()
    fw, fh = ax.figure.get_size_inches()
    room = (bbox.height * fh / 0.24) if axis == "y" else (bbox.width * fw / 0.55)
    a.set_major_locator(ticker.LogLocator(base=10, subs=subs, numticks=max(3, int(room))))
    a.set_major_formatter(ticker.FuncFormatter(units.ns_tick))
    a.set_minor_locator(ticker.LogLocator(base=10, subs=[s for s in range(2, 10)], numticks=12))
    a.set_minor_formatter(ticker.NullFormatter())


def bytes_ticks(ax, values, axis="x", min_ratio=3.5):
    """Ticks at the given byte values (pool or request sizes) on a log axis, labelled 4 KiB,
    1 TiB; values closer than min_ratio to a labelled neighbour get an unlabelled tick."""
    a = ax.xaxis if axis == "x" else ax.yaxis
    vals = sorted(set(values))
    if len(vals) > 1:  # no more labels than about one per 0.7 inch of the axis
        bbox = ax.get_position()
        fw, fh = ax.figure.get_size_inches()
        length = bbox.width * fw if axis == "x" else bbox.height * fh
        most = max(2, int(length / 0.7))
        min_ratio = max(min_ratio, (vals[-1] / vals[0]) ** (1 / (most - 1)) * 0.999)
    keep = []
    for v in vals:
        if not keep or v / keep[-1] >= min_ratio:
            keep.append(v)
    if vals and keep[-1] != vals[-1]:
        keep[-1] = vals[-1]
    a.set_major_locator(ticker.FixedLocator(keep))
    a.set_major_formatter(ticker.FuncFormatter(units.bytes_tick))
    a.set_minor_locator(ticker.FixedLocator([v for v in vals if v not in keep]))
    a.set_minor_formatter(ticker.NullFormatter())


def header_item(text):
    """A legend entry that is only a heading (no mark)."""
    return (Line2D([], [], linestyle="none", marker=None), text)


def series_handle(name, linestyle="-", with_line=True, with_marker=True):
    return Line2D([], [], color=colour(name), marker=marker(name) if with_marker else None,
                  linestyle=linestyle if with_line else "none", markersize=6)


def frame(fig, title, subtitle="", footer="", note="", legend=None, legend_title=None,
          banner=None, legend_cols=1):
    """Title/subtitle above, legend band at the right, note and footer below; then the
    constrained layout is confined to what is left, so nothing overlaps."""
    w_in, h_in = fig.get_size_inches()
    # characters per line at each font size (DejaVu Sans averages ~0.55 em per character)
    sub_lines = textwrap.wrap(subtitle, int(w_in * 12.5)) if subtitle else []
    note_lines = []
    for para in (note or "").split("\n"):
        note_lines += textwrap.wrap(para, int(w_in * 14)) if para else []
    foot_lines = textwrap.wrap(footer, int(w_in * 16)) if footer else []
    title_lines = textwrap.wrap(title, int(w_in * 8.2))
    title_in = 0.28 + 0.22 * (len(title_lines) - 1)
    line_in = 0.17
    ban_in = 0.3 if banner else 0.0
    top_in = 0.14 + ban_in + title_in + line_in * len(sub_lines) + 0.08
    bottom_in = 0.08 + line_in * (len(note_lines) + len(foot_lines)) + 0.06
    fig.set_size_inches(w_in, h_in + top_in + bottom_in)
    H = h_in + top_in + bottom_in
    if banner:
        fig.text(0.012, 1 - 0.1 / H, banner, ha="left", va="top", fontsize=9, weight="bold",
                 color="white", bbox=dict(boxstyle="round,pad=0.25", fc=WARN_COLOUR, ec="none"))
    fig.text(0.012, 1 - (0.12 + ban_in) / H, "\n".join(title_lines), ha="left", va="top",
             fontsize=13, weight="bold", linespacing=1.1)
    if sub_lines:
        fig.text(0.012, 1 - (0.18 + ban_in + title_in) / H, "\n".join(sub_lines), ha="left", va="top",
                 fontsize=9.5, color="#333333", linespacing=1.25)
    y = 0.08 / H
    if foot_lines:
        fig.text(0.012, y, "\n".join(foot_lines), ha="left", va="bottom", fontsize=7.5,
                 color=MUTED, linespacing=1.25)
        y += line_in * len(foot_lines) / H
    if note_lines:
        fig.text(0.012, y, "\n".join(note_lines), ha="left", va="bottom", fontsize=8.5,
                 color="#222222", style="italic", linespacing=1.25)
    right = 0.0
    if legend:
        handles = [h for h, _ in legend]
        labels = [lab for _, lab in legend]
        leg = fig.legend(handles, labels, loc="upper left", bbox_to_anchor=(0, 1),
                         frameon=False, title=legend_title, ncol=legend_cols,
                         alignment="left", handlelength=2.4)
        heads = {lab for h, lab in legend if isinstance(h, Line2D) and h.get_marker() in
                 (None, "None", "") and h.get_linestyle() in ("None", "none")}
        for t in leg.get_texts():
            if t.get_text() in heads:
                t.set_weight("bold")
        if legend_title:
            leg.get_title().set_weight("bold")
        renderer = fig.canvas.get_renderer()
        lw = leg.get_window_extent(renderer).width / fig.dpi
        right = (lw + 0.3) / w_in
        leg.set_bbox_to_anchor((1 - right + 0.05 / w_in, 1 - top_in / H))
    fig.get_layout_engine().set(rect=(0, bottom_in / H, 1 - right, 1 - (top_in + bottom_in) / H))


def save(fig, path_base, formats):
    """Write path_base.<fmt> for each format; returns the paths."""
    out = []
    for fmt in formats:
        path = f"{path_base}.{fmt}"
        meta = {"Date": None} if fmt == "svg" else None
        fig.savefig(path, format=fmt, dpi=200, metadata=meta)
        out.append(path)
    return out


def png_bytes(fig, dpi=110):
    import io
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def close(fig):
    plt.close(fig)
