"""The ``enrolments`` table: participants who came through the public join link, by their platform's id.

A recruiting platform (Prolific, MTurk) sends every participant to one link with their id in a query
parameter; the first visit makes them a subject, and the table remembers which id is which subject, so
a second visit resumes them. The id lives here only: subjects are named ``p0001``, ``p0002``, ... so it
never reaches run ids, reports or exports.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import duckdb

from prefstudy.store import first_row, scalar
from prefstudy.workspace import Workspace


@dataclass(frozen=True)
class Enrolment:
    subject: str
    dataset: str
    participant_param: str
    participant_id: str
    client: str | None
    created_at: datetime
    user_agent: str | None = None
    platform: dict[str, str] | None = None  # the platform's other ids from the join link, e.g. STUDY_ID
    finished_at: datetime | None = None  # when they gave the last answer of their budget


def enrolled_subject(con: duckdb.DuckDBPyConnection, param: str, participant: str) -> str | None:
    """The subject enrolled with ``param=participant``, if any."""
    row = first_row(
        con, "SELECT subject FROM enrolments WHERE participant_param = ? AND participant_id = ?", [param, participant]
    )
    return row[0] if row else None


def enrolment_count(con: duckdb.DuckDBPyConnection, dataset: str | None = None) -> int:
    """How many participants enrolled (to label ``dataset``, if given)."""
    if dataset is None:
        return scalar(con, "SELECT count(*) FROM enrolments")
    return scalar(con, "SELECT count(*) FROM enrolments WHERE dataset = ?", [dataset])


def record_enrolment(
    con: duckdb.DuckDBPyConnection,
    subject: str,
    dataset: str,
    param: str,
    participant: str,
    client: str | None,
    user_agent: str | None = None,
    platform: dict[str, str] | None = None,
) -> None:
    """Remember that ``param=participant`` is ``subject`` (the UNIQUE constraint refuses a second subject)."""
    con.execute(
        "INSERT INTO enrolments (subject, dataset, participant_param, participant_id, client, user_agent, platform) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [subject, dataset, param, participant, client, user_agent, json.dumps(platform) if platform else None],
    )


def mark_finished(con: duckdb.DuckDBPyConnection, subject: str) -> None:
    """Record when an enrolled subject gave the last answer of their budget (the first time only)."""
    con.execute(
        "UPDATE enrolments SET finished_at = current_timestamp WHERE subject = ? AND finished_at IS NULL", [subject]
    )


def enrolments(ws: Workspace, param: str | None = None, dataset: str | None = None) -> list[Enrolment]:
    """Every enrolment (through ``param``, to label ``dataset``, when given), oldest first."""
    chosen = [(column, value) for column, value in (("participant_param", param), ("dataset", dataset)) if value]
    where = " AND ".join(f"{column} = ?" for column, _ in chosen)
    params = [value for _, value in chosen]
    with ws.connect() as con:
        rows = con.execute(
            "SELECT subject, dataset, participant_param, participant_id, client, created_at, user_agent, platform, "
            "finished_at FROM enrolments "
            f"{'WHERE ' + where if where else ''} ORDER BY created_at, subject",
            params,
        ).fetchall()
    return [Enrolment(*row[:7], json.loads(row[7]) if row[7] else None, row[8]) for row in rows]


@dataclass(frozen=True)
class Participant:
    """An enrolment as a researcher approves a submission by: where the participant got to, and how they answered."""

    enrolment: Enrolment
    state: str  # enrolled (no trial yet), started, or finished (their budget answered)
    trials: int  # every trial, misses and repeats included
    answers: int  # in-time answers (the latest per image, repeats aside)
    timed_out: int
    repeats: int  # repeated images answered both times
    consistency: float | None  # of those, the share answered alike
    median_rt_ms: float | None
    first_trial_at: datetime | None
    last_trial_at: datetime | None

    def to_dict(self) -> dict:
        e = self.enrolment
        moment = lambda t: None if t is None else t.isoformat(sep=" ", timespec="seconds")  # noqa: E731
        return {
            "subject": e.subject,
            "dataset": e.dataset,
            "participant_param": e.participant_param,
            "participant_id": e.participant_id,
            "client": e.client,
            "user_agent": e.user_agent,
            "platform": e.platform or {},
            "created_at": moment(e.created_at),
            "state": self.state,
            "trials": self.trials,
            "answers": self.answers,
            "timed_out": self.timed_out,
            "repeats": self.repeats,
            "consistency": self.consistency,
            "median_rt_ms": self.median_rt_ms,
            "first_trial_at": moment(self.first_trial_at),
            "last_trial_at": moment(self.last_trial_at),
            "finished_at": moment(e.finished_at),
        }


def participants(ws: Workspace, dataset: str | None = None) -> list[Participant]:
    """Every enrolment (on ``dataset``, when given) with where the participant got to and how they answered."""
    from prefstudy.subjects.labels import trial_summaries, trial_times

    rows = enrolments(ws, dataset=dataset)
    out = []
    for name in sorted({e.dataset for e in rows}):
        summaries = {t.subject: t for t in trial_summaries(ws, name)}
        times = trial_times(ws, name)
        for e in (e for e in rows if e.dataset == name):
            t = summaries.get(e.subject)
            first, last = times.get(e.subject, (None, None))
            state = "finished" if e.finished_at is not None else "started" if t is not None else "enrolled"
            out.append(
                Participant(
                    e,
                    state,
                    t.trials if t else 0,
                    t.preferred + t.not_preferred + t.ties if t else 0,
                    t.timed_out if t else 0,
                    t.repeats if t else 0,
                    t.repeats_agreeing / t.repeats if t and t.repeats else None,
                    t.rt_median_ms if t else None,
                    first,
                    last,
                )
            )
    return sorted(out, key=lambda p: (p.enrolment.created_at, p.enrolment.subject))
