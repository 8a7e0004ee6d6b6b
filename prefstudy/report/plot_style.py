"""The report figures' shared look and helpers: sizes, colours, axes style, inline PNG encoding."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

DPI = 100
MANY = 50  # above this many subjects, per-subject rows give way to distributions
MAX_RUN_COLOURS = 12  # above this many runs, training curves are drawn grey with a bold median
MAX_GREY_RUNS = 200
MAX_PANELS = 12
PANELS_PER_ROW = 4
MAX_HEATMAP_CELLS = 300  # per side; larger agreement matrices are shown as block means

ACCENT = "#1f6fb4"
GREY = "#8c8c8c"
DARK = "#333333"
GRID = "#e4e4e4"
TITLE_SIZE = 9
LABEL_SIZE = 8
TICK_SIZE = 7
# Distinct colours for up to MAX_RUN_COLOURS runs (tab10 plus two), the accent first.
PALETTE = (
    ACCENT,
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#393b79",
    "#637939",
)
_SHARE_CMAP = LinearSegmentedColormap.from_list("prefstudy-share", ["#ffffff", ACCENT])


def png_uri(fig: Figure) -> str:
    """The figure as a ``data:image/png;base64,...`` URI; the figure is cleared afterwards to free it."""
    buffer = io.BytesIO()
    # No "Software" entry: the PNG bytes then depend only on the drawing, not on the matplotlib version.
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    fig.clear()
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


# ----------------------------------------------------------------------------------------------- helpers


def _figure(width: float, height: float, kind: str) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    fig.set_label(kind)  # lets tests (and callers) tell which kind of figure a branch drew
    return fig


def _style(ax, grid: str = "both") -> None:
    ax.spines[["top", "right"]].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_linewidth(0.8)
        ax.spines[side].set_color(GREY)
    ax.tick_params(labelsize=TICK_SIZE, length=2.5, width=0.6, colors=DARK)
    if grid:
        ax.grid(True, axis=grid, color=GRID, linewidth=0.6)
    ax.set_axisbelow(True)


def _title(ax, title: str) -> None:
    ax.set_title(title, fontsize=TITLE_SIZE, loc="left")


def _label(ax, x: str | None = None, y: str | None = None) -> None:
    if x is not None:
        ax.set_xlabel(x, fontsize=LABEL_SIZE)
    if y is not None:
        ax.set_ylabel(y, fontsize=LABEL_SIZE)


def _floats(values, n: int | None = None, name: str = "values") -> np.ndarray:
    """A float array with None as NaN; ``n`` checks the length."""
    # numpy turns None into NaN; a whole list given as None means "none known".
    array = np.full(n or 0, np.nan) if values is None else np.asarray(values, dtype=float).ravel()
    if n is not None and len(array) != n:
        raise ValueError(f"{name} has {len(array)} values, expected {n}")
    return array


def _no_data(title: str) -> Figure:
    fig = _figure(3.0, 1.2, "no-data")
    ax = fig.add_subplot()
    ax.set_axis_off()
    _title(ax, title)
    ax.text(0.5, 0.45, "no data", ha="center", va="center", fontsize=LABEL_SIZE, color=GREY)
    return fig


def _row_height(n: int) -> float:
    return max(1.8, 0.7 + 0.18 * n)


def _subject_rows(ax, subjects: Sequence[str], order: np.ndarray) -> None:
    ax.set_yticks(np.arange(len(order)), [str(subjects[i]) for i in order])
    ax.tick_params(axis="y", labelsize=TICK_SIZE if len(order) <= 30 else 6, length=0)
    ax.set_ylim(-0.7, len(order) - 0.3)


def _ascending(values: np.ndarray) -> np.ndarray:
    """Indices sorting ``values`` ascending with NaN first, so they land at the bottom of a row plot."""
    return np.argsort(np.where(np.isnan(values), -np.inf, values), kind="stable")


def _whiskers(ax, rows: np.ndarray, low: np.ndarray, high: np.ndarray, colour: str) -> None:
    ok = np.isfinite(low) & np.isfinite(high)
    ax.hlines(rows[ok], low[ok], high[ok], color=colour, linewidth=1.2, alpha=0.55, gid="interval")


def _percent_axis(axis, decimals: int | None = None) -> None:
    axis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=decimals))
