"""Bayesian population prevalence (Ince, Paton, Kay & Schyns 2021, eLife 10:e62461).

Each of n subjects is tested on their own at false positive rate alpha with sensitivity beta (the within-subject
power; 1 by default, as in the paper). If a share gamma of the population truly has the effect, a subject tests
significant with probability theta = (1 - gamma)·alpha + gamma·beta. A uniform prior on gamma is uniform on
theta in [alpha, beta], so after k significant subjects of n the posterior of theta is Beta(k + 1, n - k + 1)
truncated to [alpha, beta], and gamma = (theta - alpha) / (beta - alpha). No library implements this: it is written
here on ``scipy.stats.beta`` and ``scipy.optimize.brentq``, and tested against a grid posterior and the paper's
reference implementation (github.com/robince/bayesian-prevalence).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

PREVALENCE_COVERAGE = 0.95


@dataclass(frozen=True)
class Prevalence:
    """The posterior of the population prevalence gamma of an effect tested within each subject."""

    k: int  # subjects significant
    n: int  # subjects tested
    alpha: float  # the within-subject test's false positive rate
    power: float  # its sensitivity (beta in the paper)
    map: float | None  # the maximum a posteriori gamma
    low: float | None  # the highest posterior density interval of gamma
    high: float | None
    lower_bound: float | None  # P(gamma >= lower_bound) = coverage
    coverage: float
    method: str = "Bayesian prevalence, uniform prior (Ince et al. 2021)"


def _truncated_quantile(k: int, n: int, alpha: float, power: float) -> Callable[[float], float]:
    """u ↦ the u-quantile of Beta(k + 1, n - k + 1) truncated to [alpha, power], from whichever tail keeps digits."""
    from scipy.stats import beta

    posterior = beta(k + 1, n - k + 1)
    if posterior.cdf(alpha) > 0.5:  # the whole range lies in the upper tail: count from the top
        upper_alpha, upper_power = posterior.sf(alpha), posterior.sf(power)
        return lambda u: float(posterior.isf(upper_alpha - u * (upper_alpha - upper_power)))
    lower_alpha, lower_power = posterior.cdf(alpha), posterior.cdf(power)
    return lambda u: float(posterior.ppf(lower_alpha + u * (lower_power - lower_alpha)))


def _hpdi_theta(k: int, n: int, alpha: float, power: float, coverage: float) -> tuple[float, float]:
    """The shortest interval of theta holding ``coverage`` of the truncated posterior (it is unimodal, mode k / n).

    Interval [q(u), q(u + coverage)]: at the lower end when the density at alpha is the higher, at the upper end
    when the density at beta is, else where the two ends' densities are equal (a unique root, by brentq).
    """
    from scipy.optimize import brentq
    from scipy.stats import beta

    quantile = _truncated_quantile(k, n, alpha, power)
    log_density = beta(k + 1, n - k + 1).logpdf
    mode = k / n

    def excess(u: float) -> float:  # log density at the top end minus at the bottom end: falls as u grows
        return float(log_density(quantile(u + coverage)) - log_density(quantile(u)))

    if mode <= alpha or excess(0.0) <= 0:
        u = 0.0
    elif mode >= power or excess(1 - coverage) >= 0:
        u = 1 - coverage
    else:
        u = brentq(excess, 0.0, 1 - coverage, xtol=1e-14)
    # The ends of the range exactly, not as quantiles 0 and 1 of it (which round to within 1e-17 of them).
    return (alpha if u == 0 else quantile(u)), (power if u + coverage >= 1 else quantile(u + coverage))


def prevalence(
    k_significant: int,
    n_subjects: int,
    alpha: float = 0.05,
    power: float = 1.0,
    coverage: float = PREVALENCE_COVERAGE,
) -> Prevalence:
    """Bayesian prevalence of an effect found significant in ``k_significant`` of ``n_subjects`` (see the module).

    MAP gamma = (k / n - alpha) / (power - alpha), clipped to [0, 1]; the ``coverage`` highest posterior density
    interval of gamma; and the one-sided lower bound with P(gamma >= bound) = coverage. All None without subjects.
    """
    k, n, alpha, power = int(k_significant), int(n_subjects), float(alpha), float(power)
    if not 0 <= k <= n:
        raise ValueError(f"{k} significant of {n} subjects is not a count")
    if not 0.0 <= alpha < power <= 1.0:
        raise ValueError(f"need 0 <= alpha < power <= 1, not alpha = {alpha}, power = {power}")
    if n == 0:
        return Prevalence(k, n, alpha, power, None, None, None, None, coverage)

    def gamma(theta: float) -> float:
        return min(1.0, max(0.0, (theta - alpha) / (power - alpha)))

    low, high = _hpdi_theta(k, n, alpha, power, coverage)
    bound = _truncated_quantile(k, n, alpha, power)(1 - coverage)
    return Prevalence(k, n, alpha, power, gamma(k / n), gamma(low), gamma(high), gamma(bound), coverage)
