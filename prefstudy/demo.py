"""The embedded-default study (``studies/demo.toml``), end to end: set up, run, report."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from prefstudy.progress import Reporter
from prefstudy.report import Report, collect
from prefstudy.study import SyncReport, run_study, sync
from prefstudy.workspace import STUDY_FILE, Workspace, init_workspace, open_workspace


def study_file(name: str) -> Path:
    """A study file shipped with prefstudy (``demo.toml``, ``paper.toml``)."""
    return Path(str(files("prefstudy.studies") / name))


def run_demo(
    directory: Path, report: Reporter, device: str = "auto", epochs: int | None = None
) -> tuple[Workspace, SyncReport, Report]:
    """Create (or reuse) the demo workspace in ``directory``, make its runs, and collect the report."""
    if (directory / STUDY_FILE).is_file():
        ws = open_workspace(directory)
    else:
        ws = init_workspace(directory, study_file("demo.toml"))
    setup = sync(ws, report)
    run_study(ws, device, report, epochs)
    return ws, setup, collect(ws)
