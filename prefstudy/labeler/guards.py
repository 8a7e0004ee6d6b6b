"""What the labelling server refuses before any route runs: oversized bodies, and foreign hosts on loopback.

Both are plain ASGI middleware, so they hold for every route, and a refused request never reaches the store.
"""

from __future__ import annotations

import ipaddress
import re

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 64 * 1024  # a trial or a region is under 300 bytes; this leaves room and nothing to exhaust memory with
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})
_HOST = re.compile(r"^(\[[^\]]*\]|[^:\[\]]*)(:\d{1,5})?$")


def is_loopback(host: str) -> bool:
    """Whether listening on ``host`` serves this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str | None:
    """The name in a ``Host`` header, without its port, lower case; None when it is malformed."""
    match = _HOST.match(header.strip().lower())
    return match[1] if match else None


async def _refuse(status: int, detail: str, scope: Scope, receive: Receive, send: Send) -> None:
    await JSONResponse({"detail": detail}, status_code=status)(scope, receive, send)


class BodyLimit:
    """Refuse (413) a request body over ``limit`` bytes, declared or chunked, before anything parses it."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = f"request body over {self.limit} bytes: refused"
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _refuse(413, too_large, scope, receive, send)
            return
        chunks, size = [], 0
        while True:  # read it all (it is small) so a chunked body without a length is capped too
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                await _refuse(413, too_large, scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


class LoopbackHosts:
    """Refuse (421) a request whose ``Host`` is not this machine's own name: a page on another site that
    rebinds its DNS name to 127.0.0.1 reaches the server, but still under its own name."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            header = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            if host_name(header) not in LOOPBACK_NAMES:
                detail = "this server answers only to localhost, 127.0.0.1 or [::1]: open the link as printed"
                await _refuse(421, detail, scope, receive, send)
                return
        await self.app(scope, receive, send)
