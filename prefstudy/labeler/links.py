"""Secret labelling links: one token per subject, so a subject's link reaches only their own trials."""

from __future__ import annotations

import secrets

from prefstudy.errors import PrefstudyError
from prefstudy.store import first_row
from prefstudy.subjects.registry import HUMAN
from prefstudy.workspace import Workspace


def link_token(ws: Workspace, subject: str) -> str:
    """The subject's token, created on first use. Only people label: simulated subjects get none."""
    with ws.transaction() as con:
        row = first_row(con, "SELECT kind FROM subjects WHERE name = ?", [subject])
        if row is None:
            raise PrefstudyError(f"no subject {subject!r}; add one with `prefstudy subject add {subject}`")
        if row[0] != HUMAN:
            raise PrefstudyError(f"subject {subject!r} is simulated; only people label in the app")
        existing = first_row(con, "SELECT token FROM label_links WHERE subject = ?", [subject])
        if existing:
            return existing[0]
        token = secrets.token_urlsafe(18)
        con.execute("INSERT INTO label_links (subject, token) VALUES (?, ?)", [subject, token])
        return token


def human_subjects(ws: Workspace) -> list[str]:
    with ws.connect() as con:
        return [s for (s,) in con.execute("SELECT name FROM subjects WHERE kind = ? ORDER BY name", [HUMAN]).fetchall()]
