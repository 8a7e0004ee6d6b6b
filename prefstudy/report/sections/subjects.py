"""Sections of subjects' answers: preferences, consistency, response times, agreement between raters."""

from __future__ import annotations

from prefstudy.report.model import Report
from prefstudy.report.sections.format import (
    Section,
    interval,
    ms_text,
    num,
    pct,
    spread_text,
)
from prefstudy.report.sections.scale import answers_per_subject


def preference_section(report: Report) -> Section:
    headers = ["subject", "dataset", "trials", "preferred", "not preferred", "ties", "preferred share", "timed out"]
    rows = [
        [
            s.subject,
            s.dataset,
            str(s.trials),
            str(s.preferred),
            str(s.not_preferred),
            str(s.ties),
            pct(s.preferred_share),
            str(s.timed_out),
        ]
        for s in (report.subjects if answers_per_subject(report) else [])
    ]
    title = "Preferred and not preferred per subject (the paper's Table 1; latest answer per item, repeats aside)"
    return Section("preferences", title, headers, rows)


def consistency_section(report: Report) -> Section:
    headers = ["subject", "dataset", "repeats", "consistency [95 % CI]", "model accuracy", "of ceiling"]
    rows = [
        [
            s.subject,
            s.dataset,
            str(s.repeats),
            f"{pct(s.consistency)} {interval(s.consistency_low, s.consistency_high)}",
            pct(s.model_accuracy),
            pct(s.accuracy_of_ceiling),
        ]
        for s in (report.subjects if answers_per_subject(report) else [])
        if s.repeats
    ]
    notes = [
        "Consistency: the share of repeated items the subject answered as the first time (Wilson interval), "
        "their own ceiling. Model accuracy: the subject's latest finished run on the dataset; of ceiling: "
        "accuracy / consistency."
    ]
    return Section("consistency", "Test-retest consistency per subject", headers, rows, notes if rows else [])


def response_section(report: Report) -> Section:
    headers = ["subject", "dataset", "trials", "median RT", "RT IQR", "timed-out rate"]
    rows = [
        [
            s.subject,
            s.dataset,
            str(s.trials),
            ms_text(s.rt_median_ms),
            f"[{ms_text(s.rt_q1_ms)}, {ms_text(s.rt_q3_ms)}]",
            pct(s.timed_out_rate),
        ]
        for s in (report.subjects if answers_per_subject(report) else [])
        if s.rt_n or s.timed_out
    ]
    return Section("response_times", "Response times per subject (answered trials)", headers, rows)


def subjects_summary_section(report: Report) -> Section:
    headers = ["dataset", "subjects", "preferred share median [IQR]", "timed-out rate", "median RT median [IQR]"]
    headers += ["with repeats", "consistency median [IQR]", "of ceiling median [IQR]"]
    rows = [
        [
            s.dataset,
            str(s.subjects),
            spread_text(s.preferred_share),
            pct(s.timed_out_rate),
            spread_text(s.rt_median_ms, ms_text),
            str(s.with_repeats),
            spread_text(s.consistency),
            spread_text(s.accuracy_of_ceiling),
        ]
        for s in report.subjects_summary
    ]
    return Section("subjects_summary", "Subjects across each dataset", headers, rows)


def interrater_section(report: Report) -> Section:
    headers = ["dataset", "subjects", "items", "answers", "Krippendorff α", "Fleiss κ", "pairs"]
    headers += ["pairwise κ median [IQR]"]
    rows = [
        [
            a.dataset,
            str(a.subjects),
            str(a.items),
            str(a.answers),
            num(a.krippendorff_alpha),
            f"{num(a.fleiss_kappa)} ({a.fleiss_note})",
            str(a.pairs),
            spread_text(a.pairwise_kappa, num),
        ]
        for a in report.interrater
    ]
    notes = [
        "Items answered by two or more subjects; each subject's latest usable answer. Krippendorff's α (nominal) "
        "allows subjects to answer different items; Fleiss' κ needs the same number of raters on every item; "
        "Cohen's κ per pair sharing at least 10 items."
    ]
    notes += [
        f"{a.dataset}: {a.undefined_pairs:,} of the {a.pairs:,} pairs have no κ (both subjects gave one and the "
        "same answer to every item they share, so chance agreement is certain and κ is 0/0); the median, IQR "
        f"and histogram are over the other {a.pairs - a.undefined_pairs:,}."
        for a in report.interrater
        if a.undefined_pairs
    ]
    return Section("interrater", "Agreement between subjects", headers, rows, notes if rows else [])


def pair_kappa_section(report: Report) -> Section:
    headers = ["dataset", "subject", "with", "shared", "κ"]
    rows = [
        [a.dataset, p.a, p.b, str(p.shared), num(p.kappa)]
        for a in report.interrater
        if a.pair_matrix is not None
        for p in a.pair_kappas
    ]
    return Section("pair_kappa", "Cohen's κ between pairs of subjects", headers, rows)
