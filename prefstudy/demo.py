"""The embedded-default study (``studies/demo.toml``), end to end: set up, run, report."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from prefstudy.errors import PrefstudyError
from prefstudy.progress import Reporter
from prefstudy.report import Report, collect
from prefstudy.study import SyncReport, run_study, sync
from prefstudy.workspace import STUDY_FILE, Workspace, init_workspace, open_workspace

SHIPPED_STUDIES = ("demo", "paper")


def study_file(name: str) -> Path:
    """A study file shipped with prefstudy (``demo.toml``, ``paper.toml``)."""
    return Path(str(files("prefstudy.studies") / name))


def resolve_study_file(given: Path) -> Path:
    """``given`` when it is a file; else a shipped study of that name (``paper``, ``paper.toml``)."""
    if given.is_file():
        return given
    name = given.name.removesuffix(".toml")
    if name in SHIPPED_STUDIES and given.parent in (Path("."), Path("studies")):
        return study_file(f"{name}.toml")
    raise PrefstudyError(f"study file {given} not found (shipped studies: {', '.join(SHIPPED_STUDIES)})")


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
