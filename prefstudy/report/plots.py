"""Figures for the HTML study report, each returned as an inline PNG (a ``data:`` URI).

Every public function is ``png_uri(_draw_x(...))``; the ``_draw_x`` helpers return the Figure so tests can
check what was drawn. Only matplotlib's object-oriented API is used (``Figure`` + ``FigureCanvasAgg``): no
pyplot state, no backend switch, nothing global is changed. None and NaN values are skipped in drawing.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator, StrMethodFormatter

from prefstudy.report.plot_style import (
    _SHARE_CMAP,
    ACCENT,
    DARK,
    GREY,
    LABEL_SIZE,
    MANY,
    MAX_GREY_RUNS,
    MAX_HEATMAP_CELLS,
    MAX_PANELS,
    MAX_RUN_COLOURS,
    PALETTE,
    PANELS_PER_ROW,
    TICK_SIZE,
    _ascending,
    _figure,
    _floats,
    _label,
    _no_data,
    _percent_axis,
    _row_height,
    _style,
    _subject_rows,
    _title,
    _whiskers,
    png_uri,
)

# ----------------------------------------------------------------------------------------------- accuracy


def _draw_accuracy_by_subject(subjects, accuracy, low, high, chance, title: str) -> Figure:
    n = len(subjects)
    if n == 0:
        return _no_data(title)
    acc = _floats(accuracy, n, "accuracy")
    lo, hi, ch = _floats(low, n, "low"), _floats(high, n, "high"), _floats(chance, n, "chance")
    return _accuracy_dots(subjects, acc, lo, hi, ch, title) if n <= MANY else _accuracy_histogram(acc, ch, title)


def _accuracy_dots(subjects, acc, lo, hi, ch, title: str) -> Figure:
    fig = _figure(6.0, _row_height(len(subjects)), "accuracy-dots")
    ax = fig.add_subplot()
    _style(ax, grid="x")
    order = _ascending(acc)
    rows = np.arange(len(order), dtype=float)
    acc, lo, hi, ch = acc[order], lo[order], hi[order], ch[order]
    _whiskers(ax, rows, lo, hi, ACCENT)
    shown = np.isfinite(ch)
    ax.plot(ch[shown], rows[shown], "|", color=GREY, markersize=9, markeredgewidth=1.5, gid="chance", label="chance")
    shown = np.isfinite(acc)
    ax.plot(acc[shown], rows[shown], "o", color=ACCENT, markersize=4.5, gid="estimate", label="accuracy, 95 % CI")
    _subject_rows(ax, subjects, order)
    ax.set_xlim(-0.02, 1.02)
    ax.set_xticks(np.linspace(0, 1, 5))
    _percent_axis(ax.xaxis, decimals=0)
    _label(ax, x="accuracy")
    _title(ax, title)
    ax.legend(fontsize=6, frameon=False, loc="upper left", handletextpad=0.3, borderaxespad=0.2)
    return fig


def _accuracy_histogram(acc, ch, title: str) -> Figure:
    fig = _figure(6.0, 3.0, "accuracy-histogram")
    hist_ax, strip_ax = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    values = acc[np.isfinite(acc)]
    _style(hist_ax, grid="y")
    hist_ax.hist(values, bins=np.linspace(0, 1, 41), color=ACCENT, edgecolor="white", linewidth=0.3, gid="histogram")
    hist_ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=4))
    _label(hist_ax, y="subjects")
    _title(hist_ax, f"{title} ({len(values)} subjects)")
    _style(strip_ax, grid="")
    jitter = np.random.default_rng(0).uniform(-1, 1, len(values))
    strip_ax.scatter(values, jitter, s=3, color=ACCENT, alpha=0.25, linewidths=0, gid="strip")
    strip_ax.set_yticks([])
    strip_ax.set_ylim(-1.4, 1.4)
    strip_ax.spines["left"].set_visible(False)
    finite_chance = ch[np.isfinite(ch)]
    if len(finite_chance):
        median = float(np.median(finite_chance))
        for ax in (hist_ax, strip_ax):
            ax.axvline(median, color=GREY, linestyle="--", linewidth=1, gid="chance")
        hist_ax.text(
            median, 1.0, " median chance", transform=hist_ax.get_xaxis_transform(), color=GREY, fontsize=6, va="top"
        )
    strip_ax.set_xlim(-0.02, 1.02)
    strip_ax.set_xticks(np.linspace(0, 1, 5))
    _percent_axis(strip_ax.xaxis, decimals=0)
    _label(strip_ax, x="accuracy")
    return fig


def accuracy_by_subject(
    subjects: list[str],
    accuracy: list[float],
    low: list[float | None],
    high: list[float | None],
    chance: list[float | None],
    title: str,
) -> str:
    """Accuracy per subject: a dot plot with 95 % whiskers and chance ticks (<= 50 subjects), else a
    histogram over a jittered strip with the median chance marked."""
    return png_uri(_draw_accuracy_by_subject(subjects, accuracy, low, high, chance, title))


# ----------------------------------------------------------------------------------------------- gain


def _draw_gain_forest(subjects, gain, low, high, title: str, xlabel: str = "gain (points)") -> Figure:
    n = len(subjects)
    if n == 0:
        return _no_data(title)
    g, lo, hi = _floats(gain, n, "gain"), _floats(low, n, "low"), _floats(high, n, "high")
    if n <= MANY:
        fig = _figure(6.0, _row_height(n), "forest")
        ax = fig.add_subplot()
        _style(ax, grid="x")
        order = _ascending(g)
        rows = np.arange(n, dtype=float)
        g, lo, hi = g[order], lo[order], hi[order]
        _whiskers(ax, rows, lo, hi, ACCENT)
        shown = np.isfinite(g)
        ax.plot(g[shown], rows[shown], "s", color=ACCENT, markersize=4, gid="estimate")
        _subject_rows(ax, subjects, order)
    else:
        fig = _figure(6.0, 3.2, "caterpillar")
        ax = fig.add_subplot()
        _style(ax, grid="x")
        keep = np.isfinite(g)
        g, lo, hi = g[keep], lo[keep], hi[keep]
        order = np.argsort(g, kind="stable")
        g, lo, hi = g[order], lo[order], hi[order]
        rows = np.arange(1, len(g) + 1, dtype=float)
        ax.fill_betweenx(rows, lo, hi, color=ACCENT, alpha=0.2, linewidth=0, gid="interval")
        ax.plot(g, rows, color=ACCENT, linewidth=1.2, gid="estimate")
        ax.set_ylim(0, len(g) + 1)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
        _label(ax, y=f"subjects, sorted ({len(g)})")
    ax.axvline(0, color=GREY, linewidth=1, gid="zero")
    _label(ax, x=xlabel)
    _title(ax, title)
    return fig


def gain_forest(
    subjects: list[str],
    gain: list[float],
    low: list[float | None],
    high: list[float | None],
    title: str,
    xlabel: str = "gain (points)",
) -> str:
    """Gain per subject with its interval and a zero line: a forest plot (<= 50 subjects), else a
    caterpillar plot (sorted estimates over an interval band, no subject labels)."""
    return png_uri(_draw_gain_forest(subjects, gain, low, high, title, xlabel))


# ----------------------------------------------------------------------------------------------- confusion


def _draw_confusion_matrices(titles, matrices) -> Figure:
    if len(titles) != len(matrices):
        raise ValueError(f"{len(titles)} titles for {len(matrices)} matrices")
    if len(matrices) > MAX_PANELS:
        raise ValueError(f"at most {MAX_PANELS} confusion matrices, got {len(matrices)}")
    n = len(matrices)
    if n == 0:
        return _no_data("confusion matrices")
    cols = min(PANELS_PER_ROW, n)
    rows = math.ceil(n / PANELS_PER_ROW)
    fig = _figure(0.5 + 1.65 * cols, 0.3 + 1.7 * rows, "confusion")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for index, ax in enumerate(axes):
        if index >= n:
            ax.remove()
            continue
        tp, fp, fn, tn = (int(v) for v in matrices[index])
        # The paper's layout: rows = what the subject said, columns = what the model said.
        counts = np.array([[tp, fn], [fp, tn]], dtype=float)
        totals = counts.sum(axis=1, keepdims=True)
        share = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
        ax.imshow(share, cmap=_SHARE_CMAP, vmin=0, vmax=1)
        for (r, c), count in np.ndenumerate(counts):
            colour = "white" if share[r, c] > 0.6 else DARK
            ax.text(c, r, f"{int(count)}", ha="center", va="center", fontsize=LABEL_SIZE, color=colour)
        ax.set_xticks([0, 1], ["pref.", "not"])
        ax.set_yticks([0, 1], ["pref.", "not"])
        ax.tick_params(labelsize=TICK_SIZE - 1, length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_title(str(titles[index]), fontsize=TICK_SIZE + 0.5)
        if index % PANELS_PER_ROW == 0:
            ax.set_ylabel("subject said", fontsize=TICK_SIZE)
        if index >= n - cols:
            ax.set_xlabel("model said", fontsize=TICK_SIZE)
    return fig


def confusion_matrices(titles: list[str], matrices: list[tuple[int, int, int, int]]) -> str:
    """Small multiples of (tp, fp, fn, tn) tables laid out [[tp, fn], [fp, tn]] (rows: the subject said,
    columns: the model said), shaded by share of the row; at most 12 panels, 4 per row."""
    return png_uri(_draw_confusion_matrices(titles, matrices))


# ----------------------------------------------------------------------------------------------- training


def _curve(points) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ordered = sorted(points, key=lambda p: p[0])
    epochs = np.array([float(p[0]) for p in ordered])
    return epochs, _floats([p[1] for p in ordered]), _floats([p[2] for p in ordered])


def _segments(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    ok = np.isfinite(y)
    return np.column_stack([x[ok], y[ok]])


def _median_curve(curves: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    epochs = np.concatenate([e for e, _ in curves])
    values = np.concatenate([v for _, v in curves])
    ok = np.isfinite(values)
    epochs, values = epochs[ok], values[ok]
    unique, group = np.unique(epochs, return_inverse=True)
    return unique, np.array([np.median(values[group == i]) for i in range(len(unique))])


def _draw_training_curves(curves: dict, title: str) -> Figure:
    runs = {label: _curve(points) for label, points in curves.items() if points}
    if not runs:
        return _no_data(title)
    many = len(runs) > MAX_RUN_COLOURS
    fig = _figure(6.0 if many else 6.8, 3.0, "training-grey" if many else "training")
    ax = fig.add_subplot()
    _style(ax)
    if many:
        # Thousands of overlapping grey lines read as one blob and cost seconds to draw; an evenly spaced
        # sample shows the spread as well, and the median is taken over every run.
        grey = np.unique(np.linspace(0, len(runs) - 1, min(len(runs), MAX_GREY_RUNS)).round().astype(int))
        for column, style, gid in ((1, "--", "median-train"), (2, "-", "median")):
            series = [(run[0], run[column]) for run in runs.values()]
            lines = [line for line in (_segments(*series[i]) for i in grey) if len(line)]
            ax.add_collection(LineCollection(lines, colors=GREY, linewidths=0.5, alpha=0.3, linestyles=style))
            epochs, median = _median_curve(series)
            ax.plot(epochs, median, style, color=ACCENT, linewidth=2.2, gid=gid)
        ax.autoscale_view()
        shown = f"{len(grey)} of {len(runs)}" if len(grey) < len(runs) else f"{len(runs)}"
        ax.text(
            0.99,
            0.02,
            f"{shown} runs; bold: median of all, dashed: train",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=6,
            color=DARK,
        )
    else:
        handles = []
        for (label, (epochs, train, val)), colour in zip(runs.items(), PALETTE, strict=False):
            ok = np.isfinite(train)
            ax.plot(epochs[ok], train[ok], "--", color=colour, linewidth=1.1, gid="train")
            ok = np.isfinite(val)
            ax.plot(epochs[ok], val[ok], "-", color=colour, linewidth=1.4, gid="validation")
            handles.append(Line2D([], [], color=colour, linewidth=1.4, label=str(label)))
        handles += [
            Line2D([], [], color=GREY, linestyle="--", linewidth=1.1, label="train"),
            Line2D([], [], color=GREY, linestyle="-", linewidth=1.4, label="validation"),
        ]
        fig.legend(handles=handles, loc="outside right upper", fontsize=6, frameon=False)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _percent_axis(ax.yaxis)
    _label(ax, x="epoch", y="accuracy")
    _title(ax, title)
    return fig


def training_curves(curves: dict[str, list[tuple[int, float, float | None]]], title: str) -> str:
    """Accuracy per epoch for each run, train dashed and validation solid in the run's colour; above 12 runs
    every run is thin grey and the median curves are bold, without a legend."""
    return png_uri(_draw_training_curves(curves, title))


# ----------------------------------------------------------------------------------------------- agreement


def _draw_kappa_matrix(subjects, kappa, title: str) -> Figure:
    n = len(subjects)
    if n == 0:
        return _no_data(title)
    matrix = np.asarray(kappa, dtype=float)
    if matrix.shape != (n, n):
        raise ValueError(f"kappa has shape {matrix.shape}, expected ({n}, {n})")
    side = min(5.5, 2.6 + 0.13 * n)
    labelled = n <= MANY
    fig = _figure(side + 0.8, side, "kappa-heatmap" if labelled else "kappa-heatmap-unlabelled")
    ax = fig.add_subplot()
    cmap = _diverging()
    shown, block = _block_mean(matrix, MAX_HEATMAP_CELLS)
    image = ax.imshow(np.ma.masked_invalid(shown), cmap=cmap, vmin=-1, vmax=1, interpolation="nearest")
    for spine in ax.spines.values():
        spine.set_visible(False)
    size = TICK_SIZE if n <= 25 else 5
    if labelled:
        names = [str(s) for s in subjects]
        ax.set_xticks(np.arange(n), names, rotation=90, fontsize=size)
        ax.set_yticks(np.arange(n), names, fontsize=size)
        ax.tick_params(length=0)
        if n <= 10:
            for (r, c), value in np.ndenumerate(matrix):
                if np.isfinite(value):
                    colour = "white" if abs(value) > 0.6 else DARK
                    ax.text(c, r, f"{value:.2f}", ha="center", va="center", fontsize=6, color=colour)
    else:
        ax.set_xticks([])
        ax.set_yticks([])
        note = f", mean of {block}x{block} blocks" if block > 1 else ""
        _label(ax, x=f"{n} subjects{note}", y=f"{n} subjects")
    bar = fig.colorbar(image, ax=ax, shrink=0.8, aspect=25)
    bar.ax.tick_params(labelsize=TICK_SIZE - 1, length=2)
    bar.set_label("Cohen's κ", fontsize=TICK_SIZE)
    bar.outline.set_visible(False)
    _title(ax, title)
    return fig


def _block_mean(matrix: np.ndarray, cells: int) -> tuple[np.ndarray, int]:
    """The matrix averaged (NaN ignored) over square blocks so that a side has at most ``cells`` cells: a
    figure a few hundred pixels wide cannot show more, and resampling millions of cells is slow."""
    n = len(matrix)
    block = math.ceil(n / cells)
    if block == 1:
        return matrix, 1
    side = math.ceil(n / block)
    padded = np.full((side * block, side * block), np.nan)
    padded[:n, :n] = matrix
    blocks = padded.reshape(side, block, side, block)
    finite = np.isfinite(blocks)
    counts = finite.sum(axis=(1, 3))
    sums = np.where(finite, blocks, 0.0).sum(axis=(1, 3))
    return np.divide(sums, counts, out=np.full(counts.shape, np.nan), where=counts > 0), block


def _diverging():
    from matplotlib import colormaps

    return colormaps["RdBu"].with_extremes(bad="white")


def kappa_matrix(subjects: list[str], kappa: np.ndarray, title: str) -> str:
    """Pairwise agreement as a heatmap (diverging, -1..1, NaN blank), subjects on both axes (labels up to
    50 subjects)."""
    return png_uri(_draw_kappa_matrix(subjects, kappa, title))


def _draw_kappa_distribution(counts, edges, median, title: str, undefined: int = 0) -> Figure:
    counts = np.asarray(counts, dtype=np.int64)
    edges = np.asarray(edges, dtype=float)
    if len(edges) != len(counts) + 1:
        raise ValueError(f"{len(counts)} counts need {len(counts) + 1} bin edges, not {len(edges)}")
    if counts.sum() == 0:
        return _no_data(title)
    fig = _figure(5.0, 2.4, "kappa-histogram")
    ax = fig.add_subplot()
    _style(ax, grid="y")
    ax.stairs(counts, edges, fill=True, color=ACCENT, edgecolor="white", linewidth=0.3, gid="histogram")
    ax.axvline(0, color=GREY, linewidth=1, gid="chance")
    if median is not None and math.isfinite(median):
        ax.axvline(median, color=DARK, linestyle="--", linewidth=1, gid="median")
        ax.text(median, 1.0, f" median {median:.2f}", transform=ax.get_xaxis_transform(), fontsize=6, va="top")
    ax.set_xlim(-1.02, 1.02)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
    counted = int(counts.sum())
    shown = (
        f"{counted:,} pairs"
        if not undefined
        else f"{counted:,} of {counted + undefined:,} pairs; {undefined:,} undefined"
    )
    _label(ax, x=f"Cohen's κ ({shown})", y="pairs")
    _title(ax, title)
    return fig


def kappa_distribution(counts, edges, median: float | None, title: str, undefined: int = 0) -> str:
    """Histogram of pairwise kappa, given as ``counts`` in the bins ``edges`` (the report holds counts, not
    millions of values), with the ``median`` marked and zero (chance agreement) in grey; ``undefined``: pairs
    without a kappa, named in the axis label beside those counted."""
    return png_uri(_draw_kappa_distribution(counts, edges, median, title, undefined))


# ----------------------------------------------------------------------------------------------- labels needed


def _draw_labels_curves(curves: list[dict], title: str) -> Figure:
    drawn = [(str(c.get("label", "")), _curve(c["points"])) for c in curves if c.get("points")]
    if not drawn:
        return _no_data(title)
    fig = _figure(5.5, 2.8, "labels-curves")
    ax = fig.add_subplot()
    _style(ax)
    for index, (label, (labels, accuracy, sd)) in enumerate(drawn):
        colour = PALETTE[index % len(PALETTE)]
        ok = np.isfinite(accuracy)
        ax.plot(labels[ok], accuracy[ok], "o-", color=colour, markersize=3, linewidth=1.3, label=label, gid="curve")
        band = ok & np.isfinite(sd)
        if band.any():
            x, y, s = np.where(band, labels, np.nan), accuracy, sd
            ax.fill_between(x, y - s, y + s, color=colour, alpha=0.18, linewidth=0, gid="band")
    xs = np.concatenate([x[np.isfinite(y)] for _, (x, y, _sd) in drawn])
    positive = xs[xs > 0]
    if len(positive) and positive.max() > 10 * positive.min():
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(StrMethodFormatter("{x:g}"))
    _percent_axis(ax.yaxis)
    _label(ax, x="labels", y="accuracy")
    _title(ax, title)
    if len(drawn) > 1 or drawn[0][0]:
        ax.legend(fontsize=6, frameon=False, loc="lower right")
    return fig


def labels_curves(curves: list[dict], title: str) -> str:
    """Accuracy against the number of labels, a line per curve with a +-sd band; each curve is
    ``{"label": str, "points": [(labels, accuracy, sd or None), ...]}``. The x axis is logarithmic when the
    labels span more than 10x."""
    return png_uri(_draw_labels_curves(curves, title))
