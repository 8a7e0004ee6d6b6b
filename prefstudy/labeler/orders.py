"""The order each subject labels in (``label --order``), kept across sittings: the ``label_orders`` table.

A subject's order is stored at their first trial under the app; a returning subject continues it, whatever
``--order`` the server was started with this time. Where a model-driven order starts from (``--start``) is
resolved once, then and there, and stored with it:

- ``auto``: the newest finished run of a consensus subject on this dataset (the population's model), else the
  subject's newest finished run on another dataset (transfer), else ``scratch``;
- ``scratch``: no model to start from (``diverse`` clusters simple image features);
- a run id: that run; ``population`` when it was made on this dataset (its head already predicts this
  dataset's preference), ``transfer`` when on another.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from prefstudy.active.selection import RANDOM, check_order
from prefstudy.bounds import COUNT, SHARE
from prefstudy.errors import PrefstudyError
from prefstudy.runs.record import finished_runs, get_run
from prefstudy.runs.status import FINISHED
from prefstudy.store import first_row
from prefstudy.subjects.roster import CONSENSUS, subject_kinds
from prefstudy.workspace import Workspace

AUTO, SCRATCH = "auto", "scratch"
POPULATION, TRANSFER = "population", "transfer"
DEFAULT_EXPLORE = 0.2
DEFAULT_REFIT_EVERY = 20


@dataclass(frozen=True)
class LabelOrder:
    """How one subject's next images are chosen.

    ``start`` is ``scratch``, ``transfer:RUN`` or ``population:RUN`` (None under ``random``, which needs no
    model); ``explore`` the share of random items mixed into an active order (0 under ``random``).
    """

    order: str = RANDOM
    explore: float = 0.0
    refit_every: int | None = None
    start: str | None = None

    def __post_init__(self) -> None:
        check_order(self.order)
        SHARE.check("--explore", self.explore)
        if self.refit_every is not None:
            COUNT.check("--refit-every", self.refit_every)

    @property
    def active(self) -> bool:
        return self.order != RANDOM

    @property
    def start_kind(self) -> str:
        return (self.start or SCRATCH).partition(":")[0]

    @property
    def start_run(self) -> str | None:
        return (self.start or "").partition(":")[2] or None

    def describe(self) -> str:
        if not self.active:
            return RANDOM
        refits = f", a refit every {self.refit_every} answers" if self.refit_every else ""
        return f"{self.order} (explore {self.explore:g}{refits}, from {self.start or SCRATCH})"


def stored_order(ws: Workspace, subject: str, dataset: str) -> LabelOrder | None:
    """The order the subject labels ``dataset`` in, if they have started labelling it under the app."""
    with ws.connect() as con:
        row = first_row(
            con,
            "SELECT label_order, explore, refit_every, start FROM label_orders WHERE subject = ? AND dataset = ?",
            [subject, dataset],
        )
    return LabelOrder(*row) if row else None


def store_order(con: duckdb.DuckDBPyConnection, subject: str, dataset: str, order: LabelOrder) -> None:
    """Keep the subject's order on ``dataset`` (a stored one stays: the first sitting decides)."""
    con.execute(
        "INSERT INTO label_orders (subject, dataset, label_order, explore, refit_every, start) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [subject, dataset, order.order, order.explore, order.refit_every, order.start],
    )


def resolve_start(ws: Workspace, subject: str, dataset: str, start: str) -> str:
    """``scratch``, ``transfer:RUN`` or ``population:RUN`` for ``--start`` (auto, scratch or a run id)."""
    if start == SCRATCH:
        return SCRATCH
    if start != AUTO:
        run = get_run(ws, start)
        if run.status != FINISHED:
            raise PrefstudyError(f"--start {start}: the run is {run.status}, not finished; give a finished run")
        return f"{POPULATION if run.dataset == dataset else TRANSFER}:{run.id}"
    kinds = subject_kinds(ws)
    here = [r for r in finished_runs(ws, dataset=dataset) if kinds.get(r.subject) == CONSENSUS]
    if here:
        return f"{POPULATION}:{here[-1].id}"
    elsewhere = [r for r in finished_runs(ws, subject=subject) if r.dataset != dataset]
    if elsewhere:
        return f"{TRANSFER}:{elsewhere[-1].id}"
    return SCRATCH
