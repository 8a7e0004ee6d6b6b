"""The methods paragraph: each test and its options as ``prefstudy.stats`` calls them, for the report to print.

Every option in these sentences is the constant the function itself passes, imported from its module: change one
there and the sentence follows.
"""

from __future__ import annotations

from prefstudy.stats.bootstrap import BOOTSTRAP_B, BOOTSTRAP_CONFIDENCE
from prefstudy.stats.hypothesis import MCNEMAR_EXACT
from prefstudy.stats.intervals import SPEARMAN_MIN_N, T_INTERVAL_MIN_N, WILSON_METHOD
from prefstudy.stats.multiple import HOLM_METHOD
from prefstudy.stats.power import ALPHA, POWER
from prefstudy.stats.prevalence import PREVALENCE_COVERAGE
from prefstudy.stats.rater_agreement import KRIPPENDORFF_LEVEL
from prefstudy.stats.signed_rank import ALTERNATIVE, ASYMPTOTIC, CORRECTION, EXACT, EXACT_UP_TO, ZERO_METHOD

LIBRARIES = ("scipy", "statsmodels", "krippendorff", "numpy")


def _pct(share: float) -> str:
    return f"{100 * share:g} %"


BINOMIAL = (
    "Accuracy above chance: one-sided exact binomial test (scipy.stats.binomtest, alternative='greater'), with "
    f"Wilson score intervals (statsmodels.stats.proportion.proportion_confint, method='{WILSON_METHOD}')."
)
MCNEMAR = (
    "Two models on one subject's test items: McNemar's exact test (statsmodels.stats.contingency_tables.mcnemar, "
    f"exact={MCNEMAR_EXACT}), the two-sided binomial test of the discordant items at 1/2."
)
WILCOXON = (
    f"Across subjects: Wilcoxon signed-rank test (scipy.stats.wilcoxon, zero_method='{ZERO_METHOD}', zero "
    f"differences dropped; alternative='{ALTERNATIVE}'; method='{EXACT}' for at most {EXACT_UP_TO} non-zero "
    f"differences without ties, otherwise method='{ASYMPTOTIC}', the normal approximation with tie-corrected "
    f"variance and correction={CORRECTION}, a continuity correction)."
)
SIGN = (
    "Sign test: two-sided exact binomial test of the positive among the non-zero differences at 1/2 "
    "(scipy.stats.binomtest, alternative='two-sided')."
)
T_TEST = (
    "One-sample t-test, two-sided (scipy.stats.ttest_1samp); means with 95 % Student t intervals "
    f"(scipy.stats.t.interval, df = n - 1), given only for n ≥ {T_INTERVAL_MIN_N}."
)
HOLM = (
    "Subjects' own tests corrected by Holm's step-down method (statsmodels.stats.multitest.multipletests, "
    f"method='{HOLM_METHOD}'); subjects without a test take no share of alpha."
)
SPEARMAN = (
    "Spearman's ρ with a 95 % Fisher z interval and Bonett and Wright's (2000) standard error "
    f"sqrt((1 + ρ²/2) / (n - 3)) (normal quantile from scipy.stats.norm), for n ≥ {SPEARMAN_MIN_N} items."
)
AGREEMENT = (
    "Agreement: Cohen's κ (statsmodels.stats.inter_rater.cohens_kappa; for every pair of subjects at once, the "
    "same formula in numpy), Fleiss' κ (statsmodels.stats.inter_rater.fleiss_kappa, method='fleiss') and "
    f"Krippendorff's α (krippendorff.alpha, level_of_measurement='{KRIPPENDORFF_LEVEL}')."
)
EQUIVALENCE = (
    "Equivalence: two one-sided paired t-tests of the mean difference against ±margin "
    "(statsmodels.stats.weightstats.ttost_paired); equivalent when the larger p is at most alpha."
)
DETECTABLE = (
    f"Minimum detectable effects at alpha = {ALPHA:g} and power {POWER:g}: the t-test's from statsmodels "
    "TTestPower().solve_power (two-sided) times the observed sd; McNemar's (given the discordant items) and the "
    "one-sided binomial test's from their exact power (scipy.stats.binom, scipy.stats.beta)."
)
PREVALENCE = (
    "Population prevalence: Bayesian prevalence (Ince, Paton, Kay & Schyns 2021) with a uniform prior, its "
    f"maximum a posteriori estimate and {_pct(PREVALENCE_COVERAGE)} highest posterior density interval "
    "(truncated beta posterior, scipy.stats.beta)."
)


def bootstrap_sentence(b: int = BOOTSTRAP_B, confidence: float = BOOTSTRAP_CONFIDENCE) -> str:
    """How ``two_way_bootstrap`` was run, for ``b`` replicates at ``confidence``."""
    return (
        f"Differences in mean accuracy: percentile {_pct(confidence)} intervals from {b} bootstrap replicates "
        "resampling subjects and items independently with replacement (numpy.random.default_rng), next to "
        "resampling subjects only."
    )


def versions_sentence() -> str:
    """The installed versions of the libraries the statistics come from (read from metadata, nothing imported)."""
    from importlib.metadata import PackageNotFoundError, version

    def installed(name: str) -> str:
        try:
            return f"{name} {version(name)}"
        except PackageNotFoundError:
            return f"{name} (not installed)"

    return "Computed with " + ", ".join(installed(name) for name in LIBRARIES) + "."


def methods_sentences(bootstrap_b: int = BOOTSTRAP_B, versions: bool = True) -> list[str]:
    """The methods paragraph, one sentence per test, each naming the library call and its options as made."""
    sentences = [BINOMIAL, MCNEMAR, WILCOXON, SIGN, T_TEST, HOLM, SPEARMAN, AGREEMENT, EQUIVALENCE, DETECTABLE]
    sentences += [PREVALENCE, bootstrap_sentence(bootstrap_b)]
    return [*sentences, versions_sentence()] if versions else sentences
