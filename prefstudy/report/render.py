"""Rendering a :class:`~prefstudy.report.model.Report` as a terminal table, Markdown or JSON."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

from prefstudy.report.model import SPLITS, Report, RunSummary


def _pct(value: float) -> str:
    return f"{100 * value:.2f} %"


def _epochs(run: RunSummary) -> str:
    return f"{run.best_epoch}/{run.epochs}" if run.best_epoch is not None else str(run.epochs)


def render_table(report: Report, console: Console) -> None:
    """The paper's confusion counts and accuracy per run and split, then the across-subject summary."""
    if not report.runs:
        console.print("No finished runs yet: make one with `prefstudy run` or `prefstudy study run`.")
        return
    table = Table(title=f"Study {report.study}: runs", show_lines=False)
    for column in ("run", "subject", "dataset", "backbone", "protocol", "epoch", "split", "n", "TP", "FP", "FN", "TN"):
        table.add_column(column, justify="right" if column in ("n", "TP", "FP", "FN", "TN") else "left")
    table.add_column("accuracy", justify="right")
    for run in report.runs:
        first = True
        for split in SPLITS:
            if split not in run.metrics:
                continue
            c = run.metrics[split]
            head = (
                (run.run_id, run.subject, run.dataset, run.backbone, run.protocol, _epochs(run)) if first else ("",) * 6
            )
            table.add_row(*head, split, str(c.n), str(c.tp), str(c.fp), str(c.fn), str(c.tn), _pct(c.accuracy))
            first = False
        table.add_section()
    console.print(table)
    if report.groups:
        summary = Table(title="Test accuracy across subjects (latest run of each)")
        for column in ("dataset", "backbone", "protocol", "subjects", "mean", "sd", "min", "max"):
            summary.add_column(column)
        for g in report.groups:
            sd = _pct(g.sd_test_accuracy) if g.sd_test_accuracy is not None else "—"
            summary.add_row(
                g.dataset,
                g.backbone,
                g.protocol,
                str(g.n_subjects),
                _pct(g.mean_test_accuracy),
                sd,
                _pct(g.min_test_accuracy),
                _pct(g.max_test_accuracy),
            )
        console.print(summary)


def render_markdown(report: Report) -> str:
    """A Markdown report: a summary table, then each run's confusion table as in the paper."""
    lines = [f"# Study report: {report.study}", ""]
    if not report.runs:
        return "\n".join([*lines, "No finished runs yet.", ""])
    lines += [
        "| run | subject | dataset | backbone | protocol | epoch | train | validation | test |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run in report.runs:
        accs = [_pct(run.metrics[s].accuracy) if s in run.metrics else "—" for s in SPLITS]
        lines.append(
            f"| {run.run_id} | {run.subject} | {run.dataset} | {run.backbone} | {run.protocol} | "
            f"{_epochs(run)} | {' | '.join(accs)} |"
        )
    if report.groups:
        lines += [
            "",
            "## Test accuracy across subjects",
            "",
            "| dataset | backbone | protocol | subjects | mean | sd | min | max |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for g in report.groups:
            sd = _pct(g.sd_test_accuracy) if g.sd_test_accuracy is not None else "—"
            lines.append(
                f"| {g.dataset} | {g.backbone} | {g.protocol} | {g.n_subjects} | "
                f"{_pct(g.mean_test_accuracy)} | {sd} | {_pct(g.min_test_accuracy)} | "
                f"{_pct(g.max_test_accuracy)} |"
            )
    lines += ["", "## Confusion tables", ""]
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
