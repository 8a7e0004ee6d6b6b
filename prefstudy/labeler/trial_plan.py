"""Which image a subject sees next: a seeded order per subject, re-queued misses, hidden repeats.

The plan is a pure function of the subject's stored trials, so a server restart, a closed tab
or a second sitting resumes exactly where the subject stopped:

- items come in a random order that is fixed per subject and seed (``--limit`` keeps the first N);
- a trial that ran past the deadline is queued again after ``TIMEOUT_GAP`` other trials;
- a hidden, seeded fraction ``repeat`` of the items is shown once more, at least ``repeat_gap``
  trials after its first answer, for test-retest consistency.

This is the ``random`` order; :mod:`.active_plan` chooses by a model or by clusters instead. Either records
what chose each item (:meth:`TrialPlan.strategy`): under ``random``, ``test`` for an item the dataset-level
split holds out for testing, else ``random`` (and ``repeat`` for a hidden repeat).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from prefstudy.active.selection import RANDOM, TEST
from prefstudy.labeler.orders import LabelOrder
from prefstudy.subjects.labels import trial_history
from prefstudy.workspace import Workspace

TIMEOUT_GAP = 5


@dataclass(frozen=True)
class PlanOptions:
    seed: int = 0
    repeat: float = 0.0  # a share of the trials budget (of the items shown, without one) repeated, hidden
    limit: int | None = None
    block: int = 100
    trials: int | None = None  # the subject's budget of answers, repeats included


@dataclass
class TrialState:
    """What the subject has done so far on the dataset, from the stored trials."""

    trials: int = 0  # every trial stored, timed out and repeats included
    answers: int = 0  # in-time answers, repeats included: what a trial budget counts
    answered_at: dict[int, int] = field(default_factory=dict)  # item -> trial position of its answer
    first_label: dict[int, int] = field(default_factory=dict)  # item -> label id of that answer
    repeated: set[int] = field(default_factory=set)
    timed_out_at: dict[int, int] = field(default_factory=dict)  # unanswered item -> position of its last miss


def load_state(ws: Workspace, subject: str, dataset: str) -> TrialState:
    """The subject's progress on the dataset, rebuilt from their stored trials."""
    rows = trial_history(ws, subject, dataset)
    state = TrialState(trials=len(rows))
    for position, row in enumerate(rows):
        state.answers += not row.timed_out and row.preferred is not None  # as labels.answer_count
        if row.repeat_of is not None:
            state.repeated.add(row.item)
        elif row.timed_out or row.preferred is None:
            if row.item not in state.answered_at:
                state.timed_out_at[row.item] = position
        elif row.item not in state.answered_at:
            state.answered_at[row.item] = position
            state.first_label[row.item] = row.label_id
            state.timed_out_at.pop(row.item, None)
    return state


def _repeats(options: PlanOptions, shown: int, gap: int) -> tuple[int, int]:
    """(how many hidden repeats, drawn among how many first items of the order).

    With a trials budget the repeats are a share of it (at least one where the budget leaves room for one after
    its gap), drawn among the items shown early enough to come back within the budget; without one, a share of
    the items shown, drawn among them all.
    """
    if options.repeat <= 0 or not shown:
        return 0, shown
    if options.trials is None:
        return round(options.repeat * shown), shown
    n = max(1, round(options.repeat * options.trials))
    among = min(shown, options.trials - n - gap)  # answered with `gap` trials to spare before the budget ends
    if among < 1:
        return 0, shown
    return min(n, among), among


class TrialPlan:
    """The order, repeat set and next items for one subject on one dataset."""

    def __init__(
        self,
        subject: str,
        n_items: int,
        options: PlanOptions,
        test: np.ndarray | None = None,
        label_order: LabelOrder | None = None,
    ):
        """``test``: the dataset-level split's held-out items (bool per item), so their labels say ``test``;
        ``label_order``: the order stored at the subject's first trial (:mod:`.orders`)."""
        self.options = options
        self.subject, self.n_items = subject, n_items
        self.test = test
        self.label_order = label_order or LabelOrder()
        self.order_stored = False  # set once label_order is in the database (the first trial stores it)
        self.salt = salt = zlib.crc32(subject.encode())
        order = np.random.default_rng([options.seed, salt]).permutation(n_items)
        self.order = order[: options.limit] if options.limit else order
        self.items = frozenset(int(i) for i in self.order)
        self.repeat_gap = max(10, options.block // 2)
        n_repeat, among = _repeats(options, len(self.order), self.repeat_gap)
        chosen = np.random.default_rng([options.seed, salt, 1]).permutation(among)[:n_repeat]
        self.repeat_set = {int(self.order[i]) for i in chosen}

    @property
    def total(self) -> int:
        return len(self.order)

    def includes(self, item: int) -> bool:
        """Whether the plan ever shows ``item`` to this subject (``--limit`` keeps only the first of the order)."""
        return item in self.items

    def is_repeat(self, item: int, state: TrialState) -> bool:
        """Whether an answer to ``item`` now is its hidden second showing."""
        return item in self.repeat_set and item in state.answered_at and item not in state.repeated

    def strategy(self, item: int) -> str | None:
        """What chose ``item`` for its first showing (a hidden repeat is ``repeat``, whatever this says)."""
        return TEST if self.test is not None and self.test[item] else RANDOM

    def advance(self, state: TrialState) -> None:
        """Called with the subject's state on each request; an active order starts and reads refits here."""

    def stop(self) -> None:
        """The server stops: end what runs on the subject's behalf (an active order's refit)."""

    def due_repeats(self, state: TrialState) -> list[int]:
        """Hidden repeats that are due, the earliest answered first."""
        due = sorted(
            (pos, item)
            for item, pos in state.answered_at.items()
            if item in self.repeat_set and item not in state.repeated and state.trials - pos >= self.repeat_gap
        )
        return [item for _, item in due]

    def last_resort(self, state: TrialState) -> list[int]:
        """Nothing else left to space them out: misses and repeats come now rather than never."""
        return sorted(state.timed_out_at, key=state.timed_out_at.get) + sorted(
            i for i in self.repeat_set if i in state.answered_at and i not in state.repeated
        )

    def upcoming(self, state: TrialState, n: int) -> list[int]:
        """The next ``n`` items: repeats that are due first, then unanswered items in order."""
        due = self.due_repeats(state)
        out = due[:n]
        for item in self.order:
            if len(out) >= n:
                break
            item = int(item)
            if item in state.answered_at:
                continue
            missed = state.timed_out_at.get(item)
            if missed is not None and state.trials - missed <= TIMEOUT_GAP:  # TIMEOUT_GAP other trials first
                continue
            out.append(item)
        for item in self.last_resort(state):
            if len(out) >= n:
                break
            if item not in out:
                out.append(item)
        return out

    def remaining(self, state: TrialState) -> int:
        """Trials still to come: unanswered items and repeats not yet shown."""
        unanswered = sum(1 for item in self.order if int(item) not in state.answered_at)
        return unanswered + len(self.repeat_set - state.repeated)
