"""Across subjects, one paired comparison (transfer vs none, personal vs population), and whether the
per-subject tests behind it could reach significance at all.

Each subject contributes a gain (the second condition minus the first, on the same items) and an exact
per-subject p-value. Across subjects: the mean gain with a t-interval, Wilcoxon's signed-rank test and
the sign test on the gains, and how many subjects gain (or lose) significantly after Holm's correction.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from prefstudy.stats import MeanInterval, SignTest, Wilcoxon, holm, sign_test, t_interval, wilcoxon

ALPHA = 0.05


@dataclass(frozen=True)
class Reach:
    """Could any of ``tested`` per-subject tests pass Holm's first cut (alpha / tested)?"""

    tested: int
    smallest_attainable_p: float | None  # the best p any subject could get with their number of items
    holm_first_cut: float | None
    reachable: bool | None  # None when nothing was tested

    def explain(self) -> str:
        """A sentence for the report when no subject can be significant, else ''."""
        if self.reachable is not False:
            return ""
        return (
            f"per-subject tests cannot reach significance here: the smallest p any subject could get is "
            f"{self.smallest_attainable_p:.2g}, above Holm's first cut {ALPHA} / {self.tested} = "
            f"{self.holm_first_cut:.2g}"
        )


def reach(attainable: list[float | None]) -> Reach:
    """The :class:`Reach` of per-subject tests whose best possible p-values are ``attainable`` (None: untested)."""
    tested = [p for p in attainable if p is not None]
    if not tested:
        return Reach(0, None, None, None)
    best, cut = min(tested), ALPHA / len(tested)
    return Reach(len(tested), best, cut, best <= cut)


@dataclass(frozen=True)
class PairedSummary:
    """The gain across subjects: its mean with a CI, two paired tests, and Holm-significant subjects."""

    subjects: int
    gain: MeanInterval
    wilcoxon: Wilcoxon
    sign: SignTest
    significant_gains: int  # subjects whose own exact test passes Holm, gaining
    significant_losses: int
    reach: Reach

    def to_dict(self) -> dict:
        return asdict(self)


def summarize_paired(gains: list[float], p_values: list[float | None], attainable: list[float | None]) -> PairedSummary:
    """Across subjects: ``gains`` (second minus first), each subject's exact p and the best p they could get."""
    rejected = holm(p_values, alpha=ALPHA)
    return PairedSummary(
        subjects=len(gains),
        gain=t_interval(gains),
        wilcoxon=wilcoxon(gains),
        sign=sign_test(gains),
        significant_gains=sum(r and g > 0 for r, g in zip(rejected, gains, strict=True)),
        significant_losses=sum(r and g < 0 for r, g in zip(rejected, gains, strict=True)),
        reach=reach(attainable),
    )


def mcnemar_attainable(n_items: int) -> float | None:
    """The smallest two-sided exact McNemar p over ``n_items`` paired items (all discordant, one way)."""
    return min(1.0, 2 * 0.5**n_items) if n_items else None
