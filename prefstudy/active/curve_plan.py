"""What a learning curve measures, checked before anything trains, and the numbers read off it (torch-free).

A curve replays a subject's existing labels as an oracle: a strategy (an *order*: random, uncertainty,
diverse) chooses which of the subject's labelled items it would have asked for, a model is fitted from a
*start* (scratch, transfer:RUN, population:RUN) on the labels chosen so far, and is scored on test items.

- **Test items** are the subject's labelled items that the dataset-level split
  (:func:`prefstudy.splits.item_test_mask`, ``split_seed`` and ``test_fraction``) marks test: the same
  items for every curve of a subject and dataset, and never chosen or trained on. The **pool** is the
  subject's other labelled items.
- **Budgets** ascend; those larger than the pool are dropped with a note. The **all-labels** point is a
  fit on the whole pool, per seed, from the curve's start.
- **Chance** is the test accuracy of always giving the pool's majority answer (preferred on a tie).
- **labels_to_95pct** is the fewest budget labels whose accuracy, the mean over seeds, reaches 95 % of the
  all-labels gain over chance: (accuracy − chance) ≥ 0.95 × (all-labels accuracy − chance), the
  all-labels accuracy being the mean over seeds from the same start. None when no budget reaches it, or
  when the all-labels model does not beat chance (there is no gain to reach).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from prefstudy.active.curve_store import CurvePoint, StoredCurve
from prefstudy.active.selection import check_order
from prefstudy.config import TrainSettings
from prefstudy.datasets.catalog import get_dataset
from prefstudy.errors import PrefstudyError
from prefstudy.runs.record import FINISHED, get_run
from prefstudy.splits import item_test_mask
from prefstudy.subjects.labels import ratings_of, subjects_with_labels, usable_labels
from prefstudy.subjects.roster import CONSENSUS, subject_kinds
from prefstudy.workspace import Workspace

REACH = 0.95  # the share of the all-labels gain over chance a curve must reach
STEP_RULE = "each step adds the labels up to the next budget, chosen with the model fitted at the current budget"
_DEFAULTS = TrainSettings()


@dataclass(frozen=True)
class CurveRequest:
    """Which curves to measure for one subject and dataset, and how (see the module docstring)."""

    subject: str
    dataset: str
    orders: tuple[str, ...]
    starts: tuple[str, ...]  # scratch, transfer:RUN or population:RUN
    budgets: tuple[int, ...]
    seeds: int = 3
    explore: float = 0.2  # the random share of each step of an active order
    backbone: str = _DEFAULTS.backbone
    epochs: int = 10
    batch_size: int = 32
    lr: float = _DEFAULTS.lr
    split_seed: int = _DEFAULTS.seed
    test_fraction: float = _DEFAULTS.test_fraction


@dataclass
class CurvePlan:
    """A checked request with the subject's test items and pool (item indices, sorted) and their answers."""

    request: CurveRequest
    test: np.ndarray
    test_preferred: np.ndarray
    pool: np.ndarray
    pool_preferred: np.ndarray
    budgets: tuple[int, ...]  # those the pool can fill
    dropped: tuple[int, ...]  # those larger than the pool
    chance: float
    rated_test: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # test items with a rating
    rated_test_rating: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))

    @property
    def step(self) -> str:
        """How many labels each selection step adds, e.g. ``20, +20, +40``."""
        adds = np.diff((0, *self.budgets))
        return ", ".join([str(adds[0]), *(f"+{a}" for a in adds[1:])]) if len(adds) else ""

    def settings(self) -> dict:
        """What the stored curve records about how it was measured."""
        r = self.request
        return {
            "budgets": list(self.budgets),
            "dropped_budgets": list(self.dropped),
            "step_rule": STEP_RULE,
            "explore": r.explore,
            "backbone": r.backbone,
            "epochs": r.epochs,
            "batch_size": r.batch_size,
            "lr": r.lr,
            "split_seed": r.split_seed,
            "test_fraction": r.test_fraction,
            "test_items": len(self.test),
            "pool": len(self.pool),
            "rated_test_items": len(self.rated_test),
        }


def parse_list(text: str, what: str) -> list[str]:
    """A comma-separated option's values, in order, each once; an empty list is an error."""
    values = list(dict.fromkeys(v.strip() for v in text.split(",") if v.strip()))
    if not values:
        raise PrefstudyError(f"--{what} needs at least one value")
    return values


def parse_budgets(text: str) -> tuple[int, ...]:
    """Positive label budgets from ``50,100,200``, ascending and each once."""
    budgets = []
    for value in parse_list(text, "budgets"):
        try:
            budget = int(value)
        except ValueError:
            raise PrefstudyError(f"--budgets takes whole numbers of labels, got {value!r}") from None
        if budget < 2:
            raise PrefstudyError(f"a budget must be at least 2 labels (a model needs both answers), got {budget}")
        budgets.append(budget)
    return tuple(sorted(set(budgets)))


def check_start(ws: Workspace, text: str) -> str:
    """``text`` when it names a start this study can use: scratch, or a finished run after transfer: / population:."""
    kind, _, run_id = text.strip().partition(":")
    if kind == "scratch" and not run_id:
        return "scratch"
    if kind not in ("transfer", "population") or not run_id:
        raise PrefstudyError(f"a start is scratch, transfer:RUN or population:RUN, got {text!r}")
    row = get_run(ws, run_id)
    if row.status != FINISHED:
        raise PrefstudyError(f"run {run_id} is {row.status}, not finished: it cannot start a curve")
    return f"{kind}:{run_id}"


def plan_curves(ws: Workspace, request: CurveRequest) -> tuple[CurvePlan, list[str]]:
    """The checked plan of one subject's curves, and notes (dropped budgets); one clear error otherwise."""
    get_dataset(ws, request.dataset)
    for order in request.orders:
        check_order(order)
    labels = usable_labels(ws, request.subject, request.dataset)
    if not len(labels.item_idx):
        raise PrefstudyError(
            f"subject {request.subject!r} has no usable labels on {request.dataset!r}; see `prefstudy subject list`"
        )
    n_items = get_dataset(ws, request.dataset).n_items
    mask = item_test_mask(n_items, seed=request.split_seed, test_fraction=request.test_fraction, folds=None, fold=None)
    is_test = mask[labels.item_idx]
    test, pool = labels.item_idx[is_test], labels.item_idx[~is_test]
    test_preferred, pool_preferred = labels.preferred[is_test], labels.preferred[~is_test]
    if len(test) == 0 or len(pool) < 2:
        raise PrefstudyError(
            f"{request.subject!r} has {len(test)} test items and {len(pool)} pool items on {request.dataset!r}; "
            "a curve needs both (label more, or change --test-fraction)"
        )
    if len(set(pool_preferred.tolist())) < 2:
        raise PrefstudyError(f"every pool label of {request.subject!r} gives the same answer: nothing to learn")
    budgets = tuple(b for b in request.budgets if b <= len(pool))
    dropped = tuple(b for b in request.budgets if b > len(pool))
    notes = [f"budgets {', '.join(map(str, dropped))} dropped: the pool holds {len(pool)} labels"] if dropped else []
    if not budgets:
        raise PrefstudyError(f"every budget is larger than the {len(pool)} pool labels of {request.subject!r}")
    majority = bool(pool_preferred.mean() >= 0.5)
    ratings = ratings_of(ws, request.subject, request.dataset)
    rated = mask[ratings.item_idx] if len(ratings.item_idx) else np.zeros(0, bool)
    plan = CurvePlan(
        request=request,
        test=test,
        test_preferred=test_preferred,
        pool=pool,
        pool_preferred=pool_preferred,
        budgets=budgets,
        dropped=dropped,
        chance=float(np.mean(test_preferred == majority)),
        rated_test=ratings.item_idx[rated],
        rated_test_rating=ratings.rating[rated],
    )
    return plan, notes


def plan_subjects(
    ws: Workspace,
    request: CurveRequest,
    every_subject: bool,
    *,
    warn: Callable[[str], None],
    note: Callable[[str], None],
) -> list[CurvePlan]:
    """The checked plans of ``request.subject``, or with ``every_subject`` of every subject with labels on the
    dataset (the consensus aside, and with a warning those a curve cannot use); notes say what was dropped."""
    get_dataset(ws, request.dataset)
    if every_subject:
        kinds = subject_kinds(ws)
        names = [n for n in subjects_with_labels(ws, request.dataset) if kinds.get(n) != CONSENSUS]
        if not names:
            raise PrefstudyError(f"no subject has labels on {request.dataset!r}")
    else:
        names = [request.subject]
    plans = []
    for name in names:
        try:
            plan, notes = plan_curves(ws, replace(request, subject=name))
        except PrefstudyError as error:
            if not every_subject:
                raise
            warn(f"{name} left out: {error}")
            continue
        for message in notes:
            note(f"{name}: {message}")
        plans.append(plan)
    if not plans:
        raise PrefstudyError(f"no subject on {request.dataset!r} has labels a curve can use")
    return plans


def _mean(values: Sequence[float | None]) -> float | None:
    found = [v for v in values if v is not None and v == v]
    return statistics.fmean(found) if found else None


def _sd(values: Sequence[float | None]) -> float | None:
    found = [v for v in values if v is not None and v == v]
    return statistics.stdev(found) if len(found) > 1 else None


def labels_to_reach(means: dict[int, float], all_labels: float | None, chance: float | None) -> int | None:
    """The fewest labels whose mean accuracy reaches 95 % of the all-labels gain over chance (see the module)."""
    if all_labels is None or chance is None or all_labels <= chance:
        return None
    target = REACH * (all_labels - chance)
    reached = [n for n, accuracy in means.items() if accuracy - chance >= target - 1e-12]
    return min(reached) if reached else None


def curve_points(curve: StoredCurve) -> list[dict]:
    """A stored curve's points as JSON: per budget, the mean accuracy (and ρ) over seeds and their sd."""
    by_labels: dict[int, list[CurvePoint]] = {}
    for p in curve.points:
        by_labels.setdefault(p.labels, []).append(p)
    out = []
    for n, found in sorted(by_labels.items()):
        point = {"labels": n, "accuracy": _mean([p.accuracy for p in found]), "sd": _sd([p.accuracy for p in found])}
        if any(p.spearman is not None for p in found):
            point["spearman"] = _mean([p.spearman for p in found])
            point["spearman_sd"] = _sd([p.spearman for p in found])
        point["seeds"] = len(found)
        out.append(point)
    return out


def finish_curve(curve: StoredCurve, all_labels: Sequence[float]) -> StoredCurve:
    """The curve with its all-labels accuracy (the mean of ``all_labels``, one per seed) and labels_to_95pct."""
    all_mean = _mean(list(all_labels))
    means = {p["labels"]: p["accuracy"] for p in curve_points(curve)}
    return StoredCurve(
        **{
            **curve.__dict__,
            "all_labels_accuracy": all_mean,
            "labels_to_95pct": labels_to_reach(means, all_mean, curve.chance),
        }
    )


def curve_key(order: str, start: str) -> str:
    """A curve's name within a subject's curves: ``order × start``."""
    return f"{order} × {start}"


def subject_json(curves: list[StoredCurve]) -> dict:
    """The ``--json`` object of one subject's curves (all of one subject and dataset)."""
    first = curves[0]
    return {
        "subject": first.subject,
        "dataset": first.dataset,
        "chance": first.chance,
        "step": f"{first.step} ({STEP_RULE})",
        "budgets": first.settings["budgets"],
        "dropped_budgets": first.settings["dropped_budgets"],
        "seeds": first.seeds,
        "test_items": first.settings["test_items"],
        "pool": first.settings["pool"],
        "curves": [
            {
                "order": c.order,
                "start": c.start,
                "points": curve_points(c),
                "all_labels_accuracy": c.all_labels_accuracy,
                "all_labels_sd": _sd(c.settings.get("all_labels_by_seed", [])),
                "labels_to_95pct": c.labels_to_95pct,
            }
            for c in curves
        ],
        "labels_to_95pct": {curve_key(c.order, c.start): c.labels_to_95pct for c in curves},
    }


def summary_json(curves: list[StoredCurve]) -> list[dict]:
    """Per order × start across subjects: the median labels_to_95pct of those reaching it, how many reach it."""
    groups: dict[tuple[str, str], list[int | None]] = {}
    for c in curves:
        groups.setdefault((c.order, c.start), []).append(c.labels_to_95pct)
    out = []
    for (order, start), reach in groups.items():
        found = [n for n in reach if n is not None]
        out.append(
            {
                "order": order,
                "start": start,
                "median_labels_to_95pct": statistics.median(found) if found else None,
                "min": min(found) if found else None,
                "max": max(found) if found else None,
                "subjects_reaching": len(found),
                "subjects": len(reach),
            }
        )
    return out


@dataclass
class CurveResults:
    """The curves `prefstudy curve` measured: one subject's, or with ``every_subject`` every subject's."""

    dataset: str
    every_subject: bool
    subjects: list[list[StoredCurve]] = field(default_factory=list)  # each subject's curves, in the order measured

    def summary(self) -> list[dict]:
        """Per order × start across the subjects (see :func:`summary_json`)."""
        return summary_json([c for curves in self.subjects for c in curves])

    def to_dict(self) -> dict:
        """The ``--json`` object: the one subject's, or every subject's with the summary."""
        if not self.every_subject:
            return subject_json(self.subjects[0])
        return {
            "dataset": self.dataset,
            "subjects": [subject_json(c) for c in self.subjects],
            "summary": self.summary(),
        }
