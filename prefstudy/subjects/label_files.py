"""Label files: a person's labels imported from CSV, and every label of a subject exported.

A label CSV has a header and the columns ``key,preferred[,rt_ms]``; ``preferred`` is
1/0, true/false, yes/no or y/n. An import is all-or-nothing: every bad row is reported with
its line number and nothing is written.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from prefstudy.bounds import RT_MS
from prefstudy.datasets.catalog import get_dataset, key_index
from prefstudy.errors import LabelFileError, PrefstudyError
from prefstudy.files import atomic_path
from prefstudy.subjects.labels import copy_export, export_rows, insert_labels, new_session
from prefstudy.subjects.roster import HUMAN, ensure_subject, require_subject
from prefstudy.workspace import Workspace

TRUE_WORDS = {"1", "true", "yes", "y", "preferred", "t"}
FALSE_WORDS = {"0", "false", "no", "n", "not preferred", "not_preferred", "f"}
EXPORT_FORMATS = ("csv", "parquet")


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
    try:
        return _import_rows(ws, path, reader, subject, info.name)
    except csv.Error as error:
        raise PrefstudyError(f"{path}: line {reader.line_num}: not a readable CSV row ({error})") from None


def _import_rows(ws: Workspace, path: Path, reader, subject: str, dataset: str) -> int:
    header = [h.strip().lower() for h in next(reader, [])]
    if header[:2] != ["key", "preferred"] or any(h not in ("key", "preferred", "rt_ms") for h in header):
        raise PrefstudyError(f"{path}: the header must be key,preferred[,rt_ms], got {','.join(header) or 'nothing'}")
    idx_of = key_index(ws, dataset)
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
                rt = RT_MS.parse("rt_ms", record["rt_ms"])
            except PrefstudyError as error:
                problems.append((line, f"{error} (milliseconds; the labelling page caps it the same way)"))
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
                "dataset": np.full(n, dataset, dtype=object),
                "item_idx": np.array(items, dtype=np.int32),
                "preferred": np.array(answers, dtype=bool),
                "rt_ms": np.where(np.isnan(rts), None, np.array(rts, dtype=object)),
                "session": np.full(n, new_session("import"), dtype=object),
                "trial": np.arange(1, n + 1, dtype=np.int32),
                "source": np.full(n, "import", dtype=object),
            },
        )
    return n


def export_labels(ws: Workspace, subject: str, out: Path | None, fmt: str, dataset: str | None = None) -> str | None:
    """Export every label of a subject as CSV (to ``out`` or returned as text) or Parquet (to ``out``)."""
    require_subject(ws, subject)
    if fmt not in EXPORT_FORMATS:
        raise PrefstudyError(f"unknown export format {fmt!r}; use csv or parquet")
    if fmt == "parquet" and out is None:
        raise PrefstudyError("parquet export needs --out FILE")
    if dataset is not None:
        get_dataset(ws, dataset)
    if out is not None:
        with atomic_path(Path(out)) as tmp:
            copy_export(ws, subject, dataset, tmp, fmt)
        return None
    columns, rows = export_rows(ws, subject, dataset)
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
