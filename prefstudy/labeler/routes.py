"""The routes behind each subject's secret link: the labelling page and its JSON API (listed in :mod:`.app`).

Each dependency below resolves the link and refuses what is not this link's to ask (404, 403); the route then
reads or writes the store.
"""

from __future__ import annotations

from datetime import datetime, timezone
from importlib.resources import files
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field

from prefstudy.bounds import INT32_MAX, RT_MS_MAX
from prefstudy.labeler.context import Context, Linked, SubjectLink, link_of, resolve_link
from prefstudy.labeler.links import SESSION_PATTERN, new_session
from prefstudy.labeler.store import Trial, record_finished, record_region, record_trial
from prefstudy.labeler.trial_plan import load_state

MAX_TRIAL = 10_000_000
LATEST_MS = 253_402_300_799_999  # 9999-12-31, the last instant a timestamp can hold
STATIC = files("prefstudy.labeler") / "static"

router = APIRouter()


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


async def queue_size(token: str, context: Context, n: Annotated[int, Query(ge=1, le=20)] = 3) -> Linked[int]:
    """How many items the link asks for next."""
    return Linked(resolve_link(context, token), n)


async def shown_item(token: str, context: Context, item: Annotated[int, Path(ge=0)]) -> Linked[int]:
    """An item of the link's own plan: a link shows only its own subject's images (else 404)."""
    link = resolve_link(context, token)
    if item >= context.n_items or not context.served.plan(link.subject).includes(item):
        raise HTTPException(404, "unknown item")
    return Linked(link, item)


async def trial_of(token: str, context: Context, body: TrialIn) -> Linked[TrialIn]:
    """A trial on an image of the dataset (else 404), from a session of this link (else 403)."""
    link = resolve_link(context, token)
    if body.item >= context.n_items:
        raise HTTPException(404, "unknown item")
    link.check_session(body.session)
    return Linked(link, body)


async def region_of(token: str, context: Context, body: RegionIn) -> Linked[RegionIn]:
    """A region from a session of this link (else 403)."""
    link = resolve_link(context, token)
    link.check_session(body.session)
    return Linked(link, body)


@router.get("/s/{token}", dependencies=[Depends(link_of)])
def page() -> FileResponse:
    """The labelling page (static HTML/JS/CSS)."""
    # No Referer: the page may send the subject on (--complete-url), and its address is their secret.
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return FileResponse(str(STATIC / "index.html"), headers=headers)


@router.get("/api/{token}/state")
def state(link: SubjectLink, context: Context) -> dict:
    """A new session for this page load, the sitting's options and the subject's progress."""
    now = context.progress(link.subject)
    options = context.options
    return {
        "subject": link.subject,
        "dataset": context.dataset,
        "session": new_session(link.token),
        "deadline_ms": context.deadline_ms,
        "block_size": options.block,
        "mark_reason": options.mark_reason,
        "fixation_ms": options.fixation_s * 1000,
        "image_size": [int(context.images.info.height), int(context.images.info.width)],
        "trials": context.budget,
        "complete_url": options.complete_url,
        "instructions": context.instructions,
        "finished": now["finished"],
        "progress": now,
    }


@router.get("/api/{token}/progress")
def get_progress(link: SubjectLink, context: Context) -> dict:
    """Block, labelled today, remaining, finished."""
    return context.progress(link.subject)


@router.get("/api/{token}/queue")
def queue(asked: Annotated[Linked[int], Depends(queue_size)], context: Context) -> dict:
    """The next items in the subject's order, within the budget; none once finished."""
    link, n = asked.link, asked.value
    state = load_state(context.ws, link.subject, context.dataset)
    if context.budget is not None:
        n = min(n, max(0, context.budget - state.answers))  # never more images than answers still wanted
    plan = context.served.plan(link.subject)
    plan.advance(state)  # an active order: collect a refit that ended, start one that is due (never waits)
    items = plan.upcoming(state, n) if n else []
    return {"items": [{"item": i, "image": f"/api/{link.token}/image/{i}"} for i in items]}


@router.get("/api/{token}/image/{item}")
def image(shown: Annotated[Linked[int], Depends(shown_item)], context: Context) -> Response:
    """An image of the subject's plan, by item id."""
    content, media_type = context.picture(shown.value)
    return Response(content, media_type=media_type, headers={"Cache-Control": "private, max-age=86400"})


@router.post("/api/{token}/trial")
def trial(answer: Annotated[Linked[TrialIn], Depends(trial_of)], context: Context) -> dict:
    """Store one trial at once (once per session and trial); say whether it was the last."""
    ws, dataset, subject, body = context.ws, context.dataset, answer.link.subject, answer.value
    shown = datetime.fromtimestamp(body.shown_at_ms / 1000, tz=timezone.utc) if body.shown_at_ms else None
    preferred = None if body.answer == "timeout" else body.answer == "preferred"
    label_id, new = record_trial(
        ws,
        subject,
        dataset,
        context.served.plan(subject),
        Trial(
            body.session,
            body.trial,
            body.block,
            body.item,
            preferred,
            body.rt_ms if preferred is not None else None,
            context.deadline_ms,
            shown.replace(tzinfo=None) if shown else None,
            body.input,
            body.orientation_changed,
        ),
        context.budget,
    )
    after = load_state(ws, subject, dataset)
    context.served.plan(subject).advance(after)
    finished = context.remaining(subject, after) == 0
    if finished and new:
        record_finished(ws, subject)  # an enrolled participant's completion time, for the researcher
    return {"label_id": label_id, "new": new, "finished": finished}


@router.post("/api/{token}/region")
def region(asked: Annotated[Linked[RegionIn], Depends(region_of)], context: Context) -> dict:
    """Store the subject's reason for an answered trial: a box in image fractions."""
    link, body = asked.link, asked.value
    x0, y0, x1, y1 = body.region
    if not (0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1):
        raise HTTPException(422, "a region is [x0, y0, x1, y1] with 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1")
    if not record_region(context.ws, link.subject, body.session, body.trial, (x0, y0, x1, y1)):
        raise HTTPException(404, "no such answered trial of yours")
    return {"ok": True}
