"""Whether per-subject rows are shown, and why not when they are not."""

from __future__ import annotations

from prefstudy.report.model import PER_SUBJECT_UP_TO, Report


def per_subject(report: Report) -> bool:
    return report.n_subjects <= PER_SUBJECT_UP_TO


def scale_note(report: Report) -> str:
    """Why per-subject rows are missing, when they are."""
    if per_subject(report):
        return ""
    return (
        f"{report.n_subjects:,} subjects: the per-subject and per-run tables are left out beyond {PER_SUBJECT_UP_TO} "
        "subjects; `--format json` holds every row, and `--subjects GLOB` narrows the report."
    )
