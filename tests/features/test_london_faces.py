"""Real people on pretrained features: `studies/london-faces.toml` for a few London raters, with dlib's face
descriptor computed once for the 102 photographs, the crowd's head per fold and every rater's two heads."""

from __future__ import annotations

import json
import statistics

import pytest
from conftest import SHARED_DATA, Cli, copy_study

from prefstudy.studyfile import shipped_study

pytestmark = pytest.mark.slow  # 102 face detections and descriptors, then 65 head runs

LONDON = SHARED_DATA / "london-faces"
RATERS = 6


@pytest.fixture(scope="module")
def _london_faces(tmp_path_factory) -> Cli:
    pytest.importorskip("prefstudy_face", reason="the face extractor plugin: pip install -e plugins/prefstudy-face")
    if not (LONDON / "ratings.csv").is_file():
        pytest.skip(f"the London faces are not in {LONDON} (the shared data folder)")
    root = tmp_path_factory.mktemp("london-faces")
    # The shipped study file, with the data's paths made absolute.
    text = shipped_study("london-faces").read_text().replace("../shared/data/london-faces", str(LONDON))
    (root / "london-faces.toml").write_text(text)
    cli = Cli(root / "study")
    cli("study", "init", root / "study", "--from", root / "london-faces.toml")
    cli("study", "run", "--limit-subjects", RATERS, "--seed", "0")
    return cli


@pytest.fixture
def london_faces(_london_faces, tmp_path) -> Cli:
    return Cli(copy_study(_london_faces.study, tmp_path / "study").root)


def test_features_once_then_the_crowds_head_and_every_raters_two_heads(london_faces):
    ws_root = london_faces.study
    (stored,) = _features(london_faces)
    assert (stored["extractor"], stored["n_items"], stored["dim"]) == ("face", 102, 128)
    assert stored["counts"] == {}  # a face found in every photograph
    runs = london_faces.json("runs", "list", "--all")["runs"]
    crowd = [r for r in runs if r["subject"] == "crowd"]
    personal = [r for r in runs if r["subject"] != "crowd"]
    assert len(crowd) == 5 and len(personal) == 2 * 5 * RATERS and {r["status"] for r in runs} == {"finished"}
    results = [json.loads((ws_root / "runs" / r["run_id"] / "result.json").read_text()) for r in crowd]
    # The image population model ranks the crowd's mean ratings of unseen faces: a real signal, fold after fold.
    rho = [r["metrics"]["test"]["spearman"] for r in results]
    assert statistics.mean(rho) > 0.4, rho
    report = json.loads(london_faces("report", "--format", "json").stdout)
    variants = {s["variant"] for s in report["personal_vs_population_summary"]}
    assert variants == {"face+linear on ratings, from scratch", "face+linear on ratings, deviation from the population"}
    # Everything is planned and done: a second `study run` makes nothing and computes no features again.
    again = london_faces.json("study", "run", "--limit-subjects", str(RATERS), "--seed", "0")
    assert again["made"] == [] and again["already_done"] == 5 + 10 * RATERS


def _features(cli: Cli) -> list[dict]:
    import duckdb

    with duckdb.connect(str(cli.study / "prefstudy.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT extractor, n_items, dim, counts FROM features").fetchall()
    return [{"extractor": e, "n_items": n, "dim": d, "counts": json.loads(c)} for e, n, d, c in rows]
