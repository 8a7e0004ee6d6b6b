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
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np

from prefstudy.errors import PrefstudyError
from prefstudy.metrics import Confusion, RankScore
from prefstudy.runs.result import HISTORY_FIELDS, described
from prefstudy.runs.result import SPLIT_ORDER as SPLIT_ORDER  # re-exported
from prefstudy.runs.result import result_object as result_object  # re-exported: part of the record
from prefstudy.runs.row import RunRow as RunRow  # re-exported: a run as the database holds it
from prefstudy.runs.row import check_resumable as check_resumable  # re-exported
from prefstudy.runs.rundir import RunDir as RunDir  # re-exported: the run directory is part of the record
from prefstudy.runs.status import FAILED as FAILED  # re-exported: callers take every status from here
from prefstudy.runs.status import FINISHED, INTERRUPTED, QUEUED, RUNNING, Owner, owner_alive, this_process
from prefstudy.store import registered_columns, registered_rows
from prefstudy.workspace import Workspace


def run_dir(ws: Workspace, run_id: str) -> RunDir:
    """The directory of run ``run_id`` in the study."""
    return RunDir(ws.run_dir(run_id))


def new_run_id(subject: str, dataset: str, protocol: str) -> str:
    return f"{subject}-{dataset}-{protocol}-{uuid.uuid4().hex[:6]}"


# --- writing -------------------------------------------------------------------------------------

_WHAT_RUNS = ("id", "subject", "dataset", "backbone", "protocol", "parent_run", "seed", "epochs", "config")
_RUN_COLUMNS = (*_WHAT_RUNS, "labels_digest", "status", "device", "versions", "precision")


def _run_row(config: dict[str, Any], status: str, device: str) -> list[Any]:
    """The values of _RUN_COLUMNS for a run with ``config`` (as in config.json, versions included)."""
    config = dict(config)
    versions = config.pop("versions", {})
    d = described(config)
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


def claim_run(ws: Workspace, run_id: str, owner: Owner | None = None) -> None:
    """Mark an unfinished run running again, in ``owner`` (default: this process), to resume it."""
    with ws.transaction() as con:  # the check and the claim in one transaction: no other process between
        check_resumable(get_run(ws, run_id))
        con.execute(
            "UPDATE runs SET status = ?, error = NULL, executor = NULL, job_id = NULL WHERE id = ?", [RUNNING, run_id]
        )
        _set_owner(con, run_id, owner or this_process())


def mark_run(ws: Workspace, run_id: str, status: str, error: str | None = None) -> None:
    """Set a run's status (e.g. failed or interrupted, with the error); :func:`claim_run` resumes one."""
    with ws.transaction() as con:
        con.execute("UPDATE runs SET status = ?, error = ? WHERE id = ?", [status, error, run_id])


def queue_runs(ws: Workspace, configs: list[dict[str, Any]], executor: str, owner: Owner | None) -> None:
    """Record runs handed to ``executor`` as queued, in one transaction (an unfinished run's row is reused).

    ``owner`` is the driver whose end ends them (a local pool, a Ray job), or None where they outlive
    it (Slurm jobs): those stay queued or running until a driver asks their executor about them.
    """
    if not configs:
        return
    ids = [config["run_id"] for config in configs]
    with ws.transaction() as con:
        held = dict(con.execute("SELECT id, status FROM runs WHERE id IN (SELECT unnest(?))", [ids]).fetchall())
        if finished := [run_id for run_id in ids if held.get(run_id) == FINISHED]:
            raise PrefstudyError(f"run {finished[0]} is already finished")
        if new := [_run_row(c, QUEUED, c.get("device", "auto")) for c in configs if c["run_id"] not in held]:
            columns = ", ".join(_RUN_COLUMNS)
            with registered_rows(con, "incoming_runs", new, _RUN_COLUMNS):
                con.execute(f"INSERT INTO runs ({columns}) SELECT {columns} FROM incoming_runs")
        con.execute(
            "UPDATE runs SET status = ?, error = NULL, executor = ?, job_id = NULL, owner_pid = ?, "
            "owner_host = ?, owner_started = ? WHERE id IN (SELECT unnest(?))",
            [QUEUED, executor, *((owner.pid, owner.host, owner.started) if owner else (None,) * 3), ids],
        )


def mark_submitted(ws: Workspace, job_ids: dict[str, str]) -> None:
    """Record the executor's job id of each run (run id -> job id), and one more attempt."""
    if not job_ids:
        return
    columns = {"id": np.array(list(job_ids), dtype=object), "job_id": np.array(list(job_ids.values()), dtype=object)}
    with ws.transaction() as con, registered_columns(con, "submitted", columns):
        con.execute(
            "UPDATE runs SET job_id = s.job_id, attempts = coalesce(attempts, 0) + 1 FROM submitted s "
            "WHERE runs.id = s.id"
        )


def mark_runs(ws: Workspace, run_ids: Iterable[str], status: str, error: str | None = None) -> None:
    """Set many runs' status at once (e.g. queued runs a worker took, now running), in one transaction."""
    with ws.transaction() as con:
        con.execute(
            "UPDATE runs SET status = ?, error = ? WHERE id IN (SELECT unnest(?)) AND status <> ?",
            [status, error, sorted(set(run_ids)), FINISHED],
        )


_FINAL_COLUMNS = ("id", "status", "error", "best_epoch", "duration_s", "train_images_per_s", "finished")
_METRIC_COLUMNS = ("run_id", "split", "tp", "fp", "fn", "tn", "n", "accuracy", "spearman", "n_rated")
_EPOCH_COLUMNS = ("run_id", "epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds")


def _final_values(result: dict[str, Any]) -> list[Any]:
    if result.get("status") == FAILED:
        return [result["run_id"], FAILED, result.get("error") or "failed", None, result.get("duration_s"), None, False]
    return [
        result["run_id"],
        FINISHED,
        None,
        result["best_epoch"],
        result["duration_s"],
        result["train_images_per_s"],
        True,
    ]


def _write_runs(con: duckdb.DuckDBPyConnection, runs: list[tuple[RunDir, dict[str, Any], dict[str, Any]]]) -> None:
    """Every row of finished or failed runs, set-based: a run made elsewhere is inserted, a queued one brought
    up to its directory's config (a worker's, complete) and final state; earlier partial results are replaced."""
    ids = [result["run_id"] for _, _, result in runs]
    known = {r for (r,) in con.execute("SELECT id FROM runs WHERE id IN (SELECT unnest(?))", [ids]).fetchall()}
    rows = [
        _run_row(config, result["status"], result.get("device") or config.get("device", "auto"))
        for _, config, result in runs
    ]
    columns = ", ".join(_RUN_COLUMNS)
    if new := [row for row in rows if row[0] not in known]:
        with registered_rows(con, "incoming_runs", new, _RUN_COLUMNS):
            con.execute(f"INSERT INTO runs ({columns}) SELECT {columns} FROM incoming_runs")
    if present := [row for row in rows if row[0] in known]:
        updated = ("config", "device", "versions", "precision")
        with registered_rows(con, "incoming_runs", present, _RUN_COLUMNS):
            con.execute(
                f"UPDATE runs SET {', '.join(f'{c} = i.{c}' for c in updated)} FROM incoming_runs i "
                "WHERE runs.id = i.id"
            )
    with registered_rows(con, "final", [_final_values(r) for _, _, r in runs], _FINAL_COLUMNS):
        con.execute(
            "UPDATE runs SET status = f.status, error = f.error, best_epoch = CAST(f.best_epoch AS INTEGER), "
            "duration_s = CAST(f.duration_s AS DOUBLE), train_images_per_s = CAST(f.train_images_per_s AS DOUBLE), "
            "finished_at = CASE WHEN f.finished THEN current_timestamp ELSE runs.finished_at END "
            "FROM final f WHERE runs.id = f.id"
        )
    finished = [(run, result) for run, _, result in runs if result.get("status") != FAILED]
    done = [result["run_id"] for _, result in finished]
    if not done:
        return
    for table in ("metrics", "predictions", "epochs"):  # a resumed run may have recorded partial results before
        con.execute(f"DELETE FROM {table} WHERE run_id IN (SELECT unnest(?))", [done])
    metrics = [
        [result["run_id"], split, *(m.get(f) for f in _METRIC_COLUMNS[2:])]
        for _, result in finished
        for split, m in result["metrics"].items()
    ]
    if metrics:
        with registered_rows(con, "incoming_metrics", metrics, _METRIC_COLUMNS):
            con.execute(
                f"INSERT INTO metrics ({', '.join(_METRIC_COLUMNS)}) SELECT run_id, split, tp, fp, fn, tn, n, "
                "accuracy, CAST(spearman AS DOUBLE), CAST(n_rated AS INTEGER) FROM incoming_metrics"
            )
    epochs = [
        [result["run_id"], *(h[f] for f in _EPOCH_COLUMNS[1:])] for _, result in finished for h in result["history"]
    ]
    if epochs:
        with registered_rows(con, "incoming_epochs", epochs, _EPOCH_COLUMNS):
            con.execute(
                f"INSERT INTO epochs ({', '.join(_EPOCH_COLUMNS)}) SELECT run_id, CAST(epoch AS INTEGER), "
                "CAST(train_loss AS DOUBLE), CAST(train_accuracy AS DOUBLE), CAST(val_loss AS DOUBLE), "
                "CAST(val_accuracy AS DOUBLE), CAST(seconds AS DOUBLE) FROM incoming_epochs"
            )
    _insert_predictions(con, finished)


def _insert_predictions(con: duckdb.DuckDBPyConnection, finished: list[tuple[RunDir, dict[str, Any]]]) -> None:
    """Every finished run's ``predictions.parquet``, read in one scan (files from before ratings lack that column)."""
    files = [str(run.predictions) for run, _ in finished]
    owners = {
        "file": np.array(files, dtype=object),
        "run_id": np.array([result["run_id"] for _, result in finished], dtype=object),
        "dataset": np.array([result["dataset"] for _, result in finished], dtype=object),
    }
    scan = "read_parquet(?, filename = true, union_by_name = true)"
    has_rating = "rating" in {c for (c, *_) in con.execute(f"DESCRIBE SELECT * FROM {scan}", [files]).fetchall()}
    with registered_columns(con, "prediction_files", owners):
        con.execute(
            "INSERT INTO predictions (run_id, dataset, item_idx, split, label, p_preferred, rating) "
            "SELECT f.run_id, f.dataset, p.item_idx, p.split, p.label, p.p_preferred, "
            f"{'p.rating' if has_rating else 'NULL'} "
            f"FROM {scan} p JOIN prediction_files f "
            "ON p.filename = f.file",
            [files],
        )


def record_runs(ws: Workspace, runs: Iterable[RunDir]) -> list[str]:
    """Record finished or failed run directories (made here or elsewhere) in one transaction; returns their ids.

    A run already in the study (queued, running, interrupted or failed) moves to its final state. The
    rows of many runs are written together (a study of heads lands thousands of runs a minute).
    """
    return record_read_runs(ws, [(run, run.read_config(), run.read_result()) for run in runs])


def record_read_runs(ws: Workspace, read: list[tuple[RunDir, dict[str, Any], dict[str, Any]]]) -> list[str]:
    """:func:`record_runs` of directories whose ``config.json`` and ``result.json`` the caller read already."""
    for _, _, result in read:
        if result.get("status") not in (FINISHED, FAILED):
            raise PrefstudyError(f"run {result.get('run_id')} is {result.get('status')}, neither finished nor failed")
    if not read:
        return []
    with ws.transaction() as con:
        _write_runs(con, read)
    return [result["run_id"] for _, _, result in read]


# --- reading -------------------------------------------------------------------------------------


_ROW_SELECT = (
    "SELECT id, subject, dataset, backbone, protocol, parent_run, seed, epochs, config, labels_digest, status, "
    "error, best_epoch, device, duration_s, train_images_per_s, precision, owner_pid, owner_host, owner_started, "
    "created_at, executor, job_id, attempts FROM runs"
)


def _run_rows(con: duckdb.DuckDBPyConnection, where: str = "", params: list[Any] | None = None) -> list[RunRow]:
    rows = con.execute(f"{_ROW_SELECT} {where} ORDER BY created_at, id", params or []).fetchall()
    out = []
    for row in rows:
        pid, host, started, created_at, executor, job_id, attempts = row[17:]
        owner = Owner(pid, host, started) if pid is not None and host is not None else None
        out.append(
            RunRow(
                *row[:8],
                json.loads(row[8]),
                *row[9:17],
                owner=owner,
                created_at=created_at,
                executor=executor,
                job_id=job_id,
                attempts=attempts,
            )
        )
    return out


def list_runs(ws: Workspace, statuses: Collection[str] | None = None) -> list[RunRow]:
    """The study's runs (those with one of ``statuses``, if given), oldest first.

    A queued or running run whose process on this host has gone is marked interrupted first; one
    on another host, or held by a Slurm job, stays as it is (its executor tracks it).
    """
    with ws.transaction() as con:
        for row in _run_rows(con, "WHERE status IN (?, ?)", [QUEUED, RUNNING]):
            if row.owner is not None and owner_alive(row.owner) is False:
                gone = (
                    f"its process ({row.owner.describe()}) ended before the run finished; "
                    f"continue with `prefstudy run --resume {row.id}`"
                )
                con.execute(
                    "UPDATE runs SET status = ?, error = ? WHERE id = ? AND status = ?",
                    [INTERRUPTED, gone, row.id, row.status],
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


def run_statuses(ws: Workspace, ids: Iterable[str]) -> dict[str, str]:
    """run id -> status, for those of ``ids`` the study holds."""
    with ws.connect() as con:
        rows = con.execute("SELECT id, status FROM runs WHERE id IN (SELECT unnest(?))", [sorted(set(ids))]).fetchall()
    return dict(rows)


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
    get_run(ws, run_id)  # an unknown id fails with a hint
    return run_results(ws, [run_id])[run_id]


def run_results(ws: Workspace, run_ids: Collection[str]) -> dict[str, dict[str, Any]]:
    """run id -> its `prefstudy run --json` object, read together for many runs (those the study holds)."""
    ids = sorted(set(run_ids))
    with ws.connect() as con:
        rows = _run_rows(con, "WHERE id IN (SELECT unnest(?))", [ids])
        history: dict[str, list[dict[str, Any]]] = {}
        for run_id, *h in con.execute(
            f"SELECT run_id, {', '.join(HISTORY_FIELDS)} FROM epochs WHERE run_id IN (SELECT unnest(?)) "
            "ORDER BY run_id, epoch",
            [ids],
        ).fetchall():
            history.setdefault(run_id, []).append(dict(zip(HISTORY_FIELDS, h, strict=True)))
        metrics = run_metrics(ws, ids)
        ranks = run_rank_scores(ws, ids)
    return {
        row.id: result_object(
            row.config,
            status=row.status,
            device=row.device,
            precision=row.precision,
            best_epoch=row.best_epoch,
            duration_s=row.duration_s,
            train_images_per_s=row.train_images_per_s,
            metrics=metrics.get(row.id, {}),
            history=history.get(row.id, []),
            ranks=ranks.get(row.id, {}),
        )
        for row in rows
    }
