"""The report's figures, each attached to the section it illustrates: accuracy per subject with CIs,
transfer and personal-vs-population gains per subject, confusion matrices, training curves, pairwise
kappa, and the Grad-CAM contact sheets ``prefstudy explain`` drew. Drawn only for the HTML page.
"""

from __future__ import annotations

import base64
import math
from collections import defaultdict
from dataclasses import dataclass

from prefstudy.explain.records import sheet_files
from prefstudy.report.groups import group_key
from prefstudy.report.interrater import KAPPA_BINS
from prefstudy.report.model import Report
from prefstudy.report.sections import variant
from prefstudy.runs.record import epoch_histories
from prefstudy.splits import TEST
from prefstudy.workspace import Workspace

MOST = 12
"""At most this many figures of one kind (groups, gains, sheets), and panels in one figure."""


@dataclass(frozen=True)
class Figure:
    section: str  # the section key it belongs to
    caption: str
    uri: str  # a data: URI


def _paired_interval(b: int, c: int, n: int) -> tuple[float | None, float | None]:
    """95 % Wald interval, in points, of a paired difference of proportions (c - b) / n: a sketch for the plot."""
    if not n:
        return None, None
    d = (c - b) / n
    half = 1.96 * math.sqrt(max(b + c - (c - b) ** 2 / n, 0.0)) / n
    return 100 * (d - half), 100 * (d + half)


def _group_figures(report: Report) -> list[Figure]:
    from prefstudy.report import plots

    out = []
    for g in report.groups[:MOST]:
        scores = g.subject_scores
        name = f"{g.dataset}, {g.backbone}, {g.protocol}, {g.variant}"
        uri = plots.accuracy_by_subject(
            list(scores),
            [s.accuracy for s in scores.values()],
            [s.accuracy_low for s in scores.values()],
            [s.accuracy_high for s in scores.values()],
            [s.chance for s in scores.values()],
            name,  # the caption says what is drawn; the plot adds the number of subjects
        )
        shown = (
            "each subject's test accuracy with its 95 % Wilson interval; grey: the subject's chance"
            if len(scores) <= plots.MANY
            else "test accuracy across subjects, a histogram over a strip of subjects; dashed: the median chance"
        )
        out.append(Figure("groups", f"{name}: {shown}.", uri))
    return out


def _by_labels(entry: tuple) -> tuple:
    (source, target, mode, n), _ = entry
    return source, target, mode, -1 if n is None else n


def _gain_figures(report: Report) -> list[Figure]:
    from prefstudy.report import plots

    latest = defaultdict(dict)
    for p in report.transfer_pairs:
        if p.gain_points is not None:
            latest[(p.source_dataset, p.dataset, p.mode, p.labels)][p.subject] = p
    out = []
    for (source, target, mode, n), pairs in sorted(latest.items(), key=_by_labels)[:MOST]:
        chosen = list(pairs.values())
        bounds = [_paired_interval(p.baseline_only, p.transfer_only, p.n_test) for p in chosen]
        title = f"Transfer gain per subject — {source} → {target}, {mode}, {'all' if n is None else n} labels"
        uri = plots.gain_forest(
            [p.subject for p in chosen], [p.gain_points for p in chosen], *map(list, zip(*bounds, strict=True)), title
        )
        out.append(Figure("transfer_gains", f"{title}: points, with a 95 % Wald interval for paired proportions.", uri))
    groups = defaultdict(list)
    for c in report.comparisons:
        groups[(c.dataset, c.variant)].append(c)
    for (dataset, kind), chosen in sorted(groups.items())[:MOST]:
        bounds = [_paired_interval(c.population_only, c.personal_only, c.n_test) for c in chosen]
        title = f"Personal minus population accuracy per rater — {dataset}, {kind}"
        uri = plots.gain_forest(
            [c.subject for c in chosen],
            [100 * c.accuracy_gain for c in chosen],
            *map(list, zip(*bounds, strict=True)),
            title,
        )
        out.append(Figure("population", f"{title}: points, with a 95 % Wald interval for paired proportions.", uri))
    return out


def _confusion_figure(report: Report) -> list[Figure]:
    from prefstudy.report import plots

    tested = [r for r in report.runs if TEST in r.metrics]
    if not tested:
        return []
    if len(tested) <= MOST:
        titles = [f"{r.run_id} ({r.subject})" for r in tested]
        matrices = [(c.tp, c.fp, c.fn, c.tn) for c in (r.metrics[TEST] for r in tested)]
        caption = "Test confusion matrix of each run."
    else:
        summed: dict[tuple, list[int]] = {}
        for r in tested:
            c = r.metrics[TEST]
            total = summed.setdefault(group_key(r), [0, 0, 0, 0])
            for i, v in enumerate((c.tp, c.fp, c.fn, c.tn)):
                total[i] += v
        keys = sorted(summed, key=str)[:MOST]
        titles = [f"{k[0]}, {variant(k[3], k[4])}" for k in keys]
        matrices = [tuple(summed[k]) for k in keys]
        caption = "Test confusion matrices summed over every run of each group."
    return [Figure("groups", caption, plots.confusion_matrices(titles, matrices))]


def _training_figure(report: Report, ws: Workspace) -> list[Figure]:
    from prefstudy.report import plots

    histories = epoch_histories(ws, [r.run_id for r in report.runs])
    curves = {f"{r.run_id} ({r.subject})": histories[r.run_id] for r in report.runs if histories.get(r.run_id)}
    if not curves:
        return []
    caption = "Accuracy per epoch: training dashed, validation solid."
    return [Figure("training", caption, plots.training_curves(curves, "Training curves"))]


def _kappa_figures(report: Report) -> list[Figure]:
    from prefstudy.report import plots

    out = []
    for a in report.interrater[:MOST]:
        if a.pair_matrix is not None:
            names, matrix = a.pair_matrix
            uri = plots.kappa_matrix(names, matrix, f"Cohen's κ between subjects — {a.dataset}")
        else:
            title = f"Pairwise Cohen's κ — {a.dataset}"
            uri = plots.kappa_distribution(
                a.kappa_histogram, KAPPA_BINS, a.pairwise_kappa.median, title, a.undefined_pairs
            )
        out.append(Figure("interrater", f"{a.dataset}: Cohen's κ of every pair sharing 10 or more items.", uri))
    return out


def _sheet_figures(report: Report, ws: Workspace) -> list[Figure]:
    out = []
    for run_id, layer, path in sheet_files(ws, {r.run_id for r in report.runs})[: 2 * MOST]:
        found = path if path.is_absolute() else ws.root / path
        if not found.is_file():
            continue  # an explanation folder deleted since: the table still has its numbers
        uri = "data:image/png;base64," + base64.b64encode(found.read_bytes()).decode("ascii")
        out.append(Figure("sheets", f"{run_id}, {layer}: {path.stem.removeprefix('sheet-')}", uri))
    return out


def _curve_figures(report: Report) -> list[Figure]:
    from prefstudy.report import plots
    from prefstudy.report.curves import FEW_SUBJECTS, plotted_curves

    out = []
    for dataset, lines in sorted(plotted_curves(report.curves).items())[:MOST]:
        title = f"Accuracy against labels — {dataset}"
        shown = (
            "each subject's curves, the band ±1 sd across seeds"
            if len({c.subject for c in report.curves if c.dataset == dataset}) <= FEW_SUBJECTS
            else "the mean across subjects of each order × start, the band ±1 sd across subjects"
        )
        out.append(Figure("labels_needed", f"{title}: {shown}.", plots.labels_curves(lines, title)))
    return out


def build_figures(report: Report, ws: Workspace) -> list[Figure]:
    """Every figure the report's data supports, in page order."""
    if not report.runs and not report.subjects:
        return []
    return [
        *_group_figures(report),
        *_confusion_figure(report),
        *_gain_figures(report),
        *_kappa_figures(report),
        *_curve_figures(report),
        *_training_figure(report, ws),
        *_sheet_figures(report, ws),
    ]
