"""End to end in real headless Chromium (Debian's, driven by Playwright): keyboard, deadline, reasons,
a killed server, and two subjects at once. Each answer is checked in DuckDB."""

from __future__ import annotations

import os
import shutil
import statistics
from pathlib import Path

import pytest
from harness import CHROMIUM, Server, browser, labels, serve, servers, wait_showing, wait_stored  # noqa: F401

from prefstudy.subjects.roster import add_subject

pytestmark = [
    pytest.mark.slow,  # drives Chromium against the real server
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}: apt-get install chromium"),
]


def test_a_block_labelled_with_the_keyboard(sample_ws, browser, servers, tmp_path):
    server = serve(
        servers,
        sample_ws.root,
        "--subject",
        "ann",
        "--block",
        "10",
        "--deadline",
        "3",
        "--mark-reason",
        "never",
        "--fixation",
        "0.2",
    )
    page = browser.new_page()
    page.goto(server.links["ann"])
    page.wait_for_selector("#intro:not([hidden])")
    page.keyboard.press("Space")
    shown, keys = [], ["ArrowRight", "ArrowLeft", "l", "a"] * 3
    for key in keys[:10]:
        shown.append(wait_showing(page))
        page.wait_for_timeout(30)
        page.keyboard.press(key)
    page.wait_for_selector("#pause:not([hidden])")
    assert "Block 1 of" in page.text_content("#pause-progress") and "10 labelled today" in page.text_content(
        "#pause-progress"
    )
    page.screenshot(path=str(tmp_path / "pause.png"))
    wait_stored(page)
    rows = labels(sample_ws, "ann")
    assert [r[0] for r in rows] == shown and len(set(shown)) == 10
    assert [r[1] for r in rows] == [k in ("ArrowRight", "l") for k in keys[:10]]
    assert {(r[2], r[4], r[6], r[10]) for r in rows} == {(False, 3000.0, 1, "labeler")}
    assert [r[7] for r in rows] == list(range(1, 11)) and len({r[5] for r in rows}) == 1
    assert all(25 <= r[3] < 3000 for r in rows)  # response times measured in the page
    assert all(r[8] is not None for r in rows)
    timings = page.evaluate("window.prefstudy.timings")
    overhead = sorted(t["overhead_ms"] for t in timings)
    assert len(timings) == 9 and statistics.median(overhead) < 100  # beyond the 200 ms fixation
    print(
        f"\nkey press -> next image: median {statistics.median(t['key_to_image_ms'] for t in timings):.1f} ms, "
        f"overhead beyond fixation median {statistics.median(overhead):.1f} ms, "
        f"p95 {overhead[int(0.95 * (len(overhead) - 1))]:.1f} ms"
    )


def test_a_missed_deadline_is_recorded_and_the_image_comes_back(sample_ws, browser, servers):
    server = serve(
        servers,
        sample_ws.root,
        "--subject",
        "ann",
        "--deadline",
        "0.4",
        "--mark-reason",
        "never",
        "--fixation",
        "0",
        "--limit",
        "8",
    )
    page = browser.new_page()
    page.goto(server.links["ann"])
    page.wait_for_selector("#intro:not([hidden])")
    page.keyboard.press("Space")
    missed = wait_showing(page)
    page.wait_for_function(f"window.prefstudy.current() !== {missed}", timeout=10_000)  # let the deadline pass
    answered = []
    while len(answered) < 8:
        item = wait_showing(page)
        page.keyboard.press("ArrowRight")
        answered.append(item)
        page.wait_for_function(f"window.prefstudy.trial() > {len(answered) + 1} || window.prefstudy.phase() === 'done'")
    page.wait_for_selector("#done:not([hidden])")
    wait_stored(page)
    rows = labels(sample_ws, "ann")
    assert rows[0][:5] == (missed, None, True, None, 400.0)
    assert missed in answered and sorted(set(answered)) == sorted(answered)  # it came back, once
    assert answered.index(missed) >= 5  # after five other trials


def test_the_reason_is_a_box_dragged_over_the_image(sample_ws, browser, servers):
    server = serve(servers, sample_ws.root, "--subject", "ann", "--deadline", "0", "--mark-reason", "always")
    page = browser.new_page(viewport={"width": 1000, "height": 800})
    page.goto(server.links["ann"])
    page.wait_for_selector("#intro:not([hidden])")
    page.keyboard.press("Space")
    wait_showing(page)
    page.keyboard.press("ArrowLeft")
    page.wait_for_selector("#reason-prompt:not([hidden])")
    image = page.locator("#stimulus").bounding_box()
    page.mouse.move(image["x"] + 0.1 * image["width"], image["y"] + 0.2 * image["height"])
    page.mouse.down()
    page.mouse.move(image["x"] + 0.5 * image["width"], image["y"] + 0.6 * image["height"], steps=5)
    page.mouse.up()
    wait_showing(page)
    page.keyboard.press("ArrowRight")
    page.wait_for_selector("#reason-prompt:not([hidden])")
    page.keyboard.press("Enter")  # skipping is allowed
    wait_showing(page)
    wait_stored(page)
    first, second = labels(sample_ws, "ann")[:2]
    assert first[1] is False and first[9] == pytest.approx([0.1, 0.2, 0.5, 0.6], abs=0.02)
    assert second[1] is True and second[9] is None
    assert first[4] is None  # no deadline


def test_killing_the_server_mid_block_loses_and_doubles_nothing(sample_ws, browser, servers):
    args = ("--subject", "ann", "--block", "50", "--deadline", "0", "--mark-reason", "never", "--fixation", "0.05")
    server = serve(servers, sample_ws.root, *args)
    page = browser.new_page()
    page.goto(server.links["ann"])
    page.wait_for_selector("#intro:not([hidden])")
    page.keyboard.press("Space")
    for _ in range(5):
        wait_showing(page)
        page.keyboard.press("ArrowRight")
    wait_showing(page)
    wait_stored(page)
    server.kill()  # SIGKILL: no shutdown code runs
    page.keyboard.press("ArrowLeft")  # answered while the server is down: kept in the page and retried
    page.wait_for_selector("#connection:not([hidden])", timeout=15_000)
    assert page.evaluate("window.prefstudy.pending()") >= 1
    restarted = Server(sample_ws.root, *args)
    restarted.port = server.port
    servers.append(restarted.start())
    wait_stored(page)
    for _ in range(3):
        wait_showing(page)
        page.keyboard.press("ArrowRight")
    wait_stored(page)
    page.reload()  # a new sitting: it resumes where the subject stopped
    page.wait_for_selector("#intro:not([hidden])")
    page.keyboard.press("Space")
    for _ in range(2):
        wait_showing(page)
        page.keyboard.press("ArrowRight")
    wait_stored(page)
    rows = labels(sample_ws, "ann")
    items = [r[0] for r in rows]
    assert len(rows) == 11 and len(set(items)) == 11  # nothing lost, nothing doubled
    assert [r[1] for r in rows][:6] == [True] * 5 + [False]
    assert len({r[5] for r in rows}) == 2 and [r[7] for r in rows] == [*range(1, 10), 1, 2]


def test_two_subjects_label_at_once_each_on_their_own_link(sample_ws, browser, servers):
    for name in ("ann", "ben"):
        add_subject(sample_ws, name)
    server = serve(servers, sample_ws.root, "--deadline", "0", "--mark-reason", "never", "--fixation", "0.05")
    assert set(server.links) == {"ann", "ben"} and server.links["ann"] != server.links["ben"]
    pages = {name: browser.new_context().new_page() for name in ("ann", "ben")}
    for name, page in pages.items():
        page.goto(server.links[name])
        page.wait_for_selector("#intro:not([hidden])")
        page.keyboard.press("Space")
    seen = {"ann": [], "ben": []}
    for _ in range(6):
        for name, page in pages.items():
            seen[name].append(wait_showing(page))
            page.keyboard.press("ArrowRight" if name == "ann" else "ArrowLeft")
    for page in pages.values():
        wait_showing(page)
        wait_stored(page)
    for name, answer in (("ann", True), ("ben", False)):
        rows = labels(sample_ws, name)
        assert [r[0] for r in rows] == seen[name] and {r[1] for r in rows} == {answer}
    assert seen["ann"] != seen["ben"]  # each has their own order
    foreign = pages["ann"].evaluate(
        "async (ben) => (await fetch(`/api/${ben}/progress`)).status", server.links["ben"].rsplit("/", 1)[1]
    )
    assert foreign == 200  # ben's link works for whoever holds it: that is why links are secret ...
    wrong = pages["ann"].evaluate("async () => (await fetch('/api/guessed-token/progress')).status")
    assert wrong == 404  # ... and unguessable


@pytest.fixture(autouse=True)
def _keep_screenshot(tmp_path, request):
    yield
    shot = tmp_path / "pause.png"
    target = os.environ.get("PREFSTUDY_SCREENSHOTS")
    if target and shot.exists():
        shutil.copy(shot, Path(target) / f"{request.node.name}.png")
