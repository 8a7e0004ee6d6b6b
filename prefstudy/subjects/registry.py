"""Subjects of a study: people who label, and simulated subjects with a known rule."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from prefstudy.errors import PrefstudyError
from prefstudy.store import first_row, scalar
from prefstudy.workspace import Workspace, check_name

HUMAN, SIMULATED = "human", "simulated"


@dataclass(frozen=True)
class SubjectSummary:
    name: str
    kind: str
    labels: dict[str, int]  # dataset -> usable labels
    rules: dict[str, str]  # dataset -> rule, for simulated subjects


def ensure_subject(con: duckdb.DuckDBPyConnection, name: str, kind: str) -> None:
    """Create the subject if it is new; refuse to mix a person's and a simulation's labels."""
    check_name("subject", name)
    row = first_row(con, "SELECT kind FROM subjects WHERE name = ?", [name])
    if row is None:
        con.execute("INSERT INTO subjects (name, kind) VALUES (?, ?)", [name, kind])
    elif row[0] != kind:
        raise PrefstudyError(f"subject {name!r} is {row[0]}, not {kind}; use another name")


def add_subject(ws: Workspace, name: str) -> None:
    """Register a person as a subject of the study."""
    with ws.transaction() as con:
        if scalar(con, "SELECT count(*) FROM subjects WHERE name = ?", [name]):
            raise PrefstudyError(f"subject {name!r} already exists")
        ensure_subject(con, name, HUMAN)


def require_subject(ws: Workspace, name: str) -> str:
    """The subject's kind; an unknown subject fails with a hint."""
    with ws.connect() as con:
        row = first_row(con, "SELECT kind FROM subjects WHERE name = ?", [name])
    if row is None:
        raise PrefstudyError(f"no subject {name!r} in this study; see `prefstudy subject list`")
    return row[0]


def list_subjects(ws: Workspace) -> list[SubjectSummary]:
    """Every subject, with the number of usable labels per dataset."""
    with ws.connect() as con:
        subjects = con.execute("SELECT name, kind FROM subjects ORDER BY name").fetchall()
        counts = con.execute(
            "SELECT subject, dataset, count(*) FROM labels WHERE NOT timed_out AND repeat_of IS NULL "
            "GROUP BY subject, dataset ORDER BY dataset"
        ).fetchall()
        rules = con.execute("SELECT subject, dataset, rule FROM simulations ORDER BY dataset").fetchall()
    return [
        SubjectSummary(
            name=name,
            kind=kind,
            labels={d: n for s, d, n in counts if s == name},
            rules={d: r for s, d, r in rules if s == name},
        )
        for name, kind in subjects
    ]
