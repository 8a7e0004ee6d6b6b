"""Labels: writing them (from any source), reading the ones a model learns from, and CSV import/export.

A label CSV has a header and the columns ``key,preferred[,rt_ms]``; ``preferred`` is
1/0, true/false, yes/no or y/n. An import is all-or-nothing: every bad row is reported with
its line number and nothing is written.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np

from prefstudy.datasets import get_dataset
from prefstudy.errors import LabelFileError, PrefstudyError
from prefstudy.store import scalar
from prefstudy.subjects.registry import HUMAN, ensure_subject, require_subject
from prefstudy.workspace import Workspace

TRUE_WORDS = {"1", "true", "yes", "y", "preferred", "t"}
FALSE_WORDS = {"0", "false", "no", "n", "not preferred", "not_preferred", "f"}
LABEL_COLUMNS = (
    "subject",
    "dataset",
    "item_idx",
    "preferred",
    "rt_ms",
    "deadline_ms",
    "timed_out",
    "session",
    "block",
    "trial",
    "shown_at",
    "region",
    "repeat_of",
    "source",
)


def new_session(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def insert_labels(con: duckdb.DuckDBPyConnection, rows: dict[str, np.ndarray]) -> int:
    """Insert labels given as columns (any subset of LABEL_COLUMNS; the rest default). Returns the count."""
    unknown = set(rows) - set(LABEL_COLUMNS)
    if unknown:
        raise ValueError(f"unknown label columns: {sorted(unknown)}")
    columns = list(rows)
    con.register("new_labels", rows)
    try:
        con.execute(f"INSERT INTO labels ({', '.join(columns)}) SELECT {', '.join(columns)} FROM new_labels")
    finally:
        con.unregister("new_labels")
    return len(next(iter(rows.values())))


def label_count(ws: Workspace, subject: str, dataset: str) -> int:
    """How many labels (of any kind) the subject has on the dataset."""
    with ws.connect() as con:
        return scalar(con, "SELECT count(*) FROM labels WHERE subject = ? AND dataset = ?", [subject, dataset])


@dataclass(frozen=True)
class UsableLabels:
    """The labels a model learns from: one answer per item (the latest non-repeat, non-timed-out one)."""

    item_idx: np.ndarray  # int64, sorted
    preferred: np.ndarray  # bool
    digest: str  # identifies exactly this set of answers


def usable_labels(ws: Workspace, subject: str, dataset: str) -> UsableLabels:
    with ws.connect() as con:
        result = con.execute(
            """
            SELECT item_idx, arg_max(preferred, id) AS preferred
            FROM labels
            WHERE subject = ? AND dataset = ? AND NOT timed_out AND repeat_of IS NULL AND preferred IS NOT NULL
            GROUP BY item_idx ORDER BY item_idx
            """,
            [subject, dataset],
        ).fetchnumpy()
    idx = np.asarray(result["item_idx"], dtype=np.int64)
    preferred = np.asarray(result["preferred"], dtype=bool)
    digest = hashlib.sha256(idx.tobytes() + np.packbits(preferred).tobytes()).hexdigest()[:16]
    return UsableLabels(idx, preferred, digest)


def label_regions(ws: Workspace, subject: str, dataset: str) -> dict[int, tuple[float, float, float, float]]:
    """The region (the subject's reason) of each item whose usable answer carries one."""
    with ws.connect() as con:
        rows = con.execute(
            """
            SELECT item_idx, arg_max_null(region, id) FROM labels
            WHERE subject = ? AND dataset = ? AND NOT timed_out AND repeat_of IS NULL AND preferred IS NOT NULL
            GROUP BY item_idx
            """,
            [subject, dataset],
        ).fetchall()
    return {int(i): tuple(region) for i, region in rows if region is not None}


def _parse_preferred(value: str) -> bool | None:
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


def import_labels(ws: Workspace, path: Path, subject: str, dataset: str) -> int:
    """Import a person's labels from CSV, all or nothing; returns the number imported."""
    info = get_dataset(ws, dataset)
    path = Path(path)
    if not path.is_file():
        raise PrefstudyError(f"label file {path} not found")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise PrefstudyError(f"{path} is not a UTF-8 text file; export it as CSV") from None
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    if header[:2] != ["key", "preferred"] or any(h not in ("key", "preferred", "rt_ms") for h in header):
        raise PrefstudyError(f"{path}: the header must be key,preferred[,rt_ms], got {','.join(header) or 'nothing'}")
    with ws.connect() as con:
        keys = con.execute("SELECT key, idx FROM items WHERE dataset = ?", [dataset]).fetchall()
    idx_of = dict(keys)
    problems: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    items, answers, rts = [], [], []
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append((line, f"expected {len(header)} columns, got {len(row)}"))
            continue
        record = dict(zip(header, (cell.strip() for cell in row), strict=True))
        key = record["key"]
        if key not in idx_of:
            problems.append((line, f"unknown key {key!r} in dataset {dataset!r}"))
        elif key in seen:
            problems.append((line, f"key {key!r} already labelled on line {seen[key]}"))
        answer = _parse_preferred(record["preferred"])
        if answer is None:
            problems.append((line, f"preferred must be 1/0, true/false or yes/no, got {record['preferred']!r}"))
        rt = math.nan
        if record.get("rt_ms"):
            try:
                rt = float(record["rt_ms"])
                if not rt >= 0:
                    raise ValueError
            except ValueError:
                problems.append((line, f"rt_ms must be a non-negative number, got {record['rt_ms']!r}"))
        seen.setdefault(key, line)
        if key in idx_of and answer is not None:
            items.append(idx_of[key])
            answers.append(answer)
            rts.append(rt)
    if problems:
        raise LabelFileError(str(path), problems)
    if not items:
        raise PrefstudyError(f"{path} has no label rows")
    n = len(items)
    with ws.transaction() as con:
        ensure_subject(con, subject, HUMAN)
        insert_labels(
            con,
            {
                "subject": np.full(n, subject, dtype=object),
                "dataset": np.full(n, info.name, dtype=object),
                "item_idx": np.array(items, dtype=np.int32),
                "preferred": np.array(answers, dtype=bool),
                "rt_ms": np.where(np.isnan(rts), None, np.array(rts, dtype=object)),
                "session": np.full(n, new_session("import"), dtype=object),
                "trial": np.arange(1, n + 1, dtype=np.int32),
                "source": np.full(n, "import", dtype=object),
            },
        )
    return n


EXPORT_QUERY = """
    SELECT l.dataset, i.key, l.preferred, l.rt_ms, l.deadline_ms, l.timed_out, l.session, l.block, l.trial,
           l.shown_at, l.region, l.repeat_of, l.source, l.id AS label_id
    FROM labels l JOIN items i ON i.dataset = l.dataset AND i.idx = l.item_idx
    WHERE l.subject = ? {dataset_filter}
    ORDER BY l.dataset, l.id
"""


def export_labels(ws: Workspace, subject: str, out: Path | None, fmt: str, dataset: str | None = None) -> str | None:
    """Export every label of a subject as CSV (to ``out`` or returned as text) or Parquet (to ``out``)."""
    require_subject(ws, subject)
    if fmt not in ("csv", "parquet"):
        raise PrefstudyError(f"unknown export format {fmt!r}; use csv or parquet")
    if fmt == "parquet" and out is None:
        raise PrefstudyError("parquet export needs --out FILE")
    if dataset is not None:
        get_dataset(ws, dataset)
    query = EXPORT_QUERY.format(dataset_filter="AND l.dataset = ?" if dataset else "")
    params = [subject, dataset] if dataset else [subject]
    with ws.connect() as con:
        if out is not None:
            out = Path(out)
            tmp = out.with_name(out.name + ".tmp")
            options = "FORMAT parquet" if fmt == "parquet" else "FORMAT csv, HEADER"
            con.execute(f"COPY ({query}) TO '{_sql_path(tmp)}' ({options})", params)
            tmp.replace(out)
            return None
        relation = con.execute(query, params)
        columns = [d[0] for d in relation.description]
        rows = relation.fetchall()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if v is None else _csv_value(v) for v in row])
    return buffer.getvalue()


def _csv_value(value: object) -> object:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, list):
        return " ".join(f"{v:g}" for v in value)
    return value


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")
