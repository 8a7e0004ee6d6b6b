"""The report as sections of (title, headers, rows of text, notes): built once, laid out by every format.

Numbers are formatted here and nowhere else, so the terminal, Markdown and HTML show the same text,
and that text is what ``--format json`` holds, rounded. The tables of runs have a row for every subject with
runs; the tables of subjects' answers only up to :data:`~prefstudy.report.model.PER_SUBJECT_UP_TO` subjects,
beyond which their summary stands for them (see :mod:`prefstudy.report.sections.scale`).
"""

from __future__ import annotations

from prefstudy.report.groups import variant
from prefstudy.report.model import Report
from prefstudy.report.sections.explained import agreement_section, labels_needed_section, methods_section
from prefstudy.report.sections.format import NUMERIC, Section, pct
from prefstudy.report.sections.models import gain_section, group_section, pair_section, run_section, score_section
from prefstudy.report.sections.people import baseline_section, population_section, rater_section
from prefstudy.report.sections.scale import scale_note
from prefstudy.report.sections.subjects import (
    consistency_section,
    interrater_section,
    pair_kappa_section,
    preference_section,
    response_section,
    subjects_summary_section,
)

__all__ = ["NUMERIC", "Section", "pct", "scale_note", "sections", "variant"]


def sections(report: Report) -> list[Section]:
    """Every non-empty section of the report, in order."""
    built = [
        group_section(report),
        score_section(report),
        gain_section(report),
        pair_section(report),
        population_section(report),
        baseline_section(report),
        rater_section(report),
        subjects_summary_section(report),
        preference_section(report),
        consistency_section(report),
        response_section(report),
        interrater_section(report),
        pair_kappa_section(report),
        agreement_section(report),
        labels_needed_section(report),
        methods_section(report),
        run_section(report),
    ]
    return [s for s in built if s.rows]
