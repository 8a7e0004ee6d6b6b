"""`prefstudy label --order uncertainty|diverse` through the API: what each strategy picks, the explore and test
shares, the strategy stored with each label, a returning subject's stored order, a failing refit, and the
refit process working from files alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict

import numpy as np
import pytest
from fastapi.testclient import TestClient

from prefstudy.active.refit_task import RefitDir, RefitResult, RefitTask, write_array
from prefstudy.active.selection import EXPLORE, RANDOM, TEST, UNCERTAINTY, cluster_count
from prefstudy.datasets.catalog import get_dataset
from prefstudy.env import REFIT_GATE_ENV
from prefstudy.labeler import orders
from prefstudy.labeler.active_plan import ActivePlan
from prefstudy.labeler.app import create_app
from prefstudy.labeler.links import link_token
from prefstudy.labeler.options import LabelOptions
from prefstudy.labeler.orders import LabelOrder, resolve_start, stored_order
from prefstudy.labeler.refits import refit_dir
from prefstudy.labeler.trial_plan import load_state
from prefstudy.runs.record import finished_runs
from prefstudy.splits import item_test_mask
from prefstudy.subjects.labels import export_rows
from prefstudy.subjects.roster import CONSENSUS, HUMAN, ensure_subject

pytestmark = pytest.mark.usefixtures("shared_instance")  # each test's study stays open: see tests/conftest.py

N_ITEMS = 10_000  # the embedded Fashion-MNIST sample
TEST_ITEMS = item_test_mask(N_ITEMS, seed=0, test_fraction=0.2, folds=None, fold=None)
NO_REFIT = 1_000_000  # --refit-every that never comes


def _app(ws, log=None, **options):
    with ws.transaction() as con:
        ensure_subject(con, "ann", HUMAN)
    token = link_token(ws, "ann")
    app = create_app(ws, "fm", {token: "ann"}, LabelOptions(deadline_s=0, **options), log=log)
    return TestClient(app), token, app


def _label(client, token, trials, first=1, answer=lambda item: "preferred"):
    """Answer ``trials`` images one at a time, each the first of the queue; returns the items."""
    session = client.get(f"/api/{token}/state").json()["session"]
    shown = []
    for trial in range(first, first + trials):
        (entry,) = client.get(f"/api/{token}/queue?n=1").json()["items"]
        body = {"session": session, "trial": trial, "block": 1, "item": entry["item"], "answer": answer(entry["item"])}
        assert client.post(f"/api/{token}/trial", json=body).status_code == 200
        shown.append(entry["item"])
    return shown


def _strategies(ws) -> list[tuple[int, str]]:
    with ws.connect() as con:
        return con.execute("SELECT item_idx, strategy FROM labels WHERE subject = 'ann' ORDER BY id").fetchall()


def _wait_for(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_uncertainty_picks_the_items_nearest_one_half_never_a_test_item(sample_ws):
    scores = ((np.arange(N_ITEMS) * 7919) % 1000 / 1000).astype(np.float32)  # spread over [0, 1)
    folder = refit_dir(sample_ws, "ann", "fm")
    folder.path.mkdir(parents=True)
    write_array(folder.scores, scores)
    folder.write_result(RefitResult(seq=1, answers=0, labels=0, seconds=0.0, scores=True))
    client, token, _ = _app(sample_ws, order="uncertainty", start="scratch", refit_every=NO_REFIT)
    _label(client, token, 100)
    rows = _strategies(sample_ws)
    kinds = [s for _, s in rows]
    assert set(kinds) == {UNCERTAINTY, EXPLORE, TEST}
    assert all(TEST_ITEMS[item] == (s == TEST) for item, s in rows)  # held-out items only as their own share
    assert 0.1 <= kinds.count(TEST) / len(rows) <= 0.3  # the split's test share, 0.2
    assert 0.1 <= kinds.count(EXPLORE) / (len(rows) - kinds.count(TEST)) <= 0.3  # --explore 0.2
    # Each uncertainty pick is the candidate nearest 0.5 when it was chosen.
    margin = np.where(TEST_ITEMS, np.inf, np.abs(scores - 0.5))
    for item, strategy in rows:
        if strategy == UNCERTAINTY:
            assert margin[item] == margin.min()
        margin[item] = np.inf  # answered
    assert stored_order(sample_ws, "ann", "fm") == LabelOrder(UNCERTAINTY, 0.2, NO_REFIT, "scratch")


def test_diverse_covers_the_clusters_first(sample_ws):
    client, token, app = _app(sample_ws, order="diverse", start="scratch", limit=300, explore=0.1)
    folder = refit_dir(sample_ws, "ann", "fm")
    client.get(f"/api/{token}/queue?n=1")  # the first request starts clustering simple image features
    _wait_for(lambda: folder.result.is_file())
    _label(client, token, 40)
    plan = app.state.served.plan("ann")
    clusters = plan.refits.clusters
    assert clusters is not None and clusters.k == cluster_count(len(plan.train_order)) == 11  # of ~240 candidates
    counts = np.zeros(clusters.k, dtype=int)
    free = {int(i) for i in plan.train_order}
    diverse = 0
    for item, strategy in _strategies(sample_ws):
        c = clusters.assignment[item]
        if strategy == "diverse":
            open_clusters = {clusters.assignment[i] for i in free}
            assert counts[c] == min(counts[k] for k in open_clusters)  # the least labelled cluster
            diverse += 1
        if c >= 0:
            counts[c] += 1
        free.discard(item)
    assert diverse >= 20 and counts.min() >= 2  # every cluster labelled, none left behind
    events = [e["event"] for e in folder.read_events()]
    assert events == ["refit_start", "refit_end"]


def test_a_returning_subject_keeps_the_order_they_began_in(sample_ws):
    client, token, _ = _app(sample_ws, order="uncertainty", start="scratch", refit_every=NO_REFIT, explore=0.5)
    _label(client, token, 3)
    said = []
    client, token, app = _app(sample_ws, log=said.append)  # restarted with the default --order random
    plan = app.state.served.plan("ann")
    assert isinstance(plan, ActivePlan) and plan.label_order == LabelOrder(UNCERTAINTY, 0.5, NO_REFIT, "scratch")
    assert said == [
        f"ann continues the order they began in: uncertainty (explore 0.5, a refit every {NO_REFIT} answers, "
        "from scratch) (not --order random)"
    ]
    _label(client, token, 20, first=4)
    kinds = {s for _, s in _strategies(sample_ws)}
    assert kinds <= {RANDOM, EXPLORE, TEST} and EXPLORE in kinds  # no model yet: the order's own slots are random


def test_random_order_labels_say_random_or_test_and_export_says_so(sample_ws):
    client, token, _ = _app(sample_ws, limit=40)
    shown = _label(client, token, 40)
    expected = [TEST if TEST_ITEMS[i] else RANDOM for i in shown]
    assert [s for _, s in _strategies(sample_ws)] == expected and TEST in expected
    assert stored_order(sample_ws, "ann", "fm") == LabelOrder()
    columns, rows = export_rows(sample_ws, "ann", "fm")
    assert [row[columns.index("strategy")] for row in rows] == expected


def test_stopping_the_server_ends_a_running_refit(sample_ws, tmp_path, monkeypatch):
    monkeypatch.setenv(REFIT_GATE_ENV, str(tmp_path / "never"))  # the refit holds its result back
    client, token, app = _app(sample_ws, order="diverse", start="scratch", limit=100)
    with client:  # runs the app's lifespan, as uvicorn does
        client.get(f"/api/{token}/queue?n=1")  # starts clustering
        (start,) = refit_dir(sample_ws, "ann", "fm").read_events()
        refits = app.state.served.plan("ann").refits
        assert refits.running
    assert not refits.running
    with pytest.raises(ProcessLookupError):
        for _ in range(100):  # reaped by stop(): gone, not a zombie
            os.kill(start["pid"], 0)
            time.sleep(0.05)


def test_a_failing_refit_is_logged_and_labelling_goes_on_in_random_order(sample_ws):
    said = []
    client, token, _ = _app(sample_ws, log=said.append, order="uncertainty", start="scratch", refit_every=4)
    info = get_dataset(sample_ws, "fm")
    (sample_ws.root / info.cache_file).write_bytes(b"not an image cache")  # the server has its images already
    folder = refit_dir(sample_ws, "ann", "fm")
    _label(client, token, 6)
    _wait_for(lambda: any(e["event"] == "refit_start" for e in folder.read_events()))
    ended = lambda: [e for e in folder.read_events() if e["event"] == "refit_end"]  # noqa: E731
    _wait_for(lambda: client.get(f"/api/{token}/queue?n=1") and ended())  # a request collects the ended refit
    assert len(said) == 1 and said[0].startswith("ann: refit 1 on fm failed (ValueError: the image cache ")
    assert said[0].endswith("labelling goes on in random order until a refit succeeds")
    (end,) = ended()
    assert not end["ok"] and "image cache" in end["error"] and end["error"] in said[0]
    _label(client, token, 10, first=7)
    assert {s for _, s in _strategies(sample_ws)} <= {RANDOM, EXPLORE, TEST} and len(_strategies(sample_ws)) == 16


@pytest.mark.slow  # imports torch and trains
def test_the_refit_process_writes_scores_from_files_alone(sample_ws, tmp_path):
    """The refit is handed files (no study: its database is not even there) and writes P(preferred) of the pool."""
    info = get_dataset(sample_ws, "fm")
    pixels = tmp_path / "pixels.npy"
    pixels.write_bytes((sample_ws.root / info.cache_file).read_bytes())
    folder = RefitDir(tmp_path / "refit")
    pool = np.arange(200, 400)
    items = np.arange(0, 20)
    task = RefitTask(
        seq=1,
        subject="ann",
        dataset="fm",
        answers=20,
        images=str(pixels),
        info=asdict(info),
        labels=str(folder.labels(1)),
        pool=str(folder.pool(1)),
        scores=True,
        clusters=None,
        fit={"epochs": 2},
    )
    path = folder.write_task(task, items, items % 3 == 0, pool)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "prefstudy.active.refit", str(path)], env=env, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    result = json.loads(folder.result.read_text())
    assert result["seq"] == 1 and result["labels"] == 20 and result["error"] is None and result["seconds"] > 0
    scores = folder.read_scores(N_ITEMS)
    assert np.isfinite(scores[pool]).all() and np.isnan(np.delete(scores, pool)).all()
    assert ((scores[pool] > 0) & (scores[pool] < 1)).all()


@pytest.mark.slow  # imports torch and scores with a trained model
def test_a_population_start_scores_before_the_first_label(trained_copy, monkeypatch):
    (run,) = [r for r in finished_runs(trained_copy, dataset="fm") if r.subject == "alice"]
    assert resolve_start(trained_copy, "ann", "fm", "auto") == "scratch"  # no population, no run elsewhere
    assert resolve_start(trained_copy, "alice", "faces", "auto") == f"transfer:{run.id}"  # her run on fm
    with monkeypatch.context() as patch:
        patch.setattr(orders, "subject_kinds", lambda ws: {"alice": CONSENSUS})  # as if alice were the crowd
        assert resolve_start(trained_copy, "ann", "fm", "auto") == f"population:{run.id}"
    client, token, app = _app(trained_copy, order="uncertainty", start=run.id, limit=200, refit_every=NO_REFIT)
    plan = app.state.served.plan("ann")
    assert plan.label_order.start == f"population:{run.id}"
    client.get(f"/api/{token}/queue?n=1")  # the population's model gives the first scores at once
    folder = refit_dir(trained_copy, "ann", "fm")
    _wait_for(lambda: client.get(f"/api/{token}/queue?n=1") and folder.result.is_file() and not plan.refits.running)
    assert plan.refits.scores is not None and not plan.refits.failed
    assert np.isfinite(plan.refits.scores[plan.pool(load_state(trained_copy, "ann", "fm"))]).all()
    _label(client, token, 10)
    assert UNCERTAINTY in {s for _, s in _strategies(trained_copy)}
