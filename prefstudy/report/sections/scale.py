"""How the report scales to thousands of subjects: which per-subject tables are built, and how much of a long
table each format shows.

The tables of runs (runs, scores, transfer pairs, personal vs population per rater) always hold every subject
with runs, however many subjects the study has; the HTML page folds a long table, and the text formats show its
first rows and say where the rest is. The tables of subjects' *answers* (preferences, consistency, response
times) have a row per subject up to :data:`~prefstudy.report.model.PER_SUBJECT_UP_TO` subjects with answers;
beyond, their summary per dataset stands for them.
"""

from __future__ import annotations

from prefstudy.report.model import PER_SUBJECT_UP_TO, Report
from prefstudy.report.sections.format import Section

TERMINAL_ROWS_UP_TO = 100
"""The terminal shows this many rows of a table (Rich lays out about 500 rows a second); the rest are in the JSON
and the export."""
MARKDOWN_ROWS_UP_TO = 500
"""Markdown shows this many rows of a table: every subject's runs up to about 100 subjects with two runs each."""
HTML_ROWS_UP_TO = 2_500
"""The HTML page holds this many rows of a table (a page of tens of thousands of rows helps no one)."""
FOLD_OVER = 25
"""The HTML page folds a table of more rows than this into a ``<details>`` element, closed."""
CONFUSION_TABLES_UP_TO = 100
"""Markdown: the paper's confusion tables of this many runs (every run's counts are in the runs table)."""

WHERE_EVERY_ROW_IS = (
    "`--format json` holds every row and `--per-subject FILE.csv` (or .parquet) each subject's scores; "
    "`--subjects GLOB` narrows the report"
)


def answers_per_subject(report: Report) -> bool:
    """Whether the tables of subjects' answers have a row per subject (else their summary per dataset)."""
    return report.n_subjects_with_answers <= PER_SUBJECT_UP_TO


def scale_note(report: Report) -> str:
    """Why the per-subject answer tables are summarised, when they are."""
    if answers_per_subject(report):
        return ""
    runs = report.n_subjects_with_runs
    with_runs = f"; the tables of runs list all {runs:,} subjects with runs" if runs else ""
    return (
        f"{report.n_subjects_with_answers:,} subjects answered: their answers (preferences, consistency, response "
        f"times) are summarised per dataset beyond {PER_SUBJECT_UP_TO} subjects{with_runs}. {WHERE_EVERY_ROW_IS}."
    )


def shown_rows(section: Section, up_to: int) -> tuple[list[list[str]], str]:
    """The first ``up_to`` rows of ``section``, and a note saying so when rows are left out ("" when none are)."""
    total = len(section.rows)
    if total <= up_to:
        return section.rows, ""
    return section.rows[:up_to], f"The first {up_to:,} of {total:,} rows are shown: {WHERE_EVERY_ROW_IS}."
