"""Starting the labelling app from `prefstudy label`'s options: how subjects enrol, then serving until Ctrl-C."""

from __future__ import annotations

from collections.abc import Callable

from prefstudy.datasets.catalog import get_dataset
from prefstudy.errors import PrefstudyError
from prefstudy.labeler.enrol import DEFAULT_PARAM, DEFAULT_PER_MINUTE, OpenEnrolment
from prefstudy.labeler.options import LabelOptions
from prefstudy.labeler.server import serve
from prefstudy.workspace import Workspace

LINKS, OPEN = "links", "open"  # each person through a secret link; one public join link


def check_enrol(
    mode: str, subject: str | None, *, participant_param: str | None, max_subjects: int | None, join_rate: int | None
) -> None:
    """One line when ``--enrol`` is neither links nor open, or disagrees with the options given with it."""
    if mode not in (LINKS, OPEN):
        raise PrefstudyError(f"--enrol must be links or open, got {mode!r}")
    open_options = {"--participant-param": participant_param, "--max-subjects": max_subjects, "--join-rate": join_rate}
    if mode == LINKS and (given := [name for name, value in open_options.items() if value is not None]):
        raise PrefstudyError(f"{given[0]} needs --enrol open")
    if mode == OPEN and subject is not None:
        raise PrefstudyError("--subject and --enrol open exclude each other: participants enrol themselves")


def open_enrolment(
    mode: str,
    *,
    participant_param: str | None,
    max_subjects: int | None,
    join_rate: int | None,
    keep_address: bool = False,
) -> OpenEnrolment | None:
    """The open enrolment ``--enrol open`` asks for, with the defaults of what is not given; None for links."""
    if mode != OPEN:
        return None
    return OpenEnrolment(
        param=participant_param or DEFAULT_PARAM,
        max_subjects=max_subjects,
        per_minute=join_rate or DEFAULT_PER_MINUTE,
        keep_address=keep_address,
    )


def start_labelling(
    ws: Workspace,
    dataset: str,
    subject: str | None,
    options: LabelOptions,
    *,
    enrol: OpenEnrolment | None,
    host: str,
    port: int,
    open_browser: bool,
    say: Callable[[str], None],
    note: Callable[[str], None],
) -> None:
    """Serve the labelling app on ``dataset`` until Ctrl-C (see :func:`.server.serve`); ``note`` says how to stop."""
    get_dataset(ws, dataset)
    note("labelling app: stop it with Ctrl-C (every answer is already stored)")
    serve(ws, dataset, subject, options, host=host, port=port, open_browser=open_browser, say=say, enrol=enrol)
