"""Open enrolment's public join link, ``GET /join?PARAM=ID``: the route; :class:`.enrol.Enroller` decides.

Refusals are HTML pages (400, 403, 429), not JSON: a person reads them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from prefstudy.labeler.context import Context
from prefstudy.labeler.enrol import Enroller, JoinRefused

router = APIRouter()


async def enroller_of(context: Context) -> Enroller:
    """The dependency: the app's :class:`Enroller` (the app includes this router only with open enrolment)."""
    if context.enroller is None:
        raise HTTPException(404)
    return context.enroller


@router.get("/join")
def join(request: Request, enroller: Annotated[Enroller, Depends(enroller_of)]) -> Response:
    """Send a participant on to their own secret link (303), enrolling them first if new."""
    given = request.query_params.getlist(enroller.options.param)
    client = request.client.host if request.client else None
    try:
        platform = {
            name: values[0]
            for name in enroller.options.platform_params
            if len(values := request.query_params.getlist(name)) == 1
        }
        token = enroller.join(given[0] if len(given) == 1 else "", client, request.headers.get("user-agent"), platform)
    except JoinRefused as refused:
        return refused.page()
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return RedirectResponse(f"/s/{token}", status_code=303, headers=headers)
