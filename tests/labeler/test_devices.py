"""The labelling page on phones and tablets (Playwright's device emulation in Debian's Chromium, real touch
events), by keyboard alone, with reduced motion, and under axe-core. Each answer is checked in DuckDB.

Set PREFSTUDY_DEVICE_SCREENSHOTS=DIR to keep a picture of each device's trial screen."""

# ruff: noqa: F811 -- the harness's fixtures are imported, then used as test arguments
from __future__ import annotations

import os
from pathlib import Path

import pytest
from harness import CHROMIUM, browser, devices, labels, serve, servers, wait_showing, wait_stored  # noqa: F401

pytestmark = [
    pytest.mark.slow,  # drives Chromium against the real server
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}: apt-get install chromium"),
]

FAST = ("--subject", "ann", "--deadline", "5", "--fixation", "0.1")  # a tap never misses a 5 s deadline

# Problems that make a screen unusable: the page wider than the screen, a button or the reason prompt cut off,
# an answer button under 44 px or over the image. A trial fits the screen; a long panel may scroll down.
LAYOUT_PROBLEMS = """() => {
  const problems = [], [vw, vh] = [innerWidth, innerHeight];
  const width = document.documentElement.scrollWidth;
  if (width > vw) problems.push(`the page is ${width} px wide on a ${vw} px screen`);
  const shown = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
  const stage = document.getElementById("stage").getBoundingClientRect();
  const main = document.querySelector("main"), top = main.getBoundingClientRect().top - main.scrollTop;
  const bottom = document.getElementById("trial").hidden ? top + main.scrollHeight : vh;
  for (const el of document.querySelectorAll("button, #reason-prompt, #stage, .panel h1")) {
    if (!shown(el)) continue;
    const r = el.getBoundingClientRect();
    const where = `${el.tagName.toLowerCase()}#${el.id} at [${[r.left, r.top, r.right, r.bottom].map(Math.round)}]`;
    if (r.left < -0.5 || r.top < top - 0.5 || r.right > vw + 0.5 || r.bottom > bottom + 0.5)
      problems.push(`${where} outside the ${vw}x${vh} screen`);
    if (el.scrollHeight > el.clientHeight + 1) problems.push(`${where} cuts its text off`);
    if (el.classList.contains("answer")) {
      if (r.width < 44 || r.height < 44) problems.push(`${where} is smaller than 44 px`);
      if (r.left < stage.right && stage.left < r.right && r.top < stage.bottom && stage.top < r.bottom)
        problems.push(`${where} covers the image`);
    }
  }
  return problems;
}"""


def fits(page, screen: str) -> None:
    problems = page.evaluate(LAYOUT_PROBLEMS)
    assert not problems, f"{screen} at {page.viewport_size}: {problems}"


def centre(page, selector: str) -> tuple[float, float]:
    box = page.locator(selector).bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def tap(page, selector: str) -> None:
    page.touchscreen.tap(*centre(page, selector))


def finger_drag(cdp, start: tuple[float, float], end: tuple[float, float], steps: int = 6) -> None:
    """A one-finger drag as real touch events (Playwright's touchscreen only taps)."""
    for i in range(steps + 1):
        x = start[0] + (end[0] - start[0]) * i / steps
        y = start[1] + (end[1] - start[1]) * i / steps
        kind = "touchStart" if i == 0 else "touchMove"
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def image_point(page, fx: float, fy: float) -> tuple[float, float]:
    box = page.locator("#stimulus").bounding_box()
    return box["x"] + fx * box["width"], box["y"] + fy * box["height"]


def trial_bodies(page) -> list[dict]:
    """Every trial the page POSTs, as sent."""
    sent: list[dict] = []
    page.on(
        "request", lambda r: sent.append(r.post_data_json) if r.method == "POST" and r.url.endswith("/trial") else 0
    )
    return sent


def server_state(page) -> dict:
    return page.evaluate("async () => (await fetch(location.pathname.replace('/s/', '/api/') + '/state')).json()")


def emulate(devices: dict, name: str) -> dict:
    return {k: v for k, v in devices[name].items() if k != "default_browser_type"}  # Chromium for all


def shots_dir(tmp_path: Path) -> Path:
    target = os.environ.get("PREFSTUDY_DEVICE_SCREENSHOTS")
    return Path(target) if target else tmp_path


@pytest.mark.parametrize("device", ["iPhone 12", "Pixel 7", "iPad Mini"])
def test_twenty_trials_by_touch(device, devices, sample_ws, browser, servers, tmp_path):
    settings = emulate(devices, device)
    server = serve(servers, sample_ws.root, *FAST, "--limit", "20", "--block", "10", "--mark-reason", "sometimes")
    context = browser.new_context(**settings)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    sent = trial_bodies(page)
    page.goto(server.links["ann"])
    page.wait_for_selector("#intro:not([hidden])")
    assert page.evaluate("window.prefstudy.input()") == "touch"  # a coarse pointer: buttons, not keys
    assert page.is_visible("#intro .touch-only") and not page.is_visible("#intro .keys-only")
    fits(page, "intro")
    extended = "trials" in server_state(page)
    tap(page, "#start")
    portrait = settings["viewport"]
    landscape = {"width": portrait["height"], "height": portrait["width"]}
    turned, answered = [], []
    for trial in range(1, 21):
        wait_showing(page)
        fits(page, f"trial {trial}")
        if trial == 3:
            page.screenshot(path=str(shots_dir(tmp_path) / f"trial-{device.replace(' ', '-')}.png"))
        if device == "iPhone 12" and trial in (12, 16):  # turned while the image shows, then back
            page.set_viewport_size(landscape if trial == 12 else portrait)
            page.wait_for_function(f"innerWidth === {page.viewport_size['width']}")
            fits(page, f"trial {trial} turned")
            turned.append(trial)
            if trial == 12:
                page.screenshot(path=str(shots_dir(tmp_path) / "trial-iPhone-12-landscape.png"))
        answer = "#preferred" if trial % 3 else "#not-preferred"
        tap(page, answer)
        answered.append(answer == "#preferred")
        if trial % 5:
            continue
        page.wait_for_selector("#reason-prompt:not([hidden])")
        fits(page, f"reason after trial {trial}")
        assert page.evaluate("document.body.dataset.input") == "touch"
        assert page.inner_text("#skip-reason").strip() == "Skip"  # no key hints on a touch screen
        if trial == 5:
            finger_drag(cdp, image_point(page, 0.1, 0.2), image_point(page, 0.7, 0.9))
        elif trial == 10:
            page.touchscreen.tap(*image_point(page, 0.5, 0.5))
        else:  # a tap where the answers are: visibly disabled, nothing stored, still asking
            wait_stored(page)
            before = len(labels(sample_ws, "ann"))
            assert page.evaluate("[...document.querySelectorAll('.answer')].every((b) => b.disabled)")
            assert float(page.eval_on_selector("#preferred", "b => getComputedStyle(b).opacity")) < 0.5
            tap(page, "#preferred")
            tap(page, "#not-preferred")
            page.wait_for_timeout(150)
            wait_stored(page)
            assert len(labels(sample_ws, "ann")) == before
            assert page.evaluate("window.prefstudy.phase()") == "marking"
            tap(page, "#skip-reason")
        if trial == 10:
            page.wait_for_selector("#pause:not([hidden])")
            fits(page, "pause")
            tap(page, "#continue")
    page.wait_for_selector("#pause:not([hidden]), #done:not([hidden])")
    if page.is_visible("#pause"):  # an older server ends the last block with a break
        tap(page, "#continue")
    page.wait_for_selector("#done:not([hidden])")
    fits(page, "done")
    wait_stored(page)
    rows = labels(sample_ws, "ann")
    assert len(rows) == 20 and len({r[0] for r in rows}) == 20  # every tap stored once, none lost
    assert [r[1] for r in rows] == answered
    assert all(r[2] is False and 0 < r[3] < 5000 for r in rows)  # answered, with a response time
    regions = {r[7]: r[9] for r in rows if r[9] is not None}
    assert set(regions) == {5, 10}
    drag, spot = regions[5], regions[10]
    assert all(0 <= v <= 1 for v in drag + spot)
    assert drag == pytest.approx([0.1, 0.2, 0.7, 0.9], abs=0.03)
    assert spot == pytest.approx([0.4, 0.4, 0.6, 0.6], abs=0.03)  # a tap marks a fifth of the image around it
    area = lambda b: (b[2] - b[0]) * (b[3] - b[1])  # noqa: E731
    assert area(drag) > area(spot)
    if extended:  # the server records how and whether the screen turned
        assert {b["input"] for b in sent} == {"touch"}
        assert [b["trial"] for b in sent if b["orientation_changed"]] == turned
        with sample_ws.connect() as con:
            stored = con.execute(
                "SELECT trial, input, orientation_changed FROM labels WHERE subject = 'ann'"
            ).fetchall()
        assert {r[1] for r in stored} == {"touch"} and sorted(r[0] for r in stored if r[2]) == turned
    else:  # an older server: the page must not send what it would refuse
        assert all("input" not in b and "orientation_changed" not in b for b in sent)
    context.close()


def test_an_online_participant_joins_reads_the_instructions_answers_their_budget_and_is_sent_back(
    devices, sample_ws, browser, servers
):
    """Open enrolment end to end: the public join link, the study file's instructions, a budget of 3 trials
    by touch and keys (one turned mid-trial), the thank-you and the redirect to the panel's completion URL."""
    instructions = "You will see 3 clothes.\nYour answers are anonymous; you may stop at any time."
    study_file = sample_ws.root / "study.toml"
    study_file.write_text(study_file.read_text() + '\n[label]\ninstructions = """' + instructions + '"""\n')
    done = "https://panel.example/done?code=X1"
    args = ("--deadline", "5", "--fixation", "0.1", "--mark-reason", "never", "--enrol", "open", "--trials", "3")
    server = serve(servers, sample_ws.root, *args, "--complete-url", done)
    context = browser.new_context(**emulate(devices, "Pixel 7"))
    page = context.new_page()
    page.route("https://panel.example/**", lambda route: route.fulfill(body="<h1>back on the panel</h1>"))
    page.goto(server.links["join"].replace("<id>", "PID_0042"))
    assert "/s/" in page.url  # redirected to the participant's own secret link
    page.wait_for_selector("#intro:not([hidden])")
    assert page.inner_text("#instructions") == instructions  # as text, line break kept
    fits(page, "intro with instructions")
    tap(page, "#start")
    wait_showing(page)
    tap(page, "#preferred")
    wait_showing(page)
    page.set_viewport_size({"width": 839, "height": 412})  # turned while the second image shows
    page.wait_for_function("innerWidth === 839")
    fits(page, "trial turned")
    tap(page, "#not-preferred")
    wait_showing(page)
    page.keyboard.press("ArrowRight")  # a keyboard joins: the hints follow
    page.wait_for_selector("#done:not([hidden])")
    assert page.is_visible("#complete-link") and page.get_attribute("#complete-link", "href") == done
    assert "3 images labelled" in page.inner_text("#done-progress")
    fits(page, "done")
    page.wait_for_url(done, timeout=5_000)  # after the thank-you
    context.close()
    with sample_ws.connect() as con:
        (subject,) = con.execute("SELECT subject FROM enrolments WHERE participant_id = 'PID_0042'").fetchone()
        rows = con.execute(
            "SELECT preferred, rt_ms, input, orientation_changed FROM labels WHERE subject = ? ORDER BY trial",
            [subject],
        ).fetchall()
    stored = [(r[0], r[2], r[3]) for r in rows]
    assert stored == [(True, "touch", False), (False, "touch", True), (True, "keyboard", False)]
    assert all(r[1] > 0 for r in rows)


def axe_problems(page, screen: str) -> list[str]:
    """axe-core's serious and critical violations on the screen now; every violation found is printed."""
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page).response["violations"]
    for v in violations:
        print(f"axe {screen} {page.viewport_size['width']}px: {v['id']} ({v['impact']}) x{len(v['nodes'])}")
    return [f"{screen}: {v['id']} ({v['impact']})" for v in violations if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("device", ["Desktop 1280x800", "iPhone 12"])
def test_no_serious_accessibility_problems_on_any_screen(device, devices, sample_ws, browser, servers):
    study_file = sample_ws.root / "study.toml"  # the intro shows the study's instructions too
    study_file.write_text(
        study_file.read_text() + '\n[label]\ninstructions = "Answer quickly.\\nThere are no right answers."\n'
    )
    server = serve(servers, sample_ws.root, *FAST, "--limit", "3", "--block", "2", "--mark-reason", "always")
    settings = (
        {"viewport": {"width": 1280, "height": 800}} if device.startswith("Desktop") else emulate(devices, device)
    )
    context = browser.new_context(**settings)
    page = context.new_page()
    page.goto(server.links["ann"])
    page.wait_for_selector("#intro:not([hidden])")
    problems = axe_problems(page, "intro")
    page.click("#start")
    for trial in range(1, 4):
        wait_showing(page)
        if trial == 1:
            problems += axe_problems(page, "trial")
        page.click("#preferred")
        page.wait_for_selector("#reason-prompt:not([hidden])")
        if trial == 1:
            problems += axe_problems(page, "reason")
        page.click("#skip-reason")
        if trial == 2:
            page.wait_for_selector("#pause:not([hidden])")
            problems += axe_problems(page, "pause")
            page.click("#continue")
    page.wait_for_selector("#done:not([hidden])")
    problems += axe_problems(page, "done")
    assert not problems
    context.close()


def test_a_short_study_by_keyboard_alone(sample_ws, browser, servers):
    server = serve(servers, sample_ws.root, *FAST, "--limit", "5", "--block", "3", "--mark-reason", "sometimes")
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(server.links["ann"])
    page.wait_for_selector("#intro:not([hidden])")
    focus = (
        "(() => { const e = document.activeElement; return [e.id, e.matches(':focus-visible'), "
        "getComputedStyle(e).outlineStyle, getComputedStyle(e).outlineWidth]; })()"
    )
    assert page.evaluate(focus) == ["start", True, "solid", "3px"]  # focus is where to act, and it shows
    assert page.is_visible("#intro .keys-only") and not page.is_visible("#intro .touch-only")
    page.keyboard.press("Enter")
    wait_showing(page)
    page.keyboard.press("ArrowRight")
    wait_showing(page)
    page.keyboard.press("Tab")  # to the first answer button, Not preferred
    assert page.evaluate(focus) == ["not-preferred", True, "solid", "3px"]
    page.keyboard.press("Space")
    wait_showing(page)
    page.keyboard.press("a")
    page.wait_for_selector("#pause:not([hidden])")
    assert page.evaluate(focus)[:2] == ["continue", True]
    page.keyboard.press("Space")
    wait_showing(page)
    page.keyboard.press("l")
    wait_showing(page)
    page.keyboard.press("ArrowLeft")  # the fifth answer: a reason is asked
    page.wait_for_selector("#reason-prompt:not([hidden])")
    assert page.inner_text("#skip-reason").strip() == "Skip (Enter)"
    page.keyboard.press("Enter")
    page.wait_for_selector("#done:not([hidden])")
    assert page.evaluate("document.activeElement.id") == "done-title"
    wait_stored(page)
    rows = labels(sample_ws, "ann")
    assert [r[1] for r in rows] == [True, False, False, True, False] and all(r[3] > 0 for r in rows)


def test_reduced_motion_steps_the_deadline_and_shows_the_seconds_left(sample_ws, browser, servers):
    server = serve(servers, sample_ws.root, *FAST, "--mark-reason", "never")
    context = browser.new_context(reduced_motion="reduce", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(server.links["ann"])
    page.wait_for_selector("#intro:not([hidden])")
    page.keyboard.press("Space")
    wait_showing(page)
    read = """() => { const bar = document.getElementById('bar'), left = document.getElementById('time-left');
      return { animations: bar.getAnimations().length, transition: getComputedStyle(bar).transitionDuration,
        scale: new DOMMatrix(getComputedStyle(bar).transform).a, left: left.textContent,
        visible: left.getBoundingClientRect().width > 1, role: left.getAttribute('role') }; }"""
    first = page.evaluate(read)
    page.wait_for_timeout(1200)
    later = page.evaluate(read)
    for state in (first, later):
        assert state["animations"] == 0 and state["transition"] == "0s" and state["visible"]
        assert state["role"] == "timer" and state["left"].endswith(" s left")
    assert float(first["left"].split()[0]) > float(later["left"].split()[0]) >= 3.5
    assert first["scale"] > later["scale"] >= 0.7 and round(later["scale"] * 10) == later["scale"] * 10  # tenths
    page.keyboard.press("ArrowRight")
    wait_showing(page)
    wait_stored(page)
    assert labels(sample_ws, "ann")[0][1] is True
    context.close()


SCREENS = [(360, 640), (640, 360), (390, 844), (844, 390), (768, 1024), (1024, 768), (1920, 1080), (2560, 1440)]


def test_every_screen_from_360_to_2560_px_fits_with_the_image_as_large_as_it_can(sample_ws, browser, servers):
    server = serve(servers, sample_ws.root, *FAST, "--mark-reason", "always")
    page = browser.new_page(viewport={"width": 360, "height": 640})
    page.goto(server.links["ann"])
    page.wait_for_selector("#intro:not([hidden])")
    for screen in ("intro", "trial", "reason"):
        for width, height in SCREENS:
            page.set_viewport_size({"width": width, "height": height})
            page.wait_for_function(f"innerWidth === {width} && innerHeight === {height}")
            fits(page, screen)
            if screen != "intro":
                side = page.locator("#stage").bounding_box()["width"]
                assert side >= 0.6 * min(width, height), f"a {side:.0f} px image on a {width}x{height} screen"
        if screen == "intro":
            page.keyboard.press("Space")
            wait_showing(page)
        elif screen == "trial":
            page.keyboard.press("ArrowRight")
            page.wait_for_selector("#reason-prompt:not([hidden])")
