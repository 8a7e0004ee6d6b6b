"""One subject's refits under an active order: started when due, polled without waiting, read once written.

The server never trains: it hands a refit files (:mod:`prefstudy.active.refit_task`) and starts
``python -m prefstudy.active.refit`` in a process of its own, niced and on one thread, so serving images
stays torch-free and never waits for it. When a refit is due:

- ``uncertainty``: after every ``refit_every`` new answers (the first at ``refit_every``, or at once from a
  population model, whose head already predicts this dataset's preference), one at a time;
- ``diverse``: once, to cluster the candidates' features (the start model's; simple image features from
  scratch); tried again after ``refit_every`` answers while it has not succeeded.

What a refit leaves is read by the result file's modification time, so the newest output is used, also one
written by a refit a previous server started. A refit that fails (a non-zero exit, a result saying why, or
an output that does not read) is logged with its reason and the subject's own strategy falls back to random
order until a later refit succeeds; labelling never stops for it. Stopping the server ends a running refit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np

from prefstudy.active.refit_task import RefitDir, RefitTask
from prefstudy.active.selection import DIVERSE, UNCERTAINTY, Clusters, cluster_count
from prefstudy.datasets.catalog import DatasetInfo
from prefstudy.errors import PrefstudyError
from prefstudy.labeler.orders import DEFAULT_REFIT_EVERY, POPULATION, LabelOrder
from prefstudy.runs.record import get_run, run_dir
from prefstudy.subjects.labels import usable_labels
from prefstudy.workspace import Workspace

STDERR_TAIL = 400  # characters of a failed refit's stderr in the log line
STOP_WAIT_S = 5.0


def refit_dir(ws: Workspace, subject: str, dataset: str) -> RefitDir:
    """Where the subject's refits on ``dataset`` keep their files."""
    return RefitDir(ws.cache_dir / "active" / subject / dataset)


class Refits:
    """The refits of one subject on one dataset under an active ``order``."""

    def __init__(
        self,
        ws: Workspace,
        info: DatasetInfo,
        subject: str,
        order: LabelOrder,
        test: np.ndarray,
        log: Callable[[str], None],
        fit: dict | None = None,
        seed: int = 0,
    ):
        self.ws, self.info, self.subject, self.order, self.test, self.log = ws, info, subject, order, test, log
        self.fit, self.seed = fit or {}, seed
        self.dir = refit_dir(ws, subject, info.name)
        self.scores: np.ndarray | None = None  # P(preferred) per item (NaN: not scored)
        self.clusters: Clusters | None = None
        self.failed = False  # the newest refit failed: the order's own strategy waits for a later one
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._began = 0.0
        self._stderr = None
        self._seen: int | None = None  # the result file's mtime when last read
        self._reported: set[int] = set()  # refits whose failure is logged
        starts = [e for e in self.dir.read_events() if e["event"] == "refit_start"]
        self.seq = max((e["seq"] for e in starts), default=0)
        self.last_start: int | None = starts[-1]["answers"] if starts else None
        self._start_model = self._start_model_of(order)
        self._refresh()

    @property
    def _from_population(self) -> bool:
        """Whether the start is the population's model, whose head scores items before any label."""
        return self._start_model is not None and self._start_model["kind"] == POPULATION

    @property
    def running(self) -> bool:
        return self._proc is not None

    def tick(self, answers: int, pool: Callable[[], np.ndarray]) -> None:
        """Collect a refit that has ended, read new output, and start a refit if one is due (never waits).

        ``answers``: the subject's in-time answers; ``pool``: the items a refit would score or cluster."""
        with self._lock:
            self._poll(answers)
            self._refresh()
            if self._proc is None and self._due(answers):
                self._start(answers, pool())

    def stop(self) -> None:
        """End a running refit (the server stops)."""
        with self._lock:
            proc, self._proc = self._proc, None
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(STOP_WAIT_S)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            self._close_stderr()

    # --- when -----------------------------------------------------------------------------------

    def _due(self, answers: int) -> bool:
        every = self.order.refit_every or DEFAULT_REFIT_EVERY
        if self.order.order == DIVERSE:
            return self.clusters is None and (self.last_start is None or answers - self.last_start >= every)
        if self.last_start is None:
            return self._from_population or answers >= every
        return answers - self.last_start >= every

    # --- starting and collecting ------------------------------------------------------------------

    def _start_model_of(self, order: LabelOrder) -> dict[str, str] | None:
        if order.start_run is None:
            return None
        try:
            run = get_run(self.ws, order.start_run)
        except PrefstudyError:
            self.log(f"{self.subject}: the run {order.start_run} their order starts from is gone; refits start afresh")
            return None
        return {
            "kind": order.start_kind,
            "run_id": run.id,
            "model": str(run_dir(self.ws, run.id).model),
            "subject": run.subject,
            "dataset": run.dataset,
            "backbone": run.backbone,
        }

    def _start(self, answers: int, pool: np.ndarray) -> None:
        labels = usable_labels(self.ws, self.subject, self.info.name)
        train = ~self.test[labels.item_idx]  # held-out items never train the subject's model
        items, preferred = labels.item_idx[train], labels.preferred[train]
        uncertainty = self.order.order == UNCERTAINTY
        if not len(pool) or (uncertainty and len(items) < 2 and not self._from_population):
            return  # nothing to do yet: tried again on the next request
        self.seq += 1
        seq = self.seq
        task = RefitTask(
            seq=seq,
            subject=self.subject,
            dataset=self.info.name,
            answers=answers,
            images=str((self.ws.root / self.info.cache_file).resolve()),
            info=asdict(self.info),
            labels=str(self.dir.labels(seq)) if len(items) else None,
            pool=str(self.dir.pool(seq)),
            scores=uncertainty,
            clusters=cluster_count(len(pool)) if not uncertainty else None,
            start=self._start_model,
            features_cache=str(self.ws.cache_dir / "active" / "features" / Path(self.info.cache_file).name),
            fit=self.fit,
            seed=self.seed,
        )
        path = self.dir.write_task(task, items, preferred, pool)
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
        self._stderr = open(self.dir.log(seq), "wb")  # noqa: SIM115 - closed when the refit is collected
        self._began = time.monotonic()
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "prefstudy.active.refit", str(path)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=self._stderr,
                env=env,
            )
        except OSError as error:
            self._close_stderr()
            self._failed(seq, f"cannot start: {error}")
            return
        finally:
            self.last_start = answers
        self.dir.event("refit_start", seq=seq, answers=answers, labels=len(items), pid=self._proc.pid)

    def _poll(self, answers: int) -> None:
        proc = self._proc
        if proc is None or proc.poll() is None:
            return
        self._proc = None
        self._close_stderr()
        seq, seconds = self.seq, round(time.monotonic() - self._began, 3)
        result = self.dir.read_result()
        error = None
        if proc.returncode != 0 or result is None or result.seq != seq:
            error = (result.error if result is not None and result.seq == seq else None) or (
                f"exit status {proc.returncode}: {self._stderr_tail(seq)}"
            )
        elif result.error:
            error = result.error
        self.dir.event("refit_end", seq=seq, answers=answers, ok=error is None, seconds=seconds, error=error)
        if error is not None:
            self._failed(seq, error)  # its input and stderr stay, to look into
        else:
            self.dir.forget(seq)

    def _refresh(self) -> None:
        """Read the newest output, when the result file has changed since it was last read."""
        try:
            mtime = self.dir.result.stat().st_mtime_ns
        except OSError:
            return
        if mtime == self._seen:
            return
        self._seen = mtime
        result = self.dir.read_result()
        if result is None:
            return
        if result.error:
            self._failed(result.seq, result.error)
            return
        try:
            if result.scores:
                self.scores = self.dir.read_scores(self.info.n_items)
            if result.clusters:
                self.clusters = self.dir.read_clusters(self.info.n_items)
        except (OSError, ValueError, KeyError) as error:
            self._failed(result.seq, f"its output does not read: {error}")
            return
        self.failed = False

    def _failed(self, seq: int, reason: str) -> None:
        self.failed = True
        if seq not in self._reported:
            self._reported.add(seq)
            self.log(
                f"{self.subject}: refit {seq} on {self.info.name} failed ({reason.strip()}); "
                f"labelling goes on in random order until a refit succeeds"
            )

    def _stderr_tail(self, seq: int) -> str:
        try:
            text = self.dir.log(seq).read_bytes()[-STDERR_TAIL:].decode(errors="replace")
        except OSError:
            return "no output"
        return " ".join(text.split()) or "no output"

    def _close_stderr(self) -> None:
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
