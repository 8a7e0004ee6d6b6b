"""The active orders of ``prefstudy label``: ``uncertainty`` and ``diverse`` choose what a subject sees next.

Each trial position is one of three kinds (:func:`~prefstudy.active.selection.slot_kinds`, a pure function
of the position, so the items a page fetched ahead and those it is served after a reload agree):

- ``test``, with the dataset-level split's test share: a random item held out for testing. Held-out items
  are labelled and can score the model, but no strategy chooses them and they never train it;
- ``explore``, with probability ``--explore`` of the rest: a random item that is not held out, which keeps
  an unbiased estimate possible;
- the order's own: ``uncertainty`` takes the candidates whose P(preferred) under the subject's newest model
  is nearest 0.5; ``diverse`` takes one candidate at a time from the feature cluster with the fewest labels.
  Until a model or clusters exist (or after a refit failed) it takes a random candidate and says ``random``.

Candidates are the plan's items (``--limit`` bounds them) not held out and not answered. Due repeats come
first and missed items come back after a few other trials, as in the ``random`` order. "Random" is always
the next item of the subject's seeded order. Every item served is recorded with the strategy that first
served it (``served.jsonl`` beside the refits' files), which is what its label says.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from prefstudy.active.selection import DIVERSE, EXPLORE, RANDOM, TEST, UNCERTAINTY, pick_diverse, pick_uncertain
from prefstudy.active.selection import slot_kinds as kinds_of
from prefstudy.datasets.catalog import DatasetInfo
from prefstudy.labeler.orders import AUTO, SCRATCH, LabelOrder, resolve_start, stored_order
from prefstudy.labeler.refits import Refits
from prefstudy.labeler.trial_plan import TIMEOUT_GAP, PlanOptions, TrialPlan, TrialState
from prefstudy.workspace import Workspace

SCORED_AT_MOST = 2000  # a refit scores this many candidates (the next of the seeded order), not all
CLUSTERED_AT_MOST = 20000


class ActivePlan(TrialPlan):
    """A subject's plan under ``uncertainty`` or ``diverse``, fed by their :class:`Refits`."""

    def __init__(
        self,
        subject: str,
        n_items: int,
        options: PlanOptions,
        test: np.ndarray,
        label_order: LabelOrder,
        refits: Refits,
        test_share: float,
    ):
        super().__init__(subject, n_items, options, test, label_order)
        self.refits, self.test_share = refits, test_share
        self.test_order = self.order[test[self.order]]
        self.train_order = self.order[~test[self.order]]
        self._lock = threading.Lock()
        self.served: dict[int, str] = {}
        for entry in refits.dir.read_served():
            self.served.setdefault(int(entry["item"]), entry["strategy"])

    def strategy(self, item: int) -> str | None:
        """The strategy that first served ``item``; ``test`` for a held-out item never served (None: unknown)."""
        found = self.served.get(item)
        return found if found is not None else TEST if self.test[item] else None

    def advance(self, state: TrialState) -> None:
        self.refits.tick(state.answers, lambda: self.pool(state))

    def stop(self) -> None:
        self.refits.stop()

    def pool(self, state: TrialState) -> np.ndarray:
        """What a refit scores or clusters: candidates in the seeded order, at most so many."""
        free = self.train_order[~self._answered(state)[self.train_order]]
        cap = SCORED_AT_MOST if self.label_order.order == UNCERTAINTY else CLUSTERED_AT_MOST
        return free[:cap]

    def upcoming(self, state: TrialState, n: int) -> list[int]:
        out = self.due_repeats(state)[:n]
        ready = [i for i in sorted(state.timed_out_at, key=state.timed_out_at.get) if self._back(state, i)]
        out += [i for i in ready if i not in out][: n - len(out)]
        picks: list[tuple[int, str]] = []
        if len(out) < n:
            picks = self._pick(state, out, n - len(out))
            out += [item for item, _ in picks]
        for item in self.last_resort(state):
            if len(out) >= n:
                break
            if item not in out:
                out.append(item)
        self._remember(picks)
        return out

    # --- choosing -----------------------------------------------------------------------------

    def _answered(self, state: TrialState) -> np.ndarray:
        answered = np.zeros(self.n_items, dtype=bool)
        answered[list(state.answered_at)] = True
        return answered

    def _back(self, state: TrialState, item: int) -> bool:
        return item in self.items and state.trials - state.timed_out_at[item] > TIMEOUT_GAP

    def _pick(self, state: TrialState, taken: list[int], k: int) -> list[tuple[int, str]]:
        """``k`` new items for the next trial positions, each with the strategy that chose it."""
        blocked = self._answered(state)
        blocked[taken] = True
        blocked[list(state.timed_out_at)] = True  # a missed item comes back by itself, after the gap
        test_free = self.test_order[~blocked[self.test_order]]
        free = self.train_order[~blocked[self.train_order]]
        own_name, ranked = self._ranked(free, 2 * k, blocked)
        lists = {TEST: (test_free, TEST), EXPLORE: (free, EXPLORE), "": (ranked, own_name)}
        fallbacks = {TEST: ("", EXPLORE), EXPLORE: (TEST,), "": (EXPLORE, TEST)}
        cursor = {TEST: 0, EXPLORE: 0, "": 0}
        used: set[int] = set()
        positions = state.trials + len(taken) + np.arange(k)
        kinds = kinds_of(self.options.seed, self.salt, positions, self.test_share, self.label_order.explore)
        picks = []
        for kind in kinds:
            for source in (kind, *fallbacks[kind]):
                items, name = lists[source]
                while cursor[source] < len(items) and int(items[cursor[source]]) in used:
                    cursor[source] += 1
                if cursor[source] < len(items):
                    item = int(items[cursor[source]])
                    # the order's own slot filled from the seeded order is plain random
                    picks.append((item, RANDOM if source == EXPLORE and kind != EXPLORE else name))
                    used.add(item)
                    break
        return picks

    def _ranked(self, free: np.ndarray, n: int, blocked: np.ndarray) -> tuple[str, np.ndarray]:
        """The order's own ranking of the candidates, or the seeded order (``random``) until it has one."""
        refits = self.refits
        if refits.failed or not len(free):
            return RANDOM, free
        if self.label_order.order == UNCERTAINTY and refits.scores is not None:
            scored = free[np.isfinite(refits.scores[free])]
            if len(scored):
                return UNCERTAINTY, pick_uncertain(scored, refits.scores, n)
        if self.label_order.order == DIVERSE and refits.clusters is not None:
            labelled = np.flatnonzero(blocked)
            return DIVERSE, pick_diverse(free, refits.clusters, labelled, n)
        return RANDOM, free

    def _remember(self, picks: list[tuple[int, str]]) -> None:
        """Keep the strategy that first served each item, here and in ``served.jsonl`` (across restarts)."""
        with self._lock:
            new = [(item, name) for item, name in picks if item not in self.served]
            if not new:
                return
            for item, name in new:
                self.served[item] = name
            self.refits.dir.path.mkdir(parents=True, exist_ok=True)
            text = "".join(json.dumps({"item": item, "strategy": name}) + "\n" for item, name in new)
            fd = os.open(self.refits.dir.served, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, text.encode())
            finally:
                os.close(fd)


class Plans:
    """Makes each served subject's plan: in their stored order, else in the order the server was started with
    (``wanted``, whose ``start`` is still ``auto``, ``scratch`` or a run id), resolved for them."""

    def __init__(
        self,
        ws: Workspace,
        info: DatasetInfo,
        options: PlanOptions,
        wanted: LabelOrder,
        test: np.ndarray,
        test_share: float,
        log: Callable[[str], None],
    ):
        self.ws, self.info, self.options, self.wanted, self.test = ws, info, options, wanted, test
        self.test_share, self.log = test_share, log
        if wanted.active and wanted.start not in (None, AUTO, SCRATCH):
            resolve_start(ws, "", info.name, wanted.start)  # an unknown or unfinished run: one line, at start

    def __call__(self, subject: str) -> TrialPlan:
        order = stored = stored_order(self.ws, subject, self.info.name)
        if stored is None:
            order = self.wanted
            if order.active:
                order = replace(order, start=resolve_start(self.ws, subject, self.info.name, order.start or AUTO))
        elif self._comparable(stored) != self._comparable(self.wanted):
            began = stored.describe()
            self.log(f"{subject} continues the order they began in: {began} (not --order {self.wanted.order})")
        if order.active:
            refits = Refits(self.ws, self.info, subject, order, self.test, self.log, seed=self.options.seed)
            plan = ActivePlan(subject, self.info.n_items, self.options, self.test, order, refits, self.test_share)
        else:
            plan = TrialPlan(subject, self.info.n_items, self.options, self.test, order)
        plan.order_stored = stored is not None
        return plan

    @staticmethod
    def _comparable(order: LabelOrder) -> tuple:
        return (order.order, order.explore if order.active else 0.0, order.refit_every if order.active else None)
