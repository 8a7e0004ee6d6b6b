"""Heads on feature vectors: deterministic from a seed, stored as arrays, and a personal deviation that is the
population's model where the subject has nothing of their own and departs from it where they do."""

import numpy as np
import pytest
from scipy.stats import spearmanr

from prefstudy.engine.heads import fit_deviation, fit_head, head_arrays, load_head, save_head
from prefstudy.errors import PrefstudyError

_DRAW = np.random.default_rng(7)
X = _DRAW.normal(size=(240, 24))  # 240 items, 24 features
TASTE = X @ _DRAW.normal(size=24)  # everyone's taste: a direction in feature space
TRAIN, TEST = np.arange(240) < 160, np.arange(240) >= 160


def _answers(y: np.ndarray) -> np.ndarray:
    return (y > np.median(y)).astype(float)


@pytest.mark.parametrize("kind", ["linear", "logistic", pytest.param("mlp", marks=pytest.mark.slow)])
def test_a_head_is_the_same_from_the_same_seed_and_survives_its_file(kind, tmp_path):
    y = TASTE + np.random.default_rng(1).normal(scale=0.5, size=240)
    a = fit_head(kind, X[TRAIN], y[TRAIN], _answers(y)[TRAIN], seed=3)
    b = fit_head(kind, X[TRAIN], y[TRAIN], _answers(y)[TRAIN], seed=3)
    for name, value in head_arrays(a).items():
        np.testing.assert_array_equal(value, head_arrays(b)[name], err_msg=name)
    save_head(tmp_path / "head.npz", a)
    with np.load(tmp_path / "head.npz", allow_pickle=False) as stored:  # plain arrays: no pickle inside
        assert {"mean", "scale", "weight0", "alpha"} <= set(stored.files)
    back = load_head(tmp_path / "head.npz")
    np.testing.assert_allclose(back.p(X[TEST]), a.p(X[TEST]))
    accuracy = ((a.p(X[TEST]) > 0.5) == _answers(y)[TEST]).mean()
    assert accuracy > 0.8, f"{kind}: {accuracy}"  # the taste is linear in the features, with a little noise


def test_a_linear_head_on_ratings_ranks_them_and_calibrates_on_the_answers():
    y = np.round(4 + TASTE / TASTE.std() + np.random.default_rng(2).normal(scale=0.3, size=240)).clip(1, 7)
    head = fit_head("linear", X[TRAIN], y[TRAIN], _answers(y)[TRAIN], seed=0)
    assert spearmanr(head.score(X[TEST]), y[TEST])[0] > 0.85
    assert head.calibration is not None and head.calibration[0] > 0  # a higher score is likelier preferred
    p, preferred = head.p(X[TEST]), _answers(y)[TEST].astype(bool)
    assert np.all((p > 0) & (p < 1)) and p[preferred].mean() > p[~preferred].mean() + 0.5


def test_the_deviation_is_the_population_where_the_subject_shares_its_taste():
    population = fit_head("linear", X[TRAIN], TASTE[TRAIN], _answers(TASTE)[TRAIN], seed=0)
    y = 2 * TASTE + 1 + np.random.default_rng(3).normal(scale=0.2, size=240)  # the same taste, another scale
    personal = fit_deviation(population, X[TRAIN], y[TRAIN], _answers(y)[TRAIN])
    assert personal.base_map[0] == pytest.approx(2.0, rel=0.05)  # the population's score, on this subject's scale
    own = personal.score(X[TEST]) - (personal.base_map[0] * population.score(X[TEST]) + personal.base_map[1])
    assert own.std() < 0.05 * personal.score(X[TEST]).std()  # the deviation shrank to almost nothing
    assert spearmanr(personal.score(X[TEST]), population.score(X[TEST]))[0] > 0.99


def test_the_deviation_departs_toward_a_subject_with_a_taste_of_their_own():
    population = fit_head("linear", X[TRAIN], TASTE[TRAIN], _answers(TASTE)[TRAIN], seed=0)
    own_taste = X[:, 5] * 3 * TASTE.std() / X[:, 5].std()  # what this subject likes, which nobody else weighs
    y = 0.3 * TASTE + own_taste
    personal = fit_deviation(population, X[TRAIN], y[TRAIN], _answers(y)[TRAIN])
    rho_personal = spearmanr(personal.score(X[TEST]), y[TEST])[0]
    rho_population = spearmanr(population.score(X[TEST]), y[TEST])[0]
    assert rho_personal > 0.9 and rho_personal > rho_population + 0.4, (rho_personal, rho_population)
    # With only eight labels the same subject gets (nearly) the population's model: the penalty shrinks the deviation.
    few = fit_deviation(population, X[:8], y[:8], _answers(y[:8]))
    assert few.alpha > personal.alpha


def test_a_head_refuses_what_it_cannot_learn():
    with pytest.raises(PrefstudyError, match="at least 4 training items with both answers"):
        fit_head("linear", X[:10], np.ones(10), np.ones(10), seed=0)
    with pytest.raises(PrefstudyError, match="unknown head 'forest'"):
        fit_head("forest", X[:10], TASTE[:10], _answers(TASTE[:10]), seed=0)


def test_rated_ties_fit_a_ratings_head_but_calibrate_nothing():
    y = np.round(4 + TASTE / TASTE.std() + np.random.default_rng(4).normal(scale=0.3, size=240)).clip(1, 7)
    answers = np.where(y > 4, 1.0, np.where(y < 4, 0.0, np.nan))  # a median split: ratings of 4 are ties
    assert np.isnan(answers[TRAIN]).sum() > 20
    with_ties = fit_head("linear", X[TRAIN], y[TRAIN], answers[TRAIN], seed=0)
    answered = TRAIN & ~np.isnan(answers)
    without = fit_head("linear", X[answered], y[answered], answers[answered], seed=0)
    assert not np.allclose(with_ties.weights[0], without.weights[0])  # the ties' ratings were fitted
    assert spearmanr(with_ties.score(X[TEST]), y[TEST])[0] > 0.85
    logistic = fit_head("logistic", X[TRAIN], y[TRAIN], answers[TRAIN], seed=0)  # fits the answers alone
    assert np.all(np.isfinite(logistic.p(X[TEST])))
    with pytest.raises(PrefstudyError, match="both answers"):
        fit_head("linear", X[:6], y[:6], np.array([1.0, np.nan, np.nan, np.nan, np.nan, np.nan]), seed=0)
