"""Each subject's test score per group, as a table for R or pandas: ``prefstudy report --per-subject FILE``.

One row per subject and group: the groups of the report's "Test accuracy across subjects" table, where each
subject counts once, by their latest run (or the latest run of each item fold, pooled). The columns are
:data:`COLUMNS`; the file is CSV or Parquet by its suffix, written by an in-memory DuckDB (no pandas).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from prefstudy.errors import PrefstudyError
from prefstudy.files import atomic_path
from prefstudy.report.groups import group_labels, latest_per_subject, pooled_score
from prefstudy.report.model import Report
from prefstudy.store import memory_cursor

COLUMNS: dict[str, str] = {
    "subject": "VARCHAR",
    "dataset": "VARCHAR",
    "backbone": "VARCHAR",  # the model as the report names it (a head run: extractor+head)
    "protocol": "VARCHAR",
    "transfer": "VARCHAR",  # e.g. "finetune from fm"; empty (null) from scratch
    "train_size": "INTEGER",  # the train labels asked for; null: all of the subject's
    "group": "VARCHAR",  # the report's group, as text: rows with the same group are one row of the groups table
    "folds": "INTEGER",  # fold runs pooled (1: one run)
    "runs": "VARCHAR",  # the run ids pooled, separated by spaces
    "n_test": "INTEGER",  # test items scored
    "correct": "INTEGER",
    "accuracy": "DOUBLE",
    "accuracy_low": "DOUBLE",  # Wilson 95 %
    "accuracy_high": "DOUBLE",
    "chance": "DOUBLE",  # the majority rate of the subject's own test labels
    "p_above_chance": "DOUBLE",  # exact binomial, one-sided
    "above_chance_holm": "BOOLEAN",  # after Holm over the group's subjects, at 0.05
    "rho": "DOUBLE",  # Spearman, p(preferred) against the ratings (a single run; null when folds are pooled)
    "rho_low": "DOUBLE",
    "rho_high": "DOUBLE",
    "n_rated": "INTEGER",
}
FORMATS = {".csv": "csv", ".parquet": "parquet"}


def per_subject_rows(report: Report) -> list[dict[str, Any]]:
    """The rows of the export, by group (as the groups table orders them), then subject."""
    rows = []
    by_group = latest_per_subject(report.runs)
    labels = group_labels(list(by_group))
    for key in sorted(by_group, key=_order):
        for subject in sorted(by_group[key]):
            runs = by_group[key][subject]
            score = pooled_score(runs)
            if score is None:
                continue
            latest = runs[-1]
            rows.append(
                {
                    "subject": subject,
                    "dataset": latest.dataset,
                    "backbone": latest.backbone,
                    "protocol": latest.protocol,
                    "transfer": latest.transfer,
                    "train_size": latest.train_size,
                    "group": f"{key[0]}, {key[1]}, {key[2]}, {labels[key]}",
                    "folds": len(runs),
                    "runs": " ".join(r.run_id for r in runs),
                    "n_test": score.n,
                    "correct": score.correct,
                    "accuracy": score.accuracy,
                    "accuracy_low": score.accuracy_low,
                    "accuracy_high": score.accuracy_high,
                    "chance": score.chance,
                    "p_above_chance": score.p_above_chance,
                    "above_chance_holm": latest.score.above_chance if latest.score is not None else None,
                    "rho": score.rho,
                    "rho_low": score.rho_low,
                    "rho_high": score.rho_high,
                    "n_rated": score.n_rated,
                }
            )
    return rows


def check_export_path(path: Path) -> str:
    """The export's format by the file's suffix (csv or parquet); another suffix is an error."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise PrefstudyError(f"--per-subject writes a .csv or .parquet file, not {Path(path).name!r}")
    return fmt


def write_per_subject(report: Report, path: Path) -> int:
    """Write :func:`per_subject_rows` to ``path`` (``.csv`` or ``.parquet``); returns the number of rows."""
    fmt = check_export_path(path)
    rows = per_subject_rows(report)
    # Object columns: None is NULL, and NaN (an undefined number) is written as NULL too.
    columns = {
        name: np.array([_null_nan(row[name]) for row in rows] or [None], dtype=object)[: len(rows)] for name in COLUMNS
    }
    with atomic_path(Path(path)) as tmp, memory_cursor() as con:
        con.register("per_subject", columns)
        table = con.table("per_subject").project(", ".join(f'CAST("{n}" AS {t}) AS "{n}"' for n, t in COLUMNS.items()))
        if fmt == "parquet":
            table.write_parquet(str(tmp))
        else:
            table.write_csv(str(tmp), header=True)
    return len(rows)


def _order(key: tuple) -> tuple:
    return tuple("" if v is None else str(v).zfill(9) for v in key)  # train sizes in numeric order


def _null_nan(value: Any) -> Any:
    return None if isinstance(value, float) and value != value else value
