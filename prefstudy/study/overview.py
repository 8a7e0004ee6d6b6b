"""Where a study's runs stand: counts per status and the runs not finished, for `prefstudy study status`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from prefstudy.runs.record import FINISHED, RunRow, list_runs
from prefstudy.runs.status import ACTIVE, STATUSES
from prefstudy.workspace import Workspace


@dataclass(frozen=True)
class StudyStatus:
    counts: dict[str, int]  # every status, zero included
    open_runs: list[RunRow]  # every run not finished, oldest first

    @property
    def active(self) -> int:
        return sum(self.counts[s] for s in ACTIVE)

    def to_dict(self) -> dict:
        return {
            "counts": self.counts,
            "runs": [
                {
                    "run_id": r.id,
                    "status": r.status,
                    "subject": r.subject,
                    "dataset": r.dataset,
                    "protocol": r.protocol,
                    "executor": r.executor,
                    "job_id": r.job_id,
                    "attempts": r.attempts,
                    "host": r.owner.host if r.owner else None,
                    "pid": r.owner.pid if r.owner else None,
                    "error": r.error,
                }
                for r in self.open_runs
            ],
        }


def study_status(ws: Workspace) -> StudyStatus:
    """Counts of the study's runs per status, and its unfinished runs (a run whose process has gone is interrupted)."""
    rows = list_runs(ws)
    counts = Counter(r.status for r in rows)
    return StudyStatus({s: counts.get(s, 0) for s in STATUSES}, [r for r in rows if r.status != FINISHED])


def describe_run(row: RunRow) -> str:
    """One line: the run, where it is, and its error."""
    where = ""
    if row.job_id is not None:
        where = f"  {row.executor} job {row.job_id}" + (f", attempt {row.attempts}" if (row.attempts or 0) > 1 else "")
    elif row.owner is not None and row.status in ACTIVE:
        where = f"  {row.owner.describe()}"
    error = f"  {row.error}" if row.error else ""
    return f"{row.status:<11} {row.id}  {row.subject} on {row.dataset} ({row.protocol}){where}{error}"
