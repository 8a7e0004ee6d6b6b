"""Writing a subject's trials as they happen: once per (session, trial), however often the page retries.

Each trial says what chose its image (``labels.strategy``, from what the server served, never from the page),
and the subject's first trial keeps the order they label in (:mod:`.orders`)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

import duckdb

from prefstudy.active.selection import REPEAT
from prefstudy.labeler.enrolments import mark_finished
from prefstudy.labeler.orders import store_order
from prefstudy.labeler.trial_plan import TIMEOUT_GAP, TrialPlan
from prefstudy.subjects.labels import (
    answer_count,
    answer_ids,
    answers_since,
    find_trial,
    insert_trial,
    last_miss,
    set_region,
)
from prefstudy.subjects.regions import Region
from prefstudy.workspace import Workspace

WRITE_LOCK = threading.Lock()  # one writer per process (trials, regions, enrolments); other processes: the store


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
    input: str | None = None  # keyboard, mouse, touch or pen
    orientation_changed: bool = False


def _stored_miss(
    con: duckdb.DuckDBPyConnection, subject: str, dataset: str, item: int, answers: list[int], plan: TrialPlan
) -> int | None:
    """For a miss of ``item``: the label it repeats when the image was not due to be shown, else None.

    An answered image is due again only as a hidden repeat not yet given; a missed one only after TIMEOUT_GAP
    other trials (what the plan serves). A page that posts the same miss again, or misses of an answered
    image, store nothing new (300 timeouts of one image once stored 300 rows and a 300/301 timed-out rate).
    """
    if answers and not (item in plan.repeat_set and len(answers) == 1):
        return answers[-1]
    missed = last_miss(con, subject, dataset, item)
    if missed is not None and not answers and missed[1] < TIMEOUT_GAP:
        return missed[0]
    return None


def record_trial(
    ws: Workspace, subject: str, dataset: str, plan: TrialPlan, trial: Trial, budget: int | None = None
) -> tuple[int, bool]:
    """Store one trial; returns (label id, whether it was new). A retried trial returns the stored one.

    ``budget``: the subject gives at most this many answers on the dataset (misses are not counted).
    """
    if not plan.includes(trial.item):
        raise TrialRejected("this image is not in your plan")
    with WRITE_LOCK, ws.transaction() as con:
        existing = find_trial(con, trial.session, trial.trial)
        if existing:
            if existing.subject != subject:
                raise TrialRejected("that session belongs to someone else")
            return existing.label_id, False
        if budget is not None and answer_count(con, subject, dataset) >= budget:
            raise TrialRejected(f"you have given all {budget} answers of this study: thank you, you are done")
        timed_out = trial.preferred is None
        repeat_of = None
        answers = answer_ids(con, subject, dataset, trial.item)
        if timed_out:  # a miss of an image that was not due is the miss stored already: stored once
            stored = _stored_miss(con, subject, dataset, trial.item, answers, plan)
            if stored is not None:
                return stored, False
        if answers and not timed_out:
            if len(answers) > 1 or trial.item not in plan.repeat_set:
                raise TrialRejected("this image is answered already")
            repeat_of = answers[0]
        strategy = REPEAT if repeat_of is not None else plan.strategy(trial.item)
        label_id = insert_trial(
            con,
            {
                "subject": subject,
                "dataset": dataset,
                "item_idx": trial.item,
                "preferred": trial.preferred,
                "rt_ms": trial.rt_ms,
                "deadline_ms": trial.deadline_ms,
                "timed_out": timed_out,
                "session": trial.session,
                "block": trial.block,
                "trial": trial.trial,
                "shown_at": trial.shown_at,
                "repeat_of": repeat_of,
                "source": "labeler",
                "input": trial.input,
                "orientation_changed": trial.orientation_changed,
                "strategy": strategy,
            },
        )
        if not plan.order_stored:
            store_order(con, subject, dataset, plan.label_order)
    plan.order_stored = True
    return label_id, True


def record_region(ws: Workspace, subject: str, session: str, trial: int, region: Region) -> bool:
    """Attach the subject's reason to an answered trial; False when there is no such answer of theirs."""
    with WRITE_LOCK, ws.transaction() as con:
        return set_region(con, subject, session, trial, region)


def labelled_today(ws: Workspace, subject: str, dataset: str) -> int:
    """Answers (not misses) the subject gave on the dataset since local midnight."""
    midnight = datetime.now().replace(hour=0, minute=0, second=0, microsecond=0)
    return answers_since(ws, subject, dataset, midnight)


def record_finished(ws: Workspace, subject: str) -> None:
    """An enrolled participant gave the last answer of their budget: when, for the researcher (first time only)."""
    with WRITE_LOCK, ws.transaction() as con:
        mark_finished(con, subject)
