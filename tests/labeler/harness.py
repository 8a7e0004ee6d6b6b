"""Driving the real `prefstudy label` server with Debian's Chromium through Playwright.

Shared by the end-to-end tests and the latency benchmark.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
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
