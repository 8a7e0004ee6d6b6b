"""The HTML report in a real browser: a report with the wide personal-vs-population tables (a consensus subject,
six raters, each fine-tuned from it on two item folds) fits a window 1,280 px wide, with no horizontal scroll of
the page and none inside a table's box either."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import copy_study, one_duckdb
from scored_runs import scored_run

from prefstudy.report import collect
from prefstudy.report.html import render_html
from prefstudy.runs.record import record_runs
from prefstudy.subjects.labels import ratings_of, usable_labels_by_subject

sys.path.insert(0, str(Path(__file__).parents[1] / "labeler"))
from harness import ARGS, CHROMIUM

pytestmark = [
    pytest.mark.slow,  # Chromium
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}: apt-get install chromium"),
]
FOLDS = 2


def _run(ws, run_id, subject, labels, ratings, fold, rng, transfer=None):
    """A finished run of one item fold whose predictions lean towards the subject's answers, with their ratings."""
    split = np.where(labels.item_idx % FOLDS == fold, "test", "train").astype(object)
    p = np.clip(np.where(labels.preferred, 0.65, 0.35) + rng.normal(0, 0.25, len(split)), 0.01, 0.99)
    settings = {"split_by": "item", "folds": FOLDS, "fold": fold}
    directory = scored_run(ws, run_id, subject, "fm", labels.preferred, p, split, item_idx=labels.item_idx,
                           transfer=transfer, settings=settings)  # fmt: skip
    rating = np.array([ratings.get(int(i), np.nan) for i in labels.item_idx])
    keys = np.array([f"i{i}" for i in labels.item_idx], dtype=object)
    directory.write_predictions(labels.item_idx, keys, split, labels.preferred, p, rating)
    return directory


@pytest.fixture(scope="module")
def population_page(_rated_study, tmp_path_factory) -> Path:
    ws = copy_study(_rated_study, tmp_path_factory.mktemp("browser") / "study")
    rng = np.random.default_rng(0)
    with one_duckdb(ws):
        answers = usable_labels_by_subject(ws, "fm")
        raters = sorted(s for s in answers if s.startswith("r"))

        def rated(subject):
            found = ratings_of(ws, subject, "fm")
            return dict(zip(found.item_idx.tolist(), found.rating.tolist(), strict=True))

        dirs = [_run(ws, f"crowd-{f}", "crowd", answers["crowd"], {}, f, rng) for f in range(FOLDS)]
        for rater in raters:
            for fold in range(FOLDS):
                transfer = {"source_run": f"crowd-{fold}", "source_dataset": "fm", "mode": "finetune"}
                dirs.append(_run(ws, f"{rater}-{fold}", rater, answers[rater], rated(rater), fold, rng, transfer))
        record_runs(ws, dirs)
        report = collect(ws)
        assert {c.subject for c in report.comparisons} == set(raters) and report.population
        page = tmp_path_factory.mktemp("page") / "report.html"
        page.write_text(render_html(report, ws), encoding="utf-8")
    return page


def test_the_report_with_the_personal_vs_population_tables_fits_1280_px(population_page):
    from playwright.sync_api import sync_playwright

    text = population_page.read_text(encoding="utf-8")
    assert all(f'data-section="{key}"' in text for key in ("population", "baselines", "raters"))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(population_page.as_uri())
            page.wait_for_load_state("load")
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")  # long tables too
            widths = page.evaluate(
                "({page: document.documentElement.scrollWidth, window: window.innerWidth,"
                " columns: document.querySelector('table[data-section=baselines] tr').children.length,"
                " boxes: [...document.querySelectorAll('.scroll')].map(b => [b.firstChild.dataset.section,"
                " b.scrollWidth, b.clientWidth])})"
            )
        finally:
            browser.close()
    assert widths["columns"] >= 16  # the widest table: each baseline's paired tests (the old one was 2,199 px)
    assert widths["page"] <= widths["window"] == 1280
    overflowing = [(key, scroll, client) for key, scroll, client in widths["boxes"] if scroll > client]
    assert overflowing == []  # no table needs its own scroll bar either
