"""Bayesian prevalence: closed forms at the edges, the paper's reference implementation, and a grid posterior."""

import numpy as np
import pytest
from scipy import stats as sps

from prefstudy.stats import prevalence

# hpdi(0.95, k, n, a, b), bound(0.95, k, n, a, b) of github.com/robince/bayesian-prevalence python/bayesprev.py
# (fsolve on the truncated beta), run once to derive these: k, n, alpha, beta, HPDI low, high, lower bound.
REFERENCE = [
    (5, 20, 0.05, 1.0, 0.054103315, 0.426659262, 0.08706711),
    (10, 20, 0.05, 1.0, 0.260849305, 0.686519116, 0.292746017),
    (13, 40, 0.05, 1.0, 0.153581324, 0.4475161, 0.178573229),
    (7, 20, 0.05, 0.6, 0.236813503, 0.910471803, 0.282305399),
    (30, 50, 0.01, 0.9, 0.509796319, 0.805114969, 0.531541181),
    (1000, 2000, 0.05, 1.0, 0.450637533, 0.496730888, 0.454340085),
    (3, 20, 0.05, 1.0, 0.0, 0.294946828, 0.026372255),
]


def test_matches_the_papers_reference_implementation():
    for k, n, alpha, beta, low, high, bound in REFERENCE:
        p = prevalence(k, n, alpha=alpha, power=beta)
        assert (p.low, p.high, p.lower_bound) == pytest.approx((low, high, bound), abs=2e-9), (k, n)
        assert p.map == pytest.approx(min(1, max(0, (k / n - alpha) / (beta - alpha))))


def test_closed_forms_when_all_or_none_are_significant():
    # k = n: posterior density of theta ∝ theta^n on [alpha, 1], so the HPDI is [theta_c, 1] with
    # (theta_c^(n+1) - alpha^(n+1)) / (1 - alpha^(n+1)) = 0.05.
    for n in (1, 3, 20, 2000):
        p = prevalence(n, n)
        theta = (0.05 ** (n + 1) + 0.05 * (1 - 0.05 ** (n + 1))) ** (1 / (n + 1))
        assert (p.map, p.high, p.low) == (1.0, 1.0, pytest.approx((theta - 0.05) / 0.95, rel=1e-9))
    # k = 0: density ∝ (1 - theta)^n, HPDI [alpha, theta_c] with 1 - theta_c = (1 - alpha) · 0.05^(1/(n+1)).
    for n in (1, 10, 2000):
        p = prevalence(0, n)
        theta = 1 - 0.95 * 0.05 ** (1 / (n + 1))
        assert (p.map, p.low, p.high) == (0.0, 0.0, pytest.approx((theta - 0.05) / 0.95, rel=1e-9))


def test_as_many_significant_as_chance_gives_a_map_of_zero():
    assert prevalence(1, 20).map == 0.0 and prevalence(100, 2000).map == 0.0  # k / n = alpha
    assert prevalence(50, 1000).low == 0.0 and prevalence(50, 1000).high < 0.02


def _grid(k: int, n: int, alpha: float, beta: float, coverage: float = 0.95):
    """Brute force: the posterior of gamma on a fine grid, its argmax and its highest-density cells."""
    gamma = np.linspace(0, 1, 200_001)
    density = sps.binom.pmf(k, n, alpha + (beta - alpha) * gamma)
    order = np.argsort(density)[::-1]
    kept = order[: np.searchsorted(np.cumsum(density[order]) / density.sum(), coverage) + 1]
    return gamma[np.argmax(density)], gamma[kept].min(), gamma[kept].max()


def test_agrees_with_a_grid_posterior():
    for k, n, alpha, beta in [(0, 10, 0.05, 1), (4, 12, 0.05, 1), (9, 12, 0.05, 1), (12, 12, 0.05, 1),
                              (40, 100, 0.05, 0.8), (2, 5, 0.01, 0.5), (700, 2513, 0.05, 1)]:  # fmt: skip
        p = prevalence(k, n, alpha=alpha, power=beta)
        mode, low, high = _grid(k, n, alpha, beta)
        assert (p.map, p.low, p.high) == pytest.approx((mode, low, high), abs=1e-5), (k, n, alpha, beta)


def test_edges_and_errors():
    none = prevalence(0, 0)
    assert (none.map, none.low, none.high, none.lower_bound, none.n) == (None, None, None, None, 0)
    with pytest.raises(ValueError, match="not a count"):
        prevalence(5, 4)
    with pytest.raises(ValueError, match="alpha"):
        prevalence(1, 4, alpha=0.5, power=0.5)
    assert all(type(v) is float for v in (prevalence(3, 9).map, prevalence(3, 9).low, prevalence(3, 9).high))
