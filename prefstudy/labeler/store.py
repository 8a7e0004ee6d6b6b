"""Writing a subject's trials as they happen: once per (session, trial), however often the page retries."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from prefstudy.labeler.plan import TrialPlan
from prefstudy.store import first_row
from prefstudy.subjects.regions import Region
from prefstudy.workspace import Workspace

_write_lock = threading.Lock()  # one writer per process; other processes are waited for by the store


class TrialRejected(Exception):
    """A trial the server will not store (e.g. an item answered already); the page is told why."""


@dataclass(frozen=True)
class Trial:
    session: str
    trial: int
    block: int
    item: int
    preferred: bool | None  # None when the deadline passed
    rt_ms: float | None
    deadline_ms: float | None
    shown_at: datetime | None


def record_trial(ws: Workspace, subject: str, dataset: str, plan: TrialPlan, trial: Trial) -> tuple[int, bool]:
    """Store one trial; returns (label id, whether it was new). A retried trial returns the stored one."""
    with _write_lock, ws.transaction() as con:
        existing = first_row(
            con, "SELECT id, subject FROM labels WHERE session = ? AND trial = ?", [trial.session, trial.trial]
        )
        if existing:
            if existing[1] != subject:
                raise TrialRejected("that session belongs to someone else")
            return existing[0], False
        timed_out = trial.preferred is None
        repeat_of = None
        rows = con.execute(
            "SELECT id FROM labels WHERE subject = ? AND dataset = ? AND item_idx = ? AND NOT timed_out "
            "AND preferred IS NOT NULL ORDER BY id",
            [subject, dataset, trial.item],
        ).fetchall()
        if rows and not timed_out:
            if len(rows) > 1 or trial.item not in plan.repeat_set:
                raise TrialRejected("this image is answered already")
            repeat_of = rows[0][0]
        con.execute(
            "INSERT INTO labels (subject, dataset, item_idx, preferred, rt_ms, deadline_ms, timed_out, session, block, "
            "trial, shown_at, repeat_of, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'labeler')",
            [
                subject,
                dataset,
                trial.item,
                trial.preferred,
                trial.rt_ms,
                trial.deadline_ms,
                timed_out,
                trial.session,
                trial.block,
                trial.trial,
                trial.shown_at,
                repeat_of,
            ],
        )
        label_id = first_row(con, "SELECT id FROM labels WHERE session = ? AND trial = ?", [trial.session, trial.trial])
        return label_id[0], True


def record_region(ws: Workspace, subject: str, session: str, trial: int, region: Region) -> bool:
    """Attach the subject's reason to an answered trial; False when there is no such answer of theirs."""
    with _write_lock, ws.transaction() as con:
        row = first_row(
            con,
            "SELECT id FROM labels WHERE session = ? AND trial = ? AND subject = ? AND NOT timed_out",
            [session, trial, subject],
        )
        if row is None:
            return False
        con.execute("UPDATE labels SET region = ? WHERE id = ?", [list(region), row[0]])
        return True


def labelled_today(ws: Workspace, subject: str, dataset: str) -> int:
    """Answers (not misses) the subject gave on the dataset since local midnight."""
    midnight = datetime.now().replace(hour=0, minute=0, second=0, microsecond=0)
    with ws.connect() as con:
        row = first_row(
            con,
            "SELECT count(*) FROM labels WHERE subject = ? AND dataset = ? AND NOT timed_out AND created_at >= ?",
            [subject, dataset, midnight],
        )
    return row[0]
