"""`prefstudy label --order uncertainty --refit-every 20` end to end in real headless Chromium: a subject labels
60 trials of the embedded Fashion-MNIST sample while their model is refitted in another process.

That trials are served while a refit runs is shown by the order of events, not by timing: the refit waits
for a gate file (``$PREFSTUDY_TEST_REFIT_GATE``, tests only) before it writes its result, and the test opens
the gate only after the page has shown ten more images."""

# ruff: noqa: F811 -- the harness's fixtures are imported, then used as test arguments
from __future__ import annotations

import os
import time

import pytest
from harness import CHROMIUM, browser, serve, servers, wait_showing, wait_stored  # noqa: F401

from prefstudy.active.selection import EXPLORE, RANDOM, TEST, UNCERTAINTY
from prefstudy.env import REFIT_GATE_ENV
from prefstudy.labeler.refits import refit_dir
from prefstudy.splits import item_test_mask

pytestmark = [
    pytest.mark.slow,  # drives Chromium against the real server, and trains twice
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}: apt-get install chromium"),
]

TRIALS, EVERY = 60, 20


def wait_until(condition, poll, timeout_s: float = 180.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the refit did not end"
        poll()
        time.sleep(0.1)


def test_sixty_trials_under_uncertainty_with_refits_running_behind_the_page(
    sample_ws, browser, servers, tmp_path, monkeypatch
):
    gate = tmp_path / "gate"
    monkeypatch.setenv(REFIT_GATE_ENV, str(gate))  # the server's refits inherit it
    server = serve(
        servers,
        sample_ws.root,
        *("--subject", "ann", "--order", "uncertainty", "--refit-every", str(EVERY), "--limit", "400"),
        *("--trials", str(TRIALS), "--deadline", "0", "--mark-reason", "never", "--fixation", "0.05"),
    )
    folder = refit_dir(sample_ws, "ann", "fm")
    events = lambda kind: [e for e in folder.read_events() if e["event"] == kind]  # noqa: E731
    page = browser.new_page()
    page.goto(server.links["ann"])
    page.wait_for_selector("#intro:not([hidden])")
    page.keyboard.press("Space")
    queue_url = server.links["ann"].replace("/s/", "/api/") + "/queue?n=1"
    poll = lambda: page.evaluate("async (url) => (await fetch(url)).status", queue_url)  # noqa: E731

    def answer(n: int) -> None:
        for k in range(n):
            wait_showing(page)
            page.keyboard.press("ArrowRight" if k % 3 else "ArrowLeft")

    answer(EVERY)
    page.wait_for_function(f"window.prefstudy.trial() > {EVERY}")  # the next image is served
    wait_stored(page)
    poll()
    (first,) = events("refit_start")
    assert first["seq"] == 1 and first["answers"] == EVERY
    answer(10)  # the refit cannot end before the gate opens: these ten are served while it runs
    wait_showing(page)
    wait_stored(page)
    assert not events("refit_end") and not folder.result.exists()
    os.kill(first["pid"], 0)  # still running
    gate.touch()
    wait_until(lambda: events("refit_end"), poll)  # a queue request collects a refit that ended
    answer(TRIALS - EVERY - 10)  # the second refit starts at 40 answers, while the page goes on
    page.wait_for_selector("#done:not([hidden])")
    wait_stored(page)
    wait_until(lambda: len(events("refit_end")) >= 2, poll)
    starts, ends = events("refit_start"), events("refit_end")
    assert len(starts) >= 2 and len(ends) >= 2 and all(e["ok"] for e in ends), folder.read_events()
    log = [(e["event"], e["seq"], e["answers"]) for e in folder.read_events()]
    assert log[:2] == [("refit_start", 1, EVERY), ("refit_end", 1, log[1][2])] and log[1][2] >= EVERY + 10
    assert log[2][:2] == ("refit_start", 2) and 2 * EVERY <= log[2][2] < TRIALS  # while the page went on
    assert starts[1]["labels"] > first["labels"]
    with sample_ws.connect() as con:
        rows = con.execute("SELECT item_idx, strategy, trial FROM labels WHERE subject = 'ann' ORDER BY id").fetchall()
    assert len(rows) == TRIALS and [r[2] for r in rows] == list(range(1, TRIALS + 1))
    test = item_test_mask(10_000, seed=0, test_fraction=0.2, folds=None, fold=None)
    assert all((strategy == TEST) == test[item] for item, strategy, _ in rows)  # the strategy of each label
    before = {s for _, s, trial in rows if trial <= EVERY}
    assert before <= {RANDOM, EXPLORE, TEST} and RANDOM in before  # no model yet
    assert UNCERTAINTY in {s for _, s, trial in rows if trial > log[1][2]}  # the first model chose
