"""Rendering a :class:`~prefstudy.report.model.Report` as terminal tables, Markdown or JSON.

Each section is built once as (title, headers, rows); the terminal and Markdown renderers only
lay those out, so a new section appears in both.
"""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

from prefstudy.report.model import SPLITS, Report, RunSummary

Section = tuple[str, list[str], list[list[str]]]
_NUMERIC = {
    "pointing game",
    "energy",
    "IoU",
    "n",
    "TP",
    "FP",
    "FN",
    "TN",
    "accuracy",
    "subjects",
    "mean",
    "sd",
    "min",
    "max",
    "train labels",
    "test items",
    "no transfer",
    "transfer",
    "gain",
    "mean gain",
    "folds",
    "raters",
    "rated",
    "personal",
    "population",
    "acc gain",
    "ρ personal",
    "ρ population",
    "ρ gain",
    "ceiling ρ",
    "ceiling acc",
    "acc personal",
    "acc population",
    "wins / losses (ρ)",
    "wins / losses (acc)",
    "Wilcoxon p (ρ)",
    "Wilcoxon p (acc)",
}


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.2f} %"


def _points(value: float | None) -> str:
    return "—" if value is None else f"{value:+.1f}"


def _epochs(run: RunSummary) -> str:
    return f"{run.best_epoch}/{run.epochs}" if run.best_epoch is not None else str(run.epochs)


def _variant(transfer: str | None, train_size: int | None) -> str:
    parts = [transfer or "from scratch"]
    if train_size is not None:
        parts.append(f"{train_size} train labels")
    return ", ".join(parts)


def run_section(report: Report) -> Section:
    headers = [
        "run",
        "subject",
        "dataset",
        "backbone",
        "protocol",
        "variant",
        "epoch",
        "split",
        "n",
        "TP",
        "FP",
        "FN",
        "TN",
        "accuracy",
    ]
    rows = []
    for run in report.runs:
        for split in SPLITS:
            if split in run.metrics:
                c = run.metrics[split]
                head = [
                    run.run_id,
                    run.subject,
                    run.dataset,
                    run.backbone,
                    run.protocol,
                    _variant(run.transfer, run.train_size),
                    _epochs(run),
                ]
                rows.append([*head, split, str(c.n), str(c.tp), str(c.fp), str(c.fn), str(c.tn), _pct(c.accuracy)])
    return f"Study {report.study}: runs", headers, rows


def group_section(report: Report) -> Section:
    headers = ["dataset", "backbone", "protocol", "variant", "subjects", "mean", "sd", "min", "max"]
    rows = [
        [
            g.dataset,
            g.backbone,
            g.protocol,
            _variant(g.transfer, g.train_size),
            str(g.n_subjects),
            _pct(g.mean_test_accuracy),
            _pct(g.sd_test_accuracy),
            _pct(g.min_test_accuracy),
            _pct(g.max_test_accuracy),
        ]
        for g in report.groups
    ]
    return "Test accuracy across subjects (latest run of each)", headers, rows


def pair_section(report: Report) -> Section:
    headers = ["subject", "dataset", "from", "mode", "train labels", "test items", "no transfer", "transfer", "gain"]
    rows = [
        [
            p.subject,
            p.dataset,
            p.source_dataset,
            p.mode,
            str(p.n_train),
            str(p.n_test),
            _pct(p.baseline_accuracy),
            _pct(p.transfer_accuracy),
            _points(p.gain_points),
        ]
        for p in report.transfer_pairs
    ]
    return "Transfer vs no transfer, on the same test items (gain in points)", headers, rows


def gain_section(report: Report) -> Section:
    headers = ["from", "dataset", "mode", "train labels", "subjects", "mean gain", "min", "max", "largest"]
    rows = [
        [
            g.source_dataset,
            g.dataset,
            g.mode,
            str(g.n_train),
            str(g.n_subjects),
            _points(g.mean_gain_points),
            _points(g.min_gain_points),
            _points(g.max_gain_points),
            "◀" if g.largest else "",
        ]
        for g in report.transfer_gains
    ]
    return "Transfer gain by number of target labels", headers, rows


def agreement_section(report: Report) -> Section:
    headers = ["run", "layer", "correct", "n", "pointing game", "energy", "IoU"]
    rows = [
        [
            a.run_id,
            a.layer,
            a.answer,
            str(a.n),
            f"{_pct(a.pointing_game)} ({_pct(a.chance_pointing)})",
            f"{_pct(a.energy)} ({_pct(a.chance_energy)})",
            f"{_pct(a.iou)} ({_pct(a.chance_iou)})",
        ]
        for a in report.agreement
    ]
    return "Grad-CAM agreement with the subject's regions (chance in brackets)", headers, rows


def _rho(value: float | None) -> str:
    return "—" if value is None else f"{value:+.3f}"


def _spread(s, fmt) -> str:
    return "—" if s.median is None else f"{fmt(s.median)} [{fmt(s.q1)}, {fmt(s.q3)}]"


def _p(test) -> str:
    return "—" if test.p_value is None else f"{test.p_value:.2g} (n={test.n})"


def population_section(report: Report) -> Section:
    headers = ["dataset", "personal", "population", "raters", "acc personal", "acc population", "wins / losses (acc)"]
    headers += ["Wilcoxon p (acc)", "ρ personal", "ρ population", "wins / losses (ρ)", "Wilcoxon p (ρ)", "ceiling ρ"]
    rows = [
        [
            g.dataset,
            g.variant,
            g.population,
            str(g.raters),
            _spread(g.personal_accuracy, _pct),
            _spread(g.population_accuracy, _pct),
            f"{g.accuracy_wins} / {g.accuracy_losses}",
            _p(g.accuracy_test),
            _spread(g.personal_rho, _rho),
            _spread(g.population_rho, _rho),
            f"{g.rho_wins} / {g.rho_losses}",
            _p(g.rho_test),
            _spread(g.ceiling_rho, _rho),
        ]
        for g in report.population
    ]
    title = "Personal vs population across raters: median [IQR]; Wilcoxon signed-rank on personal minus population"
    return title, headers, rows


def rater_section(report: Report) -> Section:
    headers = ["subject", "dataset", "personal", "population", "folds", "n", "rated", "acc personal"]
    headers += ["acc population", "acc gain", "ρ personal", "ρ population", "ρ gain", "ceiling acc", "ceiling ρ"]
    rows = [
        [
            c.subject,
            c.dataset,
            c.variant,
            c.population,
            str(c.folds),
            str(c.n_test),
            str(c.n_rated),
            _pct(c.personal_accuracy),
            _pct(c.population_accuracy),
            _points(100 * c.accuracy_gain),
            _rho(c.personal_rho),
            _rho(c.population_rho),
            _rho(c.rho_gain),
            _pct(c.ceiling_accuracy),
            _rho(c.ceiling_rho),
        ]
        for c in report.comparisons
    ]
    title = "Personal vs population per rater, on the rater's own test items (pooled over folds)"
    return title, headers, rows


def sections(report: Report) -> list[Section]:
    """Every non-empty section of the report, in order."""
    built = [
        run_section(report),
        group_section(report),
        pair_section(report),
        gain_section(report),
        population_section(report),
        rater_section(report),
        agreement_section(report),
    ]
    return [s for s in built if s[2]]


def render_table(report: Report, console: Console) -> None:
    """The report as terminal tables."""
    if not report.runs:
        console.print("No finished runs yet: make one with `prefstudy run` or `prefstudy study run`.")
        return
    for title, headers, rows in sections(report):
        table = Table(title=title)
        for header in headers:
            table.add_column(header, justify="right" if header in _NUMERIC else "left")
        grouped = title.endswith(": runs")  # one block per run, its details shown once
        previous = None
        for row in rows:
            if grouped and previous is not None:
                if row[0] == previous:
                    row = ["", "", "", "", "", "", "", *row[7:]]
                else:
                    table.add_section()
            previous = row[0] or previous
            table.add_row(*row)
        console.print(table)


def _markdown_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)] + [
        "| " + " | ".join(row) + " |" for row in rows
    ]


def render_markdown(report: Report) -> str:
    """The report as Markdown: every section, then each run's confusion table as in the paper."""
    lines = [f"# Study report: {report.study}", ""]
    if not report.runs:
        return "\n".join([*lines, "No finished runs yet.", ""])
    for title, headers, rows in sections(report):
        lines += [f"## {title}", "", *_markdown_table(headers, rows), ""]
    lines += ["## Confusion tables", ""]
    for run in report.runs:
        lines += [f"### {run.run_id} — {run.subject}, {run.dataset}, {run.protocol}", ""]
        for split in SPLITS:
            if split not in run.metrics:
                continue
            c = run.metrics[split]
            lines += [
                f"**{split}** (n = {c.n}, accuracy {_pct(c.accuracy)})",
                "",
                "| subject \\ model | preferred | not preferred |",
                "|---|---|---|",
                f"| preferred | {c.tp} (TP) | {c.fn} (FN) |",
                f"| not preferred | {c.fp} (FP) | {c.tn} (TN) |",
                "",
            ]
    return "\n".join(lines)


def render_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2)
