"""What every route of one labelling app shares (:class:`LabelContext`), and the dependencies that hand a route
the context and a subject's secret link.

A route with inputs of its own (a query, an item, a body) resolves its link in the same dependency that takes
those inputs, through :func:`resolve_link`: FastAPI runs a route's dependencies before it checks the route's
own parameters, and a malformed request is 422 whatever its link.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, HTTPException, Request

from prefstudy.config import TrainSettings
from prefstudy.datasets.catalog import load_images
from prefstudy.labeler.active_plan import Plans
from prefstudy.labeler.display import display_image
from prefstudy.labeler.enrol import Enroller, OpenEnrolment
from prefstudy.labeler.links import session_of_link
from prefstudy.labeler.options import LabelOptions
from prefstudy.labeler.served import ServedSubjects
from prefstudy.labeler.store import labelled_today
from prefstudy.labeler.trial_plan import TrialState, load_state
from prefstudy.splits import item_test_mask
from prefstudy.workspace import Workspace

T = TypeVar("T")


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class LabelContext:
    """One app's study, dataset, options and served subjects, built once and shared by every route."""

    def __init__(
        self,
        ws: Workspace,
        dataset: str,
        tokens: dict[str, str],
        options: LabelOptions,
        *,
        enrol: OpenEnrolment | None = None,
        log: Callable[[str], None] | None = None,
    ):
        """``tokens``: secret -> subject; ``enrol``: open enrolment; ``log``: where refit failures go (stderr)."""
        self.ws, self.dataset, self.options = ws, dataset, options
        self.images = load_images(ws, dataset)
        self.n_items = len(self.images.keys)
        split = TrainSettings()  # the dataset-level split every subject shares (``--split-by item``'s defaults)
        test = item_test_mask(self.n_items, seed=split.seed, test_fraction=split.test_fraction, folds=None, fold=None)
        plans = Plans(
            ws,
            self.images.info,
            options.plan_options(),
            options.label_order(),
            test,
            split.test_fraction,
            log or _stderr,
        )
        self.served = ServedSubjects(self.n_items, options.plan_options(), tokens, make_plan=plans)
        self.enroller = Enroller(ws, dataset, enrol, self.served) if enrol is not None else None
        self.instructions = ws.spec().label.instructions
        self.deadline_ms = options.deadline_s * 1000 or None
        self.budget = options.trials
        self.picture = lru_cache(maxsize=256)(partial(display_image, self.images))  # item -> (bytes, media type)

    def remaining(self, subject: str, state: TrialState) -> int:
        """Trials still to come: the plan's, and no more than the budget leaves."""
        left = self.served.plan(subject).remaining(state)
        return left if self.budget is None else min(left, max(0, self.budget - state.answers))

    def progress(self, subject: str) -> dict:
        """The subject's progress as the page shows it: labelled, blocks, today, remaining, finished."""
        with self.ws.connect():  # one connection for both reads
            state, today = load_state(self.ws, subject, self.dataset), labelled_today(self.ws, subject, self.dataset)
        plan = self.served.plan(subject)
        total = plan.total if self.budget is None else min(plan.total, self.budget)
        labelled = len(state.answered_at)
        block = self.options.block
        blocks = max(1, math.ceil(total / block))
        left = self.remaining(subject, state)
        return {
            "labelled": labelled,
            "answers": state.answers,
            "total": total,
            "block": min(labelled // block + 1, blocks),
            "blocks": blocks,
            "blocks_done": min(labelled // block, blocks),
            "today": today,
            "remaining": left,
            "finished": left == 0,
        }


@dataclass(frozen=True)
class Link:
    """A subject's secret link, resolved: its token and whose it is."""

    token: str
    subject: str

    def check_session(self, session: str) -> None:
        """403 unless the page's ``session`` was minted for this link."""
        if not session_of_link(self.token, session):
            raise HTTPException(403, "this session belongs to another link: reload the page")


@dataclass(frozen=True)
class Linked(Generic[T]):
    """A route's checked inputs, ``value``, and the link they came by."""

    link: Link
    value: T


def resolve_link(context: LabelContext, token: str) -> Link:
    """The link ``token``; 404 for an unknown one."""
    subject = context.served.subject(token)
    if subject is None:
        raise HTTPException(404, "unknown link")
    return Link(token, subject)


async def label_context(request: Request) -> LabelContext:
    """The dependency: the app's :class:`LabelContext`."""
    return request.app.state.labelling


Context = Annotated[LabelContext, Depends(label_context)]


async def link_of(token: str, context: Context) -> Link:
    """The dependency: the link in the path (``/.../{token}``); 404 for an unknown one."""
    return resolve_link(context, token)


SubjectLink = Annotated[Link, Depends(link_of)]
