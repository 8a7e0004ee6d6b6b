"""The report over a real study, built once: eight simulated subjects with mixed rules, noise and repeat
rates on real Fashion-MNIST and real LFW faces, each trained from scratch on both and transferred from
Fashion-MNIST to the faces, one run explained. Every format is checked against the JSON, and the HTML
page is opened in headless Chromium."""

from __future__ import annotations

import json
import os
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import copy_study

from prefstudy.config import train_settings
from prefstudy.report import collect, render_json, render_markdown
from prefstudy.report.html import render_html
from prefstudy.studyfile import DatasetSpec

pytestmark = pytest.mark.slow

# (name, Fashion-MNIST rule, face rule, noise, repeat, item seed)
SUBJECTS = [
    ("ann", "classes:Trouser,Bag,Sneaker", "feature:brightness@center", 0.0, 0.2, 0),
    ("ben", "feature:brightness", "feature:brightness@top", 0.05, 0.1, 0),
    ("cat", "classes:Dress,Coat", "feature:colourfulness", 0.1, 0.0, 0),
    ("dan", "feature:brightness@center", "feature:brightness@center", 0.2, 0.15, 0),
    ("eve", "classes:Sandal,Sneaker,Ankle boot", "feature:brightness", 0.0, 0.0, 1),
    ("fay", "feature:edges", "feature:edges", 0.15, 0.1, 1),
    ("gus", "classes:T-shirt/top,Shirt", "feature:brightness@bottom", 0.05, 0.2, 1),
    ("hal", "feature:brightness@top", "feature:colourfulness", 0.1, 0.05, 1),
]
# The paper's constant rate: runs this small (about 18 steps) learn more from it than from a onecycle's
# warm-up and decay, and the report needs some subjects above chance.
SETTINGS = train_settings(backbone="paper-vgg:small", epochs=2, batch_size=32, schedule="paper")
# The faces runs, from scratch and transferred: one epoch is enough for the report to compare them.
FACES = train_settings(backbone="paper-vgg:small", epochs=1, batch_size=32, schedule="paper")


@pytest.fixture(scope="module")
def real_study(_sample_study: Path, lfw_dir: Path, tmp_path_factory):
    from prefstudy.config import TransferRequest
    from prefstudy.datasets.catalog import add_dataset
    from prefstudy.executors.runner import make_run
    from prefstudy.explain.service import explain_run
    from prefstudy.runs.orders import RunOrder
    from prefstudy.subjects.simulate import simulate_subject

    ws = copy_study(_sample_study, tmp_path_factory.mktemp("report-real") / "study")
    add_dataset(ws, DatasetSpec(name="faces", kind="lfw", path=str(lfw_dir), limit=300, seed=0, size=32))
    for name, fm_rule, face_rule, noise, repeat, seed in SUBJECTS:
        simulate_subject(ws, name, "fm", fm_rule, noise=noise, repeat=repeat, seed=seed, limit=400)
        simulate_subject(ws, name, "faces", face_rule, noise=noise, repeat=repeat, seed=seed)
    for name, *_ in SUBJECTS:
        source = make_run(ws, RunOrder(name, "fm", SETTINGS))["run_id"]
        make_run(ws, RunOrder(name, "faces", FACES))
        make_run(ws, RunOrder(name, "faces", FACES, transfer=TransferRequest(source, "finetune")))
    explained = next(r for r in collect(ws, subjects="ann").runs if r.dataset == "faces" and r.transfer is None)
    explain_run(ws, explained.run_id, n=4, out=ws.root / "explained")
    return ws


@pytest.fixture(scope="module")
def outputs(real_study):
    report = collect(real_study)
    return report, json.loads(render_json(report)), render_html(report, real_study), render_markdown(report)


def test_every_question_is_answered_across_the_subjects(outputs):
    _, data, _, _ = outputs
    groups = {(g["dataset"], g["transfer"]): g for g in data["groups"]}
    assert set(groups) == {("fm", None), ("faces", None), ("faces", "finetune from fm")}
    assert all(g["n_subjects"] == 8 and g["reach"]["tested"] == 8 for g in groups.values())
    assert groups[("fm", None)]["above_chance"] >= 4  # rules a small network learns in two epochs
    assert len(data["transfer_pairs"]) == 8 and all(p["mcnemar_p"] is not None for p in data["transfer_pairs"])
    (gain,) = data["transfer_gains"]
    assert gain["paired"]["subjects"] == 8 and gain["paired"]["sign"]["n"] <= 8
    subjects = {(s["subject"], s["dataset"]): s for s in data["subjects"]}
    assert len(subjects) == 16
    assert subjects[("ann", "faces")]["consistency"] == 1.0  # no noise: every repeat answered the same
    assert subjects[("cat", "fm")]["repeats"] == 0 and subjects[("cat", "fm")]["consistency"] is None
    assert 0.5 < subjects[("dan", "fm")]["consistency"] < 1.0  # 20 % noise on each showing
    assert subjects[("eve", "fm")]["preferred"] + subjects[("eve", "fm")]["not_preferred"] == 400
    interrater = {a["dataset"]: a for a in data["interrater"]}
    assert interrater["faces"]["fleiss_kappa"] is not None and interrater["faces"]["items"] == 300
    assert interrater["fm"]["fleiss_kappa"] is None  # two item subsets: not every item has the same raters
    assert interrater["fm"]["krippendorff_alpha"] is not None and len(interrater["faces"]["pair_kappas"]) == 28
    assert len({a["run_id"] for a in data["agreement"]}) == 1  # the one run explained
    assert all(a["pointing_low"] <= a["pointing_game"] <= a["pointing_high"] for a in data["agreement"])


class _Tables(HTMLParser):
    """Each table's cells by section key, and every resource the page refers to."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.resources: list[str] = []
        self._key, self._row, self._cell = None, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("src", "href"):
            if name in attrs and not attrs[name].startswith("#"):
                self.resources.append(attrs[name])
        if tag == "table":
            self._key = attrs["data-section"]
            self.tables[self._key] = []
        elif tag == "tr" and self._key:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = ""

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(self._cell.replace("\xa0", " "))  # a number keeps its unit: "63.20&nbsp;%"
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._key].append(self._row)
            self._row = None
        elif tag == "table":
            self._key = None


def _pct(x):
    return "—" if x is None else f"{100 * x:.2f} %"


def _rows(tables, key):
    header, *rows = tables[key]
    return [dict(zip(header, row, strict=True)) for row in rows]


def test_the_numbers_in_the_html_are_the_numbers_in_the_json(outputs):
    _, data, page, markdown = outputs
    parsed = _Tables()
    parsed.feed(page)
    html_groups = _rows(parsed.tables, "groups")
    assert len(html_groups) == len(data["groups"])
    for shown, g in zip(html_groups, data["groups"], strict=True):
        m = g["mean_interval"]
        assert shown["mean [95 % CI]"] == f"{_pct(m['mean'])} [{_pct(m['low'])}, {_pct(m['high'])}]"
        assert (
            shown["median [IQR]"]
            == f"{_pct(g['accuracy']['median'])} [{_pct(g['accuracy']['q1'])}, {_pct(g['accuracy']['q3'])}]"
        )
        assert shown["above chance (Holm)"] == f"{g['above_chance']} / {g['reach']['tested']}"
        assert shown["t-test p"] == f"{g['excess']['p_value']:.2g}"
    scores = {r["run_id"]: r["score"] for r in data["runs"]}
    for shown in _rows(parsed.tables, "scores"):
        s = scores[shown["run"]]
        assert (shown["accuracy"], shown["chance"]) == (_pct(s["accuracy"]), _pct(s["chance"]))
        assert shown["95 % CI"] == f"[{_pct(s['accuracy_low'])}, {_pct(s['accuracy_high'])}]"
        assert shown["p above chance"] == f"{s['p_above_chance']:.2g}"
    pairs = {p["transfer_run"]: p for p in data["transfer_pairs"]}
    for shown in _rows(parsed.tables, "transfer_pairs"):
        (p,) = [p for p in pairs.values() if p["subject"] == shown["subject"]]
        assert shown["McNemar p"] == f"{p['mcnemar_p']:.2g}" and shown["only transfer"] == str(p["transfer_only"])
    for shown, a in zip(_rows(parsed.tables, "interrater"), data["interrater"], strict=True):
        assert shown["Krippendorff α"] == f"{a['krippendorff_alpha']:.3f}"
    # the Markdown shows the same text
    assert all(f"| {row['mean [95 % CI]']} |" in markdown for row in html_groups)


def test_the_html_page_is_self_contained_and_draws_every_figure(outputs):
    _, _, page, _ = outputs
    parsed = _Tables()
    parsed.feed(page)
    assert parsed.resources and all(r.startswith("data:image/png;base64,") for r in parsed.resources)
    assert "<script" not in page and not re.search(r"url\(|@import|https?://", page)
    for section in ("groups", "transfer_gains", "interrater", "training", "sheets"):
        assert f'<section id="{section}">' in page
    assert page.count("<img ") >= 6


def test_the_html_page_opens_in_chromium_without_a_failed_request(outputs, tmp_path):
    sys.path.insert(0, str(Path(__file__).parents[1] / "labeler"))
    from harness import ARGS, CHROMIUM
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium")
    _, _, page_text, _ = outputs
    html = tmp_path / "report.html"
    html.write_text(page_text, encoding="utf-8")
    shot = Path(os.environ.get("PREFSTUDY_REPORT_SCREENSHOT", tmp_path / "report.png"))
    requested, failed = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("request", lambda r: requested.append(r.url))
        page.on("requestfailed", lambda r: failed.append(r.url))
        page.goto(html.as_uri())
        page.wait_for_load_state("load")
        drawn = page.evaluate("[...document.images].map(i => i.complete && i.naturalWidth > 0)")
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert failed == []
    assert all(u == html.as_uri() or u.startswith("data:") for u in requested)
    assert drawn and all(drawn)
    assert shot.stat().st_size > 50_000
