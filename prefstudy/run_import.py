"""Merging runs made elsewhere back into a study: `prefstudy runs import`.

Per-subject runs are independent, so a lab can make them as separate jobs, each in its own copy
of the study (another machine, a cluster node). Every run directory is self-contained
(``config.json``, ``result.json``, ``predictions.parquet``, ``model.pt``), so importing one
rebuilds its rows in this study's DuckDB and copies the directory under ``runs/``. Everything
is checked before anything is written; runs already here are skipped.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from prefstudy.datasets import get_dataset
from prefstudy.errors import PrefstudyError
from prefstudy.runs import FINISHED
from prefstudy.store import scalar
from prefstudy.subjects.registry import require_subject
from prefstudy.workspace import Workspace

REQUIRED = ("config.json", "result.json", "predictions.parquet", "model.pt")


@dataclass(frozen=True)
class IncomingRun:
    directory: Path
    config: dict
    result: dict

    @property
    def run_id(self) -> str:
        return self.result["run_id"]


def find_run_dirs(path: Path) -> list[Path]:
    """A run directory, or every run directory of a study directory or of its ``runs/``."""
    path = path.expanduser()
    if (path / "result.json").is_file() or (path / "config.json").is_file():
        return [path]
    runs = path / "runs" if (path / "runs").is_dir() else path
    if not runs.is_dir():
        raise PrefstudyError(f"{path} is not a run directory, a study or a runs/ folder")
    found = sorted(d for d in runs.iterdir() if (d / "config.json").is_file())
    if not found:
        raise PrefstudyError(f"no run directories in {runs}")
    return found


def _read(directory: Path) -> IncomingRun:
    missing = [name for name in REQUIRED if not (directory / name).is_file()]
    if missing:
        raise PrefstudyError(f"{directory}: not a finished run (missing {', '.join(missing)})")
    try:
        config = json.loads((directory / "config.json").read_text())
        result = json.loads((directory / "result.json").read_text())
    except json.JSONDecodeError as error:
        raise PrefstudyError(f"{directory}: unreadable run files ({error})") from None
    if result.get("status") != FINISHED or result.get("run_id") != config.get("run_id"):
        raise PrefstudyError(f"{directory}: not a finished run")
    return IncomingRun(directory, config, result)


def _check(ws: Workspace, run: IncomingRun) -> None:
    require_subject(ws, run.result["subject"])
    dataset = run.result["dataset"]
    get_dataset(ws, dataset)
    with ws.connect() as con:
        unknown = scalar(
            con,
            "SELECT count(*) FROM read_parquet(?) p LEFT JOIN items i ON i.dataset = ? AND i.key = p.key "
            "WHERE i.idx IS NULL OR i.idx <> p.item_idx",
            [str(run.directory / "predictions.parquet"), dataset],
        )
    if unknown:
        raise PrefstudyError(
            f"run {run.run_id}: {unknown} predicted item(s) are not the same items of {dataset!r} in this study"
        )


def import_runs(ws: Workspace, paths: list[Path]) -> tuple[list[str], list[str]]:
    """Import finished runs from run or study directories; returns (imported, already here)."""
    incoming = [_read(d) for path in paths for d in find_run_dirs(path)]
    with ws.connect() as con:
        present = {r for (r,) in con.execute("SELECT id FROM runs").fetchall()}
    new, skipped, seen = [], [], set()
    for run in incoming:
        if run.run_id in present or run.run_id in seen:
            skipped.append(run.run_id)
            continue
        _check(ws, run)
        new.append(run)
        seen.add(run.run_id)
    copied: list[Path] = []
    try:
        for run in new:
            target = ws.run_dir(run.run_id)
            if target.resolve() != run.directory.resolve():
                if target.exists():
                    raise PrefstudyError(f"{target} exists but run {run.run_id} is not in the database; move it away")
                shutil.copytree(run.directory, target)
                copied.append(target)
        with ws.transaction() as con:
            for run in new:
                _insert(con, run, ws.run_dir(run.run_id))
    except BaseException:
        for target in copied:
            shutil.rmtree(target, ignore_errors=True)
        raise
    return [r.run_id for r in new], skipped


def _insert(con, run: IncomingRun, directory: Path) -> None:
    r, config = run.result, run.config
    versions = config.pop("versions", {})
    transfer = config.get("transfer") or {}
    con.execute(
        "INSERT INTO runs (id, subject, dataset, backbone, protocol, parent_run, seed, epochs, config, labels_digest, "
        "status, best_epoch, device, versions, finished_at, duration_s, precision, train_images_per_s) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, current_timestamp, ?, ?, ?)",
        [
            r["run_id"],
            r["subject"],
            r["dataset"],
            r["backbone"],
            r["protocol"],
            transfer.get("source_run"),
            r["seed"],
            r["epochs"],
            json.dumps(config),
            config["labels_digest"],
            FINISHED,
            r["best_epoch"],
            r["device"],
            json.dumps(versions),
            r["duration_s"],
            r.get("precision"),
            r.get("train_images_per_s"),
        ],
    )
    for split, m in r["metrics"].items():
        con.execute(
            "INSERT INTO metrics (run_id, split, tp, fp, fn, tn, n, accuracy) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [r["run_id"], split, m["tp"], m["fp"], m["fn"], m["tn"], m["n"], m["accuracy"]],
        )
    for h in r["history"]:
        con.execute(
            "INSERT INTO epochs VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                r["run_id"],
                h["epoch"],
                h["train_loss"],
                h["train_accuracy"],
                h["val_loss"],
                h["val_accuracy"],
                h["seconds"],
            ],
        )
    con.execute(
        "INSERT INTO predictions SELECT ?, ?, item_idx, split, label, p_preferred FROM read_parquet(?)",
        [r["run_id"], r["dataset"], str(directory / "predictions.parquet")],
    )
