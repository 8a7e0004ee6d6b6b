"""Statistics for the study report, in numpy alone (no SciPy): descriptions, intervals, tests and agreement."""

from prefstudy.stats.describe import Spread, finite_or_none, spread
from prefstudy.stats.distributions import binomial_sf, t_cdf, t_quantile
from prefstudy.stats.hypothesis import (
    McNemar,
    SignTest,
    TTest,
    binomial_greater,
    binomial_two_sided,
    mcnemar_exact,
    one_sample_t,
    sign_test,
)
from prefstudy.stats.intervals import Interval, MeanInterval, spearman_interval, t_interval, wilson
from prefstudy.stats.multiple import holm, holm_adjusted
from prefstudy.stats.rater_agreement import (
    PairwiseKappa,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha_nominal,
    pairwise_cohen_kappa,
)
from prefstudy.stats.signed_rank import EXACT_UP_TO, Wilcoxon, wilcoxon

__all__ = [
    "EXACT_UP_TO",
    "Interval",
    "McNemar",
    "MeanInterval",
    "PairwiseKappa",
    "SignTest",
    "Spread",
    "TTest",
    "Wilcoxon",
    "binomial_greater",
    "binomial_sf",
    "binomial_two_sided",
    "cohen_kappa",
    "finite_or_none",
    "fleiss_kappa",
    "holm",
    "holm_adjusted",
    "krippendorff_alpha_nominal",
    "mcnemar_exact",
    "one_sample_t",
    "pairwise_cohen_kappa",
    "sign_test",
    "spearman_interval",
    "spread",
    "t_cdf",
    "t_interval",
    "t_quantile",
    "wilcoxon",
    "wilson",
]
