"""Merging runs made elsewhere back into a study: `prefstudy runs import`.

Per-subject runs are independent, so a lab can make them as separate jobs, each in its own copy
of the study (another machine, a cluster node). Every run directory is self-contained, so
importing one copies it under ``runs/`` and records it exactly as a run made here is recorded
(:func:`~prefstudy.runs.record.record_runs`). Everything is checked before anything is written;
runs already here are skipped; if anything fails, nothing is written.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from prefstudy.datasets import get_dataset, key_index
from prefstudy.errors import PrefstudyError
from prefstudy.runs.record import FINISHED, RunDir, record_runs, run_dir, run_ids
from prefstudy.subjects.registry import require_subject
from prefstudy.workspace import Workspace


@dataclass(frozen=True)
class IncomingRun:
    directory: RunDir
    run_id: str
    subject: str
    dataset: str


def find_run_dirs(path: Path) -> list[RunDir]:
    """A run directory, or every run directory of a study directory or of its ``runs/``."""
    path = Path(path).expanduser()
    if RunDir.holds_a_run(path) or (path / RunDir.RESULT).is_file():
        return [RunDir(path)]
    runs = path / "runs" if (path / "runs").is_dir() else path
    if not runs.is_dir():
        raise PrefstudyError(f"{path} is not a run directory, a study or a runs/ folder")
    found = [RunDir(d) for d in sorted(runs.iterdir()) if RunDir.holds_a_run(d)]
    if not found:
        raise PrefstudyError(f"no run directories in {runs}")
    return found


def _read(directory: RunDir) -> IncomingRun:
    missing = directory.missing()
    if missing:
        raise PrefstudyError(f"{directory.path}: not a finished run (missing {', '.join(missing)})")
    config, result = directory.read_config(), directory.read_result()
    if result.get("status") != FINISHED or result.get("run_id") != config.get("run_id"):
        raise PrefstudyError(f"{directory.path}: not a finished run")
    return IncomingRun(directory, result["run_id"], result["subject"], result["dataset"])


def _check(ws: Workspace, run: IncomingRun, keys: dict[str, dict[str, int]]) -> None:
    """The run's subject, dataset and predicted items must be this study's."""
    require_subject(ws, run.subject)
    if run.dataset not in keys:
        get_dataset(ws, run.dataset)  # an unknown dataset is one clear error
        keys[run.dataset] = key_index(ws, run.dataset)
    known = keys[run.dataset]
    unknown = sum(known.get(key) != idx for idx, key in run.directory.read_prediction_keys())
    if unknown:
        raise PrefstudyError(
            f"run {run.run_id}: {unknown} predicted item(s) are not the same items of {run.dataset!r} in this study"
        )


def import_runs(ws: Workspace, paths: list[Path]) -> tuple[list[str], list[str]]:
    """Import finished runs from run or study directories; returns (imported, already here)."""
    incoming = [_read(d) for path in paths for d in find_run_dirs(path)]
    present = run_ids(ws)
    new: list[IncomingRun] = []
    skipped: list[str] = []
    keys: dict[str, dict[str, int]] = {}
    for run in incoming:
        if run.run_id in present or run.run_id in {r.run_id for r in new}:
            skipped.append(run.run_id)
            continue
        _check(ws, run, keys)
        new.append(run)
    copied: list[Path] = []
    try:
        for run in new:
            target = run_dir(ws, run.run_id)
            if target.path.resolve() != run.directory.path.resolve():
                if target.path.exists():
                    raise PrefstudyError(
                        f"{target.path} exists but run {run.run_id} is not in the database; move it away"
                    )
                shutil.copytree(run.directory.path, target.path)
                copied.append(target.path)
        record_runs(ws, [run_dir(ws, run.run_id) for run in new])
    except BaseException:
        for target in copied:
            shutil.rmtree(target, ignore_errors=True)
        raise
    return [r.run_id for r in new], skipped
