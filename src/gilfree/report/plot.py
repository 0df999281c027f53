"""The speed-up plot (``--plot``: PNG, SVG or PDF), behind the ``plot`` extra."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

from gilfree.comparison import CellResult, Comparison

PLOT_EXTRA_HINT = 'pip install "gilfree[plot]"'


def require_matplotlib() -> Any:
    """``matplotlib.pyplot`` on the Agg backend, or an ImportError that says what to install."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError(f"--plot needs matplotlib: {PLOT_EXTRA_HINT}") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


#: Colour by variant and line style by runner, the same in every panel.
_VARIANT_COLOURS = {"python": "C0", "gil": "C3", "nogil": "C2", "openmp": "C4"}
_INTERPRETER_MARKERS = ("o", "s", "^", "D")
_RUNNER_STYLES = {"serial": "-.", "threads": "-", "processes": "--", "dask": ":", "interpreters": (0, (5, 1))}


#: The legend's entries for the marks on doubtful points (see :func:`_mark_doubtful`).
FALLBACK_LABEL = "hollow: ran serially"
FLAGGED_LABEL = "x: noisy or >workers (bar: range)"
#: The ``gid`` of the artists that draw those marks, for whoever inspects the figure.
FALLBACK_GID, FLAGGED_GID = "serial-fallback", "flagged"


def _mark_doubtful(ax: Any, pts: list[CellResult], marker: str, colour: str, handles: dict[str, Any]) -> None:
    """Mark the points whose speed-up is not what it seems, as the table's notes do.

    A cell that ran serially (the serial fallback) gets a hollow marker: its speed-up is
    the harness's choice of the calling thread, not the runner's. A flagged one (noisy, or
    above its worker count) gets a black cross and a bar over its round-by-round range.
    """
    fallback = [c for c in pts if c.serial_fallback]
    if fallback:
        ax.plot(
            [c.workers for c in fallback],
            [c.speedup for c in fallback],
            linestyle="none",
            marker=marker,
            markerfacecolor="white",
            markeredgecolor=colour,
            zorder=3,
            gid=FALLBACK_GID,
        )
        handles.setdefault(FALLBACK_LABEL, _proxy(marker, markerfacecolor="white", markeredgecolor="0.3"))
    flagged = [c for c in pts if c.flags]
    if flagged:
        ranged = [c for c in flagged if c.speedup_range]
        ax.vlines(
            [c.workers for c in ranged],
            [c.speedup_range[0] for c in ranged],  # type: ignore[index]
            [c.speedup_range[1] for c in ranged],  # type: ignore[index]
            colors=colour,
            linewidth=1,
            alpha=0.6,
        )
        ax.plot(
            [c.workers for c in flagged],
            [c.speedup for c in flagged],
            linestyle="none",
            marker="x",
            color="black",
            zorder=4,
            gid=FLAGGED_GID,
        )
        handles.setdefault(FLAGGED_LABEL, _proxy("x", color="black"))


def _proxy(marker: str, **style: Any) -> Any:
    """A legend handle that draws only a marker."""
    from matplotlib.lines import Line2D

    return Line2D([], [], linestyle="none", marker=marker, **style)


def figure(comparison: Comparison):
    """Speed-up against workers: one panel per kernel, one line per variant x runner, and the
    ideal line. Serial rows with one worker are the baselines (1.0 by definition), so they are
    not drawn, except ``openmp``, whose serial runner is drawn over its thread counts. Points
    that ran serially are hollow, and flagged ones crossed (:func:`_mark_doubtful`)."""
    plt = require_matplotlib()
    kernels = comparison.kernels()
    ncols = min(3, len(kernels))
    nrows = math.ceil(len(kernels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.4 * nrows), squeeze=False)
    flat = list(axes.flat)
    for ax in flat[len(kernels) :]:
        fig.delaxes(ax)
    all_workers = sorted({c.workers for c in comparison.cells})
    lo, hi = all_workers[0], all_workers[-1]
    handles: dict[str, Any] = {}
    interps = list(dict.fromkeys(c.interpreter or "" for c in comparison.cells))
    for ax, kname in zip(flat, kernels, strict=False):
        (ideal,) = ax.plot([lo, hi], [lo, hi], color="0.6", linestyle=":", linewidth=1)
        handles.setdefault("ideal", ideal)
        lines: dict[tuple[str, str, str], list[CellResult]] = {}
        for c in comparison.cells:
            if c.kernel != kname or c.speedup is None:
                continue
            if c.runner == "serial" and c.variant != "openmp":
                continue
            lines.setdefault((c.interpreter or "", c.variant, c.runner), []).append(c)
        for (interp, variant, runner), pts in lines.items():
            pts.sort(key=lambda c: c.workers)
            name = f"{variant} ({pts[0].size})" if variant == "python" else variant
            label = name if variant == "openmp" else f"{name} + {runner}"
            if interp:
                label = f"{interp}: {label}"
            colour = _VARIANT_COLOURS.get(variant)
            marker = _INTERPRETER_MARKERS[interps.index(interp) % len(_INTERPRETER_MARKERS)]
            (line,) = ax.plot(
                [c.workers for c in pts],
                [c.speedup for c in pts],
                marker=marker,
                color=colour,
                linestyle=_RUNNER_STYLES.get(runner, "-"),
                label=label,
            )
            handles.setdefault(label, line)
            _mark_doubtful(ax, pts, marker, line.get_color(), handles)
        ax.set_title(kname)
        ax.set_xticks(all_workers)
        ax.set_xlabel("workers")
        ax.set_ylabel("speed-up")
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
    for key in (FALLBACK_LABEL, FLAGGED_LABEL):  # the marks' entries last, after the lines
        if key in handles:
            handles[key] = handles.pop(key)
    # One legend for the figure: every panel uses the same colours and line styles.
    ncol = min(4, 2 * ncols, len(handles))
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=ncol)
    fig.suptitle(f"gilfree compare: speed-up over serial, {comparison.machine.get('cores')} cores")
    legend_in = 0.25 * math.ceil(len(handles) / ncol) + 0.15  # inches the legend needs
    height = fig.get_figheight()
    fig.tight_layout(rect=(0, legend_in / height, 1, 1 - 0.35 / height))
    return fig


#: What ``--plot FILE`` writes, by FILE's extension; stdout ("-") gets the first.
PLOT_FORMATS = ("png", "svg", "pdf")


def plot_format(target: str) -> str:
    """The format ``--plot TARGET`` is written in: its extension, or png for stdout ("-").

    Any other extension is a ``ValueError``: the name of a file should say what it holds.
    """
    if target == "-":
        return PLOT_FORMATS[0]
    fmt = Path(target).suffix.lower().lstrip(".")
    if fmt not in PLOT_FORMATS:
        raise ValueError(f"--plot {target}: name a .png, .svg or .pdf file; the format comes from the name")
    return fmt


def to_image(comparison: Comparison, fmt: str = "png") -> bytes:
    """The plot as the bytes of an image in ``fmt``, one of :data:`PLOT_FORMATS`."""
    if fmt not in PLOT_FORMATS:
        raise ValueError(f"plot format {fmt!r}: expected one of {', '.join(PLOT_FORMATS)}")
    plt = require_matplotlib()
    fig = figure(comparison)
    try:
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=110)
        return buf.getvalue()
    finally:
        plt.close(fig)


def to_png(comparison: Comparison) -> bytes:
    """The plot as PNG bytes."""
    return to_image(comparison, "png")
