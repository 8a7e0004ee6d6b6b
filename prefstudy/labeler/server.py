"""Running the labelling app: bind, print each subject's link (or the one public join link), open the browser,
serve until Ctrl-C."""

from __future__ import annotations

import socket
import webbrowser
from collections.abc import Callable

import uvicorn

from prefstudy.errors import PrefstudyError
from prefstudy.labeler import LOOPBACK
from prefstudy.labeler.app import create_app
from prefstudy.labeler.enrol import OpenEnrolment
from prefstudy.labeler.enrolments import enrolments
from prefstudy.labeler.guards import is_loopback
from prefstudy.labeler.links import link_token
from prefstudy.labeler.options import LabelOptions
from prefstudy.subjects.roster import HUMAN, ensure_subject, human_subjects
from prefstudy.workspace import Workspace


def _origin(host: str, port: int) -> str:
    if is_loopback(host):
        shown = "localhost"
    elif host in ("0.0.0.0", "::"):
        shown = socket.gethostname()
    else:
        shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def link(host: str, port: int, token: str) -> str:
    """The subject's URL on a server listening at ``host:port``."""
    return f"{_origin(host, port)}/s/{token}"


def join_link(host: str, port: int, param: str) -> str:
    """The public URL every participant of an open study starts at; the platform puts their id in ``<id>``."""
    return f"{_origin(host, port)}/join?{param}=<id>"


def subjects_to_serve(ws: Workspace, subject: str | None) -> dict[str, str]:
    """token -> subject: the one subject asked for (added if new), or every person in the study."""
    if subject is not None:
        with ws.transaction() as con:
            ensure_subject(con, subject, HUMAN)
        return {link_token(ws, subject): subject}
    people = human_subjects(ws)
    if not people:
        raise PrefstudyError("no people in this study yet: `prefstudy subject add NAME`, or give --subject NAME")
    return {link_token(ws, s): s for s in people}


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise PrefstudyError(f"cannot listen on {host}:{port} ({error.strerror}); choose another --port") from None
    return sock


def serve(
    ws: Workspace,
    dataset: str,
    subject: str | None,
    options: LabelOptions,
    *,
    host: str = LOOPBACK,
    port: int = 0,
    open_browser: bool = True,
    say: Callable[[str], None] = print,
    enrol: OpenEnrolment | None = None,
) -> None:
    """Serve the labelling app until interrupted; with ``enrol``, participants enrol through one public link."""
    if enrol is not None and subject is not None:
        raise PrefstudyError("--subject and --enrol open exclude each other: participants enrol themselves")
    tokens = subjects_to_serve(ws, subject) if enrol is None else {}
    app = create_app(ws, dataset, tokens, options, loopback_only=is_loopback(host), enrol=enrol)
    sock = bind(host, port)
    port = sock.getsockname()[1]
    if enrol is not None:
        enrolled = len(enrolments(ws, dataset=dataset))
        limit = f" of at most {enrol.max_subjects}" if enrol.max_subjects is not None else ""
        say(f"join: {join_link(host, port, enrol.param)}")
        say(f"the one link for every participant ({enrolled}{limit} enrolled on {dataset} so far)")
    else:
        urls = {s: link(host, port, t) for t, s in tokens.items()}
        for name, url in urls.items():
            say(f"{name}: {url}")
        if not is_loopback(host):
            say("each link is secret: give every subject only their own")
        if open_browser and len(urls) == 1:
            webbrowser.open(next(iter(urls.values())))
    if options.order != "random":
        say(f"order: {options.label_order().describe()}; a subject who began in another order keeps it")
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])
