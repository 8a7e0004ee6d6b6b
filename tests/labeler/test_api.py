"""The labelling API through a test client: sessions, queue, images, idempotent trials, regions, access,
and what it refuses (with nothing stored)."""

import io
import json

import numpy as np
import pytest
from conftest import copy_study, one_duckdb
from fastapi.testclient import TestClient
from PIL import Image

from prefstudy.datasets.catalog import add_dataset, load_images
from prefstudy.labeler.app import create_app
from prefstudy.labeler.links import link_token, new_session
from prefstudy.labeler.options import LabelOptions
from prefstudy.labeler.trial_plan import TIMEOUT_GAP
from prefstudy.studyfile import DatasetSpec
from prefstudy.subjects.roster import add_subject

pytestmark = pytest.mark.usefixtures("shared_instance")  # each test's study stays open: see tests/conftest.py


@pytest.fixture
def people(sample_ws):
    for name in ("ann", "ben"):
        add_subject(sample_ws, name)
    return {name: link_token(sample_ws, name) for name in ("ann", "ben")}


@pytest.fixture(scope="module")
def served(_sample_study, tmp_path_factory):
    """One app for requests that must be refused (and so change nothing): built once for the module."""
    ws = copy_study(_sample_study, tmp_path_factory.mktemp("served") / "study")
    for name in ("ann", "ben"):
        add_subject(ws, name)
    people = {name: link_token(ws, name) for name in ("ann", "ben")}
    with one_duckdb(ws):
        yield _client(ws, people), people, ws
        # Checked once here rather than per request: opening the database costs more than a request.
        assert _labels(ws, "ann") == _labels(ws, "ben") == [], "a refused request stored a row"


def _client(ws, people, **options) -> TestClient:
    tokens = {token: name for name, token in people.items()}
    return TestClient(create_app(ws, "fm", tokens, LabelOptions(**options)))


def _trial(session, trial, item, answer="preferred", **extra):
    return {
        "session": session,
        "trial": trial,
        "block": 1,
        "item": item,
        "answer": answer,
        "rt_ms": 412.5,
        "shown_at_ms": 1.7e12,
        **extra,
    }


def _labels(ws, subject):
    with ws.connect() as con:
        return con.execute(
            "SELECT item_idx, preferred, timed_out, rt_ms, deadline_ms, session, block, trial, shown_at IS NOT NULL, "
            "region, repeat_of, source FROM labels WHERE subject = ? ORDER BY id",
            [subject],
        ).fetchall()


def test_state_queue_and_images(sample_ws, people):
    client = _client(sample_ws, people, limit=50)
    state = client.get(f"/api/{people['ann']}/state").json()
    assert state["subject"] == "ann" and state["deadline_ms"] == 1000 and state["block_size"] == 100
    assert state["session"].startswith("web-") and state["progress"]["total"] == 50
    assert client.get(f"/api/{people['ann']}/state").json()["session"] != state["session"]  # one per page load
    ann = [e["item"] for e in client.get(f"/api/{people['ann']}/queue?n=5").json()["items"]]
    ben = [e["item"] for e in client.get(f"/api/{people['ben']}/queue?n=5").json()["items"]]
    assert len(set(ann)) == 5 and ann != ben  # a random order per subject ...
    assert ann == [
        e["item"] for e in _client(sample_ws, people, limit=50).get(f"/api/{people['ann']}/queue?n=5").json()["items"]
    ]  # ... fixed by the seed
    png = client.get(f"/api/{people['ann']}/image/{ann[0]}")
    assert png.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(png.content)) as picture:
        assert picture.size == (28, 28)
    page = client.get(f"/s/{people['ann']}")
    assert page.status_code == 200 and '<script src="/static/app.js">' in page.text
    assert client.get("/static/app.js").status_code == 200


def test_a_trial_is_stored_once_however_often_it_is_sent(sample_ws, people):
    client = _client(sample_ws, people)
    session = client.get(f"/api/{people['ann']}/state").json()["session"]
    first = client.post(f"/api/{people['ann']}/trial", json=_trial(session, 1, 7))
    again = client.post(f"/api/{people['ann']}/trial", json=_trial(session, 1, 7))
    assert first.status_code == again.status_code == 200
    assert first.json()["new"] and not again.json()["new"] and first.json()["label_id"] == again.json()["label_id"]
    (row,) = _labels(sample_ws, "ann")
    assert row == (7, True, False, 412.5, 1000.0, session, 1, 1, True, None, None, "labeler")
    assert 7 not in [e["item"] for e in client.get(f"/api/{people['ann']}/queue?n=20").json()["items"]]
    other = client.post(f"/api/{people['ann']}/trial", json=_trial(session, 2, 7, "not_preferred"))
    assert other.status_code == 409 and "answered already" in other.json()["detail"]


def test_a_miss_of_an_image_that_was_not_due_is_stored_once(sample_ws, people):
    client = _client(sample_ws, people, limit=30)
    token = people["ann"]
    session = client.get(f"/api/{token}/state").json()["session"]
    order = [e["item"] for e in client.get(f"/api/{token}/queue?n=20").json()["items"]]
    answered, missed = order[0], order[1]
    assert client.post(f"/api/{token}/trial", json=_trial(session, 1, answered)).json()["new"]
    # Misses of an answered image (it is not a hidden repeat here): the answer stands, nothing new is stored.
    for trial in range(2, 7):
        sent = client.post(f"/api/{token}/trial", json=_trial(session, trial, answered, "timeout", rt_ms=None))
        assert sent.status_code == 200 and not sent.json()["new"]
    # 50 misses of one unanswered image in a row: the first is stored, the rest are that one.
    first = client.post(f"/api/{token}/trial", json=_trial(session, 7, missed, "timeout", rt_ms=None)).json()
    for trial in range(8, 58):
        again = client.post(f"/api/{token}/trial", json=_trial(session, trial, missed, "timeout", rt_ms=None)).json()
        assert (again["new"], again["label_id"]) == (False, first["label_id"])
    assert [r[:3] for r in _labels(sample_ws, "ann")] == [(answered, True, False), (missed, None, True)]
    # Once TIMEOUT_GAP other trials are stored the image is due again, and a miss of it is a new miss.
    for trial, item in enumerate(order[2 : TIMEOUT_GAP + 2], start=100):
        assert client.post(f"/api/{token}/trial", json=_trial(session, trial, item)).status_code == 200
    later = client.post(f"/api/{token}/trial", json=_trial(session, 200, missed, "timeout", rt_ms=None)).json()
    assert later["new"] and len([r for r in _labels(sample_ws, "ann") if r[2]]) == 2


@pytest.mark.slow  # the fast lane keeps one test per behaviour; this one widens it
def test_a_missed_deadline_is_stored_and_the_item_comes_back_later(sample_ws, people):
    client = _client(sample_ws, people, limit=30)
    token = people["ann"]
    session = client.get(f"/api/{token}/state").json()["session"]
    order = [e["item"] for e in client.get(f"/api/{token}/queue?n=20").json()["items"]]
    assert (
        client.post(f"/api/{token}/trial", json=_trial(session, 1, order[0], "timeout", rt_ms=None)).status_code == 200
    )
    assert _labels(sample_ws, "ann")[0][:4] == (order[0], None, True, None)
    for trial, item in enumerate(order[1 : TIMEOUT_GAP + 1], start=2):
        assert order[0] not in [e["item"] for e in client.get(f"/api/{token}/queue?n=3").json()["items"]]
        assert client.post(f"/api/{token}/trial", json=_trial(session, trial, item)).status_code == 200
    # after TIMEOUT_GAP other trials, the missed image is next in line again
    assert client.get(f"/api/{token}/queue?n=1").json()["items"][0]["item"] == order[0]


def test_a_30_trial_budget_gets_its_share_of_repeats_within_it(sample_ws, people):
    # --repeat 0.1 of 30 trials: 3 hidden repeats among the first images, each back after its gap and within the
    # budget (10 % of a 1,000-image dataset, as before, gave a 30-trial participant none).
    client = _client(sample_ws, people, repeat=0.1, trials=30, block=15)
    token = people["ann"]
    session = client.get(f"/api/{token}/state").json()["session"]
    for trial in range(1, 31):
        item = client.get(f"/api/{token}/queue?n=1").json()["items"][0]["item"]
        sent = client.post(f"/api/{token}/trial", json=_trial(session, trial, item, "not_preferred")).json()
        assert sent["finished"] == (trial == 30)
    rows = _labels(sample_ws, "ann")
    assert len(rows) == 30 and len([r for r in rows if r[10] is not None]) == 3  # repeat_of set on 3 of them
    assert client.get(f"/api/{token}/queue?n=5").json()["items"] == []


@pytest.mark.slow  # 30 trials through the API
def test_hidden_repeats_come_back_after_a_gap_and_are_linked(sample_ws, people):
    client = _client(sample_ws, people, limit=40, repeat=0.5, block=20)  # a repeat needs 10 trials in between
    token = people["ann"]
    session = client.get(f"/api/{token}/state").json()["session"]
    for trial in range(1, 31):
        item = client.get(f"/api/{token}/queue?n=1").json()["items"][0]["item"]
        assert client.post(f"/api/{token}/trial", json=_trial(session, trial, item, "not_preferred")).status_code == 200
    rows = _labels(sample_ws, "ann")
    repeats = [r for r in rows if r[10] is not None]
    assert repeats, "a repeat was due"
    first_id = {}
    with sample_ws.connect() as con:
        for label_id, item in con.execute("SELECT id, item_idx FROM labels WHERE repeat_of IS NULL").fetchall():
            first_id.setdefault(item, label_id)
    assert all(r[10] == first_id[r[0]] for r in repeats)
    state = client.get(f"/api/{token}/progress").json()
    assert state["labelled"] == 30 - len(repeats) and state["total"] == 40


def test_regions_attach_to_the_subjects_own_answers(sample_ws, people):
    client = _client(sample_ws, people)
    token = people["ann"]
    session = client.get(f"/api/{token}/state").json()["session"]
    client.post(f"/api/{token}/trial", json=_trial(session, 1, 3))
    ok = client.post(f"/api/{token}/region", json={"session": session, "trial": 1, "region": [0.1, 0.2, 0.5, 0.6]})
    assert ok.status_code == 200 and _labels(sample_ws, "ann")[0][9] == [0.1, 0.2, 0.5, 0.6]
    assert (
        client.post(f"/api/{token}/region", json={"session": session, "trial": 9, "region": [0, 0, 1, 1]}).status_code
        == 404
    )
    bad = client.post(f"/api/{token}/region", json={"session": session, "trial": 1, "region": [0.5, 0, 0.2, 1]})
    assert bad.status_code == 422
    theirs = client.post(f"/api/{people['ben']}/region", json={"session": session, "trial": 1, "region": [0, 0, 1, 1]})
    assert theirs.status_code == 403 and _labels(sample_ws, "ann")[0][9] == [0.1, 0.2, 0.5, 0.6]


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("get", "/api/not-a-token/state", None, 404),
        ("get", "/s/not-a-token", None, 404),
        ("get", "/api/{ann}/image/99999999", None, 404),
        ("get", "/api/{ann}/image/-1", None, 422),
        ("get", "/api/{ann}/image/abc", None, 422),
        ("get", "/api/{ann}/queue?n=0", None, 422),
        ("post", "/api/{ann}/trial", {"session": "{ann_session}", "trial": 1}, 422),
        ("post", "/api/{ann}/trial", {**_trial("../../etc", 1, 1)}, 422),
        ("post", "/api/{ann}/trial", {**_trial("web-000000000000", 1, 1)}, 422),  # the old, unsigned form
        ("post", "/api/{ann}/trial", {**_trial("{ann_session}", 1, 10_000)}, 404),
        ("post", "/api/{ann}/trial", {**_trial("{ann_session}", 1, 1, "maybe")}, 422),
        ("post", "/api/{ann}/trial", {**_trial("{ann_session}", 1, 1, rt_ms=-1)}, 422),
        ("post", "/api/{ann}/trial", {**_trial("{ann_session}", 1, 1, rt_ms=3_600_001)}, 422),
        ("post", "/api/{ann}/trial", {**_trial("{ann_session}", 1, 1, shown_at_ms=1e300)}, 422),
        ("post", "/api/{ann}/trial", {**_trial("{ann_session}", 10**12, 1)}, 422),
        ("post", "/api/{ann}/trial", {**_trial("{ann_session}", 1, 1, input="voice")}, 422),
        ("post", "/api/{ann}/trial", {**_trial("{ann_session}", 1, 1, orientation_changed="yes")}, 422),
        ("get", "/join?PROLIFIC_PID=abc", None, 404),  # no open enrolment: no join link
        ("post", "/api/{ann}/trial", {**_trial("{ben_session}", 1, 1)}, 403),
        ("post", "/api/{ann}/region", {"session": "{ann_session}", "trial": 10**30, "region": [0, 0, 1, 1]}, 422),
        ("post", "/api/{ann}/region", {"session": "{ben_session}", "trial": 1, "region": [0, 0, 1, 1]}, 403),
        ("get", "/", None, 404),
        ("delete", "/api/{ann}/state", None, 405),
        ("get", "/static/../prefstudy.duckdb", None, 404),
    ],
)
def test_unknown_or_malformed_requests_are_4xx_without_a_traceback(served, method, path, body, status):
    client, people, _ = served
    sessions = {"{ann_session}": new_session(people["ann"]), "{ben_session}": new_session(people["ben"])}
    body = {k: sessions.get(v, v) if isinstance(v, str) else v for k, v in body.items()} if body else None
    response = getattr(client, method)(path.format(ann=people["ann"]), **({"json": body} if body else {}))
    assert response.status_code == status
    assert "Traceback" not in response.text and "prefstudy/" not in response.text


@pytest.mark.parametrize(
    ("route", "text"),
    [
        ("trial", '{{"session": "{s}", "trial": 1, "block": 1, "item": 1, "answer": "preferred", "rt_ms": NaN}}'),
        ("trial", '{{"session": "{s}", "trial": 1, "block": 1, "item": 1, "answer": "preferred", "rt_ms": Infinity}}'),
        ("trial", '{{"session": "{s}", "trial": 1, "block": 1, "item": 1, "answer": "timeout", "shown_at_ms": NaN}}'),
        ("trial", '{{"session": "{s}", "trial": 1, "block": 1, "item": 1, "answer": "preferred", "rt_ms": 1e400}}'),
        ("region", '{{"session": "{s}", "trial": 1, "region": [0, 0, NaN, 1]}}'),
        ("region", '{{"session": "{s}", "trial": 1, "region": [-Infinity, 0, 1, 1]}}'),
    ],
)
def test_nan_and_infinities_are_refused_with_422(served, route, text):
    client, people, _ = served
    token = people["ann"]
    body = text.format(s=new_session(token))
    response = client.post(f"/api/{token}/{route}", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and response.json()["detail"][0]["type"] == "finite_number"


def test_an_image_outside_the_subjects_plan_is_refused(sample_ws, people):
    client = _client(sample_ws, people, limit=10)
    ann, ben = people["ann"], people["ben"]
    mine = [e["item"] for e in client.get(f"/api/{ann}/queue?n=10").json()["items"]]
    theirs = next(e["item"] for e in client.get(f"/api/{ben}/queue?n=10").json()["items"] if e["item"] not in mine)
    session = client.get(f"/api/{ann}/state").json()["session"]
    for answer in ("preferred", "timeout"):
        refused = client.post(f"/api/{ann}/trial", json=_trial(session, 1, theirs, answer))
        assert refused.status_code == 409 and refused.json()["detail"] == "this image is not in your plan"
    assert _labels(sample_ws, "ann") == []
    assert client.post(f"/api/{ann}/trial", json=_trial(session, 1, mine[0])).status_code == 200
    assert client.get(f"/api/{ann}/image/{theirs}").status_code == 404  # nor is another plan's image shown
    assert client.get(f"/api/{ann}/image/{mine[1]}").status_code == 200


def test_a_session_belongs_to_its_link_and_outlives_a_restart(sample_ws, people):
    client = _client(sample_ws, people)
    ann, ben = people["ann"], people["ben"]
    session = client.get(f"/api/{ann}/state").json()["session"]
    claimed = client.post(f"/api/{ben}/trial", json=_trial(session, 1, 3))  # ben claims ann's trial 1 first ...
    assert claimed.status_code == 403 and "another link" in claimed.json()["detail"]
    assert _labels(sample_ws, "ben") == []
    first = client.post(f"/api/{ann}/trial", json=_trial(session, 1, 3))  # ... and ann's answer is still stored
    assert first.status_code == 200 and first.json()["new"]
    restarted = _client(sample_ws, people)  # a new server: the page's retry of its session is still accepted
    retry = restarted.post(f"/api/{ann}/trial", json=_trial(session, 1, 3))
    assert retry.status_code == 200
    assert retry.json() == {"label_id": first.json()["label_id"], "new": False, "finished": False}
    assert [r[5] for r in _labels(sample_ws, "ann")] == [session]


def test_large_bodies_are_refused_before_parsing(served):
    client, people, ws = served
    token = people["ann"]
    body = _trial(new_session(token), 1, 1, padding="x" * 70_000)
    declared = client.post(f"/api/{token}/trial", json=body)
    assert declared.status_code == 413 and "over 65536 bytes" in declared.json()["detail"]
    raw = json.dumps(body).encode()
    chunked = client.post(  # no Content-Length: the cap counts what arrives
        f"/api/{token}/trial",
        content=(raw[i : i + 4096] for i in range(0, len(raw), 4096)),
        headers={"Content-Type": "application/json"},
    )
    assert chunked.status_code == 413
    assert _labels(ws, "ann") == []
    small = client.post(f"/api/{token}/trial", json={**body, "padding": "x" * 60_000})  # extra keys are ignored
    assert small.status_code == 200
    with ws.connect() as con:
        con.execute("DELETE FROM labels")  # the module's app is shared: leave it as it was


def test_a_loopback_server_answers_only_to_its_own_names(served):
    _, people, ws = served
    token = people["ann"]
    client = TestClient(create_app(ws, "fm", {token: "ann"}, LabelOptions(), loopback_only=True))
    for host in ("localhost:8765", "127.0.0.1:8765", "[::1]:8765", "LOCALHOST"):
        assert client.get(f"/s/{token}", headers={"Host": host}).status_code == 200, host
    for host in ("evil.example:8765", "localhost.evil.example", "127.0.0.1.nip.io", "[::1]x", "localhost:80:80", ""):
        response = client.get(f"/s/{token}", headers={"Host": host})
        assert response.status_code == 421 and "answers only to localhost" in response.json()["detail"], host
    refused = client.post(
        f"/api/{token}/trial", json=_trial(new_session(token), 1, 1), headers={"Host": "evil.example"}
    )
    assert refused.status_code == 421


def test_photos_are_shown_large_on_the_models_crop_and_a_changed_file_falls_back(ws, indoor_dir, tmp_path):
    folder = tmp_path / "rooms"
    for f in sorted((indoor_dir / "Images").rglob("*.jpg"))[:6]:  # real room photos, made landscape, in a folder
        (folder / f.parent.name).mkdir(parents=True, exist_ok=True)
        with Image.open(f) as photo:
            photo.crop((0, 0, photo.width, photo.height * 2 // 3)).save(folder / f.parent.name / f.name, quality=95)
    add_dataset(ws, DatasetSpec(name="rooms", kind="folder", path=str(folder), size=32))
    add_subject(ws, "ann")
    token = link_token(ws, "ann")
    client = TestClient(create_app(ws, "rooms", {token: "ann"}, LabelOptions()))
    images = load_images(ws, "rooms")

    response = client.get(f"/api/{token}/image/0")
    assert response.headers["content-type"] == "image/jpeg"
    shown = Image.open(io.BytesIO(response.content))
    with Image.open(folder / images.keys[0]) as original:
        side = min(512, *original.size)
    assert shown.size == (side, side) and side > 32  # the photo itself, not the 32-px cache
    # The same centred square as the cache the model learns from: a subject's box means the same region.
    small = np.asarray(shown.convert("RGB").resize((32, 32), Image.Resampling.BILINEAR), dtype=float)
    assert np.abs(small - images.images[0]).mean() < 12

    (folder / images.keys[1]).write_bytes((folder / images.keys[2]).read_bytes())  # the file changed since
    fallback = client.get(f"/api/{token}/image/1")
    assert fallback.headers["content-type"] == "image/png"
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(fallback.content))), images.images[1])
