"""The ``subjects`` and ``simulations`` tables: people who label, raters whose ratings were imported,
derived subjects (a population's consensus), and simulated subjects with a known rule."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import duckdb

from prefstudy.errors import PrefstudyError
from prefstudy.store import first_row, scalar
from prefstudy.subjects.labels import rating_counts, usable_counts
from prefstudy.workspace import Workspace, check_name

HUMAN, SIMULATED, CONSENSUS = "human", "simulated", "consensus"
RATINGS_ORIGIN = "ratings"
"""The origin of a person whose ratings were imported: a subject with ratings, not one who labels here."""


@dataclass(frozen=True)
class SubjectSummary:
    name: str
    kind: str
    labels: dict[str, int]  # dataset -> items with a usable label
    rules: dict[str, str]  # dataset -> rule, for simulated subjects
    origin: str | None = None  # 'ratings' for an imported rater
    attributes: dict[str, Any] | None = None  # a rater's own columns (sex, age, ...)
    ratings: dict[str, int] | None = None  # dataset -> items with a rating


def ensure_subject(con: duckdb.DuckDBPyConnection, name: str, kind: str) -> None:
    """Create the subject if it is new; refuse to mix a person's and a simulation's labels."""
    check_name("subject", name)
    row = first_row(con, "SELECT kind FROM subjects WHERE name = ?", [name])
    if row is None:
        con.execute("INSERT INTO subjects (name, kind) VALUES (?, ?)", [name, kind])
    elif row[0] != kind:
        raise PrefstudyError(f"subject {name!r} is {row[0]}, not {kind}; use another name")


def unused_name(con: duckdb.DuckDBPyConnection, prefix: str, start: int) -> str:
    """The first of ``<prefix>0001``, ``<prefix>0002``, ... from number ``start`` that no subject holds."""
    taken = {n for (n,) in con.execute("SELECT name FROM subjects WHERE starts_with(name, ?)", [prefix]).fetchall()}
    n = max(start, 1)
    while f"{prefix}{n:04d}" in taken:
        n += 1
    return f"{prefix}{n:04d}"


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


def require_subjects(ws: Workspace, names: Iterable[str]) -> None:
    """Every one of ``names`` is a subject of the study; the first unknown one fails with a hint."""
    wanted = sorted(set(names))
    with ws.connect() as con:
        rows = con.execute("SELECT name FROM subjects WHERE name IN (SELECT unnest(?))", [wanted]).fetchall()
    known = {name for (name,) in rows}
    if missing := [n for n in wanted if n not in known]:
        raise PrefstudyError(f"no subject {missing[0]!r} in this study; see `prefstudy subject list`")


def subject_kind(ws: Workspace, name: str) -> str | None:
    """The subject's kind (human or simulated), or None when there is no such subject."""
    with ws.connect() as con:
        row = first_row(con, "SELECT kind FROM subjects WHERE name = ?", [name])
    return row[0] if row else None


def human_subjects(ws: Workspace) -> list[str]:
    """The people who label in this study, by name (imported raters are left out: they label elsewhere)."""
    with ws.connect() as con:
        rows = con.execute(
            "SELECT name FROM subjects WHERE kind = ? AND origin IS DISTINCT FROM ? ORDER BY name",
            [HUMAN, RATINGS_ORIGIN],
        ).fetchall()
    return [s for (s,) in rows]


def subjects_of_kind(ws: Workspace, kind: str) -> list[str]:
    """The subjects of one kind (human, simulated, consensus), by name."""
    with ws.connect() as con:
        return [s for (s,) in con.execute("SELECT name FROM subjects WHERE kind = ? ORDER BY name", [kind]).fetchall()]


def subject_kinds(ws: Workspace) -> dict[str, str]:
    """name -> kind, for every subject."""
    with ws.connect() as con:
        return dict(con.execute("SELECT name, kind FROM subjects").fetchall())


def ensure_raters(con: duckdb.DuckDBPyConnection, attributes: dict[str, dict[str, Any]]) -> int:
    """Create the imported raters (name -> attributes) that are new, set their attributes; return how many are new.

    A name held by a subject that is not an imported rater is refused: a prefix keeps them apart.
    """
    names = sorted(attributes)
    for name in names:
        check_name("subject", name)
    existing = dict(
        con.execute(
            "SELECT name, coalesce(origin, kind) FROM subjects WHERE name IN (SELECT unnest(?))", [names]
        ).fetchall()
    )
    clash = sorted(n for n, what in existing.items() if what != RATINGS_ORIGIN)
    if clash:
        raise PrefstudyError(
            f"{len(clash)} rater name(s) are taken by subjects that are not imported raters (first: {clash[0]!r}); "
            "use another --prefix"
        )
    new = [n for n in names if n not in existing]
    if new:
        con.execute(
            "INSERT INTO subjects (name, kind, origin, attributes) "
            "SELECT unnest(?::VARCHAR[]), ?, ?, unnest(?::VARCHAR[])::JSON",
            [new, HUMAN, RATINGS_ORIGIN, [json.dumps(attributes[n]) if attributes[n] else None for n in new]],
        )
    changed = [n for n in names if n in existing and attributes[n]]
    if changed:
        con.execute(
            "UPDATE subjects SET attributes = c.attributes FROM (SELECT unnest(?::VARCHAR[]) AS name, "
            "unnest(?::VARCHAR[])::JSON AS attributes) c WHERE subjects.name = c.name",
            [changed, [json.dumps(attributes[n]) for n in changed]],
        )
    return len(new)


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


def list_subjects(ws: Workspace, dataset: str | None = None) -> list[SubjectSummary]:
    """Every subject (with labels or ratings on ``dataset``, if given), with usable labels and ratings per dataset."""
    with ws.connect() as con:
        subjects = con.execute("SELECT name, kind, origin, attributes FROM subjects ORDER BY name").fetchall()
        rules: dict[str, dict[str, str]] = {}
        for s, d, r in con.execute("SELECT subject, dataset, rule FROM simulations ORDER BY dataset").fetchall():
            rules.setdefault(s, {})[d] = r
        counts = usable_counts(ws)
        rated = rating_counts(ws)
    out = []
    for name, kind, origin, attributes in subjects:
        labels, ratings = counts.get(name, {}), rated.get(name, {})
        if dataset is not None:
            if dataset not in labels and dataset not in ratings:
                continue
            labels = {dataset: labels.get(dataset, 0)}
            ratings = {dataset: ratings[dataset]} if dataset in ratings else {}
        out.append(
            SubjectSummary(
                name=name,
                kind=kind,
                labels=labels,
                rules=rules.get(name, {}),
                origin=origin,
                attributes=json.loads(attributes) if attributes else None,
                ratings=ratings or None,
            )
        )
    return out
