"""Rendering a :class:`~prefstudy.report.model.Report` as terminal tables, Markdown or JSON.

The sections (:mod:`prefstudy.report.sections`) are built once; these renderers only lay them out,
so a new section appears in every format.
"""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

from prefstudy.report.model import Report
from prefstudy.report.run_summary import SPLITS
from prefstudy.report.sections import NUMERIC, pct, scale_note, sections
from prefstudy.report.sections.scale import (
    CONFUSION_TABLES_UP_TO,
    MARKDOWN_ROWS_UP_TO,
    TERMINAL_ROWS_UP_TO,
    WHERE_EVERY_ROW_IS,
    shown_rows,
)

EMPTY = "No finished runs yet, and no labels: make a run with `prefstudy run` or `prefstudy study run`."


def _empty(report: Report) -> bool:
    return not report.runs and not report.subjects


def render_table(report: Report, console: Console) -> None:
    """The report as terminal tables."""
    if _empty(report):
        console.print(EMPTY)
        return
    if scale_note(report):
        console.print(scale_note(report))
    for section in sections(report):
        rows, cut = shown_rows(section, TERMINAL_ROWS_UP_TO)
        caption = " ".join([*section.notes, cut]).strip()
        table = Table(title=section.title, caption=caption or None, caption_justify="left")
        for header in section.headers:
            table.add_column(header, justify="right" if header in NUMERIC else "left")
        grouped = section.key == "runs"  # one block per run, its details shown once
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


def markdown_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)] + [
        "| " + " | ".join(row) + " |" for row in rows
    ]


def render_markdown(report: Report) -> str:
    """The report as Markdown: every section, then each run's confusion table as in the paper."""
    lines = [f"# Study report: {report.study}", ""]
    if _empty(report):
        return "\n".join([*lines, EMPTY, ""])
    if scale_note(report):
        lines += [scale_note(report), ""]
    for section in sections(report):
        rows, cut = shown_rows(section, MARKDOWN_ROWS_UP_TO)
        notes = [*section.notes, cut] if cut else list(section.notes)
        lines += [f"## {section.title}", "", *markdown_table(section.headers, rows), ""]
        lines += [*(f"> {note}" for note in notes), *([""] if notes else [])]
    if not report.runs:
        return "\n".join(lines)
    lines += ["## Confusion tables", ""]
    if len(report.runs) > CONFUSION_TABLES_UP_TO:
        lines += [
            f"The confusion tables of the first {CONFUSION_TABLES_UP_TO} of {len(report.runs):,} runs: "
            f"{WHERE_EVERY_ROW_IS}.",
            "",
        ]
    for run in report.runs[:CONFUSION_TABLES_UP_TO]:
        lines += [f"### {run.run_id} — {run.subject}, {run.dataset}, {run.protocol}", ""]
        for split in SPLITS:
            if split not in run.metrics:
                continue
            c = run.metrics[split]
            lines += [
                f"**{split}** (n = {c.n}, accuracy {pct(c.accuracy)})",
                "",
                "| subject \\ model | preferred | not preferred |",
                "|---|---|---|",
                f"| preferred | {c.tp} (TP) | {c.fn} (FN) |",
                f"| not preferred | {c.fp} (FP) | {c.tn} (TN) |",
                "",
            ]
    return "\n".join(lines)


def _finite(value):
    """JSON has no NaN: undefined numbers are null."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def render_json(report: Report) -> str:
    return json.dumps(_finite(report.to_dict()), indent=2, allow_nan=False)
