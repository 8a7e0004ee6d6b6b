"""The report as sections of (title, headers, rows of text, notes): built once, laid out by every format.

Numbers are formatted here and nowhere else, so the terminal, Markdown and HTML show the same text,
and that text is what ``--format json`` holds, rounded. Per-subject sections appear only up to
:data:`~prefstudy.report.model.PER_SUBJECT_UP_TO` subjects; beyond that the summaries stand for them.
"""

from __future__ import annotations

from typing import NamedTuple

from prefstudy.report.model import PER_SUBJECT_UP_TO, Report
from prefstudy.report.paired import PairedSummary, Reach
from prefstudy.report.run_summary import SPLITS, RunSummary
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


def _epochs(run: RunSummary) -> str:
    return f"{run.best_epoch}/{run.epochs}" if run.best_epoch is not None else str(run.epochs)


def variant(transfer: str | None, train_size: int | None) -> str:
    parts = [transfer or "from scratch"]
    if train_size is not None:
        parts.append(f"{train_size} train labels")
    return ", ".join(parts)


def per_subject(report: Report) -> bool:
    return report.n_subjects <= PER_SUBJECT_UP_TO


def run_section(report: Report) -> Section:
    headers = ["run", "subject", "dataset", "backbone", "protocol", "variant", "epoch", "split"]
    headers += ["n", "TP", "FP", "FN", "TN", "accuracy"]
    rows = []
    for run in report.runs if per_subject(report) else []:
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
    for run in report.runs if per_subject(report) else []:
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
        name = f"{g.dataset}, {g.backbone}, {g.protocol}, {variant(g.transfer, g.train_size)}"
        rows.append(
            [
                g.dataset,
                g.backbone,
                g.protocol,
                variant(g.transfer, g.train_size),
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
        for p in (report.transfer_pairs if per_subject(report) else [])
    ]
    title = "Transfer vs no transfer, on the same test items (gain in points; exact McNemar test)"
    return Section("transfer_pairs", title, headers, rows)


def _paired_cells(p: PairedSummary | None, fmt) -> list[str]:
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


def gain_section(report: Report) -> Section:
    headers = ["from", "dataset", "mode", "train labels", "subjects", *PAIRED_HEADERS, "min", "max", "largest"]
    rows, notes = [], []
    for g in report.transfer_gains:
        rows.append(
            [
                *(g.source_dataset, g.dataset, g.mode, _labels(g.n_train), str(g.n_subjects)),
                *_paired_cells(g.paired, points),
                *(points(g.min_gain_points), points(g.max_gain_points), "◀" if g.largest else ""),
            ]
        )
        if g.paired is not None and g.paired.reach.explain():
            where = f"{g.source_dataset} → {g.dataset}, {g.mode}, {_labels(g.n_train)} labels"
            notes.append(f"{where}: {g.paired.reach.explain()}.")
    return Section(
        "transfer_gains", "Transfer gain by number of target labels (points)", headers, rows, [*notes, PAIRED_NOTE]
    )


def _labels(n_train: int | None) -> str:
    return "all" if n_train is None else str(n_train)


def population_section(report: Report) -> Section:
    headers = ["dataset", "personal", "population", "raters", "acc personal", "acc population", *PAIRED_HEADERS]
    headers += ["wins / losses (acc)", "ρ personal", "ρ population", "wins / losses (ρ)", "Wilcoxon p (ρ)"]
    headers += ["consensus acc (no model)", "consensus ρ (no model)"]
    rows, notes = [], []
    for g in report.population:
        rows.append(
            [
                g.dataset,
                g.variant,
                g.population,
                str(g.raters),
                spread_text(g.personal_accuracy),
                spread_text(g.population_accuracy),
                *_paired_cells(g.accuracy_paired, pct),
                f"{g.accuracy_wins} / {g.accuracy_losses}",
                spread_text(g.personal_rho, rho),
                spread_text(g.population_rho, rho),
                f"{g.rho_wins} / {g.rho_losses}",
                pvalue(g.rho_test.p_value),
                spread_text(g.ceiling_accuracy),
                spread_text(g.ceiling_rho, rho),
            ]
        )
        if g.accuracy_paired is not None and g.accuracy_paired.reach.explain():
            notes.append(f"{g.dataset}, {g.variant}: {g.accuracy_paired.reach.explain()}.")
    title = "Personal vs population across raters: median [IQR]; gains are personal minus population accuracy"
    consensus = (
        "Consensus (no model): the mean rating of the *other* raters of the population, on the rater's own test "
        "items, split at its median; it knows every test face's ratings, which no model of the images does."
    )
    return Section("population", title, headers, rows, [*notes, consensus, PAIRED_NOTE] if rows else [])


def rater_section(report: Report) -> Section:
    headers = ["subject", "dataset", "personal", "population", "folds", "n", "rated", "acc personal"]
    headers += ["acc population", "acc gain", "only personal", "only population", "McNemar p", "ρ personal"]
    headers += ["ρ population", "ρ gain", "ceiling acc", "ceiling ρ"]
    rows = [
        [
            c.subject,
            c.dataset,
            c.variant,
            c.population,
            str(c.folds),
            str(c.n_test),
            str(c.n_rated),
            pct(c.personal_accuracy),
            pct(c.population_accuracy),
            points(100 * c.accuracy_gain),
            str(c.personal_only),
            str(c.population_only),
            pvalue(c.mcnemar_p),
            rho(c.personal_rho),
            rho(c.population_rho),
            rho(c.rho_gain),
            pct(c.ceiling_accuracy),
            rho(c.ceiling_rho),
        ]
        for c in (report.comparisons if per_subject(report) else [])
    ]
    title = "Personal vs population per rater, on the rater's own test items (pooled over folds)"
    return Section("raters", title, headers, rows)


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
        for s in (report.subjects if per_subject(report) else [])
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
        for s in (report.subjects if per_subject(report) else [])
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
            _ms(s.rt_median_ms),
            f"[{_ms(s.rt_q1_ms)}, {_ms(s.rt_q3_ms)}]",
            pct(s.timed_out_rate),
        ]
        for s in (report.subjects if per_subject(report) else [])
        if s.rt_n or s.timed_out
    ]
    return Section("response_times", "Response times per subject (answered trials)", headers, rows)


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} ms"


def subjects_summary_section(report: Report) -> Section:
    headers = ["dataset", "subjects", "preferred share median [IQR]", "timed-out rate", "median RT median [IQR]"]
    headers += ["with repeats", "consistency median [IQR]", "of ceiling median [IQR]"]
    rows = [
        [
            s.dataset,
            str(s.subjects),
            spread_text(s.preferred_share),
            pct(s.timed_out_rate),
            spread_text(s.rt_median_ms, _ms),
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


def agreement_section(report: Report) -> Section:
    headers = ["run", "method", "layer", "correct", "n", "pointing game", "energy", "IoU"]
    rows = [
        [
            a.run_id,
            a.method,
            a.layer,
            a.answer,
            str(a.n),
            f"{pct(a.pointing_game)} {interval(a.pointing_low, a.pointing_high)} ({pct(a.chance_pointing)})",
            f"{pct(a.energy)} {interval(a.energy_low, a.energy_high)} ({pct(a.chance_energy)})",
            f"{pct(a.iou)} {interval(a.iou_low, a.iou_high)} ({pct(a.chance_iou)})",
        ]
        for a in report.agreement
    ]
    notes = ["Pointing game: Wilson interval; energy and IoU: t-intervals over items. Chance in brackets."]
    title = "Heat-map agreement with the subject's regions, 95 % CI (chance in brackets)"
    return Section("agreement", title, headers, rows, notes if rows else [])


def _range(low: int | None, high: int | None) -> str:
    return "—" if low is None else f"{low}–{high}"


def labels_needed_section(report: Report) -> Section:
    headers = ["dataset", "order", "start", "subjects", "reaching", "labels to 95 % (median)", "range"]
    headers += ["all-labels accuracy", "chance"]
    rows = [
        [
            *(s.dataset, s.order, s.start, str(s.subjects), str(s.reaching), num(s.median, 0)),
            *(_range(s.low, s.high), pct(s.all_labels_accuracy), pct(s.chance)),
        ]
        for s in report.labels_needed
    ]
    notes = [
        "From `prefstudy curve` (learning curves, not runs): the fewest labels whose accuracy, the mean over seeds, "
        "reaches 95 % of the all-labels gain over chance; median and range over the subjects reaching it. Each "
        "step adds the labels up to the next budget, chosen with the model fitted at the current budget."
    ]
    return Section("labels_needed", "Labels needed", headers, rows, notes if rows else [])


def sections(report: Report) -> list[Section]:
    """Every non-empty section of the report, in order."""
    built = [
        group_section(report),
        score_section(report),
        gain_section(report),
        pair_section(report),
        population_section(report),
        rater_section(report),
        subjects_summary_section(report),
        preference_section(report),
        consistency_section(report),
        response_section(report),
        interrater_section(report),
        pair_kappa_section(report),
        agreement_section(report),
        labels_needed_section(report),
        run_section(report),
    ]
    return [s for s in built if s.rows]


def scale_note(report: Report) -> str:
    """Why per-subject rows are missing, when they are."""
    if per_subject(report):
        return ""
    return (
        f"{report.n_subjects:,} subjects: the per-subject and per-run tables are left out beyond {PER_SUBJECT_UP_TO} "
        "subjects; `--format json` holds every row, and `--subjects GLOB` narrows the report."
    )
