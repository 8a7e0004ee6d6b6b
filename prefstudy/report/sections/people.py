"""Sections of real people: personal vs population models, per rater and across raters."""

from __future__ import annotations

from prefstudy.report.model import Report
from prefstudy.report.sections.format import (
    PAIRED_HEADERS,
    PAIRED_NOTE,
    Section,
    paired_cells,
    pct,
    points,
    pvalue,
    rho,
    spread_text,
)
from prefstudy.report.sections.scale import per_subject


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
                *paired_cells(g.accuracy_paired, pct),
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
