"""`prefstudy study check`: is the study whole? Its database read through, its runs and caches consistent.

The database: its file is DuckDB's and whole, and every table reads to its last row. Then, when it
is: every finished run has its metrics, its predictions and a complete run directory; every run
directory has its row; every dataset's image cache matches its record and content hash.

:func:`repair_study` rebuilds what can be rebuilt: a damaged database becomes a fresh one holding
every table that still reads (the damaged file is kept beside it as ``<name>.damaged-<time>``),
and finished runs are recorded again from their run directories. What lived only in an unreadable
table (labels, datasets) is not invented: the verdict says what is lost and how to get it back.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from prefstudy.datasets.catalog import cache_problem, list_datasets
from prefstudy.errors import PrefstudyError
from prefstudy.features.store import file_sha256, list_features
from prefstudy.progress import Reporter, SilentReporter
from prefstudy.runs.record import RunDir, finished_runs, predictions_by_run, record_runs, run_ids, run_metrics
from prefstudy.store.connection import read_only
from prefstudy.store.integrity import first_line, header_problem, read_through, table_names, truncation_problem
from prefstudy.store.migrations import applied_versions
from prefstudy.store.salvage import salvage
from prefstudy.workspace import Workspace

DATABASE, RUN, RUN_DIRECTORY, DATASET, FEATURES = "database", "run", "run directory", "dataset", "features"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the study, and whether `study check --repair` mends it."""

    kind: str  # database, run, run directory, dataset
    name: str  # the file or table, run id, directory or dataset it is about
    message: str
    repairable: bool


@dataclass
class CheckResult:
    """The verdict: the rows of every table that read (None: it did not), and every problem found."""

    study: Path
    database: Path
    tables: dict[str, int | None] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)  # what --repair did

    @property
    def healthy(self) -> bool:
        return not self.problems

    @property
    def database_whole(self) -> bool:
        return not any(p.kind == DATABASE for p in self.problems)

    def to_dict(self) -> dict:
        return {
            "study": str(self.study),
            "database": str(self.database),
            "healthy": self.healthy,
            "tables": [
                {"name": name, "rows": rows, "readable": rows is not None} for name, rows in self.tables.items()
            ],
            "problems": [asdict(p) for p in self.problems],
            "repairs": self.repairs,
        }


def _scan_database(result: CheckResult, report: Reporter) -> None:
    db = result.database

    def damaged(name: str, message: str) -> None:
        result.problems.append(Problem(DATABASE, name, message, repairable=True))

    if not db.exists():
        damaged(db.name, "the database file is missing")
        return
    if problem := header_problem(db):
        damaged(db.name, f"the database file {problem}")
        return
    try:
        with read_only(db) as con:
            if problem := truncation_problem(con, db):
                damaged(db.name, f"the database file {problem}")
                return
            if applied_versions(con) is None:
                damaged(db.name, "the database has no schema_migrations table: it is not a prefstudy database")
                return
            tables = table_names(con)
            report.start(len(tables), "reading every table")
            for table in tables:
                try:
                    result.tables[table] = read_through(con, table)
                except Exception as error:  # any failure to read a table is what this check reports
                    result.tables[table] = None
                    damaged(table, f"table {table} does not read through ({first_line(error)})")
                report.advance()
    except PrefstudyError as error:
        damaged(db.name, str(error))


def _finished_dirs(ws: Workspace) -> dict[str, RunDir]:
    """Run id -> directory, for every run directory that holds a run."""
    if not ws.runs_dir.is_dir():
        return {}
    return {d.name: RunDir(d) for d in sorted(ws.runs_dir.iterdir()) if RunDir.holds_a_run(d)}


def _check_records(ws: Workspace, result: CheckResult, report: Reporter) -> None:
    finished = [r.id for r in finished_runs(ws)]
    metrics = run_metrics(ws, finished)
    with_predictions = set(predictions_by_run(ws, finished))
    for run_id in finished:
        run = RunDir(ws.run_dir(run_id))
        missing = run.missing()
        whole = not missing
        if missing:
            what = "its run directory is missing" if not run.path.is_dir() else f"its run directory lacks {missing}"
            result.problems.append(Problem(RUN, run_id, f"finished run {run_id}: {what}", repairable=False))
        if run_id not in metrics:
            result.problems.append(Problem(RUN, run_id, f"finished run {run_id} has no metrics", repairable=whole))
        if run_id not in with_predictions:
            result.problems.append(Problem(RUN, run_id, f"finished run {run_id} has no predictions", repairable=whole))
    recorded = run_ids(ws)
    for run_id, run in _finished_dirs(ws).items():
        if run_id not in recorded:
            whole = not run.missing()
            state = "a finished run" if whole else "an unfinished run"
            result.problems.append(
                Problem(RUN_DIRECTORY, run_id, f"run directory {run_id} ({state}) has no row", repairable=whole)
            )
    datasets = list_datasets(ws)
    report.start(len(datasets), "checking dataset caches")
    for info in datasets:
        if problem := cache_problem(ws, info.name):
            result.problems.append(Problem(DATASET, info.name, f"dataset {info.name}: {problem}", repairable=False))
        report.advance()
    _check_features(ws, result, report)


def _check_features(ws: Workspace, result: CheckResult, report: Reporter) -> None:
    """Every cached feature array is there, whole (its hash), and of the shape its row says."""
    stored = list_features(ws)
    report.start(len(stored), "checking cached features")
    for features in stored:
        name = f"{features.key.extractor} on {features.key.dataset}"
        path = features.path(ws)
        if not path.is_file():
            problem = f"features {name}: {features.file} is missing (the next run that needs them computes them)"
        elif file_sha256(path) != features.file_sha256:
            problem = f"features {name}: {features.file} has changed since it was written; delete it to recompute"
        elif features.load(ws).shape != (features.n_items, features.dim):
            problem = f"features {name}: {features.file} is not {features.n_items} x {features.dim}"
        else:
            problem = None
        if problem:
            result.problems.append(Problem(FEATURES, features.file, problem, repairable=False))
        report.advance()


def check_study(ws: Workspace, report: Reporter | None = None) -> CheckResult:
    """Read the study's database through and, when it is whole, check its runs and caches against it."""
    report = report or SilentReporter()
    result = CheckResult(study=ws.root, database=ws.db_path)
    _scan_database(result, report)
    if result.database_whole:
        with ws.connect():  # one connection for every record read
            _check_records(ws, result, report)
    else:
        for run_id, run in _finished_dirs(ws).items():
            if not run.missing():
                result.problems.append(
                    Problem(RUN_DIRECTORY, run_id, f"finished run {run_id} can be recorded again", repairable=True)
                )
    return result


def _rebuild_database(ws: Workspace, result: CheckResult) -> None:
    """Swap the damaged database for a fresh one holding every table that still reads; keep it aside."""
    db = ws.db_path
    fresh = db.with_name(f".{db.name}.repair-{os.getpid()}")
    fresh.unlink(missing_ok=True)
    copied = salvage(db, fresh)
    if db.exists():
        aside = db.with_name(f"{db.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        os.replace(db, aside)
        wal = db.with_name(db.name + ".wal")
        if wal.exists():
            os.replace(wal, aside.with_name(aside.name + ".wal"))
        result.repairs.append(f"kept the damaged database as {aside.name}")
    os.replace(fresh, db)
    kept = sum(rows is not None for rows in copied.values())
    result.repairs.append(f"built a new database with {kept} of {len(copied)} tables copied")
    for table, rows in copied.items():
        if rows is None:
            result.repairs.append(f"table {table} could not be read: its rows are not in the new database")


def repair_study(ws: Workspace, report: Reporter | None = None) -> CheckResult:
    """Rebuild what can be rebuilt, then check again; the returned verdict lists what is left and what was done."""
    report = report or SilentReporter()
    before = check_study(ws, report)
    repairs: list[str] = []
    if not before.database_whole:
        _rebuild_database(ws, before)
        repairs += before.repairs
        before = check_study(ws, report)
    rerecord = sorted({p.name for p in before.problems if p.repairable and p.kind in (RUN, RUN_DIRECTORY)})
    if rerecord:
        record_runs(ws, [RunDir(ws.run_dir(run_id)) for run_id in rerecord])
        repairs.append(f"recorded {len(rerecord)} finished run(s) from their run directories: {', '.join(rerecord)}")
    after = check_study(ws, report)
    after.repairs = repairs
    return after
