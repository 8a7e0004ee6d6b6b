"""What a label refit is handed and what it leaves: files only, in one folder per subject and dataset.

The labelling server (torch-free) writes a task and the subject's training labels; the refit process
(:mod:`.refit`, with torch) writes P(preferred) of the candidate items and/or their feature clusters, then a
result. Neither opens the other's files half-written (every write is atomic), and the refit never opens the
study database. The folder, ``cache/active/<subject>/<dataset>/``, holds:

- ``task-N.json``, ``labels-N.npz`` (items, preferred), ``pool-N.npy``: the N-th refit's input (removed
  with its log once it has succeeded; a failed refit's stay, to look into);
- ``scores.npy`` (float32 per item, NaN where not scored), ``clusters.npz`` (assignment, distance per item;
  -1 where not clustered): the newest output; ``result.json``: which refit wrote them, how long it took,
  or why it failed; ``refit-N.log``: the N-th refit's stderr;
- ``events.jsonl``: what the server did, appended a line at a time (``refit_start``, ``refit_end``), so the
  order of refits and answers can be read back;
- ``served.jsonl``: which strategy served each item first (the strategy stored with its label).

Simple image features are computed once per dataset image cache: ``cache/active/features/<cache>.npy``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from prefstudy.active.selection import Clusters
from prefstudy.files import atomic_path


@dataclass(frozen=True)
class RefitTask:
    """One refit: fit on the labels (if any) from the start (if any); score and/or cluster ``pool``."""

    seq: int
    subject: str
    dataset: str
    answers: int  # the subject's answers when it was started
    images: str  # the dataset's image cache (.npy), absolute
    info: dict[str, Any]  # the dataset's record (DatasetInfo fields)
    labels: str | None  # labels-N.npz: items, preferred; None: no labels to fit on
    pool: str  # pool-N.npy: the items to score or cluster
    scores: bool  # write P(preferred) of the pool
    clusters: int | None  # cluster the pool's features into at most this many clusters
    start: dict[str, str] | None = None  # kind, run_id, model (model.pt), subject, dataset, backbone
    features_cache: str | None = None  # where simple image features of the images are kept
    fit: dict[str, Any] = field(default_factory=dict)  # FitOptions fields (epochs, batch_size, lr, ...)
    seed: int = 0


@dataclass(frozen=True)
class RefitResult:
    seq: int
    answers: int
    labels: int  # labels fitted on
    seconds: float
    scores: bool = False
    clusters: bool = False
    error: str | None = None


class RefitDir:
    """The folder of one subject's refits on one dataset (see the module)."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def task(self, seq: int) -> Path:
        return self.path / f"task-{seq}.json"

    def labels(self, seq: int) -> Path:
        return self.path / f"labels-{seq}.npz"

    def pool(self, seq: int) -> Path:
        return self.path / f"pool-{seq}.npy"

    def log(self, seq: int) -> Path:
        return self.path / f"refit-{seq}.log"

    @property
    def scores(self) -> Path:
        return self.path / "scores.npy"

    @property
    def clusters(self) -> Path:
        return self.path / "clusters.npz"

    @property
    def result(self) -> Path:
        return self.path / "result.json"

    @property
    def events(self) -> Path:
        return self.path / "events.jsonl"

    @property
    def served(self) -> Path:
        return self.path / "served.jsonl"

    # --- writing -------------------------------------------------------------------------------

    def write_task(self, task: RefitTask, items: np.ndarray, preferred: np.ndarray, pool: np.ndarray) -> Path:
        self.path.mkdir(parents=True, exist_ok=True)
        if task.labels is not None:
            with atomic_path(Path(task.labels)) as tmp, open(tmp, "wb") as f:
                np.savez(f, items=np.asarray(items, np.int64), preferred=np.asarray(preferred, bool))
        write_array(Path(task.pool), np.asarray(pool, np.int64))
        write_json(self.task(task.seq), asdict(task))
        return self.task(task.seq)

    def write_result(self, result: RefitResult) -> None:
        write_json(self.result, asdict(result))

    def event(self, kind: str, **fields: Any) -> None:
        """Append one event (a whole line, in one write: lines of concurrent writers do not interleave)."""
        self.path.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"event": kind, "time": round(time.time(), 3), **fields}) + "\n"
        fd = os.open(self.events, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    # --- reading -------------------------------------------------------------------------------

    def read_events(self) -> list[dict[str, Any]]:
        return _json_lines(self.events)

    def read_served(self) -> list[dict[str, Any]]:
        return _json_lines(self.served)

    def forget(self, seq: int) -> None:
        """Remove the input and log of refit ``seq`` (once it has succeeded: nothing to look into)."""
        for path in (self.task(seq), self.labels(seq), self.pool(seq), self.log(seq)):
            path.unlink(missing_ok=True)

    def read_result(self) -> RefitResult | None:
        try:
            return RefitResult(**json.loads(self.result.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def read_scores(self, n_items: int) -> np.ndarray:
        """P(preferred) per item; a file of another length, or numbers outside [0, 1], is refused (ValueError)."""
        scores = np.load(self.scores)
        if scores.shape != (n_items,) or np.any((scores < 0) | (scores > 1)):
            raise ValueError(f"{self.scores.name} does not hold {n_items} probabilities")
        return scores

    def read_clusters(self, n_items: int) -> Clusters:
        with np.load(self.clusters) as saved:
            assignment, distance = saved["assignment"], saved["distance"]
        if assignment.shape != (n_items,) or distance.shape != (n_items,):
            raise ValueError(f"{self.clusters.name} does not cluster {n_items} items")
        return Clusters(assignment=assignment.astype(np.int64), distance=distance.astype(np.float32))


def write_array(path: Path, array: np.ndarray) -> None:
    """``np.save`` through a temporary file (``np.save`` on a name would add ``.npy`` to it)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, array)


def write_json(path: Path, value: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(value, indent=1))


def _json_lines(path: Path) -> list[dict[str, Any]]:
    """The objects of a JSON-lines file, leaving out a line cut short (a writer killed mid-line)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def read_task(path: Path) -> RefitTask:
    return RefitTask(**json.loads(Path(path).read_text()))
