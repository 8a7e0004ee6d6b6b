"""Statistics for the study report: descriptions, intervals, tests, agreement, power, prevalence and the bootstrap.

The numbers come from SciPy, statsmodels and krippendorff, imported inside the functions that use them, so that
importing this package (and starting ``prefstudy report``) loads neither. What is written here by hand, and why, is
said where it is: the pairwise kappa of all subjects at once, Spearman's Fisher z interval, Bayesian prevalence
and the crossed bootstrap. ``methods_sentences`` names every call with its options.
"""

from prefstudy.stats.bootstrap import CrossedBootstrap, two_way_bootstrap
from prefstudy.stats.describe import Spread, finite_or_none, spread
from prefstudy.stats.distributions import binomial_sf, t_cdf, t_quantile
from prefstudy.stats.equivalence import Equivalence, tost_paired
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
from prefstudy.stats.methods import methods_sentences
from prefstudy.stats.multiple import holm, holm_adjusted
from prefstudy.stats.power import (
    DetectableEffect,
    minimum_detectable_accuracy,
    minimum_detectable_effect,
    minimum_detectable_mcnemar,
)
from prefstudy.stats.prevalence import Prevalence, prevalence
from prefstudy.stats.rater_agreement import (
    PairwiseKappa,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha_nominal,
    pairwise_cohen_kappa,
)
from prefstudy.stats.signed_rank import EXACT_UP_TO, Wilcoxon, wilcoxon, wilcoxon_p_rows

__all__ = [
    "EXACT_UP_TO",
    "CrossedBootstrap",
    "DetectableEffect",
    "Equivalence",
    "Interval",
    "McNemar",
    "MeanInterval",
    "PairwiseKappa",
    "Prevalence",
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
    "methods_sentences",
    "minimum_detectable_accuracy",
    "minimum_detectable_effect",
    "minimum_detectable_mcnemar",
    "one_sample_t",
    "pairwise_cohen_kappa",
    "prevalence",
    "sign_test",
    "spearman_interval",
    "spread",
    "t_cdf",
    "t_interval",
    "t_quantile",
    "tost_paired",
    "two_way_bootstrap",
    "wilcoxon",
    "wilcoxon_p_rows",
    "wilson",
]
