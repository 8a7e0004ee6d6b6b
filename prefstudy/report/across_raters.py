"""Across raters: is there personal signal beyond each baseline, for the population of people?

Per (dataset, personal variant, population), over the raters of :mod:`.population`:

- each predictor's accuracy and ρ across raters (median, IQR);
- against every baseline, on the same test items: the mean gain with a t-interval, Wilcoxon's signed-rank
  test on the per-rater gains (accuracy and ρ), how many raters gain or lose;
- a two-way bootstrap interval of the mean accuracy gain that resamples raters *and* items (all raters
  share the same faces, so items are a sample too), beside the interval that resamples raters only;
- the Bayesian prevalence of raters for whom the personal model beats the baseline (Ince et al. 2021),
  from each rater's one-sided exact McNemar test at alpha = 0.05;
- the smallest mean gain the test across raters could detect (power 0.8), and where it finds no
  difference, an equivalence test (TOST) against a stated margin.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field

import numpy as np

from prefstudy.config import Inference
from prefstudy.report.paired import ALPHA, PairedSummary, mcnemar_attainable, summarize_paired
from prefstudy.report.population import BASELINES, PERSONAL, RaterComparison
from prefstudy.stats import (
    MeanInterval,
    SignTest,
    Spread,
    Wilcoxon,
    sign_test,
    spread,
    t_interval,
    wilcoxon,
)
from prefstudy.stats.bootstrap import CrossedBootstrap, two_way_bootstrap
from prefstudy.stats.equivalence import Equivalence, tost_paired
from prefstudy.stats.power import DetectableEffect, minimum_detectable_effect, minimum_detectable_mcnemar
from prefstudy.stats.prevalence import Prevalence, prevalence


@dataclass(frozen=True)
class BaselineTest:
    """The personal variant against one baseline, across raters, on the same test items."""

    baseline: str
    name: str
    raters: int  # with a score from both
    accuracy: Spread  # the baseline's
    rho: Spread
    accuracy_gain: MeanInterval  # personal minus baseline, t-interval across raters
    accuracy_test: Wilcoxon
    accuracy_wins: int
    accuracy_losses: int
    rho_gain: MeanInterval
    rho_test: Wilcoxon
    rho_wins: int
    rho_losses: int
    bootstrap: CrossedBootstrap | None  # of the mean accuracy gain: raters and items, and raters only
    significant_gains: int  # raters whose one-sided exact McNemar p < alpha
    prevalence: Prevalence | None  # of raters the personal model beats this baseline for
    detectable: DetectableEffect  # the smallest mean accuracy gain the test across raters detects
    accuracy_equivalence: Equivalence | None  # TOST within ±margin, where Wilcoxon finds no difference
    rho_equivalence: Equivalence | None
    # The smallest accuracy gain one rater's exact McNemar test detects, at the median test items and discordant pairs
    detectable_per_rater: DetectableEffect | None = None


@dataclass(frozen=True)
class PopulationSummary:
    """Across raters, for one dataset and personal variant: every predictor, and the personal model against each
    baseline."""

    dataset: str
    variant: str
    population: str
    raters: int
    personal_accuracy: Spread
    population_accuracy: Spread
    personal_rho: Spread
    population_rho: Spread
    consensus_accuracy: Spread
    consensus_rho: Spread
    accuracy_wins: int  # against the image population model (ties: neither)
    accuracy_losses: int
    rho_wins: int
    rho_losses: int
    accuracy_test: Wilcoxon  # paired, personal minus population, across raters
    rho_test: Wilcoxon
    accuracy_paired: PairedSummary | None = None  # the gain's mean with a CI, sign test, Holm over McNemar tests
    rho_gain: MeanInterval | None = None
    rho_sign: SignTest | None = None
    baselines: tuple[BaselineTest, ...] = ()
    share_recovered: Spread | None = None  # of the reliable signal, where raters answered repeats
    inference: Inference = field(default_factory=Inference)

    def to_dict(self) -> dict:
        return asdict(self)

    def against(self, baseline: str) -> BaselineTest | None:
        return next((b for b in self.baselines if b.baseline == baseline), None)


def _values(items: list[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in items], dtype=np.float64)


def _correctness(comparisons: list[RaterComparison], predictor: str) -> np.ndarray:
    """Raters x items: 1 right, 0 wrong, NaN where the item was not a test item of the rater (or had no answer)."""
    items = np.unique(np.concatenate([c.items for c in comparisons]))
    column = {int(item): j for j, item in enumerate(items)}
    out = np.full((len(comparisons), len(items)), np.nan)
    for i, c in enumerate(comparisons):
        out[i, [column[int(item)] for item in c.items]] = c.right[predictor]
    return out


def _against(comparisons: list[RaterComparison], baseline: str, inference: Inference) -> BaselineTest | None:
    chosen = [c for c in comparisons if np.isfinite(_values([c.accuracy_of(baseline)])[0])]  # None or NaN: none
    if not chosen:
        return None
    acc_gain = _values([c.personal_accuracy - c.accuracy_of(baseline) for c in chosen])
    rho_gain = _values([None if (v := c.against(baseline)) is None else v.rho_gain for c in chosen])
    acc_test, rho_test = wilcoxon(acc_gain), wilcoxon(rho_gain)
    gains = [c.against(baseline) for c in chosen]
    significant = sum(v is not None and v.gain_p is not None and v.gain_p < ALPHA for v in gains)
    tested = sum(v is not None and v.gain_p is not None for v in gains)
    mine, theirs = _correctness(chosen, PERSONAL), _correctness(chosen, baseline)
    both = np.isfinite(mine) & np.isfinite(theirs)
    booted = None
    if both.any():
        booted = two_way_bootstrap(
            np.where(both, mine, np.nan), np.where(both, theirs, np.nan), B=inference.bootstrap_b, seed=inference.seed
        )
    gain_sd = float(np.nanstd(acc_gain, ddof=1)) if np.isfinite(acc_gain).sum() > 1 else None

    def equivalence(values: np.ndarray, test: Wilcoxon, margin: float) -> Equivalence | None:
        if test.p_value is None or test.p_value < ALPHA or np.isfinite(values).sum() < 2:
            return None
        return tost_paired(values[np.isfinite(values)], margin)

    return BaselineTest(
        baseline=baseline,
        name=BASELINES[baseline],
        raters=len(chosen),
        accuracy=spread(_values([c.accuracy_of(baseline) for c in chosen])),
        rho=spread(_values([c.rho_of(baseline) for c in chosen])),
        accuracy_gain=t_interval(acc_gain),
        accuracy_test=acc_test,
        accuracy_wins=int(np.sum(acc_gain > 0)),
        accuracy_losses=int(np.sum(acc_gain < 0)),
        rho_gain=t_interval(rho_gain),
        rho_test=rho_test,
        rho_wins=int(np.nansum(rho_gain > 0)),
        rho_losses=int(np.nansum(rho_gain < 0)),
        bootstrap=booted,
        significant_gains=significant,
        prevalence=prevalence(significant, tested, alpha=ALPHA) if tested else None,
        detectable=minimum_detectable_effect(int(np.isfinite(acc_gain).sum()), gain_sd),
        detectable_per_rater=minimum_detectable_mcnemar(
            int(np.median([c.n_test for c in chosen])),
            int(np.median([v.personal_only + v.baseline_only for v in gains if v is not None] or [0])),
        ),
        accuracy_equivalence=equivalence(acc_gain, acc_test, inference.accuracy_margin),
        rho_equivalence=equivalence(rho_gain, rho_test, inference.rho_margin),
    )


def summarize_comparisons(
    comparisons: list[RaterComparison], inference: Inference | None = None
) -> list[PopulationSummary]:
    """Per (dataset, variant, population): every predictor across raters, and the personal model against each
    baseline (see the module docstring)."""
    inference = inference or Inference()
    groups: dict[tuple[str, str, str], list[RaterComparison]] = defaultdict(list)
    for c in comparisons:
        groups[(c.dataset, c.variant, c.population)].append(c)
    out = []
    for (dataset, variant, population), items in sorted(groups.items()):
        acc_gain = _values([c.accuracy_gain for c in items])
        rho_gain = _values([c.rho_gain for c in items])
        recovered = _values([c.share_recovered for c in items])
        against = tuple(b for name in BASELINES if (b := _against(items, name, inference)) is not None)
        out.append(
            PopulationSummary(
                dataset=dataset,
                variant=variant,
                population=population,
                raters=len(items),
                personal_accuracy=spread(_values([c.personal_accuracy for c in items])),
                population_accuracy=spread(_values([c.population_accuracy for c in items])),
                personal_rho=spread(_values([c.personal_rho for c in items])),
                population_rho=spread(_values([c.population_rho for c in items])),
                consensus_accuracy=spread(_values([c.consensus_accuracy for c in items])),
                consensus_rho=spread(_values([c.consensus_rho for c in items])),
                accuracy_wins=int(np.sum(acc_gain > 0)),
                accuracy_losses=int(np.sum(acc_gain < 0)),
                rho_wins=int(np.nansum(rho_gain > 0)),
                rho_losses=int(np.nansum(rho_gain < 0)),
                accuracy_test=wilcoxon(acc_gain),
                rho_test=wilcoxon(rho_gain),
                accuracy_paired=summarize_paired(
                    acc_gain.tolist(), [c.mcnemar_p for c in items], [mcnemar_attainable(c.n_test) for c in items]
                ),
                rho_gain=t_interval(rho_gain),
                rho_sign=sign_test(rho_gain),
                baselines=against,
                share_recovered=spread(recovered) if np.isfinite(recovered).any() else None,
                inference=inference,
            )
        )
    return out
