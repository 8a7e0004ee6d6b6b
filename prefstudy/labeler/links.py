"""Secret labelling links (the ``label_links`` table): one token per subject, so a link reaches only its own trials."""

from __future__ import annotations

import secrets

from prefstudy.errors import PrefstudyError
from prefstudy.store import first_row
from prefstudy.subjects.registry import HUMAN, subject_kind
from prefstudy.workspace import Workspace


def link_token(ws: Workspace, subject: str) -> str:
    """The subject's token, created on first use. Only people label: simulated subjects get none."""
    with ws.transaction() as con:
        kind = subject_kind(ws, subject)
        if kind is None:
            raise PrefstudyError(f"no subject {subject!r}; add one with `prefstudy subject add {subject}`")
        if kind != HUMAN:
            raise PrefstudyError(f"subject {subject!r} is simulated; only people label in the app")
        existing = first_row(con, "SELECT token FROM label_links WHERE subject = ?", [subject])
        if existing:
            return existing[0]
        token = secrets.token_urlsafe(18)
        con.execute("INSERT INTO label_links (subject, token) VALUES (?, ?)", [subject, token])
        return token
