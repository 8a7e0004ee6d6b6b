"""Open enrolment: one public link, ``/join?PROLIFIC_PID=<id>``, for every participant of an online study.

A first visit with a valid id makes a human subject (``p0001``, ...), records the id in ``enrolments`` and
sends the participant on (303) to their own secret link ``/s/<token>``; a later visit with the same id goes
to the same link. What is refused creates nothing:

- an id that is missing, given twice, or not 1-64 of ``A-Z a-z 0-9 _ -``: 400;
- a new id once ``max_subjects`` participants enrolled on the dataset: 403, "this study is full";
- more than ``per_minute`` new ids from one address within a minute: 429 (returning ids are never limited).

Check-and-create runs under the labelling app's one write lock and in one DuckDB transaction, so however
many participants arrive at once, no id gets two subjects and the study never holds more than its maximum.
"""

from __future__ import annotations

import html
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from starlette.responses import HTMLResponse

from prefstudy.bounds import COUNT
from prefstudy.errors import PrefstudyError
from prefstudy.labeler.enrolments import enrolled_subject, enrolment_count, enrolments, record_enrolment
from prefstudy.labeler.links import link_token
from prefstudy.labeler.served import ServedSubjects
from prefstudy.labeler.store import WRITE_LOCK
from prefstudy.subjects.roster import HUMAN, ensure_subject, unused_name
from prefstudy.workspace import Workspace

PARTICIPANT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
PARAM_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
DEFAULT_PARAM = "PROLIFIC_PID"
PLATFORM_PARAMS = ("STUDY_ID", "SESSION_ID", "assignmentId", "hitId")  # Prolific's and MTurk's, beside the id
USER_AGENT_CHARS = 512
DEFAULT_PER_MINUTE = 30  # new participants per address and minute: a lab behind one address still gets in
SUBJECT_PREFIX = "p"  # enrolled subjects are p0001, p0002, ...


@dataclass(frozen=True)
class OpenEnrolment:
    """How participants enrol: the id's query parameter, at most how many, how fast from one address."""

    param: str = DEFAULT_PARAM
    max_subjects: int | None = None
    per_minute: int = DEFAULT_PER_MINUTE
    keep_address: bool = False  # store the participant's address with the enrolment (the study file asks for it)
    platform_params: tuple[str, ...] = PLATFORM_PARAMS  # the platform's other ids the join link carries, recorded

    def __post_init__(self) -> None:
        if not PARAM_NAME.fullmatch(self.param):
            raise PrefstudyError(
                f"--participant-param must be a query parameter name (a letter, then letters, digits or _), "
                f"got {self.param!r}"
            )
        if self.max_subjects is not None:
            COUNT.check("--max-subjects", self.max_subjects)
        COUNT.check("--join-rate", self.per_minute)


class JoinRefused(Exception):
    """A visit to the join link that enrols no one: an HTTP status and what the participant is told."""

    def __init__(self, status: int, title: str, message: str):
        super().__init__(message)
        self.status, self.title, self.message = status, title, message

    def page(self) -> HTMLResponse:
        """A small, self-contained HTML page saying why (nothing of the request is echoed)."""
        body = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(self.title)}</title>"
            "<style>body{font:18px/1.5 system-ui,sans-serif;max-width:36em;margin:12vh auto;padding:0 1em}</style>"
            f"</head><body><main><h1>{html.escape(self.title)}</h1><p>{html.escape(self.message)}</p></main>"
            "</body></html>"
        )
        headers = {"Cache-Control": "no-store"}
        if self.status == 429:
            headers["Retry-After"] = "60"
        return HTMLResponse(body, status_code=self.status, headers=headers)


class RateLimit:
    """At most ``per_minute`` events per key (a client address) in any sliding minute."""

    WINDOW_S = 60.0

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic):
        self.per_minute, self._clock = per_minute, clock
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        """Count one event for ``key``; False (and not counted) when it has had its ``per_minute`` already."""
        now = self._clock()
        with self._lock:
            events = self._events.setdefault(key, deque())
            while events and now - events[0] >= self.WINDOW_S:
                events.popleft()
            if len(events) >= self.per_minute:
                return False
            events.append(now)
            if len(self._events) > 4096:  # forget addresses quiet for a minute, so the table cannot grow without end
                self._events = {k: e for k, e in self._events.items() if e and now - e[-1] < self.WINDOW_S}
            return True


class Enroller:
    """The join link's logic for one app: which ids are known, the rate limit, the maximum, creating subjects."""

    def __init__(self, ws: Workspace, dataset: str, options: OpenEnrolment, served: ServedSubjects):
        self.ws, self.dataset, self.options, self.served = ws, dataset, options, served
        self.rate = RateLimit(options.per_minute)
        self._known: dict[str, str] = {}  # participant id -> token, for every id enrolled through this parameter
        self._full = False
        with ws.connect():  # one connection for every read
            for enrolment in enrolments(ws, param=options.param):
                self._admit(enrolment.participant_id, enrolment.subject, link_token(ws, enrolment.subject))

    def _admit(self, participant: str, subject: str, token: str) -> str:
        self.served.add(token, subject)
        self._known[participant] = token
        return token

    def join(
        self, participant: str, client: str | None, user_agent: str | None = None, platform: dict | None = None
    ) -> str:
        """The secret token of the participant with this id, enrolling them first if they are new (recording the
        browser's user agent and the platform's other ids that are well formed)."""
        if not PARTICIPANT_ID.fullmatch(participant):  # match() would take 'abc\n' ($ before a last newline)
            raise JoinRefused(
                400,
                "This link is incomplete",
                f"The link you followed does not carry a valid participant id ({self.options.param}). "
                "Please open the study again from the site you found it on.",
            )
        token = self._known.get(participant)
        if token is not None:  # returning: no limit, no database
            return token
        if self._full:
            raise self._full_page()
        if not self.rate.allow(client or ""):
            raise JoinRefused(
                429,
                "Please wait a minute",
                "Too many new participants arrived from your address just now. Please try again in a minute.",
            )
        with WRITE_LOCK:
            token = self._known.get(participant)
            if token is not None:  # the same id, a moment ago
                return token
            with self.ws.transaction() as con:
                subject = enrolled_subject(con, self.options.param, participant)  # e.g. by another server process
                if subject is None:
                    most = self.options.max_subjects
                    if most is not None and enrolment_count(con, self.dataset) >= most:
                        self._full = True
                        raise self._full_page()
                    subject = unused_name(con, SUBJECT_PREFIX, enrolment_count(con) + 1)
                    ensure_subject(con, subject, HUMAN)
                    kept = client if self.options.keep_address else None  # else held for the rate limit only
                    ids = {k: v for k, v in (platform or {}).items() if PARTICIPANT_ID.fullmatch(v)}
                    agent = user_agent[:USER_AGENT_CHARS] if user_agent else None
                    record_enrolment(con, subject, self.dataset, self.options.param, participant, kept, agent, ids)
                token = link_token(self.ws, subject)  # joins this transaction
            # Committed: from now on the link works and the id is known.
            return self._admit(participant, subject, token)

    def _full_page(self) -> JoinRefused:
        return JoinRefused(
            403,
            "This study is full",
            "Every place in this study has been taken. Thank you for your interest; "
            "please return the study on the site you found it on.",
        )
