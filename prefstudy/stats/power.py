"""Minimum detectable effects: the smallest true effect each of the report's tests finds with the given power.

At level ``ALPHA`` with power ``POWER`` by default. Three tests, three units: the t-test across subjects in the
values' own units, McNemar's exact test per subject as an accuracy difference, and the one-sided exact binomial
test against chance as an accuracy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

ALPHA = 0.05
POWER = 0.8


@dataclass(frozen=True)
class DetectableEffect:
    """The smallest true effect a test detects with probability ``power`` at level ``alpha``; None where none is."""

    effect: float | None
    unit: str  # what ``effect`` measures
    n: int  # subjects (t-test) or items (McNemar, binomial)
    alpha: float
    power: float
    method: str  # how it was found


def minimum_detectable_effect(n: int, sd: float | None, alpha: float = ALPHA, power: float = POWER) -> DetectableEffect:
    """The smallest mean (or mean paired difference) a two-sided one-sample t-test over ``n`` values detects.

    statsmodels' ``TTestPower().solve_power(effect_size=None, nobs=n, alpha=alpha, power=power,
    alternative="two-sided")`` gives it in sd units (Cohen's d); times the observed ``sd`` it is in the values' own
    units. None for n < 2 or without an sd.
    """
    from statsmodels.stats.power import TTestPower

    method = "statsmodels TTestPower.solve_power, two-sided, times the observed sd"
    unit = "the values' units"
    n = int(n)
    if n < 2 or sd is None or not math.isfinite(sd):
        return DetectableEffect(None, unit, n, alpha, power, method)
    d = TTestPower().solve_power(effect_size=None, nobs=n, alpha=alpha, power=power, alternative="two-sided")
    return DetectableEffect(float(np.squeeze(d)) * float(sd), unit, n, alpha, power, method)


def _bisect_increasing(f, low: float, high: float) -> float:
    """The root of an increasing ``f`` with f(low) < 0 <= f(high): ``scipy.optimize.brentq``."""
    from scipy.optimize import brentq

    return float(brentq(f, low, high, xtol=1e-12, rtol=1e-12))


def minimum_detectable_mcnemar(
    n_items: int, n_discordant: int, alpha: float = ALPHA, power: float = POWER
) -> DetectableEffect:
    """The smallest accuracy difference McNemar's exact two-sided test detects on ``n_items`` paired items.

    Conditional on ``n_discordant`` items where exactly one model is right (the observed b + c), the test is a
    two-sided binomial test at 1/2 (``mcnemar_exact``). The rejection region {b : p(b, m - b) <= alpha} is taken from
    ``scipy.stats.binom.cdf``; the smallest share q of discordant items won by one model with
    P(b in region | q) >= power is solved with ``scipy.optimize.brentq``; the effect is (2q - 1) · m / n_items.
    None when no split of m pairs can reach ``alpha`` (m < 6 at 0.05) or reach ``power``.
    """
    from scipy.stats import binom

    method = "exact McNemar power given the discordant pairs (scipy.stats.binom, brentq)"
    unit = "accuracy difference"
    n_items, m = int(n_items), int(n_discordant)
    if not 0 < m <= n_items:
        return DetectableEffect(None, unit, n_items, alpha, power, method)
    b = np.arange(m + 1)
    p_values = np.minimum(1.0, 2 * binom.cdf(np.minimum(b, m - b), m, 0.5))
    region = b[p_values <= alpha]
    if not len(region):
        return DetectableEffect(None, unit, n_items, alpha, power, method)

    def shortfall(q: float) -> float:
        return float(binom.pmf(region, m, q).sum()) - power

    if shortfall(1.0) < 0:  # even every discordant pair going one way is detected less often than asked
        return DetectableEffect(None, unit, n_items, alpha, power, method)
    q = _bisect_increasing(shortfall, 0.5, 1.0)
    return DetectableEffect((2 * q - 1) * m / n_items, unit, n_items, alpha, power, method)


def minimum_detectable_accuracy(
    n_items: int, p0: float, alpha: float = ALPHA, power: float = POWER
) -> DetectableEffect:
    """The smallest true accuracy the one-sided exact binomial test against chance ``p0`` detects over ``n_items``.

    The critical count k is the smallest with P(X >= k | p0) <= alpha (``scipy.stats.binom.sf`` over every k); the
    accuracy p with P(X >= k | p) = power follows exactly from P(X >= k | p) = I_p(k, n - k + 1), i.e.
    ``scipy.stats.beta.ppf(power, k, n - k + 1)``. None when even n of n right is not significant.
    """
    from scipy.stats import beta, binom

    method = "one-sided exact binomial power (scipy.stats.binom.sf, beta.ppf)"
    unit = "accuracy"
    n_items = int(n_items)
    if n_items <= 0:
        return DetectableEffect(None, unit, n_items, alpha, power, method)
    k = np.arange(1, n_items + 1)
    significant = k[binom.sf(k - 1, n_items, float(p0)) <= alpha]
    if not len(significant):
        return DetectableEffect(None, unit, n_items, alpha, power, method)
    critical = int(significant[0])
    accuracy = float(beta.ppf(power, critical, n_items - critical + 1))
    return DetectableEffect(accuracy, unit, n_items, alpha, power, method)
