"""The labelling web app (FastAPI): a static page and a small JSON API behind each subject's secret link.

Routes (``TOKEN`` is the subject's secret; nothing else is reachable without it):

- ``GET /s/TOKEN`` — the labelling page (plain HTML/JS/CSS from ``static/``, no build step);
- ``GET /api/TOKEN/state`` — a new session for this page load (signed with the link, see :mod:`.links`),
  the options, the study's instructions, the trial budget and completion URL, the progress;
- ``GET /api/TOKEN/queue?n=3`` — the next items (ids and image URLs); none once the subject is finished;
  chosen in the subject's order (``--order``: :mod:`.plan` for random, :mod:`.active_plan` for the others);
- ``GET /api/TOKEN/image/ITEM`` — an image of the subject's plan by item id, never by path (see :mod:`.display`);
- ``POST /api/TOKEN/trial`` — one trial, stored at once, once per (session, trial); says when that was the last;
- ``POST /api/TOKEN/region`` — the subject's reason for a trial, a box in image fractions;
- ``GET /api/TOKEN/progress`` — block, labelled today, remaining, finished;
- ``GET /join?PARAM=ID`` — with open enrolment only: the public link (see :mod:`.enrol`).

Refused, with nothing stored: an unknown token or item 404; a session minted for another link 403;
an answer the plan refuses (an image outside this subject's plan, answered already, or beyond the trial
budget) 409; a body over 64 KiB 413 (:mod:`.guards`); a foreign ``Host`` on a loopback server 421;
a malformed request, NaN, infinities or out-of-range numbers included, 422. The store unavailable is 503.
The join link answers refusals with an HTML page (400, 403, 429), not JSON: a person reads it.
"""

from __future__ import annotations

import math
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from importlib.resources import files
from typing import Annotated, Literal
from urllib.parse import urlsplit

from fastapi import FastAPI, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from prefstudy.active.selection import RANDOM, UNCERTAINTY, check_order
from prefstudy.bounds import COUNT, FIXATION_S, INT32_MAX, REPEAT, RT_MS_MAX, SECONDS, SEED, SHARE
from prefstudy.config import TrainSettings
from prefstudy.datasets.catalog import load_images
from prefstudy.errors import PrefstudyError
from prefstudy.labeler.active_plan import Plans
from prefstudy.labeler.display import display_image
from prefstudy.labeler.enrol import Enroller, JoinRefused, OpenEnrolment
from prefstudy.labeler.guards import MAX_BODY, BodyLimit, LoopbackHosts
from prefstudy.labeler.links import SESSION_PATTERN, new_session, session_of_link
from prefstudy.labeler.orders import AUTO, DEFAULT_EXPLORE, DEFAULT_REFIT_EVERY, LabelOrder
from prefstudy.labeler.served import ServedSubjects
from prefstudy.labeler.store import Trial, TrialRejected, labelled_today, record_region, record_trial
from prefstudy.labeler.trial_plan import PlanOptions, TrialState, load_state
from prefstudy.splits import item_test_mask
from prefstudy.workspace import Workspace

MARK_REASON = ("always", "sometimes", "never")
MAX_TRIAL = 10_000_000
LATEST_MS = 253_402_300_799_999  # 9999-12-31, the last instant a timestamp can hold
STATIC = files("prefstudy.labeler") / "static"
MAX_URL = 2000


@dataclass(frozen=True)
class LabelOptions:
    """How a sitting runs: the paper's deadline (1 s) and blocks against fatigue."""

    deadline_s: float = 1.0  # 0 = no deadline
    block: int = 100
    mark_reason: str = "sometimes"  # always, sometimes (every 5th answer) or never
    repeat: float = 0.0
    seed: int = 0
    limit: int | None = None
    fixation_s: float = 0.3
    trials: int | None = None  # a participant's budget: done after this many answers (misses not counted)
    complete_url: str | None = None  # where the page sends a finished participant (e.g. the platform's)
    order: str = RANDOM  # random, uncertainty or diverse: what each subject sees next (see .active_plan)
    explore: float = DEFAULT_EXPLORE  # an active order's share of random items
    refit_every: int = DEFAULT_REFIT_EVERY  # uncertainty: a new model after every N answers
    start: str = AUTO  # where an active order's model starts: auto, scratch or a run id

    def __post_init__(self) -> None:
        # The same rules as the `prefstudy label` options, for callers that build options in code.
        SECONDS.check("--deadline", self.deadline_s)
        COUNT.check("--block", self.block)
        REPEAT.check("--repeat", self.repeat)
        SEED.check("--seed", self.seed)
        FIXATION_S.check("--fixation", self.fixation_s)
        if self.limit is not None:
            COUNT.check("--limit", self.limit)
        if self.trials is not None:
            COUNT.check("--trials", self.trials)
        if self.complete_url is not None:
            check_complete_url(self.complete_url)
        check_order(self.order)
        SHARE.check("--explore", self.explore)
        COUNT.check("--refit-every", self.refit_every)
        if self.mark_reason not in MARK_REASON:
            raise PrefstudyError(f"--mark-reason must be one of {', '.join(MARK_REASON)}, got {self.mark_reason!r}")

    def plan_options(self) -> PlanOptions:
        return PlanOptions(seed=self.seed, repeat=self.repeat, limit=self.limit, block=self.block)

    def label_order(self) -> LabelOrder:
        """The order a subject who has not begun labels in (``start`` still to resolve for them)."""
        if self.order == RANDOM:
            return LabelOrder()
        refit_every = self.refit_every if self.order == UNCERTAINTY else None
        return LabelOrder(self.order, self.explore, refit_every, self.start)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def check_complete_url(url: str) -> str:
    """``url`` when it is an absolute http(s) URL a browser can be sent to; else one line saying so."""
    parts = urlsplit(url) if isinstance(url, str) else None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or len(url) > MAX_URL
        or any(c.isspace() or ord(c) < 32 for c in url)
    ):
        raise PrefstudyError(f"--complete-url must be an http:// or https:// URL, got {str(url)[:80]!r}")
    return url


class TrialIn(BaseModel):
    session: Annotated[str, Field(pattern=SESSION_PATTERN)]
    trial: Annotated[int, Field(ge=1, le=MAX_TRIAL)]
    block: Annotated[int, Field(ge=1, le=MAX_TRIAL)]
    item: Annotated[int, Field(ge=0, le=INT32_MAX)]
    answer: Literal["preferred", "not_preferred", "timeout"]
    rt_ms: Annotated[float | None, Field(ge=0, le=RT_MS_MAX, allow_inf_nan=False)] = None
    shown_at_ms: Annotated[float | None, Field(ge=0, le=LATEST_MS, allow_inf_nan=False)] = None  # epoch ms
    input: Literal["keyboard", "mouse", "touch", "pen"] | None = None  # what gave the answer
    orientation_changed: Annotated[bool, Field(strict=True)] = False  # the screen turned while the image was up


class RegionIn(BaseModel):
    session: Annotated[str, Field(pattern=SESSION_PATTERN)]
    trial: Annotated[int, Field(ge=1, le=MAX_TRIAL)]
    region: Annotated[list[Annotated[float, Field(allow_inf_nan=False)]], Field(min_length=4, max_length=4)]


def create_app(
    ws: Workspace,
    dataset: str,
    tokens: dict[str, str],
    options: LabelOptions,
    *,
    loopback_only: bool = False,
    enrol: OpenEnrolment | None = None,
    log: Callable[[str], None] | None = None,
) -> FastAPI:
    """The app serving ``tokens`` (secret -> subject) on ``dataset``; ``loopback_only`` refuses foreign hosts.

    With ``enrol``, ``/join`` enrols participants too (and every subject enrolled before is served).
    ``log``: where the server says what happens behind the page (a refit failed; default: stderr).
    """
    images = load_images(ws, dataset)
    n_items = len(images.keys)
    split = TrainSettings()  # the dataset-level split every subject shares (``--split-by item``'s defaults)
    test = item_test_mask(n_items, seed=split.seed, test_fraction=split.test_fraction, folds=None, fold=None)
    plans = Plans(
        ws, images.info, options.plan_options(), options.label_order(), test, split.test_fraction, log or _stderr
    )
    served = ServedSubjects(n_items, options.plan_options(), tokens, make_plan=plans)
    enroller = Enroller(ws, dataset, enrol, served) if enrol is not None else None
    instructions = ws.spec().label.instructions
    deadline_ms = options.deadline_s * 1000 or None
    budget = options.trials

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        served.stop()  # a refit running for a subject ends with the server

    app = FastAPI(title="prefstudy labeller", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.served = served
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    app.add_middleware(BodyLimit, limit=MAX_BODY)
    if loopback_only:
        app.add_middleware(LoopbackHosts)  # added last, so it runs first

    def subject_of(token: str) -> str:
        subject = served.subject(token)
        if subject is None:
            raise HTTPException(404, "unknown link")
        return subject

    def check_session(token: str, session: str) -> None:
        if not session_of_link(token, session):
            raise HTTPException(403, "this session belongs to another link: reload the page")

    picture_of = lru_cache(maxsize=256)(lambda item: display_image(images, item))

    def remaining(subject: str, state: TrialState) -> int:
        """Trials still to come: the plan's, and no more than the budget leaves."""
        left = served.plan(subject).remaining(state)
        return left if budget is None else min(left, max(0, budget - state.answers))

    def progress(subject: str) -> dict:
        with ws.connect():  # one connection for both reads
            state, today = load_state(ws, subject, dataset), labelled_today(ws, subject, dataset)
        plan = served.plan(subject)
        total = plan.total if budget is None else min(plan.total, budget)
        labelled = len(state.answered_at)
        blocks = max(1, math.ceil(total / options.block))
        left = remaining(subject, state)
        return {
            "labelled": labelled,
            "answers": state.answers,
            "total": total,
            "block": min(labelled // options.block + 1, blocks),
            "blocks": blocks,
            "blocks_done": min(labelled // options.block, blocks),
            "today": today,
            "remaining": left,
            "finished": left == 0,
        }

    @app.exception_handler(TrialRejected)
    async def rejected(request: Request, error: TrialRejected) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=409)

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, error: RequestValidationError) -> JSONResponse:
        # Without the offending input: it may be NaN (not JSON) or large.
        detail = [{"loc": e["loc"], "msg": e["msg"], "type": e["type"]} for e in error.errors()]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(PrefstudyError)
    async def unavailable(request: Request, error: PrefstudyError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=503)

    if enroller is not None:

        @app.get("/join")
        def join(request: Request) -> Response:
            given = request.query_params.getlist(enroller.options.param)
            client = request.client.host if request.client else None
            try:
                token = enroller.join(given[0] if len(given) == 1 else "", client)
            except JoinRefused as refused:
                return refused.page()
            headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
            return RedirectResponse(f"/s/{token}", status_code=303, headers=headers)

    @app.get("/s/{token}")
    def page(token: str) -> FileResponse:
        subject_of(token)
        # No Referer: the page may send the subject on (--complete-url), and its address is their secret.
        headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
        return FileResponse(str(STATIC / "index.html"), headers=headers)

    @app.get("/api/{token}/state")
    def state(token: str) -> dict:
        subject = subject_of(token)
        now = progress(subject)
        return {
            "subject": subject,
            "dataset": dataset,
            "session": new_session(token),
            "deadline_ms": deadline_ms,
            "block_size": options.block,
            "mark_reason": options.mark_reason,
            "fixation_ms": options.fixation_s * 1000,
            "image_size": [int(images.info.height), int(images.info.width)],
            "trials": budget,
            "complete_url": options.complete_url,
            "instructions": instructions,
            "finished": now["finished"],
            "progress": now,
        }

    @app.get("/api/{token}/progress")
    def get_progress(token: str) -> dict:
        return progress(subject_of(token))

    @app.get("/api/{token}/queue")
    def queue(token: str, n: Annotated[int, Query(ge=1, le=20)] = 3) -> dict:
        subject = subject_of(token)
        state = load_state(ws, subject, dataset)
        if budget is not None:
            n = min(n, max(0, budget - state.answers))  # never more images than answers still wanted
        plan = served.plan(subject)
        plan.advance(state)  # an active order: collect a refit that ended, start one that is due (never waits)
        items = plan.upcoming(state, n) if n else []
        return {"items": [{"item": i, "image": f"/api/{token}/image/{i}"} for i in items]}

    @app.get("/api/{token}/image/{item}")
    def image(token: str, item: Annotated[int, Path(ge=0)]) -> Response:
        subject = subject_of(token)
        if item >= n_items or not served.plan(subject).includes(item):  # a link shows only its own subject's images
            raise HTTPException(404, "unknown item")
        content, media_type = picture_of(item)
        return Response(content, media_type=media_type, headers={"Cache-Control": "private, max-age=86400"})

    @app.post("/api/{token}/trial")
    def trial(token: str, body: TrialIn) -> dict:
        subject = subject_of(token)
        if body.item >= n_items:
            raise HTTPException(404, "unknown item")
        check_session(token, body.session)
        shown = datetime.fromtimestamp(body.shown_at_ms / 1000, tz=timezone.utc) if body.shown_at_ms else None
        preferred = None if body.answer == "timeout" else body.answer == "preferred"
        label_id, new = record_trial(
            ws,
            subject,
            dataset,
            served.plan(subject),
            Trial(
                body.session,
                body.trial,
                body.block,
                body.item,
                preferred,
                body.rt_ms if preferred is not None else None,
                deadline_ms,
                shown.replace(tzinfo=None) if shown else None,
                body.input,
                body.orientation_changed,
            ),
            budget,
        )
        after = load_state(ws, subject, dataset)
        served.plan(subject).advance(after)
        finished = remaining(subject, after) == 0
        return {"label_id": label_id, "new": new, "finished": finished}

    @app.post("/api/{token}/region")
    def region(token: str, body: RegionIn) -> dict:
        subject = subject_of(token)
        check_session(token, body.session)
        x0, y0, x1, y1 = body.region
        if not (0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1):
            raise HTTPException(422, "a region is [x0, y0, x1, y1] with 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1")
        if not record_region(ws, subject, body.session, body.trial, (x0, y0, x1, y1)):
            raise HTTPException(404, "no such answered trial of yours")
        return {"ok": True}

    return app
