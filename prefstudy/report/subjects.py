"""The subjects themselves: how each answered (the paper's Table 1), how consistent they were with
themselves on repeated items (their own ceiling, and the model's accuracy relative to it), and how
fast they answered (median and IQR of response times, and the timed-out rate).
"""

from __future__ import annotations

from dataclasses import dataclass

from prefstudy.stats import Spread, spread, wilson
from prefstudy.subjects.labels import TrialSummary


@dataclass(frozen=True)
class SubjectRow:
    subject: str
    dataset: str
    trials: int
    preferred: int
    not_preferred: int
    ties: int
    preferred_share: float | None  # preferred / (preferred + not preferred): the paper's Table 1
    timed_out: int
    timed_out_rate: float | None
    rt_n: int
    rt_median_ms: float | None
    rt_q1_ms: float | None
    rt_q3_ms: float | None
    repeats: int
    consistency: float | None  # share of repeated items answered as the first time (test-retest)
    consistency_low: float | None  # 95 % Wilson
    consistency_high: float | None
    model_accuracy: float | None  # the subject's latest finished run on the dataset, test split
    model_run: str | None
    accuracy_of_ceiling: float | None  # model accuracy / consistency


@dataclass(frozen=True)
class SubjectsSummary:
    """Across the subjects of one dataset."""

    dataset: str
    subjects: int
    preferred_share: Spread
    timed_out_rate: float | None  # over every trial of every subject
    rt_median_ms: Spread  # of the subjects' median response times
    with_repeats: int
    consistency: Spread
    accuracy_of_ceiling: Spread


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def subject_rows(
    trials: list[TrialSummary], latest_accuracy: dict[tuple[str, str], tuple[str, float]]
) -> list[SubjectRow]:
    """One row per (subject, dataset); ``latest_accuracy`` maps (subject, dataset) to (run id, test accuracy)."""
    out = []
    for t in trials:
        consistency = wilson(t.repeats_agreeing, t.repeats)
        run, accuracy = latest_accuracy.get((t.subject, t.dataset), (None, None))
        ratio = accuracy / consistency.estimate if accuracy is not None and consistency.estimate else None
        out.append(
            SubjectRow(
                subject=t.subject,
                dataset=t.dataset,
                trials=t.trials,
                preferred=t.preferred,
                not_preferred=t.not_preferred,
                ties=t.ties,
                preferred_share=_share(t.preferred, t.preferred + t.not_preferred),
                timed_out=t.timed_out,
                timed_out_rate=_share(t.timed_out, t.trials),
                rt_n=t.rt_n,
                rt_median_ms=t.rt_median_ms,
                rt_q1_ms=t.rt_q1_ms,
                rt_q3_ms=t.rt_q3_ms,
                repeats=t.repeats,
                consistency=consistency.estimate,
                consistency_low=consistency.low,
                consistency_high=consistency.high,
                model_accuracy=accuracy,
                model_run=run,
                accuracy_of_ceiling=ratio,
            )
        )
    return out


def _values(rows: list[SubjectRow], name: str) -> list[float]:
    return [float("nan") if getattr(r, name) is None else getattr(r, name) for r in rows]


def summarize_subjects(rows: list[SubjectRow]) -> list[SubjectsSummary]:
    """Per dataset: the spread of each subject measure across subjects."""
    out = []
    for dataset in sorted({r.dataset for r in rows}):
        chosen = [r for r in rows if r.dataset == dataset]
        trials = sum(r.trials for r in chosen)
        out.append(
            SubjectsSummary(
                dataset=dataset,
                subjects=len(chosen),
                preferred_share=spread(_values(chosen, "preferred_share")),
                timed_out_rate=_share(sum(r.timed_out for r in chosen), trials),
                rt_median_ms=spread(_values(chosen, "rt_median_ms")),
                with_repeats=sum(r.repeats > 0 for r in chosen),
                consistency=spread(_values(chosen, "consistency")),
                accuracy_of_ceiling=spread(_values(chosen, "accuracy_of_ceiling")),
            )
        )
    return out
