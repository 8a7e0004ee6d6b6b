"""The ``subjects`` and ``simulations`` tables: people who label, and simulated subjects with a known rule."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from prefstudy.errors import PrefstudyError
from prefstudy.store import first_row, scalar
from prefstudy.subjects.labels import usable_counts
from prefstudy.workspace import Workspace, check_name

HUMAN, SIMULATED = "human", "simulated"


@dataclass(frozen=True)
class SubjectSummary:
    name: str
    kind: str
    labels: dict[str, int]  # dataset -> items with a usable label
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


def subject_kind(ws: Workspace, name: str) -> str | None:
    """The subject's kind (human or simulated), or None when there is no such subject."""
    with ws.connect() as con:
        row = first_row(con, "SELECT kind FROM subjects WHERE name = ?", [name])
    return row[0] if row else None


def human_subjects(ws: Workspace) -> list[str]:
    """The people of the study, by name."""
    with ws.connect() as con:
        return [s for (s,) in con.execute("SELECT name FROM subjects WHERE kind = ? ORDER BY name", [HUMAN]).fetchall()]


def record_simulation(
    con: duckdb.DuckDBPyConnection,
    subject: str,
    dataset: str,
    rule: str,
    *,
    noise: float,
    repeat: float,
    seed: int,
    session: str,
) -> None:
    """Record which rule a simulated subject answered a dataset by."""
    con.execute(
        "INSERT INTO simulations (subject, dataset, rule, noise, repeat, seed, session) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [subject, dataset, rule, noise, repeat, seed, session],
    )


def list_subjects(ws: Workspace) -> list[SubjectSummary]:
    """Every subject, with the number of items they have a usable label for, per dataset."""
    with ws.connect() as con:
        subjects = con.execute("SELECT name, kind FROM subjects ORDER BY name").fetchall()
        rules = con.execute("SELECT subject, dataset, rule FROM simulations ORDER BY dataset").fetchall()
    counts = usable_counts(ws)
    return [
        SubjectSummary(
            name=name,
            kind=kind,
            labels=counts.get(name, {}),
            rules={d: r for s, d, r in rules if s == name},
        )
        for name, kind in subjects
    ]
