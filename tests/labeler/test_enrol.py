"""Open enrolment (`prefstudy label --enrol open`): one public join link, one subject per platform id however
many arrive at once, a maximum, a rate limit, malformed ids refused, a trial budget and the completion URL,
the study's instructions, and how each answer was given. Each is checked in DuckDB."""

from __future__ import annotations

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import uvicorn
from conftest import Cli, copy_study, one_duckdb
from fastapi.testclient import TestClient
from harness import serve, servers  # noqa: F401

from prefstudy.labeler.app import create_app
from prefstudy.labeler.enrol import OpenEnrolment, RateLimit
from prefstudy.labeler.links import link_token
from prefstudy.labeler.options import LabelOptions
from prefstudy.subjects.roster import add_subject

pytestmark = pytest.mark.usefixtures("shared_instance")  # each test's study stays open: see tests/conftest.py

COMPLETE = "https://app.prolific.com/submissions/complete?cc=C1234"


def _app(ws, enrol: OpenEnrolment | None = OpenEnrolment(), tokens=None, **options):
    return create_app(ws, "fm", tokens or {}, LabelOptions(**options), enrol=enrol)


def _counts(ws) -> tuple[int, int, int]:
    """(subjects, enrolments, secret links) in the study."""
    with ws.connect() as con:
        return tuple(
            con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("subjects", "enrolments", "label_links")
        )


def _token(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith("/s/")
    return location.removeprefix("/s/")


class Live:
    """The app under a real uvicorn server in this process: real HTTP, handlers on real threads."""

    def __init__(self, app):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> Live:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


def _all_at_once(url: str, ids: list[str]) -> list[httpx.Response]:
    """Every id joins from its own thread, all released together."""
    barrier = threading.Barrier(len(ids))

    def one(participant: str) -> httpx.Response:
        with httpx.Client(timeout=30, verify=False) as client:  # plain http: no certificates to load (40 ms each)
            barrier.wait()
            return client.get(f"{url}/join", params={"PROLIFIC_PID": participant})

    with ThreadPoolExecutor(len(ids)) as pool:
        return list(pool.map(one, ids))


@pytest.fixture
def overlap(monkeypatch):
    """The most joins that were inside the app at one moment (each lingers a little before the lock)."""
    inside, peak, lock = [0], [0], threading.Lock()
    allow = RateLimit.allow

    def lingering(self, key):
        with lock:
            inside[0] += 1
            peak[0] = max(peak[0], inside[0])
        time.sleep(0.05)
        with lock:
            inside[0] -= 1
        return allow(self, key)

    monkeypatch.setattr(RateLimit, "allow", lingering)
    return peak


@pytest.mark.slow  # real concurrency or a second server
def test_twenty_participants_join_at_once_and_each_id_gets_one_subject(sample_ws, overlap):
    ids = [f"5f{i:022x}" for i in range(20)]  # Prolific ids: 24 hex digits
    with Live(_app(sample_ws, OpenEnrolment(per_minute=100))) as live:
        responses = _all_at_once(live.url, ids + ids)  # and each of them twice, at the same moment
        tokens = [_token(r) for r in responses]
        with httpx.Client(verify=False) as client:
            pages = [client.get(f"{live.url}/s/{t}").status_code for t in tokens[:3]]
    assert overlap[0] > 1, "the joins did not overlap"
    assert tokens[:20] == tokens[20:] and len(set(tokens)) == 20  # the same id, the same link
    assert pages == [200] * 3  # their links work at once
    assert _counts(sample_ws) == (20, 20, 20)
    with sample_ws.connect() as con:
        rows = con.execute(
            "SELECT e.subject, e.dataset, e.participant_param, e.participant_id, e.client, l.token, s.kind "
            "FROM enrolments e JOIN label_links l USING (subject) JOIN subjects s ON s.name = e.subject "
            "ORDER BY e.participant_id"
        ).fetchall()
    assert [r[3] for r in rows] == sorted(ids)
    assert sorted(r[0] for r in rows) == [f"p{n:04d}" for n in range(1, 21)]
    assert {(r[1], r[2], r[4], r[6]) for r in rows} == {("fm", "PROLIFIC_PID", None, "human")}  # no address kept
    assert dict(zip(ids, tokens[:20], strict=True)) == {r[3]: r[5] for r in rows}


@pytest.mark.slow  # real concurrency or a second server
def test_at_most_max_subjects_enrol_even_when_they_arrive_at_once(sample_ws, overlap):
    with Live(_app(sample_ws, OpenEnrolment(max_subjects=5))) as live:
        responses = _all_at_once(live.url, [f"worker{i}" for i in range(8)])
        admitted = [r for r in responses if r.status_code == 303]
        full = [r for r in responses if r.status_code != 303]
        assert len(admitted) == 5 and [r.status_code for r in full] == [403] * 3
        assert all("This study is full" in r.text and r.headers["content-type"].startswith("text/html") for r in full)
        with httpx.Client(base_url=live.url, verify=False) as client:
            late = client.get("/join", params={"PROLIFIC_PID": "late"})
            back = client.get("/join", params={"PROLIFIC_PID": admitted[0].request.url.params["PROLIFIC_PID"]})
    assert overlap[0] > 1, "the joins did not overlap"
    assert late.status_code == 403 and _token(back) == _token(admitted[0])  # full, yet a participant gets back in
    assert _counts(sample_ws) == (5, 5, 5)


@pytest.mark.slow  # real concurrency or a second server
def test_a_returning_id_resumes_the_same_subject_also_after_a_restart(sample_ws):
    add_subject(sample_ws, "p0001")  # a name the counter must step over
    client = TestClient(_app(sample_ws), follow_redirects=False)
    joined = client.get("/join?PROLIFIC_PID=abc123&STUDY_ID=s1&SESSION_ID=x")  # other parameters are ignored
    token = _token(joined)
    page = client.get(f"/s/{token}")  # neither tells a site the page leads on to its secret address
    assert joined.headers["referrer-policy"] == page.headers["referrer-policy"] == "no-referrer"
    state = client.get(f"/api/{token}/state").json()
    assert state["subject"] == "p0002"
    item = client.get(f"/api/{token}/queue?n=1").json()["items"][0]["item"]
    answer = {"session": state["session"], "trial": 1, "block": 1, "item": item, "answer": "preferred"}
    assert client.post(f"/api/{token}/trial", json=answer).status_code == 200
    assert _token(client.get("/join?PROLIFIC_PID=abc123")) == token
    restarted = TestClient(_app(sample_ws), follow_redirects=False)  # a new server: the id is known from the table
    assert _token(restarted.get("/join?PROLIFIC_PID=abc123")) == token
    assert restarted.get(f"/api/{token}/state").json()["progress"]["labelled"] == 1  # where they stopped
    assert _counts(sample_ws) == (2, 1, 1)


@pytest.fixture(scope="module")
def open_app(_sample_study, tmp_path_factory):
    """One open-enrolment app and its study, for requests and commands that must be refused (and so create nothing)."""
    ws = copy_study(_sample_study, tmp_path_factory.mktemp("open") / "study")
    with one_duckdb(ws):
        yield TestClient(_app(ws), follow_redirects=False), ws
        assert _counts(ws) == (0, 0, 0), "a refused join created something"


@pytest.mark.parametrize(
    "query",
    [
        "",
        "PROLIFIC_PID=",
        "PROLIFIC_PID=" + "a" * 65,
        "PROLIFIC_PID=../x",
        "PROLIFIC_PID=a%20b",
        "PROLIFIC_PID=%C3%BCn%C3%AF",  # unicode
        "PROLIFIC_PID=%3Cscript%3Ealert(1)%3C/script%3E",
        "PROLIFIC_PID=a%00b",
        "PROLIFIC_PID=abc%0a",  # a trailing newline: not abc, and not a second person
        "PROLIFIC_PID=abc%0d%0a",
        "PROLIFIC_PID=ab%09c",
        "PROLIFIC_PID=a&PROLIFIC_PID=b",  # which one?
        "prolific_pid=abc",  # the parameter's name is exact
    ],
)
def test_malformed_ids_are_refused_with_a_400_page_and_create_nothing(open_app, query):
    client, _ = open_app
    response = client.get(f"/join?{query}")
    assert response.status_code == 400 and response.headers["content-type"] == "text/html; charset=utf-8"
    assert "This link is incomplete" in response.text and "PROLIFIC_PID" in response.text
    assert "<script>" not in response.text and "Traceback" not in response.text


def test_the_address_is_stored_only_where_the_study_asks_for_it(sample_ws):
    for keep, stored in ((False, None), (True, "testclient")):
        client = TestClient(_app(sample_ws, enrol=OpenEnrolment(keep_address=keep)), follow_redirects=False)
        assert client.get(f"/join?PROLIFIC_PID=addr{keep}").status_code == 303
        with sample_ws.connect() as con:
            (kept,) = con.execute("SELECT client FROM enrolments WHERE participant_id = ?", [f"addr{keep}"]).fetchall()
        assert kept == (stored,)
    study_file = sample_ws.study_file
    study_file.write_text(study_file.read_text() + "\n[label]\nkeep_address = true\n")
    assert sample_ws.spec().label.keep_address is True


def test_the_rate_limit_stops_new_ids_from_one_address_but_never_a_returning_one(sample_ws):
    client = TestClient(_app(sample_ws, OpenEnrolment(per_minute=3)), follow_redirects=False)
    tokens = [_token(client.get(f"/join?PROLIFIC_PID=id{i}")) for i in range(3)]
    limited = client.get("/join?PROLIFIC_PID=id3")
    assert limited.status_code == 429 and limited.headers["retry-after"] == "60"
    assert "Please wait a minute" in limited.text and limited.headers["content-type"].startswith("text/html")
    assert [_token(client.get(f"/join?PROLIFIC_PID=id{i}")) for i in range(3)] == tokens
    assert _counts(sample_ws) == (3, 3, 3)


@pytest.mark.slow  # real concurrency or a second server
def test_the_rate_limit_counts_each_client_address_behind_a_local_proxy(sample_ws):
    enrol = OpenEnrolment(per_minute=2, keep_address=True)  # kept, to see which address each join was counted for
    with Live(_app(sample_ws, enrol)) as live, httpx.Client(base_url=live.url, verify=False) as c:
        one, other = {"X-Forwarded-For": "203.0.113.5"}, {"X-Forwarded-For": "198.51.100.7"}
        codes = [c.get(f"/join?PROLIFIC_PID=a{i}", headers=one).status_code for i in range(3)]
        assert codes == [303, 303, 429]
        assert c.get("/join?PROLIFIC_PID=b0", headers=other).status_code == 303
    with sample_ws.connect() as con:
        clients = con.execute("SELECT client FROM enrolments ORDER BY subject").fetchall()
    assert clients == [("203.0.113.5",), ("203.0.113.5",), ("198.51.100.7",)]


def test_the_rate_limit_is_per_address_and_a_sliding_minute():
    now = [0.0]
    limit = RateLimit(2, clock=lambda: now[0])
    assert [limit.allow("a"), limit.allow("a"), limit.allow("a"), limit.allow("b")] == [True, True, False, True]
    now[0] = 59.9
    assert not limit.allow("a")  # a refused try is not counted ...
    now[0] = 60.0
    assert limit.allow("a") and limit.allow("a") and not limit.allow("a")  # ... and a minute later both are back


def test_after_the_trial_budget_the_participant_is_finished(sample_ws):
    client = TestClient(_app(sample_ws, trials=3, complete_url=COMPLETE), follow_redirects=False)
    agent = {"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)"}
    token = _token(client.get("/join?PROLIFIC_PID=abc&STUDY_ID=s1&SESSION_ID=x%0a&other=1", headers=agent))
    _token(client.get("/join?PROLIFIC_PID=idle"))  # enrols and never answers
    state = client.get(f"/api/{token}/state").json()
    assert (state["trials"], state["complete_url"], state["finished"]) == (3, COMPLETE, False)
    assert state["progress"]["total"] == 3 and state["progress"]["remaining"] == 3
    items = [e["item"] for e in client.get(f"/api/{token}/queue?n=10").json()["items"]]
    assert len(items) == 3  # no more images than answers still wanted
    session = state["session"]

    def send(trial, item, answer="preferred"):
        body = {"session": session, "trial": trial, "block": 1, "item": item, "answer": answer, "rt_ms": 300}
        return client.post(f"/api/{token}/trial", json=body)

    answers = [send(1, items[0]), send(2, items[1], "timeout"), send(3, items[1]), send(4, items[2])]
    assert [r.json()["finished"] for r in answers] == [False, False, False, True]  # a miss is not an answer
    state = client.get(f"/api/{token}/state").json()
    assert state["finished"] and state["progress"]["finished"] and state["progress"]["answers"] == 3
    assert state["progress"]["remaining"] == 0 and client.get(f"/api/{token}/queue").json() == {"items": []}
    beyond = send(5, next(i for i in range(10) if i not in items))
    assert beyond.status_code == 409 and "all 3 answers" in beyond.json()["detail"]
    assert send(4, items[2]).json() == {**answers[3].json(), "new": False}  # a retry of the last is still fine
    with sample_ws.connect() as con:
        assert con.execute("SELECT count(*), count(*) FILTER (timed_out) FROM labels").fetchone() == (4, 1)
    # The researcher's view: who finished, with what, from which study and browser.
    listed = {e["participant_id"]: e for e in Cli(sample_ws.root).json("label", "enrolments")["enrolments"]}
    abc, idle = listed["abc"], listed["idle"]
    assert (abc["state"], abc["answers"], abc["timed_out"], abc["trials"], idle["state"]) == (
        "finished",
        3,
        1,
        4,
        "enrolled",
    )
    assert abc["platform"] == {"STUDY_ID": "s1"}  # SESSION_ID with a newline is not an id; other names are not kept
    assert abc["user_agent"] == agent["User-Agent"] and abc["finished_at"] and abc["median_rt_ms"] == 300
    assert abc["client"] is None and idle["finished_at"] is None and idle["first_trial_at"] is None
    text = Cli(sample_ws.root)("label", "enrolments")
    assert "abc" in text.stdout and "finished" in text.stdout and "2 enrolled, 1 finished" in text.stderr


def test_instructions_come_from_the_study_file_and_default_to_none(sample_ws):
    add_subject(sample_ws, "ann")
    token = link_token(sample_ws, "ann")
    plain = TestClient(_app(sample_ws, enrol=None, tokens={token: "ann"})).get(f"/api/{token}/state").json()
    assert (plain["instructions"], plain["trials"], plain["complete_url"]) == (None, None, None)
    text = "Consent: you may stop at any time.\nPress → if you like the image, ← if not."
    with sample_ws.study_file.open("a", encoding="utf-8") as f:
        f.write(f"\n[label]\ninstructions = {json.dumps(text)}\n")
    state = TestClient(_app(sample_ws, enrol=None, tokens={token: "ann"})).get(f"/api/{token}/state").json()
    assert state["instructions"] == text


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ("[label]\ninstructions = 3\n", "instructions must be a non-empty string"),
        ('[label]\ninstructions = "  "\n', "instructions must be a non-empty string"),
        ('[label]\ninstructions = "' + "x" * 20_001 + '"\n', "of at most 20000 characters"),
        ('[label]\nwelcome = "hi"\n', "[label]: unknown key 'welcome' (known: instructions, keep_address)"),
        ("label = 3\n", "[label]: must be a table"),
    ],
)
def test_a_bad_label_table_is_one_line(table, says):
    from prefstudy.errors import PrefstudyError
    from prefstudy.studyfile import parse_study

    with pytest.raises(PrefstudyError) as caught:
        parse_study(table)
    assert says in str(caught.value) and "\n" not in str(caught.value)


def test_how_each_answer_was_given_is_stored_on_its_label(sample_ws):
    client = TestClient(_app(sample_ws), follow_redirects=False)
    token = _token(client.get("/join?PROLIFIC_PID=abc"))
    session = client.get(f"/api/{token}/state").json()["session"]
    items = [e["item"] for e in client.get(f"/api/{token}/queue?n=3").json()["items"]]
    base = {"session": session, "block": 1, "answer": "preferred"}
    sent = [
        {**base, "trial": 1, "item": items[0], "input": "touch", "orientation_changed": True},
        {**base, "trial": 2, "item": items[1], "input": "keyboard"},
        {**base, "trial": 3, "item": items[2]},
    ]
    assert [client.post(f"/api/{token}/trial", json=body).status_code for body in sent] == [200] * 3
    for wrong in ({"input": "voice"}, {"input": ""}, {"orientation_changed": "yes"}, {"orientation_changed": 1}):
        refused = client.post(f"/api/{token}/trial", json={**sent[2], "trial": 4, **wrong})
        assert refused.status_code == 422, wrong
    with sample_ws.connect() as con:
        rows = con.execute("SELECT trial, input, orientation_changed FROM labels ORDER BY trial").fetchall()
    assert rows == [(1, "touch", True), (2, "keyboard", False), (3, None, False)]


def test_without_open_enrolment_there_is_no_join_link(sample_ws):
    add_subject(sample_ws, "ann")
    token = link_token(sample_ws, "ann")
    client = TestClient(_app(sample_ws, enrol=None, tokens={token: "ann"}), follow_redirects=False)
    assert client.get("/join?PROLIFIC_PID=abc").status_code == 404
    assert client.get(f"/s/{token}").status_code == 200
    assert _counts(sample_ws) == (1, 0, 1)


def test_enrolments_are_listed_with_their_platform_ids(sample_ws, cli):
    client = TestClient(_app(sample_ws, OpenEnrolment(param="workerId")), follow_redirects=False)
    for worker in ("A1B2", "C3D4"):
        _token(client.get(f"/join?workerId={worker}"))
    listed = cli.json("label", "enrolments", "--dataset", "fm")["enrolments"]
    assert [(e["subject"], e["participant_param"], e["participant_id"], e["dataset"]) for e in listed] == [
        ("p0001", "workerId", "A1B2", "fm"),
        ("p0002", "workerId", "C3D4", "fm"),
    ]
    assert cli.json("label", "enrolments", "--dataset", "other") == {"enrolments": []}


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--max-subjects", "5"), "error: --max-subjects needs --enrol open"),
        (("--participant-param", "workerId"), "error: --participant-param needs --enrol open"),
        (("--enrol", "open", "--subject", "ann"), "error: --subject and --enrol open exclude each other"),
        (("--enrol", "everyone"), "error: --enrol must be links or open, got 'everyone'"),
        (("--enrol", "open", "--participant-param", "a b"), "error: --participant-param must be a query parameter"),
        (("--complete-url", "ftp://example.org/done"), "error: --complete-url must be an http:// or https:// URL"),
        (("--complete-url", "javascript:alert(1)"), "error: --complete-url must be an http:// or https:// URL"),
        (("--trials", "0"), "Invalid value for '--trials': must be an integer from 1"),
        (("--enrol", "open", "--max-subjects", "0"), "Invalid value for '--max-subjects': must be an integer from 1"),
    ],
)
def test_bad_option_combinations_are_one_line_before_any_server_starts(open_app, args, says):
    _, ws = open_app  # the module's study, which a refused command leaves as it is
    result = Cli(ws.root)("label", "--dataset", "fm", "--no-browser", "--port", "0", *args, ok=False)
    assert result.exit_code in (1, 2) and "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if says in line]
    assert len(lines) == 1, result.stderr
    assert _counts(ws) == (0, 0, 0)


@pytest.mark.slow  # the real `prefstudy label` process, started twice
def test_the_command_prints_the_join_link_and_participants_enrol_through_it(sample_ws, servers):  # noqa: F811
    args = ("--enrol", "open", "--max-subjects", "200", "--trials", "300", "--complete-url", COMPLETE)
    server = serve(servers, sample_ws.root, *args)
    assert server.links == {"join": f"http://localhost:{server.port}/join?PROLIFIC_PID=<id>"}
    ids = [f"6a{i:022x}" for i in range(20)]
    url = f"http://localhost:{server.port}"
    tokens = [_token(r) for r in _all_at_once(url, ids)]
    assert len(set(tokens)) == 20 and _counts(sample_ws) == (20, 20, 20)
    state = httpx.get(f"{url}/api/{tokens[0]}/state", verify=False).json()
    assert (state["trials"], state["complete_url"], state["progress"]["total"]) == (300, COMPLETE, 300)
    server.kill()
    again = serve(servers, sample_ws.root, *args)  # a restart: everyone returns to their own link
    with httpx.Client(base_url=f"http://localhost:{again.port}", verify=False) as client:
        assert [_token(client.get("/join", params={"PROLIFIC_PID": i})) for i in ids] == tokens
    assert _counts(sample_ws) == (20, 20, 20)
