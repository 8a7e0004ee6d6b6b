"""Heads on feature vectors: a personal model in milliseconds, fitted with scikit-learn, stored as arrays.

- ``linear`` (the default): standardised features, then ridge regression (``RidgeCV``: the penalty
  chosen by efficient leave-one-out over the training items only) on the answers (1 = preferred)
  or on the ratings; its score becomes P(preferred) through a logistic fitted on the training
  answers (the score itself is what ρ ranks).
- ``logistic``: ``LogisticRegressionCV`` on the answers, the penalty chosen by stratified inner
  folds (log loss); P(preferred) is its own.
- ``mlp``: one hidden layer of 32 ReLU units (``MLPRegressor``), its L2 penalty chosen by inner
  5-fold cross-validation; scored and calibrated like ``linear``.

A personal head can start from the population's (:func:`fit_deviation`): the population head's
score, mapped to the subject's scale by least squares, plus the subject's deviation from it, a
ridge on the residuals whose penalty leave-one-out chooses. With few labels, or a taste like
everyone's, the deviation shrinks to nothing and the model is the population's; with many, and a
taste of its own, it departs from it.

A head is stored as plain arrays (``.npz``): standardiser, layers, penalty, calibration; never a pickle.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from prefstudy.config import HEADS, LINEAR, LOGISTIC, MLP
from prefstudy.errors import PrefstudyError
from prefstudy.files import atomic_path

RIDGE_ALPHAS = np.logspace(-2, 5, 29)  # of standardised features: from nearly none to nearly the mean alone
DEVIATION_ALPHAS = np.logspace(-1, 7, 33)  # reaching far enough to switch a deviation off
LOGISTIC_CS = np.logspace(-4, 3, 15)
MLP_ALPHAS = (1e-2, 1e-1, 1.0, 10.0)
MLP_STEPS = 300  # L-BFGS iterations: a fixed budget, the same for every fit (so the same from a seed)
MLP_HIDDEN = 32


@dataclass
class Head:
    """A fitted head: ``score`` (what ρ ranks) and ``p`` (P(preferred)) of feature vectors."""

    kind: str
    mean: np.ndarray
    scale: np.ndarray
    weights: list[np.ndarray]  # one matrix per layer (D, out)
    biases: list[np.ndarray]
    alpha: float  # the chosen penalty
    calibration: np.ndarray | None = None  # (a, b): p = sigmoid(a * score + b); None: the score is a logit
    base: Head | None = None  # a deviation head's population head
    base_map: np.ndarray = field(default_factory=lambda: np.array([1.0, 0.0]))  # (w, b) on the base's score

    def score(self, X: np.ndarray) -> np.ndarray:
        h = (np.asarray(X, dtype=np.float64) - self.mean) / self.scale
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = h @ w + b
            if i < len(self.weights) - 1:
                h = np.maximum(h, 0.0)
        own = h.reshape(-1)
        if self.base is None:
            return own
        return self.base_map[0] * self.base.score(X) + self.base_map[1] + own

    def p(self, X: np.ndarray) -> np.ndarray:
        s = self.score(X)
        logit = s if self.calibration is None else self.calibration[0] * s + self.calibration[1]
        return 1.0 / (1.0 + np.exp(-np.clip(logit, -50, 50)))


def _standardiser(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(X)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    return scaler.mean_.astype(np.float64), scale.astype(np.float64)


def _calibration(score: np.ndarray, answers: np.ndarray) -> np.ndarray:
    """(a, b) of a logistic on the training answers, P(preferred) = sigmoid(a * score + b); ties (NaN) left out."""
    from sklearn.linear_model import LogisticRegression

    answered = ~np.isnan(answers)
    score, answers = score[answered], answers[answered]
    # Fitted on the standardised score (it converges in a few steps there), then carried back to the score.
    centre, spread = float(score.mean()), float(score.std()) or 1.0
    z = ((score - centre) / spread).reshape(-1, 1)
    fitted = LogisticRegression(C=1e4, max_iter=1000).fit(z, answers.astype(int))
    a = fitted.coef_[0, 0] / spread
    return np.array([a, fitted.intercept_[0] - a * centre])


def _check(X: np.ndarray, y: np.ndarray, answers: np.ndarray) -> None:
    answered = answers[~np.isnan(answers)]
    if len(answered) < 4 or len(np.unique(answered)) < 2:
        raise PrefstudyError(f"a head needs at least 4 training items with both answers, got {len(answered)}")
    if len(y) != len(X) or not np.all(np.isfinite(y)):
        raise PrefstudyError("a head's targets must be finite numbers, one per training item")


def fit_head(kind: str, X: np.ndarray, y: np.ndarray, answers: np.ndarray, seed: int) -> Head:
    """A ``kind`` head fitted on features ``X`` of the training items, to targets ``y`` (answers or ratings);
    ``answers`` (1 = preferred, 0 not, NaN for a rated tie, which ratings fit but no answer calibrates) calibrate
    it, and are what a logistic head fits."""
    if kind not in HEADS:
        raise PrefstudyError(f"unknown head {kind!r}; use one of: {', '.join(HEADS)}")
    X, y, answers = np.asarray(X, np.float64), np.asarray(y, np.float64), np.asarray(answers, np.float64)
    _check(X, y, answers)
    mean, scale = _standardiser(X)
    Z = (X - mean) / scale
    if kind == LINEAR:
        from sklearn.linear_model import RidgeCV

        ridge = RidgeCV(alphas=RIDGE_ALPHAS).fit(Z, y)
        head = Head(kind, mean, scale, [ridge.coef_.reshape(-1, 1)], [np.array([ridge.intercept_])], ridge.alpha_)
    elif kind == LOGISTIC:
        answered = ~np.isnan(answers)
        head = _logistic(Z[answered], answers[answered], seed, mean, scale)
        return head
    else:
        head = _mlp(Z, y, seed, mean, scale)
    head.calibration = _calibration(head.score(X), answers)
    return head


def _logistic(Z: np.ndarray, answers: np.ndarray, seed: int, mean: np.ndarray, scale: np.ndarray) -> Head:
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.model_selection import StratifiedKFold

    folds = int(min(5, np.bincount(answers.astype(int)).min()))
    if folds < 2:
        raise PrefstudyError("a logistic head needs at least 2 training items of each answer")
    inner = StratifiedKFold(folds, shuffle=True, random_state=seed)
    fitted = LogisticRegressionCV(Cs=LOGISTIC_CS, cv=inner, scoring="neg_log_loss", max_iter=5000)
    with warnings.catch_warnings():  # scikit-learn 1.9 announces a change of fitted attributes this code does not read
        warnings.simplefilter("ignore", FutureWarning)
        fitted.fit(Z, answers.astype(int))
    return Head(LOGISTIC, mean, scale, [fitted.coef_.T.copy()], [fitted.intercept_.copy()], float(1.0 / fitted.C_[0]))


def _mlp(Z: np.ndarray, y: np.ndarray, seed: int, mean: np.ndarray, scale: np.ndarray) -> Head:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV, KFold
    from sklearn.neural_network import MLPRegressor

    # L-BFGS: on a few hundred items it gets in a fraction of the steps where a stochastic optimiser would.
    net = MLPRegressor(hidden_layer_sizes=(MLP_HIDDEN,), solver="lbfgs", max_iter=MLP_STEPS, random_state=seed)
    inner = KFold(min(4, len(Z)), shuffle=True, random_state=seed)
    with warnings.catch_warnings():  # a weakly penalised fold may use up its step budget: that is the budget
        warnings.simplefilter("ignore", ConvergenceWarning)
        search = GridSearchCV(net, {"alpha": MLP_ALPHAS}, cv=inner, scoring="neg_mean_squared_error").fit(Z, y)
    best = search.best_estimator_
    biases = [b.copy() for b in best.intercepts_]
    return Head(MLP, mean, scale, [w.copy() for w in best.coefs_], biases, float(search.best_params_["alpha"]))


def fit_deviation(population: Head, X: np.ndarray, y: np.ndarray, answers: np.ndarray) -> Head:
    """The population head plus this subject's deviation, shrunk by a ridge penalty leave-one-out chooses."""
    from sklearn.linear_model import RidgeCV

    X, y, answers = np.asarray(X, np.float64), np.asarray(y, np.float64), np.asarray(answers, np.float64)
    _check(X, y, answers)
    base = population.score(X)
    w, b = np.linalg.lstsq(np.c_[base, np.ones(len(base))], y, rcond=None)[0]
    residual = y - (w * base + b)
    mean, scale = _standardiser(X)
    # With an intercept of its own: standardised features are centred, and with no intercept leave-one-out on a
    # centred design degenerates (the held-out row is minus the sum of the others) and picks no shrinkage at all.
    ridge = RidgeCV(alphas=DEVIATION_ALPHAS).fit((X - mean) / scale, residual)
    head = Head(
        LINEAR,
        mean,
        scale,
        [ridge.coef_.reshape(-1, 1)],
        [np.array([ridge.intercept_])],
        float(ridge.alpha_),
        base=population,
        base_map=np.array([w, b]),
    )
    head.calibration = _calibration(head.score(X), answers)
    return head


def head_arrays(head: Head, prefix: str = "") -> dict[str, np.ndarray]:
    """``head`` as named arrays (a deviation head's population head under ``base_``)."""
    out = {
        f"{prefix}kind": np.array(head.kind),
        f"{prefix}mean": head.mean,
        f"{prefix}scale": head.scale,
        f"{prefix}alpha": np.array(head.alpha),
        f"{prefix}layers": np.array(len(head.weights)),
        f"{prefix}base_map": head.base_map,
    }
    if head.calibration is not None:
        out[f"{prefix}calibration"] = head.calibration
    for i, (w, b) in enumerate(zip(head.weights, head.biases, strict=True)):
        out[f"{prefix}weight{i}"], out[f"{prefix}bias{i}"] = w, b
    if head.base is not None:
        out.update(head_arrays(head.base, prefix + "base_"))
    return out


def head_from_arrays(arrays: dict[str, np.ndarray], prefix: str = "") -> Head:
    """The head :func:`head_arrays` wrote."""
    layers = int(arrays[f"{prefix}layers"])
    base = head_from_arrays(arrays, prefix + "base_") if f"{prefix}base_kind" in arrays else None
    return Head(
        str(arrays[f"{prefix}kind"]),
        arrays[f"{prefix}mean"],
        arrays[f"{prefix}scale"],
        [arrays[f"{prefix}weight{i}"] for i in range(layers)],
        [arrays[f"{prefix}bias{i}"] for i in range(layers)],
        float(arrays[f"{prefix}alpha"]),
        arrays.get(f"{prefix}calibration"),
        base,
        arrays[f"{prefix}base_map"],
    )


def save_head(path: Path, head: Head) -> None:
    """Write ``head`` as a ``.npz`` of plain arrays (no pickle), atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **head_arrays(head))


def load_head(path: Path | BinaryIO) -> Head:
    """A head :func:`save_head` wrote, from its path or an open file (pickles refused)."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            return head_from_arrays({name: stored[name] for name in stored.files})
    except (OSError, ValueError, KeyError) as error:
        raise PrefstudyError(f"{path} is not a readable head ({type(error).__name__}: {error})") from None
