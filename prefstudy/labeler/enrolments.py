"""The ``enrolments`` table: participants who came through the public join link, by their platform's id.

A recruiting platform (Prolific, MTurk) sends every participant to one link with their id in a query
parameter; the first visit makes them a subject, and the table remembers which id is which subject, so
a second visit resumes them. The id lives here only: subjects are named ``p0001``, ``p0002``, ... so it
never reaches run ids, reports or exports.
"""

from __future__ import annotations

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
    con: duckdb.DuckDBPyConnection, subject: str, dataset: str, param: str, participant: str, client: str | None
) -> None:
    """Remember that ``param=participant`` is ``subject`` (the UNIQUE constraint refuses a second subject)."""
    con.execute(
        "INSERT INTO enrolments (subject, dataset, participant_param, participant_id, client) VALUES (?, ?, ?, ?, ?)",
        [subject, dataset, param, participant, client],
    )


def enrolments(ws: Workspace, param: str | None = None, dataset: str | None = None) -> list[Enrolment]:
    """Every enrolment (through ``param``, to label ``dataset``, when given), oldest first."""
    chosen = [(column, value) for column, value in (("participant_param", param), ("dataset", dataset)) if value]
    where = " AND ".join(f"{column} = ?" for column, _ in chosen)
    params = [value for _, value in chosen]
    with ws.connect() as con:
        rows = con.execute(
            "SELECT subject, dataset, participant_param, participant_id, client, created_at FROM enrolments "
            f"{'WHERE ' + where if where else ''} ORDER BY created_at, subject",
            params,
        ).fetchall()
    return [Enrolment(*row) for row in rows]
