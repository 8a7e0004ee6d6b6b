"""Driving the real `prefstudy label` server: with Debian's Chromium through Playwright, or as several
subjects answering at once while the server is killed (``answer_through_kills``).

Shared by the end-to-end tests and the labelling benchmarks.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("PREFSTUDY_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The real `prefstudy label` command in a subprocess."""

    def __init__(self, study: Path, *args: str):
        self.study, self.args, self.port = study, args, free_port()
        self.proc: subprocess.Popen | None = None
        self.links: dict[str, str] = {}

    def start(self) -> Server:
        cmd = [
            sys.executable,
            "-m",
            "prefstudy",
            "label",
            "--study",
            str(self.study),
            "--dataset",
            "fm",
            "--no-browser",
            "--port",
            str(self.port),
            *self.args,
        ]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines: list[str] = []
        # Read in a thread: the server prints its links before it listens, then goes quiet.
        threading.Thread(target=lambda: lines.extend(self.proc.stdout), daemon=True).start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            self.links = {m[1]: m[2] for line in list(lines) if (m := re.match(r"^(\S+): (http://\S+)$", line.strip()))}
            if self.links and self._listening():
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {''.join(lines)}")
            time.sleep(0.1)
        raise RuntimeError(f"server did not start: {''.join(lines)}")

    def _listening(self) -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)


@pytest.fixture
def browser():
    playwright_sync = pytest.importorskip("playwright.sync_api")
    with playwright_sync.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def devices() -> dict:
    """Playwright's device descriptors ("iPhone 12", ...), read once before any `browser` starts."""
    playwright_sync = pytest.importorskip("playwright.sync_api")
    with playwright_sync.sync_playwright() as p:
        return dict(p.devices)


@pytest.fixture
def servers():
    started: list[Server] = []
    yield started
    for server in started:
        server.kill()


def serve(servers: list[Server], study: Path, *args: str) -> Server:
    server = Server(study, *args).start()
    servers.append(server)
    return server


def wait_showing(page, timeout: float = 15.0) -> int:
    """Wait until an image is on screen; return the item shown."""
    page.wait_for_function("window.prefstudy && window.prefstudy.phase() === 'showing'", timeout=timeout * 1000)
    return page.evaluate("window.prefstudy.current()")


def wait_stored(page) -> None:
    page.wait_for_function("window.prefstudy.pending() === 0", timeout=30_000)


def labels(ws, subject: str) -> list[tuple]:
    with ws.connect() as con:
        return con.execute(
            "SELECT item_idx, preferred, timed_out, rt_ms, deadline_ms, session, block, trial, shown_at, region, "
            "source FROM labels WHERE subject = ? ORDER BY id",
            [subject],
        ).fetchall()


# --- several subjects answering while the server is killed -------------------------------------------


@dataclass
class KillRun:
    """What a load-and-kill run did and what the database holds afterwards."""

    subjects: int
    answers: int  # per subject
    kills: int = 0
    acknowledged: int = 0  # answers the server confirmed (each once, however many tries it took)
    confirmed_late: int = 0  # stored before a kill, confirmed only on a retry (``new`` false)
    retries: int = 0
    refused: list = field(default_factory=list)  # any 4xx: there should be none
    stored: int = 0
    lost: int = 0
    doubled: int = 0
    wrong: int = 0  # stored rows whose item is not the one sent for that trial
    seconds: float = 0.0
    restart_s: list = field(default_factory=list)

    def numbers(self) -> dict:
        return {
            "subjects": self.subjects,
            "answers_per_subject": self.answers,
            "kills": self.kills,
            "sent": self.subjects * self.answers,
            "stored": self.stored,
            "lost": self.lost,
            "doubled": self.doubled,
            "wrong": self.wrong,
            "refused": len(self.refused),
            "retries": self.retries,
            "confirmed_on_a_retry": self.confirmed_late,
            "seconds": round(self.seconds, 2),
            "answers_per_s": round(self.subjects * self.answers / self.seconds, 1),
            "restart_median_s": round(statistics.median(self.restart_s), 2) if self.restart_s else None,
        }


def answer_through_kills(
    servers: list[Server], ws, subjects: list[str], answers: int, kills: int, *args: str
) -> KillRun:
    """Each subject answers ``answers`` images from their own thread, retrying as their page does, while the
    server is killed with SIGKILL ``kills`` times at even steps of the total and restarted on the same port."""
    import httpx

    from prefstudy.datasets.catalog import load_images
    from prefstudy.labeler.options import LabelOptions
    from prefstudy.labeler.trial_plan import TrialPlan
    from prefstudy.subjects.roster import add_subject

    for name in subjects:
        add_subject(ws, name)
    args = ("--deadline", "0", "--mark-reason", "never", "--limit", str(answers), *args)
    plan_options = LabelOptions(limit=answers).plan_options()
    n_items = len(load_images(ws, "fm").keys)
    orders = {name: [int(i) for i in TrialPlan(name, n_items, plan_options).order] for name in subjects}
    server = serve(servers, ws.root, *args)
    links = server.links
    run, done, lock = KillRun(len(subjects), answers), [0], threading.Lock()
    sessions: dict[str, str] = {}

    def send(client: httpx.Client, url: str, body: dict | None = None) -> httpx.Response:
        delay = 0.02
        while True:  # what the page does: a lost connection or a 5xx is tried again, anything else is final
            try:
                response = client.post(url, json=body) if body else client.get(url)
                if response.status_code < 500:
                    return response
            except httpx.TransportError:
                pass
            with lock:
                run.retries += 1
            time.sleep(delay)
            delay = min(delay * 2, 0.5)  # the page waits 0.5 s; sooner at first, as the restart may be quick

    def subject(name: str) -> None:
        base = links[name].replace("/s/", "/api/")  # the same after a restart: the same token and port
        with httpx.Client(timeout=10) as client:
            session = sessions[name] = send(client, f"{base}/state").json()["session"]
            for trial, item in enumerate(orders[name], start=1):
                body = {"session": session, "trial": trial, "block": 1, "item": item, "answer": "preferred"}
                response = send(client, f"{base}/trial", {**body, "rt_ms": 300.0, "shown_at_ms": time.time() * 1000})
                with lock:
                    if response.status_code != 200:
                        run.refused.append((name, trial, response.status_code, response.text))
                    else:
                        run.acknowledged += 1
                        run.confirmed_late += not response.json()["new"]
                    done[0] += 1

    start = time.monotonic()
    threads = [threading.Thread(target=subject, args=(name,), daemon=True) for name in subjects]
    for thread in threads:
        thread.start()
    total = len(subjects) * answers
    for k in range(1, kills + 1):
        while done[0] < total * k // (kills + 1) and any(t.is_alive() for t in threads):
            time.sleep(0.005)
        server.kill()
        run.kills += 1
        restarted = Server(ws.root, *args)
        restarted.port = server.port
        began = time.monotonic()
        server = restarted.start()
        servers.append(server)
        run.restart_s.append(time.monotonic() - began)
    for thread in threads:
        thread.join(timeout=300)
    run.seconds = time.monotonic() - start
    with ws.connect() as con:
        for name in subjects:
            rows = con.execute(
                "SELECT trial, item_idx FROM labels WHERE subject = ? AND session = ?", [name, sessions.get(name)]
            ).fetchall()
            by_trial = {}
            for trial, item in rows:
                by_trial.setdefault(trial, []).append(item)
            run.stored += len(rows)
            run.lost += sum(1 for trial in range(1, answers + 1) if trial not in by_trial)
            run.doubled += sum(len(items) - 1 for items in by_trial.values())
            run.wrong += sum(items[0] != orders[name][trial - 1] for trial, items in by_trial.items())
        others = con.execute("SELECT count(*) FROM labels").fetchone()[0] - run.stored
    assert others == 0, f"{others} rows outside the subjects' sessions"
    return run
