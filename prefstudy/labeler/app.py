"""The labelling web app (FastAPI): a static page and a small JSON API behind each subject's secret link.

Routes (``TOKEN`` is the subject's secret; nothing else is reachable without it):

- ``GET /s/TOKEN`` — the labelling page (plain HTML/JS/CSS from ``static/``, no build step);
- ``GET /api/TOKEN/state`` — a new session for this page load (signed with the link, see :mod:`.links`),
  the options, the study's instructions, the trial budget and completion URL, the progress;
- ``GET /api/TOKEN/queue?n=3`` — the next items (ids and image URLs); none once the subject is finished;
  chosen in the subject's order (``--order``: :mod:`.trial_plan` for random, :mod:`.active_plan` for the others);
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

The routes live in :mod:`.routes` (the secret link's) and :mod:`.join` (open enrolment's); what they share, and
the dependencies that hand it to them, in :mod:`.context`. This module assembles the app.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from prefstudy.errors import PrefstudyError
from prefstudy.labeler import join, routes
from prefstudy.labeler.context import LabelContext
from prefstudy.labeler.enrol import OpenEnrolment
from prefstudy.labeler.guards import MAX_BODY, BodyLimit, LoopbackHosts
from prefstudy.labeler.options import LabelOptions
from prefstudy.labeler.store import TrialRejected
from prefstudy.workspace import Workspace

__all__ = ["create_app"]


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    app.state.labelling.served.stop()  # a refit running for a subject ends with the server


async def _rejected(request: Request, error: TrialRejected) -> JSONResponse:
    return JSONResponse({"detail": str(error)}, status_code=409)


async def _malformed(request: Request, error: RequestValidationError) -> JSONResponse:
    # Without the offending input: it may be NaN (not JSON) or large.
    detail = [{"loc": e["loc"], "msg": e["msg"], "type": e["type"]} for e in error.errors()]
    return JSONResponse({"detail": detail}, status_code=422)


async def _unavailable(request: Request, error: PrefstudyError) -> JSONResponse:
    return JSONResponse({"detail": str(error)}, status_code=503)


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
    context = LabelContext(ws, dataset, tokens, options, enrol=enrol, log=log)
    handlers = {TrialRejected: _rejected, RequestValidationError: _malformed, PrefstudyError: _unavailable}
    app = FastAPI(
        title="prefstudy labeller",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=_lifespan,
        exception_handlers=handlers,
    )
    app.state.labelling = context
    app.state.served = context.served
    app.mount("/static", StaticFiles(directory=str(routes.STATIC)), name="static")
    app.add_middleware(BodyLimit, limit=MAX_BODY)
    if loopback_only:
        app.add_middleware(LoopbackHosts)  # added last, so it runs first
    if context.enroller is not None:
        app.include_router(join.router)
    app.include_router(routes.router)
    return app
