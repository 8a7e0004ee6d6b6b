"""Sections of real people: every predictor per rater and across raters, and the personal model against each
baseline (the image population model, the training majority, the consensus with and without the rater's
deviation)."""

from __future__ import annotations

from prefstudy.report.across_raters import BaselineTest, PopulationSummary
from prefstudy.report.model import Report
from prefstudy.report.population import CONSENSUS_SCORE, DEVIATION, MAJORITY
from prefstudy.report.sections.format import Section, interval, mean_text, pct, points, pvalue, rho, spread_text

PREDICTOR_HEADERS = ["acc personal", "ρ personal", "acc population model", "ρ population model"]
PREDICTOR_HEADERS += ["acc consensus", "ρ consensus", "acc consensus + deviation", "ρ consensus + deviation"]
PREDICTOR_HEADERS += ["acc training majority"]


def _spread(g: PopulationSummary, baseline: str, what: str, fmt=pct) -> str:
    found = g.against(baseline)
    return "—" if found is None else spread_text(getattr(found, what), fmt)


def population_section(report: Report) -> Section:
    headers = ["dataset", "personal", "population", "raters", *PREDICTOR_HEADERS]
    rows = [
        [
            g.dataset,
            g.variant,
            g.population,
            str(g.raters),
            spread_text(g.personal_accuracy),
            spread_text(g.personal_rho, rho),
            spread_text(g.population_accuracy),
            spread_text(g.population_rho, rho),
            _spread(g, CONSENSUS_SCORE, "accuracy"),
            _spread(g, CONSENSUS_SCORE, "rho", rho),
            _spread(g, DEVIATION, "accuracy"),
            _spread(g, DEVIATION, "rho", rho),
            _spread(g, MAJORITY, "accuracy"),
        ]
        for g in report.population
    ]
    title = "Every predictor across raters, on each rater's own test items: median [IQR]"
    notes = [
        "Personal: the rater's own model; population model: the consensus subject's model of the same images "
        "and fold (a model of everyone); consensus: the mean rating of the *other* raters, split at its median "
        "(no model: it knows the test items' ratings, so it answers for known items only); consensus + deviation: "
        "a logistic regression of the rater's training answers on that consensus score; training majority: the "
        "commoner answer of the rater's training labels (the honest chance). ρ is computed within each fold and "
        "averaged over the folds; a constant answer has none.",
    ]
    recovered = [g for g in report.population if g.share_recovered is not None]
    for g in recovered:
        notes.append(
            f"{g.dataset}, {g.variant}: share of the reliable signal recovered, (personal − training majority) / "
            f"(reliable accuracy − training majority), median [IQR] {spread_text(g.share_recovered)}; the reliable "
            "accuracy (1 + √(2c − 1)) / 2 is what a rater who agrees with themselves on a share c of repeats allows."
        )
    if report.population and not recovered:
        notes.append("No rater answered repeated items: no test–retest reliability ceiling.")
    return Section("population", title, headers, rows, notes if rows else [])


def _prevalence(b: BaselineTest) -> str:
    p = b.prevalence
    if p is None or p.map is None:
        return "—"
    return f"{pct(p.map)} {interval(p.low, p.high)}"


def _equivalence(b: BaselineTest) -> str:
    e = b.accuracy_equivalence
    if e is None:
        return "—"
    return f"p {pvalue(e.p_value)} (±{100 * e.margin:g} pts)"


def baseline_section(report: Report) -> Section:
    headers = ["dataset", "personal", "against", "raters", "acc gain [95 % CI]", "two-way bootstrap CI"]
    headers += ["raters-only bootstrap CI", "Wilcoxon p", "wins / losses", "ρ gain [95 % CI]", "Wilcoxon p (ρ)"]
    headers += ["gain p < 0.05", "prevalence of gain [95 % HPDI]", "detectable gain", "detectable per rater"]
    headers += ["equivalence (TOST)"]
    rows = []
    for g in report.population:
        for b in g.baselines:
            boot = b.bootstrap
            rows.append(
                [
                    g.dataset,
                    g.variant,
                    b.name,
                    str(b.raters),
                    mean_text(b.accuracy_gain, _pts),
                    "—" if boot is None else interval(boot.low, boot.high, _pts),
                    "—" if boot is None else interval(boot.rater_low, boot.rater_high, _pts),
                    pvalue(b.accuracy_test.p_value),
                    f"{b.accuracy_wins} / {b.accuracy_losses}",
                    mean_text(b.rho_gain, rho),
                    pvalue(b.rho_test.p_value),
                    f"{b.significant_gains} / {b.raters}",
                    _prevalence(b),
                    _pts(b.detectable.effect),
                    "—" if b.detectable_per_rater is None else _pts(b.detectable_per_rater.effect),
                    _equivalence(b),
                ]
            )
    inference = report.inference
    notes = [
        "Gains are the personal model minus the baseline, per rater, on the same test items (accuracy in points).",
        f"Two-way bootstrap: {inference.bootstrap_b:,} replicates (seed {inference.seed}) resampling raters and "
        "items together with replacement (every rater judged the same items, so the items are a sample too), "
        "percentile 95 % interval of the mean gain; raters-only resamples raters with every item once.",
        "Gain p < 0.05: raters whose one-sided exact McNemar test (personal right where the baseline is wrong) "
        "passes at 0.05, uncorrected; the prevalence of raters who gain is Bayesian (Ince et al. 2021, uniform "
        "prior, within-rater power taken as 1, so it is a lower bound where the tests have less power): its MAP "
        "and 95 % highest posterior density interval.",
        "Detectable gain: the smallest mean accuracy gain the paired test across these raters finds with power "
        "0.8 at 0.05 (two-sided t, the observed sd); per rater: the smallest gain one rater's exact McNemar test "
        "finds at the median test items and discordant pairs (— where none could). Equivalence: where Wilcoxon "
        "finds no difference, two "
        f"one-sided t-tests (TOST) that the mean gain lies within ±{100 * inference.accuracy_margin:g} accuracy "
        f"points (±{inference.rho_margin:g} in ρ: see JSON).",
    ]
    title = "The personal model against each baseline, across raters"
    return Section("baselines", title, headers, rows, notes if rows else [])


def _pts(value: float | None) -> str:
    return points(None if value is None else 100 * value)


def rater_section(report: Report) -> Section:
    headers = ["subject", "dataset", "personal", "population", "folds", "n", "rated", "acc personal"]
    headers += ["acc population model", "McNemar p", "acc consensus", "acc consensus + deviation"]
    headers += ["acc training majority", "ρ personal", "ρ population model", "ρ consensus", "ρ consensus + deviation"]
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
            pvalue(c.mcnemar_p),
            pct(c.consensus_accuracy),
            pct(c.deviation_accuracy),
            pct(c.majority_accuracy),
            rho(c.personal_rho),
            rho(c.population_rho),
            rho(c.consensus_rho),
            rho(c.deviation_rho),
        ]
        for c in report.comparisons
    ]
    title = "Every predictor per rater, on the rater's own test items (pooled over folds)"
    notes = ["McNemar p: exact, two-sided, personal against the image population model on the rater's test items."]
    return Section("raters", title, headers, rows, notes if rows else [])
