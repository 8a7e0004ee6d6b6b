"""The one run path: orders in, an executor opened, the driver making them, results out.

`prefstudy run` and `prefstudy study run` (and the demo) call :func:`run_orders` with the orders
they planned; what differs between them is only the planner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from prefstudy.errors import PrefstudyError
from prefstudy.executors.driver import Driver, DriverOptions, DriverResult, Planner, fixed_orders
from prefstudy.executors.registry import INLINE, ExecutorOptions, Opening, open_executor
from prefstudy.progress import Reporter, SilentReporter
from prefstudy.runs.orders import RunOrder
from prefstudy.workspace import Workspace

if TYPE_CHECKING:
    from prefstudy.engine.distributed import World
    from prefstudy.features.compute import Elsewhere

DEFAULT_RETRIES = {INLINE: 0}  # a run that fails here fails for a reason a retry would meet again
OTHER_RETRIES = 2  # elsewhere a worker can be lost (killed, preempted) and a retry resumes


def run_orders(
    ws: Workspace,
    planner: Planner,
    executor: str = INLINE,
    options: ExecutorOptions | None = None,
    driving: DriverOptions | None = None,
    report: Reporter | None = None,
    on_finished: Callable[[dict[str, Any]], None] | None = None,
    world: World | None = None,
) -> DriverResult:
    """Make every run ``planner`` orders on ``executor``; ``world`` is the torchrun world under torchrun (inline).

    ``driving.retries`` None takes the executor's default: none inline, two elsewhere.
    """
    report = report or SilentReporter()
    driving = driving or DriverOptions()
    if driving.retries is None:
        driving = replace(driving, retries=DEFAULT_RETRIES.get(executor, OTHER_RETRIES))
    with open_executor(executor, options or ExecutorOptions(), Opening(ws, report, world)) as opened:
        elsewhere = None if opened.in_this_process else opened.call
        return Driver(ws, opened, driving, report, on_finished).run(_with_features(ws, planner, report, elsewhere))


def _with_features(ws: Workspace, planner: Planner, report: Reporter, elsewhere: Elsewhere | None) -> Planner:
    """``planner``, its head runs' features computed (once per dataset and extractor) before they are handed out:
    here inline, else in one of the executor's workers (``elsewhere``)."""
    ready: set[tuple[str, str]] = set()

    def planned() -> list[RunOrder]:
        orders = planner()
        for order in orders:
            wanted = (order.dataset, order.settings.backbone)
            if order.settings.head is not None and wanted not in ready:
                from prefstudy.features.compute import ensure_features  # loads the extractor: only for heads

                ensure_features(ws, *wanted, report, elsewhere)
                ready.add(wanted)
        return orders

    return planned


def make_run(
    ws: Workspace, order: RunOrder, report: Reporter | None = None, driving: DriverOptions | None = None
) -> dict[str, Any]:
    """Make one run in this process, through the same path as every run, and return its result (its `run --json`
    object); an order that cannot be made, or a run that fails, raises its error in one line."""
    driving = replace(driving or DriverOptions(), strict=True)
    outcome = run_orders(ws, fixed_orders([order]), driving=driving, report=report)
    if outcome.failed:
        raise PrefstudyError(f"run {outcome.failed[0]['run_id']} failed: {outcome.failed[0]['error']}")
    return outcome.finished[0]
