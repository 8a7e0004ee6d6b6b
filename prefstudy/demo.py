"""The embedded-default study (``studies/demo.toml``), end to end: set up, run, report."""

from __future__ import annotations

from pathlib import Path

from prefstudy.executors.driver import DriverOptions
from prefstudy.executors.runner import run_orders
from prefstudy.progress import Reporter
from prefstudy.report import Report, collect
from prefstudy.study.plan import study_planner
from prefstudy.study.sync import SyncReport, sync
from prefstudy.studyfile import shipped_study
from prefstudy.workspace import STUDY_FILE, Workspace, init_workspace, open_workspace


def run_demo(
    directory: Path, report: Reporter, device: str = "auto", epochs: int | None = None, precision: str = "auto"
) -> tuple[Workspace, SyncReport, Report]:
    """Create (or reuse) the demo workspace in ``directory``, make its runs, and collect the report."""
    if (directory / STUDY_FILE).is_file():
        ws = open_workspace(directory)
    else:
        ws = init_workspace(directory, shipped_study("demo"))
    setup = sync(ws, report)
    run_orders(ws, study_planner(ws, epochs), driving=DriverOptions(device, precision), report=report)
    return ws, setup, collect(ws)
