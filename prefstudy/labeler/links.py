"""Secret labelling links (the ``label_links`` table): one token per subject, so a link reaches only its own trials.

A page's session id is signed with its link's token, so a session belongs to one link: no other subject can
write into it, and a restarted server (the same token, from the table) still accepts the page's retries.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from prefstudy.errors import PrefstudyError
from prefstudy.store import first_row
from prefstudy.subjects.roster import HUMAN, subject_kind
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


SESSION_PATTERN = r"^web-[0-9a-f]{12}-[0-9a-f]{16}$"


def _signature(token: str, nonce: str) -> str:
    return hmac.new(token.encode(), f"session {nonce}".encode(), hashlib.sha256).hexdigest()[:16]


def new_session(token: str) -> str:
    """A fresh session id for one page load on the link ``token``: ``web-NONCE-SIGNATURE``."""
    nonce = secrets.token_hex(6)
    return f"web-{nonce}-{_signature(token, nonce)}"


def session_of_link(token: str, session: str) -> bool:
    """Whether ``session`` (already matching ``SESSION_PATTERN``) was minted for the link ``token``."""
    _, nonce, signature = session.split("-")
    return hmac.compare_digest(signature, _signature(token, nonce))
