"""A run's record: the files of its directory, and its rows in the study database.

This module is the one place that knows the run directory's layout and the one place that
writes and reads the ``runs``, ``metrics``, ``epochs`` and ``predictions`` tables. It never
imports torch, so reports, plans and imports stay light.

A run is recorded in two steps. :func:`begin_run` inserts its row as *running* from its
``config.json``, with the process that owns it; once a run directory holds its results
(``result.json``, ``predictions.parquet``, ``model.pt``), :func:`record_runs` writes every row
from those files. A run made here and a run directory made on another machine are recorded the
same way. :func:`list_runs` marks a running run whose process has gone as *interrupted*.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import numpy as np

from prefstudy.config import DEFAULT_SETTINGS, FP32
from prefstudy.errors import PrefstudyError
from prefstudy.metrics import Confusion, RankScore
from prefstudy.runs.rundir import RunDir as RunDir  # re-exported: the run directory is part of the record
from prefstudy.runs.status import FAILED as FAILED  # re-exported: callers take every status from here
from prefstudy.runs.status import FINISHED, INTERRUPTED, RUNNING, Owner, owner_alive, this_process
from prefstudy.splits import TEST, TRAIN, VALIDATION
from prefstudy.store import first_row, sql_path
from prefstudy.workspace import Workspace

SPLIT_ORDER = (TRAIN, VALIDATION, TEST)


def run_dir(ws: Workspace, run_id: str) -> RunDir:
    """The directory of run ``run_id`` in the study."""
    return RunDir(ws.run_dir(run_id))


# --- the --json object of a run ----------------------------------------------------------------

HISTORY_FIELDS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds")


def _described(config: dict[str, Any]) -> dict[str, Any]:
    """What a run's config says of it, as its row and its result name it."""
    settings, transfer = config["settings"], config.get("transfer") or {}
    return {
        "run_id": config["run_id"],
        "subject": config["subject"],
        "dataset": config["dataset"],
        "backbone": settings["backbone"],
        "protocol": settings["protocol"],
        "parent_run": transfer.get("source_run"),
        "seed": settings["seed"],
        # a zero-shot run trains no epoch
        "epochs": 0 if transfer.get("mode") == "zero-shot" else settings["epochs"],
        "processes": config.get("processes", 1),
        "n_labels": config["n_labels"],
    }


def _metrics_object(metrics: dict[str, Confusion], ranks: dict[str, RankScore]) -> dict[str, dict[str, Any]]:
    out = {}
    for split in SPLIT_ORDER:
        if (c := metrics.get(split)) is None:
            continue
        out[split] = {"tp": c.tp, "fp": c.fp, "fn": c.fn, "tn": c.tn, "n": c.n, "accuracy": c.accuracy}
        if (r := ranks.get(split)) is not None:  # a rated subject: rho over every item of the split, ties too
            out[split] |= {"spearman": None if r.spearman != r.spearman else r.spearman, "n_rated": r.n_rated}
    return out


def result_object(
    config: dict[str, Any],
    *,
    status: str,
    device: str | None,
    precision: str | None,
    best_epoch: int | None,
    duration_s: float | None,
    train_images_per_s: float | None,
    metrics: dict[str, Confusion],
    history: list[dict[str, Any]],
    ranks: dict[str, RankScore] | None = None,
) -> dict[str, Any]:
    """The `prefstudy run --json` object, which ``result.json`` also holds: one shape, built here only."""
    described = _described(config)
    return {
        **{key: described[key] for key in ("run_id", "subject", "dataset", "backbone", "protocol", "seed", "epochs")},
        "best_epoch": best_epoch,
        "status": status,
        "device": device,
        "precision": precision or FP32,  # runs from before precisions were recorded were fp32
        "processes": described["processes"],
        "n_labels": described["n_labels"],
        "duration_s": duration_s,
        "train_images_per_s": train_images_per_s,
        "metrics": _metrics_object(metrics, ranks or {}),
        "history": [{key: h[key] for key in HISTORY_FIELDS} for h in history],
    }


# --- writing -------------------------------------------------------------------------------------

_RUN_COLUMNS = (
    "id",
    "subject",
    "dataset",
    "backbone",
    "protocol",
    "parent_run",
    "seed",
    "epochs",
    "config",
    "labels_digest",
    "status",
    "device",
    "versions",
    "precision",
)


def _run_row(config: dict[str, Any], status: str, device: str) -> list[Any]:
    """The values of _RUN_COLUMNS for a run with ``config`` (as in config.json, versions included)."""
    config = dict(config)
    versions = config.pop("versions", {})
    d = _described(config)
    return [
        d["run_id"],
        d["subject"],
        d["dataset"],
        d["backbone"],
        d["protocol"],
        d["parent_run"],
        d["seed"],
        d["epochs"],
        json.dumps(config),
        config["labels_digest"],
        status,
        device,
        json.dumps(versions),
        config.get("precision"),
    ]


def _insert_run(con: duckdb.DuckDBPyConnection, values: list[Any]) -> None:
    columns = ", ".join(_RUN_COLUMNS)
    con.execute(f"INSERT INTO runs ({columns}) VALUES ({', '.join('?' * len(_RUN_COLUMNS))})", values)


def _set_owner(con: duckdb.DuckDBPyConnection, run_id: str, owner: Owner) -> None:
    con.execute(
        "UPDATE runs SET owner_pid = ?, owner_host = ?, owner_started = ? WHERE id = ?",
        [owner.pid, owner.host, owner.started, run_id],
    )


def begin_run(ws: Workspace, run: RunDir, device: str, owner: Owner | None = None) -> None:
    """Insert the run's row, as running on ``device`` in ``owner`` (default: this process), from its config."""
    config = run.read_config()
    with ws.transaction() as con:
        _insert_run(con, _run_row(config, RUNNING, device))
        _set_owner(con, config["run_id"], owner or this_process())


def check_resumable(row: RunRow) -> None:
    """Refuse to resume a finished run, or one whose process still runs (here, or on another host)."""
    if row.status == FINISHED:
        raise PrefstudyError(f"run {row.id} is already finished; start a new run instead")
    if row.status == RUNNING and row.owner is not None and owner_alive(row.owner) is not False:
        raise PrefstudyError(
            f"run {row.id} is still running ({row.owner.describe()}); let it finish, or stop that process first"
        )


def claim_run(ws: Workspace, run_id: str, owner: Owner | None = None) -> None:
    """Mark an unfinished run running again, in ``owner`` (default: this process), to resume it."""
    with ws.transaction() as con:  # the check and the claim in one transaction: no other process between
        check_resumable(get_run(ws, run_id))
        con.execute("UPDATE runs SET status = ?, error = NULL WHERE id = ?", [RUNNING, run_id])
        _set_owner(con, run_id, owner or this_process())


def mark_run(ws: Workspace, run_id: str, status: str, error: str | None = None) -> None:
    """Set a run's status (e.g. failed or interrupted, with the error); :func:`claim_run` resumes one."""
    with ws.transaction() as con:
        con.execute("UPDATE runs SET status = ?, error = ? WHERE id = ?", [status, error, run_id])


def _write_finished(con: duckdb.DuckDBPyConnection, run: RunDir) -> str:
    config, result = run.read_config(), run.read_result()
    run_id = result["run_id"]
    if first_row(con, "SELECT 1 FROM runs WHERE id = ?", [run_id]) is None:  # made elsewhere
        _insert_run(con, _run_row(config, FINISHED, result["device"]))
    con.execute(
        "UPDATE runs SET status = ?, best_epoch = ?, finished_at = current_timestamp, duration_s = ?, "
        "train_images_per_s = ?, error = NULL WHERE id = ?",
        [FINISHED, result["best_epoch"], result["duration_s"], result["train_images_per_s"], run_id],
    )
    # A resumed run may have recorded partial results before; replace them.
    for table in ("metrics", "predictions", "epochs"):
        con.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id])
    for split, m in result["metrics"].items():
        con.execute(
            "INSERT INTO metrics (run_id, split, tp, fp, fn, tn, n, accuracy, spearman, n_rated) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                split,
                m["tp"],
                m["fp"],
                m["fn"],
                m["tn"],
                m["n"],
                m["accuracy"],
                m.get("spearman"),
                m.get("n_rated"),
            ],
        )
    for h in result["history"]:
        con.execute(
            "INSERT INTO epochs (run_id, epoch, train_loss, train_accuracy, val_loss, val_accuracy, seconds) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [run_id, h["epoch"], h["train_loss"], h["train_accuracy"], h["val_loss"], h["val_accuracy"], h["seconds"]],
        )
    source = f"read_parquet('{sql_path(run.predictions)}')"
    has_rating = "rating" in {c for (c, *_) in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
    con.execute(  # run directories made before ratings existed have no rating column
        "INSERT INTO predictions (run_id, dataset, item_idx, split, label, p_preferred, rating) "
        f"SELECT ?, ?, item_idx, split, label, p_preferred, {'rating' if has_rating else 'NULL'} FROM {source}",
        [run_id, result["dataset"]],
    )
    return run_id


def record_runs(ws: Workspace, runs: Iterable[RunDir]) -> list[str]:
    """Record finished run directories (made here or elsewhere) in one transaction; returns their ids."""
    with ws.transaction() as con:
        return [_write_finished(con, run) for run in runs]


# --- reading -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunRow:
    """A run as the database holds it."""

    id: str
    subject: str
    dataset: str
    backbone: str
    protocol: str
    parent_run: str | None
    seed: int
    epochs: int
    config: dict[str, Any]
    labels_digest: str
    status: str
    error: str | None
    best_epoch: int | None
    device: str | None
    duration_s: float | None
    train_images_per_s: float | None
    precision: str | None
    owner: Owner | None = None  # the process a running run lives in (none for runs made elsewhere)
    created_at: datetime | None = None

    @property
    def settings(self) -> dict[str, Any]:
        """Every setting, those added since the run was made at their defaults."""
        return {**DEFAULT_SETTINGS, **self.config["settings"]}

    @property
    def transfer(self) -> dict[str, Any] | None:
        """What a transfer run records about its start (source run and dataset, mode, adapt), else None."""
        return self.config.get("transfer")


_ROW_SELECT = (
    "SELECT id, subject, dataset, backbone, protocol, parent_run, seed, epochs, config, labels_digest, status, "
    "error, best_epoch, device, duration_s, train_images_per_s, precision, owner_pid, owner_host, owner_started, "
    "created_at FROM runs"
)


def _run_rows(con: duckdb.DuckDBPyConnection, where: str = "", params: list[Any] | None = None) -> list[RunRow]:
    rows = con.execute(f"{_ROW_SELECT} {where} ORDER BY created_at, id", params or []).fetchall()
    out = []
    for row in rows:
        pid, host, started, created_at = row[17:]
        owner = Owner(pid, host, started) if pid is not None and host is not None else None
        out.append(RunRow(*row[:8], json.loads(row[8]), *row[9:17], owner=owner, created_at=created_at))
    return out


def list_runs(ws: Workspace, statuses: Collection[str] | None = None) -> list[RunRow]:
    """The study's runs (those with one of ``statuses``, if given), oldest first.

    A running run whose process on this host has gone is marked interrupted first; one on
    another host stays running (its executor tracks it).
    """
    with ws.transaction() as con:
        for row in _run_rows(con, "WHERE status = ?", [RUNNING]):
            if row.owner is not None and owner_alive(row.owner) is False:
                gone = (
                    f"its process ({row.owner.describe()}) ended before the run finished; "
                    f"continue with `prefstudy run --resume {row.id}`"
                )
                con.execute(
                    "UPDATE runs SET status = ?, error = ? WHERE id = ? AND status = ?",
                    [INTERRUPTED, gone, row.id, RUNNING],
                )
        if statuses is None:
            return _run_rows(con)
        return _run_rows(con, "WHERE status IN (SELECT unnest(?))", [sorted(statuses)])


def get_run(ws: Workspace, run_id: str) -> RunRow:
    """A run's row; an unknown id fails with a hint."""
    with ws.connect() as con:
        rows = _run_rows(con, "WHERE id = ?", [run_id])
    if not rows:
        raise PrefstudyError(f"no run {run_id!r} in this study; see `prefstudy report`")
    return rows[0]


def run_ids(ws: Workspace) -> set[str]:
    """The id of every run recorded in the study, whatever its status."""
    with ws.connect() as con:
        return {r for (r,) in con.execute("SELECT id FROM runs").fetchall()}


def finished_runs(ws: Workspace, subject: str | None = None, dataset: str | None = None) -> list[RunRow]:
    """The finished runs (of one subject and/or dataset, if given), oldest first."""
    where, params = ["status = ?"], [FINISHED]
    for column, value in (("subject", subject), ("dataset", dataset)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    with ws.connect() as con:
        return _run_rows(con, "WHERE " + " AND ".join(where), params)


def run_rank_scores(ws: Workspace, ids: Iterable[str]) -> dict[str, dict[str, RankScore]]:
    """run id -> split -> Spearman's rho over the split's rated items, for the runs of rated subjects."""
    with ws.connect() as con:
        rows = con.execute(
            "SELECT run_id, split, spearman, n_rated FROM metrics WHERE n_rated IS NOT NULL "
            "AND run_id IN (SELECT unnest(?))",
            [sorted(set(ids))],
        ).fetchall()
    out: dict[str, dict[str, RankScore]] = {}
    for run_id, split, rho, n in rows:
        out.setdefault(run_id, {})[split] = RankScore(float("nan") if rho is None else rho, n)
    return out


def run_metrics(ws: Workspace, ids: Iterable[str] | None = None) -> dict[str, dict[str, Confusion]]:
    """run id -> split -> confusion counts, for the given runs (or all)."""
    where, params = ("", []) if ids is None else ("WHERE run_id IN (SELECT unnest(?))", [sorted(set(ids))])
    with ws.connect() as con:
        rows = con.execute(f"SELECT run_id, split, tp, fp, fn, tn FROM metrics {where}", params).fetchall()
    out: dict[str, dict[str, Confusion]] = {}
    for run_id, split, tp, fp, fn, tn in rows:
        out.setdefault(run_id, {})[split] = Confusion(tp, fp, fn, tn)
    return out


def epoch_histories(ws: Workspace, ids: Iterable[str]) -> dict[str, list[tuple[int, float, float | None]]]:
    """run id -> (epoch, train accuracy, validation accuracy or None) per epoch, for the given runs."""
    with ws.connect() as con:
        rows = con.execute(
            "SELECT run_id, epoch, train_accuracy, val_accuracy FROM epochs WHERE run_id IN (SELECT unnest(?)) "
            "ORDER BY run_id, epoch",
            [sorted(set(ids))],
        ).fetchall()
    out: dict[str, list[tuple[int, float, float | None]]] = {}
    for run_id, *point in rows:
        out.setdefault(run_id, []).append(tuple(point))
    return out


@dataclass(frozen=True)
class Prediction:
    item_idx: int
    split: str
    label: bool | None  # the subject's answer; None for a rated subject's tie
    p_preferred: float
    rating: float | None = None  # a rated subject's rating


def predictions(ws: Workspace, run_id: str) -> list[Prediction]:
    """Every labelled item's prediction in a run, by item."""
    return predictions_by_run(ws, [run_id]).get(run_id, [])


def predictions_by_run(ws: Workspace, ids: Iterable[str], split: str | None = None) -> dict[str, list[Prediction]]:
    """run id -> predictions by item, for the given runs (and only ``split``, if given)."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    where, params = "run_id IN (SELECT unnest(?))", [ids]
    if split is not None:
        where += " AND split = ?"
        params.append(split)
    with ws.connect() as con:
        rows = con.execute(
            f"SELECT run_id, item_idx, split, label, p_preferred, rating FROM predictions WHERE {where} "
            "ORDER BY run_id, item_idx",
            params,
        ).fetchall()
    out: dict[str, list[Prediction]] = {}
    for run_id, *fields in rows:
        out.setdefault(run_id, []).append(Prediction(*fields))
    return out


def prediction_columns(ws: Workspace, ids: Iterable[str], split: str | None = None) -> dict[str, np.ndarray]:
    """The predictions of many runs as columns (run_id, item_idx, split, label, p_preferred, rating), by run and item.

    ``label`` is an object column (None for a tie); ``rating`` NaN where there is none.
    """
    where, params = "run_id IN (SELECT unnest(?))", [sorted(set(ids))]
    if split is not None:
        where += " AND split = ?"
        params.append(split)
    with ws.connect() as con:
        out = con.execute(
            "SELECT run_id, item_idx, split, label, p_preferred, coalesce(rating, 'NaN'::DOUBLE) AS rating "
            f"FROM predictions WHERE {where} ORDER BY run_id, item_idx",
            params,
        ).fetchnumpy()
    label = out["label"]
    mask = np.ma.getmaskarray(label)
    out["label"] = np.where(mask, None, np.ma.getdata(label).astype(object))
    return {k: np.asarray(v) for k, v in out.items()}


def run_result(ws: Workspace, run_id: str) -> dict[str, Any]:
    """The `prefstudy run --json` object of a recorded run."""
    with ws.connect() as con:
        row = get_run(ws, run_id)
        history = con.execute(
            f"SELECT {', '.join(HISTORY_FIELDS)} FROM epochs WHERE run_id = ? ORDER BY epoch", [run_id]
        ).fetchall()
        metrics = run_metrics(ws, [run_id]).get(run_id, {})
        ranks = run_rank_scores(ws, [run_id]).get(run_id, {})
    return result_object(
        row.config,
        status=row.status,
        device=row.device,
        precision=row.precision,
        best_epoch=row.best_epoch,
        duration_s=row.duration_s,
        train_images_per_s=row.train_images_per_s,
        metrics=metrics,
        history=[dict(zip(HISTORY_FIELDS, h, strict=True)) for h in history],
        ranks=ranks,
    )
