"""The report's figures: valid, deterministic PNG data URIs, and the right drawing in each branch."""

from __future__ import annotations

import base64
import io
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from prefstudy.report import plots

N_LARGE = 2513


def _png(uri: str) -> Image.Image:
    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix)
    image = Image.open(io.BytesIO(base64.b64decode(uri[len(prefix) :], validate=True)))
    image.load()
    assert image.format == "PNG"
    return image


def _gid(ax, gid: str) -> list:
    return [artist for artist in ax.get_children() if artist.get_gid() == gid]


def _one(ax, gid: str):
    found = _gid(ax, gid)
    assert len(found) == 1, f"{len(found)} artists with gid {gid!r}"
    return found[0]


def _subjects(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    accuracy = rng.uniform(0.4, 0.95, n)
    return (
        [f"s{i:04d}" for i in range(n)],
        accuracy,
        accuracy - 0.08,
        np.minimum(accuracy + 0.08, 1.0),
        rng.uniform(0.45, 0.6, n),
    )


def _runs(n: int, epochs: int = 10) -> dict:
    rng = np.random.default_rng(1)
    return {
        f"run {r}": [(e, 0.6 + 0.03 * e + rng.normal(0, 0.01), 0.55 + 0.02 * e) for e in range(1, epochs + 1)]
        for r in range(n)
    }


def _kappa(n: int) -> np.ndarray:
    rng = np.random.default_rng(2)
    kappa = rng.uniform(-0.5, 1.0, (n, n))
    kappa = (kappa + kappa.T) / 2
    np.fill_diagonal(kappa, np.nan)
    return kappa


SMALL_CALLS = {
    "accuracy_by_subject": lambda: plots.accuracy_by_subject(*_subjects(8), title="Accuracy"),
    "gain_forest": lambda: plots.gain_forest(["a", "b", "c"], [2.0, -1.0, None], [0.0, -3.0, None], [4, 1, None], "G"),
    "confusion_matrices": lambda: plots.confusion_matrices(["a", "b"], [(10, 2, 3, 9), (0, 0, 0, 0)]),
    "training_curves": lambda: plots.training_curves(_runs(3), "Training"),
    "kappa_matrix": lambda: plots.kappa_matrix(["a", "b", "c"], _kappa(3), "Agreement"),
    "kappa_distribution": lambda: plots.kappa_distribution([0, 1, 2, 0], [-1, -0.5, 0, 0.5, 1], 0.1, "Kappa", 2),
    "labels_curves": lambda: plots.labels_curves(
        [{"label": "vgg", "points": [(20, 0.6, 0.05), (200, 0.7, None), (2000, 0.8, 0.02)]}], "Labels"
    ),
}


@pytest.mark.parametrize(
    "name",
    [
        n if n in ("accuracy_by_subject", "gain_forest") else pytest.param(n, marks=pytest.mark.slow)
        for n in SMALL_CALLS
    ],
)
def test_each_figure_is_a_deterministic_png_data_uri(name):
    first, second = SMALL_CALLS[name](), SMALL_CALLS[name]()
    assert first == second
    image = _png(first)
    assert 250 <= image.width <= 1000 and 100 <= image.height <= 1000


EMPTY_CALLS = {
    "accuracy_by_subject": lambda: plots._draw_accuracy_by_subject([], [], [], [], [], "Accuracy"),
    "gain_forest": lambda: plots._draw_gain_forest([], [], [], [], "Gain"),
    "confusion_matrices": lambda: plots._draw_confusion_matrices([], []),
    "training_curves": lambda: plots._draw_training_curves({"run": []}, "Training"),
    "kappa_matrix": lambda: plots._draw_kappa_matrix([], np.zeros((0, 0)), "Agreement"),
    "kappa_distribution": lambda: plots._draw_kappa_distribution([0, 0], [-1, 0, 1], None, "Kappa"),
    "labels_curves": lambda: plots._draw_labels_curves([{"label": "x", "points": []}], "Labels"),
}


@pytest.mark.parametrize("name", EMPTY_CALLS)
def test_empty_input_draws_a_small_no_data_figure(name):
    fig = EMPTY_CALLS[name]()
    assert fig.get_label() == "no-data"
    assert "no data" in [text.get_text() for text in fig.axes[0].texts]
    image = _png(plots.png_uri(fig))
    assert image.size == (300, 120)


def test_few_subjects_get_one_sorted_row_each_with_whiskers_and_chance():
    subjects, accuracy, low, high, chance = _subjects(6)
    accuracy = list(accuracy)
    accuracy[2] = None  # drawn as a row without a dot, at the bottom
    low = list(low)
    low[4] = None  # no whisker
    chance[5] = np.nan
    fig = plots._draw_accuracy_by_subject(subjects, accuracy, low, high, chance, "Accuracy")
    assert fig.get_label() == "accuracy-dots"
    (ax,) = fig.axes
    dots = _one(ax, "estimate")
    assert len(dots.get_xdata()) == 5
    assert list(dots.get_xdata()) == sorted(a for a in accuracy if a is not None)
    labels = [tick.get_text() for tick in ax.get_yticklabels()]
    assert labels[0] == "s0002"
    assert labels[1:] == [subjects[i] for i in np.argsort([a if a is not None else -1 for a in accuracy])][1:]
    assert len(_one(ax, "interval").get_segments()) == 5
    assert len(_one(ax, "chance").get_xdata()) == 5
    assert ax.get_xlim()[0] <= 0 and ax.get_xlim()[1] >= 1
    assert ax.get_xlabel() == "accuracy" and ax.get_title(loc="left") == "Accuracy"
    assert ax.xaxis.get_major_formatter()(0.5, 0) == "50%"


def test_many_subjects_get_a_histogram_over_a_strip_with_the_median_chance():
    subjects, accuracy, low, high, chance = _subjects(N_LARGE)
    accuracy[7] = np.nan
    fig = plots._draw_accuracy_by_subject(subjects, accuracy, low, high, chance, "Accuracy")
    assert fig.get_label() == "accuracy-histogram"
    histogram, strip = fig.axes
    assert sum(bar.get_height() for bar in _gid(histogram, "histogram")) == N_LARGE - 1
    assert len(_one(strip, "strip").get_offsets()) == N_LARGE - 1
    for ax in (histogram, strip):
        assert list(_one(ax, "chance").get_xdata()) == [np.median(chance)] * 2
    assert histogram.get_yticklabels() and not strip.get_yticks().size
    assert "2512 subjects" in histogram.get_title(loc="left")

    assert _png(plots.accuracy_by_subject(subjects, accuracy, low, high, chance, "Accuracy")).size == (600, 300)


def test_a_forest_plot_sorts_subjects_by_gain_around_a_zero_line():
    fig = plots._draw_gain_forest(["a", "b", "c", "d"], [2.0, -1.0, None, 5.0], [0, -3, None, 1], [4, 1, 2, 9], "Gain")
    assert fig.get_label() == "forest"
    (ax,) = fig.axes
    assert list(_one(ax, "estimate").get_xdata()) == [-1.0, 2.0, 5.0]
    assert [tick.get_text() for tick in ax.get_yticklabels()] == ["c", "b", "a", "d"]
    assert len(_one(ax, "interval").get_segments()) == 3
    assert list(_one(ax, "zero").get_xdata()) == [0, 0]
    assert ax.get_xlabel() == "gain (points)"


def test_many_gains_become_a_caterpillar_without_subject_labels():
    rng = np.random.default_rng(3)
    gain = rng.normal(2, 5, N_LARGE)
    gain[10] = np.nan
    subjects = [f"s{i}" for i in range(N_LARGE)]
    fig = plots._draw_gain_forest(subjects, gain, gain - 3, gain + 3, "Gain", xlabel="gain (pp)")
    assert fig.get_label() == "caterpillar"
    (ax,) = fig.axes
    line = _one(ax, "estimate").get_xdata()
    assert len(line) == N_LARGE - 1 and np.all(np.diff(line) >= 0)
    assert _one(ax, "interval")  # the band
    assert list(_one(ax, "zero").get_xdata()) == [0, 0]
    assert not any(tick.get_text().startswith("s") for tick in ax.get_yticklabels())
    assert ax.get_xlabel() == "gain (pp)"
    assert _png(plots.gain_forest(subjects, gain, gain - 3, gain + 3, "Gain")).size == (600, 320)


def test_confusion_tables_use_the_papers_layout_shaded_by_row_share():
    matrices = [(30, 10, 5, 55), (0, 0, 0, 0), (1, 2, 3, 4), (4, 3, 2, 1), (9, 9, 9, 9)]
    fig = plots._draw_confusion_matrices([f"t{i}" for i in range(5)], matrices)
    assert len(fig.axes) == 5  # 4 in the first row, 1 in the second; the empty slots are removed
    first = fig.axes[0]
    assert [text.get_text() for text in first.texts] == ["30", "5", "10", "55"]  # [[tp, fn], [fp, tn]]
    np.testing.assert_allclose(first.images[0].get_array(), [[30 / 35, 5 / 35], [10 / 65, 55 / 65]])
    np.testing.assert_array_equal(fig.axes[1].images[0].get_array(), np.zeros((2, 2)))
    assert first.get_title() == "t0" and first.get_ylabel() == "subject said"
    assert fig.axes[4].get_xlabel() == "model said"
    with pytest.raises(ValueError, match="at most 12"):
        plots.confusion_matrices(["x"] * 13, [(1, 1, 1, 1)] * 13)
    with pytest.raises(ValueError):
        plots.confusion_matrices(["x"], [])


def test_training_curves_draw_train_dashed_and_validation_solid_in_one_colour_per_run():
    curves = _runs(3, epochs=5)
    curves["run 1"][2] = (3, 0.7, None)
    fig = plots._draw_training_curves(curves, "Training")
    assert fig.get_label() == "training"
    (ax,) = fig.axes
    train, validation = _gid(ax, "train"), _gid(ax, "validation")
    assert len(train) == len(validation) == 3
    assert all(line.get_linestyle() == "--" for line in train)
    assert all(line.get_linestyle() == "-" for line in validation)
    assert [line.get_color() for line in train] == [line.get_color() for line in validation]
    assert len({line.get_color() for line in train}) == 3
    assert list(validation[1].get_xdata()) == [1, 2, 4, 5]
    legend = [text.get_text() for text in fig.legends[0].get_texts()]
    assert legend[:3] == ["run 0", "run 1", "run 2"]
    assert ax.get_xlabel() == "epoch"


def test_many_runs_are_grey_with_a_bold_median_and_no_legend():
    curves = _runs(250, epochs=6)
    fig = plots._draw_training_curves(curves, "Training")
    assert fig.get_label() == "training-grey"
    (ax,) = fig.axes
    assert not fig.legends and ax.get_legend() is None
    grey = ax.collections
    assert len(grey) == 2 and all(len(c.get_segments()) == plots.MAX_GREY_RUNS for c in grey)
    median = _one(ax, "median")
    expected = [np.median([points[e][2] for points in curves.values()]) for e in range(6)]
    np.testing.assert_allclose(median.get_ydata(), expected)
    assert median.get_linewidth() > 2 * grey[0].get_linewidths()[0]
    assert _one(ax, "median-train").get_linestyle() == "--"


def test_the_kappa_heatmap_is_diverging_with_labels_and_blank_nans():
    kappa = _kappa(4)
    fig = plots._draw_kappa_matrix(["a", "b", "c", "d"], kappa, "Agreement")
    ax = fig.axes[0]
    image = ax.images[0]
    assert image.get_clim() == (-1, 1)
    assert image.get_array().mask.diagonal().all() and not image.get_array().mask[0, 1]
    assert [tick.get_text() for tick in ax.get_xticklabels()] == ["a", "b", "c", "d"]
    assert [tick.get_text() for tick in ax.get_yticklabels()] == ["a", "b", "c", "d"]
    assert len(fig.axes) == 2  # the colour bar
    with pytest.raises(ValueError):
        plots.kappa_matrix(["a", "b"], _kappa(3), "Agreement")


def test_a_large_kappa_matrix_is_unlabelled_and_averaged_in_blocks():
    fig = plots._draw_kappa_matrix([f"s{i}" for i in range(700)], _kappa(700), "Agreement")
    assert fig.get_label() == "kappa-heatmap-unlabelled"
    ax = fig.axes[0]
    assert ax.images[0].get_array().shape == (234, 234)
    assert not ax.get_xticks().size and "blocks" in ax.get_xlabel()

    matrix = np.arange(25, dtype=float).reshape(5, 5)
    matrix[0, 0] = np.nan
    means, block = plots._block_mean(matrix, 3)
    assert block == 2
    np.testing.assert_allclose(means[0], [(1 + 5 + 6) / 3, (2 + 3 + 7 + 8) / 4, (4 + 9) / 2])
    assert means[2, 2] == 24


def test_the_kappa_distribution_draws_counts_marks_the_median_and_names_the_undefined_pairs():
    counts, edges = np.histogram([0.1, 0.2, 0.5, 0.9], bins=np.linspace(-1, 1, 41))  # the defined pairs
    fig = plots._draw_kappa_distribution(counts, edges, 0.35, "Kappa", undefined=2)
    (ax,) = fig.axes
    assert _one(ax, "histogram").get_data().values.sum() == 4
    assert list(_one(ax, "median").get_xdata()) == [0.35, 0.35]
    assert list(_one(ax, "chance").get_xdata()) == [0, 0]
    assert ax.get_xlabel() == "Cohen's κ (4 of 6 pairs; 2 undefined)"
    with pytest.raises(ValueError, match="need 41 bin edges"):
        plots._draw_kappa_distribution(counts, edges[:-1], 0.35, "Kappa")


def test_labels_curves_use_a_log_axis_for_wide_ranges_and_bands_only_where_sd_is_known():
    wide = [
        {"label": "vgg", "points": [(1000, 0.8, 0.02), (20, 0.6, 0.05), (200, 0.7, None)]},
        {"label": "timm", "points": [(20, 0.65, None), (2000, None, None)]},
    ]
    fig = plots._draw_labels_curves(wide, "Labels")
    (ax,) = fig.axes
    assert ax.get_xscale() == "log"
    curves = _gid(ax, "curve")
    assert list(curves[0].get_xdata()) == [20, 200, 1000]  # sorted by labels
    assert list(curves[1].get_xdata()) == [20]
    assert len(_gid(ax, "band")) == 1
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["vgg", "timm"]

    narrow = plots._draw_labels_curves([{"label": "vgg", "points": [(20, 0.6, 0.1), (150, 0.7, 0.1)]}], "Labels")
    assert narrow.axes[0].get_xscale() == "linear"


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="accuracy"):
        plots.accuracy_by_subject(["a", "b"], [0.5], [None, None], [None, None], [None, None], "Accuracy")
    with pytest.raises(ValueError, match="low"):
        plots.gain_forest(["a"], [1.0], [], [2.0], "Gain")


@pytest.mark.slow  # a fresh interpreter; lint-imports checks the torch-free contract in the fast lane
def test_the_plots_module_imports_neither_torch_nor_pyplot():
    code = (
        "import sys, prefstudy.report.plots\n"
        "heavy = [m for m in ('torch', 'torchvision', 'timm', 'captum', 'matplotlib.pyplot') if m in sys.modules]\n"
        "sys.exit(f'imported {heavy}' if heavy else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
