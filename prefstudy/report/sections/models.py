"""Sections of models: runs, their scores, groups across subjects, and what transfer adds."""

from __future__ import annotations

from prefstudy.report.groups import variant
from prefstudy.report.model import Report
from prefstudy.report.run_summary import SPLITS, RunSummary
from prefstudy.report.sections.format import (
    PAIRED_HEADERS,
    PAIRED_NOTE,
    Section,
    holm_text,
    interval,
    mean_text,
    paired_cells,
    pct,
    points,
    pvalue,
    rho,
    spread_text,
    train_labels_text,
)


def _epochs(run: RunSummary) -> str:
    return f"{run.best_epoch}/{run.epochs}" if run.best_epoch is not None else str(run.epochs)


def run_section(report: Report) -> Section:
    headers = ["run", "subject", "dataset", "backbone", "protocol", "variant", "epoch", "split"]
    headers += ["n", "TP", "FP", "FN", "TN", "accuracy"]
    rows = []
    for run in report.runs:
        head = [run.run_id, run.subject, run.dataset, run.backbone, run.protocol]
        head += [variant(run.transfer, run.train_size), _epochs(run)]
        for split in SPLITS:
            if split in run.metrics:
                c = run.metrics[split]
                rows.append([*head, split, str(c.n), str(c.tp), str(c.fp), str(c.fn), str(c.tn), pct(c.accuracy)])
    return Section("runs", f"Study {report.study}: runs", headers, rows)


def score_section(report: Report) -> Section:
    headers = ["run", "subject", "dataset", "variant", "n", "accuracy", "95 % CI", "chance", "p above chance"]
    headers += ["above chance (Holm)", "ρ", "ρ 95 % CI"]
    rows = []
    for run in report.runs:
        s = run.score
        if s is None:
            continue
        holm = "—" if s.above_chance is None else ("yes" if s.above_chance else "no")
        rows.append(
            [
                run.run_id,
                run.subject,
                run.dataset,
                variant(run.transfer, run.train_size),
                str(s.n),
                pct(s.accuracy),
                interval(s.accuracy_low, s.accuracy_high),
                pct(s.chance),
                pvalue(s.p_above_chance),
                holm,
                rho(s.rho),
                interval(s.rho_low, s.rho_high, rho),
            ]
        )
    notes = [
        "95 % CI: Wilson score interval. Chance: the majority rate of the subject's own test labels; p: exact "
        "binomial test, one-sided, against it. Holm: over the subjects of the run's group, each by their latest run "
        "(or their item folds pooled, whose flag every fold run shows). "
        "ρ: Spearman's rho between p(preferred) and the subject's ratings, CI by Fisher's z with the Bonett–Wright "
        "standard error."
    ]
    return Section("scores", "Test accuracy per run, with uncertainty", headers, rows, notes if rows else [])


def group_section(report: Report) -> Section:
    headers = ["dataset", "backbone", "protocol", "variant", "subjects", "median [IQR]", "mean [95 % CI]", "sd"]
    headers += ["min", "max", "chance", "above chance (Holm)", "accuracy − chance [95 % CI]", "t-test p", "Wilcoxon p"]
    rows, notes = [], []
    for g in report.groups:
        name = f"{g.dataset}, {g.backbone}, {g.protocol}, {g.variant}"
        rows.append(
            [
                g.dataset,
                g.backbone,
                g.protocol,
                g.variant,
                str(g.n_subjects),
                spread_text(g.accuracy),
                mean_text(g.mean_interval),
                pct(g.sd_test_accuracy),
                pct(g.min_test_accuracy),
                pct(g.max_test_accuracy),
                pct(g.mean_chance),
                holm_text(g.above_chance, g.reach),
                mean_text(g.excess_interval),
                pvalue(g.excess.p_value),
                pvalue(g.excess_wilcoxon.p_value),
            ]
        )
        if g.reach.explain():
            notes.append(f"{name}: {g.reach.explain()}.")
        d = g.detectable
        if d is not None and d.effect is not None and g.n_subjects > 1:
            notes.append(
                f"{name}: with {d.n} test items (the median) and chance {pct(g.mean_chance)}, a subject's exact "
                f"binomial test detects a true accuracy of {pct(d.effect)} with power {d.power:g} at {d.alpha:g}."
            )
    notes.append(
        "Each subject counts once: their latest run, or the latest run of each item fold pooled. Mean: 95 % "
        "t-interval. Above chance: subjects whose exact binomial test passes Holm's correction at 0.05. The group "
        "test is on accuracy minus chance across subjects (one-sample t-test and Wilcoxon signed-rank, two-sided)."
    )
    return Section("groups", "Test accuracy across subjects (latest run of each)", headers, rows, notes)


def pair_section(report: Report) -> Section:
    headers = ["subject", "dataset", "from", "mode", "train labels", "test items", "no transfer", "transfer", "gain"]
    headers += ["only no transfer", "only transfer", "McNemar p"]
    rows = [
        [
            p.subject,
            p.dataset,
            p.source_dataset,
            p.mode,
            str(p.n_train),
            str(p.n_test),
            pct(p.baseline_accuracy),
            pct(p.transfer_accuracy),
            points(p.gain_points),
            "—" if p.baseline_only is None else str(p.baseline_only),
            "—" if p.transfer_only is None else str(p.transfer_only),
            pvalue(p.mcnemar_p),
        ]
        for p in report.transfer_pairs
    ]
    title = "Transfer vs no transfer, on the same test items (gain in points; exact McNemar test)"
    return Section("transfer_pairs", title, headers, rows)


def gain_section(report: Report) -> Section:
    headers = ["from", "dataset", "mode", "train labels", "subjects", *PAIRED_HEADERS, "min", "max", "largest"]
    rows, notes = [], []
    for g in report.transfer_gains:
        rows.append(
            [
                *(g.source_dataset, g.dataset, g.mode, train_labels_text(g.n_train), str(g.n_subjects)),
                *paired_cells(g.paired, points),
                *(points(g.min_gain_points), points(g.max_gain_points), "◀" if g.largest else ""),
            ]
        )
        if g.paired is not None and g.paired.reach.explain():
            where = f"{g.source_dataset} → {g.dataset}, {g.mode}, {train_labels_text(g.n_train)} labels"
            notes.append(f"{where}: {g.paired.reach.explain()}.")
    return Section(
        "transfer_gains", "Transfer gain by number of target labels (points)", headers, rows, [*notes, PAIRED_NOTE]
    )
