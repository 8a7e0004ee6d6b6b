"""Learning curves: how many labels are enough, replayed from a subject's existing labels.

For each start (scratch, transfer:RUN, population:RUN), seed and order, selection is batch-mode: the first
budget's labels are chosen by the order using the start, and each next step adds the labels up to the next
budget, chosen with the model fitted at the current budget. At every budget a model is fitted afresh from
the start on the labels chosen so far (:class:`~prefstudy.active.fitting.LabelFitter`) and scored on the
test items; the all-labels point is a fit on the whole pool. What is measured, and the numbers read off it,
are described in :mod:`.curve_plan`.

How each order chooses a step of ``n`` labels from the pool items not chosen yet:

- ``random``: ``n`` at random;
- ``uncertainty``: a random ``explore`` share, the rest nearest P(preferred) = 0.5 under the model the step
  starts from; all at random when there is no such model yet (a scratch start, or a transfer start, whose
  new head knows nothing of this subject);
- ``diverse``: a random ``explore`` share, the rest by :func:`~prefstudy.active.selection.pick_diverse` over
  k-means clusters of the pool's features under the model the step starts from (the start model's features,
  or :func:`~prefstudy.active.image_features.simple_features` for a scratch start's first step).

Seed ``s`` (0..seeds-1) seeds the random choices (the same for every order and start, so ``random`` chooses
the same labels from every start), k-means, and the model's initial weights and shuffling. Fits with the same
start, seed and labels are made once and shared between orders (e.g. the first step of ``random`` and of
``uncertainty`` from scratch; the all-labels point).

Nothing is stored until every curve of the subject is complete: an error or Ctrl-C leaves the stored curves
as they were; a complete set replaces the subject's curves of the same order and start in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from prefstudy.active.curve_plan import CurvePlan, CurveResults, finish_curve, subject_json
from prefstudy.active.curve_store import CurvePoint, StoredCurve, replace_curves
from prefstudy.active.fitting import FitOptions, LabelFitter, LabelModel, parse_start
from prefstudy.active.image_features import simple_features
from prefstudy.active.selection import (
    DIVERSE,
    RANDOM,
    UNCERTAINTY,
    Clusters,
    cluster_count,
    kmeans,
    pick_diverse,
    pick_random,
    pick_uncertain,
)
from prefstudy.datasets.catalog import ImageSet, load_images
from prefstudy.engine.device import resolve_device
from prefstudy.engine.precision import resolve_precision
from prefstudy.metrics import spearman
from prefstudy.progress import Reporter, SilentReporter
from prefstudy.runs.trained import read_saved_model
from prefstudy.runs.transfer_sources import check_no_leak
from prefstudy.workspace import Workspace


class _Scorer:
    """Scores a model on the plan's test items (accuracy; Spearman's ρ on the rated test items)."""

    def __init__(self, plan: CurvePlan):
        self.plan = plan

    def point(self, model: LabelModel, labels: int, seed: int) -> CurvePoint:
        p = model.predict(self.plan.test)
        accuracy = float(np.mean((p > 0.5) == self.plan.test_preferred))
        rho = None
        if len(self.plan.rated_test) >= 3:
            value = spearman(model.predict(self.plan.rated_test), self.plan.rated_test_rating)
            rho = value if value == value else None
        return CurvePoint(labels=labels, seed=seed, accuracy=accuracy, spearman=rho, n_test=len(self.plan.test))


class _Fits:
    """The fits of one start and seed, each made once for a set of labels (orders share them)."""

    def __init__(self, fitter: LabelFitter, plan: CurvePlan, seed: int, report: Reporter):
        self.fitter, self.plan, self.seed, self.report = fitter, plan, seed, report
        self.answer = dict(zip(plan.pool.tolist(), plan.pool_preferred.tolist(), strict=True))
        self._made: dict[bytes, tuple[LabelModel, CurvePoint]] = {}
        self.scorer = _Scorer(plan)

    def fit(self, items: np.ndarray) -> tuple[LabelModel, CurvePoint]:
        items = np.sort(np.asarray(items, dtype=np.int64))  # the same labels make the same fit, whatever chose them
        key = items.tobytes()
        if key not in self._made:
            preferred = np.array([self.answer[i] for i in items.tolist()], dtype=bool)
            model = self.fitter.fit(items, preferred, self.seed)
            self._made[key] = (model, self.scorer.point(model, len(items), self.seed))
        self.report.advance()
        return self._made[key]


def _clusters(features: np.ndarray, pool: np.ndarray, n_items: int, seed: int) -> Clusters:
    """k-means clusters of the pool's features, as arrays indexed by item (-1: not in the pool)."""
    found = kmeans(features, cluster_count(len(pool)), seed)
    assignment = np.full(n_items, -1, dtype=np.int64)
    distance = np.full(n_items, np.inf, dtype=np.float32)
    assignment[pool], distance[pool] = found.assignment, found.distance
    return Clusters(assignment=assignment, distance=distance)


def _choose(
    order: str,
    candidates: np.ndarray,
    labelled: np.ndarray,
    n: int,
    model: LabelModel | None,
    features: np.ndarray | None,
    plan: CurvePlan,
    rng: np.random.Generator,
    seed: int,
    n_items: int,
) -> np.ndarray:
    """The ``n`` items one step of ``order`` adds (see the module docstring)."""
    if order == RANDOM or (order == UNCERTAINTY and model is None):
        return pick_random(candidates, n, rng)
    explored = pick_random(candidates, round(plan.request.explore * n), rng)
    rest = np.setdiff1d(candidates, explored)
    wanted = n - len(explored)
    if order == UNCERTAINTY:
        p = np.full(n_items, np.nan)
        p[rest] = model.predict(rest)
        chosen = pick_uncertain(rest, p, wanted)
    else:
        pool_features = features if model is None else model.features(plan.pool)
        chosen = pick_diverse(rest, _clusters(pool_features, plan.pool, n_items, seed), labelled, wanted)
    return np.concatenate([explored, chosen]).astype(np.int64)


def _one_curve(order: str, fits: _Fits, start_model: LabelModel | None, first_features: np.ndarray | None):
    """The points of one order from one start and seed, and the items each budget chose (for tests)."""
    plan, seed = fits.plan, fits.seed
    n_items = len(fits.fitter.images.images)
    rng = np.random.default_rng([seed, 1])  # the same random choices for every order and start
    labelled = np.zeros(0, dtype=np.int64)
    model, points, chosen_by_budget = start_model, [], {}
    for budget in plan.budgets:
        candidates = np.setdiff1d(plan.pool, labelled)
        added = _choose(
            order, candidates, labelled, budget - len(labelled), model, first_features, plan, rng, seed, n_items
        )
        labelled = np.concatenate([labelled, added])
        chosen_by_budget[budget] = added
        model, point = fits.fit(labelled)
        points.append(point)
    return points, chosen_by_budget


def measure_curves(
    ws: Workspace,
    plan: CurvePlan,
    report: Reporter | None = None,
    images: ImageSet | None = None,
    device: str = "cpu",
    precision: str = "auto",
    store: bool = True,
) -> list[StoredCurve]:
    """Every curve of the plan (each order from each start), stored when all are complete (see the module)."""
    report = report or SilentReporter()
    r = plan.request
    images = images or load_images(ws, r.dataset)
    torch_device = resolve_device(device)
    numeric = resolve_precision(precision, torch_device)
    options = FitOptions(backbone=r.backbone, epochs=r.epochs, batch_size=r.batch_size, lr=r.lr)
    per_seed_fits = len(r.orders) * len(plan.budgets) + 1
    report.start(len(r.starts) * r.seeds * per_seed_fits, f"{r.subject}: curves on {r.dataset}")
    starts = [parse_start(text) for text in r.starts]
    sources = {s.run_id: read_saved_model(ws, s.run_id) for s in starts if s.run_id}
    for source in sources.values():  # every start is checked before anything trains
        if source.dataset == r.dataset:
            check_no_leak(ws, source.run_id, r.dataset, set(plan.test.tolist()))
    curves = []
    for start in starts:
        source = sources.get(start.run_id)
        fitter = LabelFitter(images, source, options, numeric, torch_device, start_kind=start.kind)
        points: dict[str, list[CurvePoint]] = {order: [] for order in r.orders}
        chosen: dict[str, list[dict]] = {order: [] for order in r.orders}
        all_labels: list[CurvePoint] = []
        for seed in range(r.seeds):
            fits = _Fits(fitter, plan, seed, report)
            start_model = fitter.start(seed) if source is not None else None
            # Uncertainty needs P(preferred) of this subject: a transfer start's new head has none.
            guesses = start_model if start.kind == "population" else None
            features = None
            if DIVERSE in r.orders:
                features = simple_features(images.images[plan.pool]) if start_model is None else None
            for order in r.orders:
                model = guesses if order == UNCERTAINTY else start_model if order == DIVERSE else None
                found, picked = _one_curve(order, fits, model, features)
                points[order] += found
                chosen[order].append(picked)
            all_labels.append(fits.fit(plan.pool)[1])
        for order in r.orders:
            curve = StoredCurve(
                subject=r.subject,
                dataset=r.dataset,
                order=order,
                start=start.name,
                seeds=r.seeds,
                step=plan.step,
                settings={
                    **plan.settings(),
                    "all_labels_by_seed": [p.accuracy for p in all_labels],
                    "all_labels_spearman_by_seed": [p.spearman for p in all_labels],
                },
                chance=plan.chance,
                all_labels_accuracy=None,
                labels_to_95pct=None,
                points=points[order],
            )
            curve = finish_curve(curve, [p.accuracy for p in all_labels])
            curve.settings["chosen"] = [{str(b): v.tolist() for b, v in c.items()} for c in chosen[order]]
            curves.append(curve)
    if store:
        replace_curves(ws, curves)
    return curves


def measure_subjects(
    ws: Workspace,
    plans: list[CurvePlan],
    report: Reporter,
    *,
    every_subject: bool,
    images: ImageSet | None = None,
    device: str = "cpu",
    precision: str = "auto",
    each: Callable[[dict], None] | None = None,
) -> CurveResults:
    """Every subject's curves (:func:`measure_curves` per plan, all on one dataset); ``each`` is given each
    subject's JSON as soon as it is measured."""
    dataset = plans[0].request.dataset
    images = images or load_images(ws, dataset)
    results = CurveResults(dataset, every_subject)
    for plan in plans:
        curves = measure_curves(ws, plan, report, images=images, device=device, precision=precision)
        results.subjects.append(curves)
        if each is not None:
            each(subject_json(curves))
    return results
