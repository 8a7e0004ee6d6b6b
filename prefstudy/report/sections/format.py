"""Sections and how numbers read in them: formatted here and nowhere else, so every format shows the same text."""

from __future__ import annotations

from typing import NamedTuple

from prefstudy.report.paired import PairedSummary, Reach
from prefstudy.stats import MeanInterval, Spread


class Section(NamedTuple):
    key: str  # a stable name (HTML anchors, figures placed after it)
    title: str
    headers: list[str]
    rows: list[list[str]]
    notes: tuple[str, ...] | list[str] = ()


NUMERIC = {
    "n", "TP", "FP", "FN", "TN", "accuracy", "95 % CI", "chance", "p above chance", "ρ", "ρ 95 % CI",
    "subjects", "median [IQR]", "mean [95 % CI]", "sd", "min", "max", "above chance (Holm)",
    "accuracy − chance [95 % CI]", "t-test p", "Wilcoxon p", "sign test p", "train labels", "test items",
    "no transfer", "transfer", "gain", "only no transfer", "only transfer", "McNemar p", "mean gain [95 % CI]",
    "gains / losses (Holm)", "folds", "raters", "rated", "acc personal", "acc population", "acc gain",
    "ρ personal", "ρ population", "ρ gain", "ceiling acc", "ceiling ρ", "only personal", "only population",
    "wins / losses (acc)", "wins / losses (ρ)", "Wilcoxon p (acc)", "Wilcoxon p (ρ)", "trials", "preferred",
    "not preferred", "ties", "preferred share", "timed out", "repeats", "consistency [95 % CI]", "model accuracy",
    "of ceiling", "median RT", "RT IQR", "timed-out rate", "with repeats", "items", "answers",
    "Krippendorff α", "Fleiss κ", "pairs", "pairwise κ median [IQR]", "shared", "κ", "pointing game", "energy",
    "IoU", "epoch", "preferred share median [IQR]", "median RT median [IQR]", "consistency median [IQR]",
    "of ceiling median [IQR]", "reaching", "labels to 95 % (median)", "range", "all-labels accuracy",
    "acc population model", "ρ population model", "acc consensus", "ρ consensus", "acc consensus + deviation",
    "ρ consensus + deviation", "acc training majority", "acc gain [95 % CI]", "two-way bootstrap CI",
    "raters-only bootstrap CI", "wins / losses", "ρ gain [95 % CI]", "gain p < 0.05",
    "prevalence of gain [95 % HPDI]", "detectable gain", "detectable per rater", "equivalence (TOST)",
}  # fmt: skip


def pct(value: float | None) -> str:
    return "—" if value is None or value != value else f"{100 * value:.2f} %"


def points(value: float | None) -> str:
    return "—" if value is None or value != value else f"{value:+.1f}"


def rho(value: float | None) -> str:
    return "—" if value is None or value != value else f"{value:+.3f}"


def num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None or value != value else f"{value:.{digits}f}"


def pvalue(value: float | None) -> str:
    return "—" if value is None else f"{value:.2g}"


def interval(low: float | None, high: float | None, fmt=pct) -> str:
    return "—" if low is None or high is None else f"[{fmt(low)}, {fmt(high)}]"


def spread_text(s: Spread, fmt=pct) -> str:
    return "—" if s.median is None else f"{fmt(s.median)} [{fmt(s.q1)}, {fmt(s.q3)}]"


def mean_text(m: MeanInterval, fmt=pct) -> str:
    if m.mean is None:
        return "—"
    return fmt(m.mean) if m.low is None else f"{fmt(m.mean)} {interval(m.low, m.high, fmt)}"


def holm_text(significant: int, r: Reach) -> str:
    if r.reachable is False:
        return "unreachable"
    return f"{significant} / {r.tested}"


def train_labels_text(n_train: int | None) -> str:
    return "all" if n_train is None else str(n_train)


def range_text(low: int | None, high: int | None) -> str:
    return "—" if low is None else f"{low}–{high}"


def ms_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} ms"


def paired_cells(p: PairedSummary | None, fmt) -> list[str]:
    if p is None:
        return ["—"] * 4
    return [
        mean_text(p.gain, fmt),
        pvalue(p.wilcoxon.p_value),
        pvalue(p.sign.p_value),
        "unreachable" if p.reach.reachable is False else f"{p.significant_gains} / {p.significant_losses}",
    ]


PAIRED_HEADERS = ["mean gain [95 % CI]", "Wilcoxon p", "sign test p", "gains / losses (Holm)"]


PAIRED_NOTE = (
    "Across subjects: the mean gain with a 95 % t-interval, Wilcoxon's signed-rank and the sign test on the "
    "per-subject gains (two-sided), and how many subjects gain or lose significantly by their own exact "
    "McNemar test after Holm's correction at 0.05."
)
