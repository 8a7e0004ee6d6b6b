"""Sections of explanations (agreement of maps with what drove a choice), of labels needed (curves), and the
methods paragraph."""

from __future__ import annotations

from prefstudy.report.model import Report
from prefstudy.report.sections.format import (
    Section,
    interval,
    num,
    pct,
    range_text,
)


def agreement_section(report: Report) -> Section:
    headers = ["run", "method", "layer", "correct", "n", "pointing game", "energy", "IoU"]
    rows = [
        [
            a.run_id,
            a.method,
            a.layer,
            a.answer,
            str(a.n),
            f"{pct(a.pointing_game)} {interval(a.pointing_low, a.pointing_high)} ({pct(a.chance_pointing)})",
            f"{pct(a.energy)} {interval(a.energy_low, a.energy_high)} ({pct(a.chance_energy)})",
            f"{pct(a.iou)} {interval(a.iou_low, a.iou_high)} ({pct(a.chance_iou)})",
        ]
        for a in report.agreement
    ]
    notes = ["Pointing game: Wilson interval; energy and IoU: t-intervals over items. Chance in brackets."]
    title = "Heat-map agreement with the subject's regions, 95 % CI (chance in brackets)"
    return Section("agreement", title, headers, rows, notes if rows else [])


def labels_needed_section(report: Report) -> Section:
    headers = ["dataset", "order", "start", "subjects", "reaching", "labels to 95 % (median)", "range"]
    headers += ["all-labels accuracy", "chance"]
    rows = [
        [
            *(s.dataset, s.order, s.start, str(s.subjects), str(s.reaching), num(s.median, 0)),
            *(range_text(s.low, s.high), pct(s.all_labels_accuracy), pct(s.chance)),
        ]
        for s in report.labels_needed
    ]
    notes = [
        "From `prefstudy curve` (learning curves, not runs): the fewest labels whose accuracy, the mean over seeds, "
        "reaches 95 % of the all-labels gain over chance; median and range over the subjects reaching it. Each "
        "step adds the labels up to the next budget, chosen with the model fitted at the current budget."
    ]
    return Section("labels_needed", "Labels needed", headers, rows, notes if rows else [])


def methods_section(report: Report) -> Section:
    """Each statistic the report prints, named with the library call and the options it was made with."""
    from prefstudy.stats import methods_sentences

    has_statistics = report.groups or report.population or report.transfer_pairs or report.interrater
    rows = [[sentence] for sentence in methods_sentences(report.inference.bootstrap_b)] if has_statistics else []
    return Section("methods", "Methods", ["statistic"], rows)
