"""A run directory ``runs/<id>/``: the one place its file names live, and how its files are read and written.

Writing the predictions goes through an in-memory DuckDB, never the study database, so a worker
on another machine can make a run directory that :func:`prefstudy.runs.record.record_runs` records.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from prefstudy.errors import PrefstudyError
from prefstudy.files import atomic_path, write_json_atomically
from prefstudy.store import memory_cursor, sql_path


@dataclass(frozen=True)
class RunDir:
    """A run directory ``runs/<id>/`` and the names of its files, which live here only."""

    path: Path

    CONFIG: ClassVar[str] = "config.json"  # the run's settings, input plan, transfer source, versions
    CHECKPOINT: ClassVar[str] = "checkpoint.pt"  # the last epoch, for --resume
    PREVIOUS_CHECKPOINT: ClassVar[str] = "checkpoint.prev.pt"  # the epoch before, if the last will not load
    MODEL: ClassVar[str] = "model.pt"  # the selected weights
    HEAD: ClassVar[str] = "head.npz"  # a head run's model instead: the head's arrays (no pickle)
    RESULT: ClassVar[str] = "result.json"  # the --json object: metrics and history
    PREDICTIONS: ClassVar[str] = "predictions.parquet"  # p(preferred) of every labelled item
    WORKER: ClassVar[str] = "worker.json"  # the host and process making it, written by a scale-out worker
    FINISHED_FILES: ClassVar[tuple[str, ...]] = (CONFIG, RESULT, PREDICTIONS)  # and MODEL or HEAD

    @property
    def config_file(self) -> Path:
        return self.path / self.CONFIG

    @property
    def checkpoint(self) -> Path:
        return self.path / self.CHECKPOINT

    @property
    def previous_checkpoint(self) -> Path:
        return self.path / self.PREVIOUS_CHECKPOINT

    @property
    def model(self) -> Path:
        return self.path / self.MODEL

    @property
    def head(self) -> Path:
        return self.path / self.HEAD

    @property
    def result_file(self) -> Path:
        return self.path / self.RESULT

    @property
    def predictions(self) -> Path:
        return self.path / self.PREDICTIONS

    @staticmethod
    def holds_a_run(path: Path) -> bool:
        """Whether ``path`` looks like a run directory (it has a config)."""
        return (Path(path) / RunDir.CONFIG).is_file()

    @property
    def worker_file(self) -> Path:
        return self.path / self.WORKER

    def missing(self) -> list[str]:
        """The files a finished run has and this directory lacks (its model: model.pt, or a head run's head.npz)."""
        missing = [name for name in self.FINISHED_FILES if not (self.path / name).is_file()]
        if not self.model.is_file() and not self.head.is_file():
            missing.append(self.MODEL)
        return missing

    def read_config(self) -> dict[str, Any]:
        return self._read_json(self.config_file)

    def read_result(self) -> dict[str, Any]:
        return self._read_json(self.result_file)

    def _read_json(self, path: Path) -> dict[str, Any]:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise PrefstudyError(f"{self.path}: unreadable run file {path.name} ({error})") from None

    def write_config(self, config: dict[str, Any]) -> None:
        write_json_atomically(self.config_file, config)

    def write_result(self, result: dict[str, Any]) -> None:
        write_json_atomically(self.result_file, result)

    def write_predictions(
        self,
        item_idx: np.ndarray,
        keys: np.ndarray,
        split: np.ndarray,
        label: np.ndarray,
        p_preferred: np.ndarray,
        rating: np.ndarray | None = None,
    ) -> None:
        """Write every predicted item, by item, to ``predictions.parquet``.

        ``label`` is the subject's answer, or None for a tie of a rated subject (predicted only
        for its ``rating``); ``rating`` is None for a subject without ratings.
        """
        n = len(item_idx)
        columns = {
            "item_idx": np.asarray(item_idx, dtype=np.int32),
            "key": np.asarray(keys, dtype=object),
            "split": np.asarray(split, dtype=object),
            "label": np.asarray(label, dtype=object),
            "p_preferred": np.asarray(p_preferred, dtype=np.float64),
            "rating": np.full(n, np.nan) if rating is None else np.asarray(rating, dtype=np.float64),
        }
        # An in-memory DuckDB writes the Parquet file: the study database is not opened.
        with atomic_path(self.predictions) as tmp, memory_cursor() as con:
            con.register("run_predictions", columns)
            con.execute(
                "COPY (SELECT item_idx, key, split, label::BOOLEAN AS label, p_preferred, "
                "CASE WHEN isnan(rating) THEN NULL ELSE rating END AS rating "
                f"FROM run_predictions ORDER BY item_idx) TO '{sql_path(tmp)}' (FORMAT parquet)"
            )


def prediction_keys(directories: list[RunDir]) -> dict[str, list[tuple[int, str]]]:
    """(item index, item key) of every prediction of many run directories (one scan), by predictions file path."""
    files = [str(d.predictions) for d in directories]
    if not files:
        return {}
    with memory_cursor() as con:
        rows = con.execute("SELECT filename, item_idx, key FROM read_parquet(?, filename = true)", [files]).fetchall()
    out: dict[str, list[tuple[int, str]]] = {file: [] for file in files}
    for file, idx, key in rows:
        out[file].append((idx, key))
    return out
