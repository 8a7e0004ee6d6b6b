"""Landing runs made elsewhere in a study: `prefstudy runs import`, and the scale-out driver's results.

Per-subject runs are independent, so they can be made as separate jobs: by hand in copies of the
study, or by an executor's workers (a local pool, Ray, Slurm). Every run directory is
self-contained, so landing one copies it under ``runs/`` (unless it is there already) and records
it exactly as a run made here is recorded (:func:`~prefstudy.runs.record.record_runs`). This is
the one path by which a run made elsewhere enters the study database.

Finished and failed runs land; a run the study holds as queued, running, interrupted or failed
moves to the incoming final state; a run already finished here is skipped. Everything is checked
before anything is written; if anything fails, nothing is written.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefstudy.datasets.catalog import get_dataset, key_index
from prefstudy.errors import PrefstudyError
from prefstudy.runs.record import FAILED, FINISHED, RunDir, record_read_runs, run_dir, run_statuses
from prefstudy.runs.rundir import prediction_keys
from prefstudy.subjects.roster import require_subjects
from prefstudy.workspace import Workspace


@dataclass(frozen=True)
class IncomingRun:
    directory: RunDir
    run_id: str
    subject: str
    dataset: str
    status: str  # finished or failed
    config: dict[str, Any]
    result: dict[str, Any]


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
    config, result = directory.read_config(), directory.read_result()
    status = result.get("status")
    if status == FINISHED:
        missing = directory.missing()
        if missing:
            raise PrefstudyError(f"{directory.path}: not a finished run (missing {', '.join(missing)})")
    elif status != FAILED:
        raise PrefstudyError(f"{directory.path}: neither a finished nor a failed run")
    if result.get("run_id") != config.get("run_id"):
        raise PrefstudyError(f"{directory.path}: its result is not its config's run")
    return IncomingRun(directory, result["run_id"], result["subject"], result["dataset"], status, config, result)


def _check_dataset(ws: Workspace, run: IncomingRun, keys: dict[str, dict[str, int]]) -> None:
    """The run's dataset must be this study's (its item keys read once, into ``keys``)."""
    if run.dataset not in keys:
        get_dataset(ws, run.dataset)  # an unknown dataset is one clear error
        keys[run.dataset] = key_index(ws, run.dataset)


def _check_predicted_items(runs: list[IncomingRun], keys: dict[str, dict[str, int]]) -> None:
    """Every finished run's predicted items must be the same items of its dataset here (read in one scan)."""
    finished = [r for r in runs if r.status == FINISHED]
    predicted = prediction_keys([r.directory for r in finished])
    unknown: dict[str, int] = {}
    for run in finished:
        known = keys[run.dataset]
        wrong = sum(known.get(key) != idx for idx, key in predicted[str(run.directory.predictions)])
        if wrong:
            unknown[run.run_id] = wrong
    if unknown:
        run = next(r for r in finished if r.run_id in unknown)
        raise PrefstudyError(
            f"run {run.run_id}: {unknown[run.run_id]} predicted item(s) are not the same items of {run.dataset!r} "
            "in this study"
        )


def import_runs(ws: Workspace, paths: list[Path]) -> tuple[list[str], list[str]]:
    """Import finished and failed runs from run or study directories; returns (imported, already finished here)."""
    return land_runs(ws, [d for path in paths for d in find_run_dirs(path)])


def land_runs(
    ws: Workspace, directories: list[RunDir], keys: dict[str, dict[str, int]] | None = None
) -> tuple[list[str], list[str]]:
    """Copy run directories into the study (where they are elsewhere) and record them; (landed, skipped).

    ``keys`` (item key -> index per dataset) is filled as datasets are met; a caller landing runs
    again and again passes the same dict.
    """
    incoming = [_read(d) for d in directories]
    present = run_statuses(ws, [r.run_id for r in incoming])
    new: list[IncomingRun] = []
    skipped: list[str] = []
    keys = {} if keys is None else keys
    seen: set[str] = set()
    for run in incoming:
        if present.get(run.run_id) == FINISHED or run.run_id in seen:
            skipped.append(run.run_id)
            continue
        _check_dataset(ws, run, keys)
        new.append(run)
        seen.add(run.run_id)
    require_subjects(ws, [run.subject for run in new])
    _check_predicted_items(new, keys)
    copied: list[Path] = []
    try:
        for run in new:
            target = run_dir(ws, run.run_id)
            if target.path.resolve() == run.directory.path.resolve():
                continue
            if target.path.exists():
                if run.run_id not in present:
                    raise PrefstudyError(
                        f"{target.path} exists but run {run.run_id} is not in the database; move it away"
                    )
                # An unfinished run's directory (its queued config, a checkpoint) gives way to its result.
                shutil.rmtree(target.path)
            shutil.copytree(run.directory.path, target.path)
            copied.append(target.path)
        record_read_runs(ws, [(run_dir(ws, run.run_id), run.config, run.result) for run in new])
    except BaseException:
        for target in copied:
            shutil.rmtree(target, ignore_errors=True)
        raise
    return [r.run_id for r in new], skipped
