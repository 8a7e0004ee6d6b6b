"""Agreement between subjects on the items several of them labelled.

Krippendorff's alpha (nominal) over every item labelled by two or more subjects: it allows subjects to
label different items. Fleiss' kappa only where every such item has the same number of raters. Cohen's
kappa for each pair sharing at least :data:`MIN_SHARED` items: listed up to :data:`PAIRS_LISTED`
subjects, beyond that only their distribution. Each subject's answer is their latest usable one per item.

A pair's kappa is undefined (0/0) when both subjects gave the same one answer to every item they share:
chance agreement is then certain. Such pairs are counted (``pairs``, ``undefined_pairs``) and left out of the
kappa's median, quartiles and histogram. At thousands of subjects there are millions of pairs: the report
keeps their histogram over fixed bins (:data:`KAPPA_BINS`), not the values.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np

from prefstudy.stats import (
    Spread,
    finite_or_none,
    fleiss_kappa,
    krippendorff_alpha_nominal,
    pairwise_cohen_kappa,
    spread,
)
from prefstudy.subjects.labels import UsableLabels

MIN_SHARED = 10
PAIRS_LISTED = 50
KAPPA_BINS = np.linspace(-1, 1, 41)
"""The edges of the pairwise kappa histogram: 40 bins of 0.05 over [-1, 1]."""


@dataclass(frozen=True)
class PairKappa:
    a: str
    b: str
    shared: int
    kappa: float | None


@dataclass(frozen=True)
class RaterAgreement:
    dataset: str
    subjects: int  # subjects with an answer on an item someone else answered too
    items: int  # items answered by two or more subjects
    answers: int  # answers on those items
    krippendorff_alpha: float | None
    fleiss_kappa: float | None
    fleiss_note: str  # why Fleiss' kappa is missing, else the raters per item
    pairs: int  # pairs sharing at least MIN_SHARED items
    pairwise_kappa: Spread  # over the pairs whose kappa is defined (its n)
    undefined_pairs: int = 0  # pairs whose kappa is 0/0: both gave one and the same answer to every shared item
    pair_kappas: list[PairKappa] = field(default_factory=list)  # only up to PAIRS_LISTED subjects
    # For the plots only: the pairs as a matrix (up to PAIRS_LISTED subjects), and the counts of the defined
    # pairs' kappa in the bins KAPPA_BINS.
    pair_matrix: tuple[list[str], np.ndarray] | None = field(default=None, compare=False, repr=False)
    kappa_histogram: np.ndarray | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict:
        data = asdict(replace(self, pair_matrix=None, kappa_histogram=None))
        data.pop("pair_matrix")
        data.pop("kappa_histogram")
        if self.subjects > PAIRS_LISTED:
            data.pop("pair_kappas")
        return data


def rater_agreement(dataset: str, answers: dict[str, UsableLabels]) -> RaterAgreement | None:
    """Agreement among ``answers`` (subject -> usable labels on ``dataset``); None if no item has two raters."""
    if len(answers) < 2:
        return None
    names = sorted(answers)
    all_items = np.concatenate([answers[n].item_idx for n in names])
    items, counts = np.unique(all_items, return_counts=True)
    items = items[counts >= 2]
    if not len(items):
        return None
    matrix = np.full((len(names), len(items)), np.nan, dtype=np.float32)
    for row, name in enumerate(names):
        labels = answers[name]
        at = np.searchsorted(items, labels.item_idx)
        inside = (at < len(items)) & (items[np.minimum(at, len(items) - 1)] == labels.item_idx)
        matrix[row, at[inside]] = labels.preferred[inside]
    keep = ~np.all(np.isnan(matrix), axis=1)
    names, matrix = [n for n, k in zip(names, keep, strict=True) if k], matrix[keep]
    raters_per_item = (~np.isnan(matrix)).sum(axis=0)
    fleiss, note = None, f"{int(raters_per_item[0])} raters per item"
    if np.all(raters_per_item == raters_per_item[0]):
        preferred = np.nansum(matrix, axis=0)
        fleiss = finite_or_none(fleiss_kappa(np.stack([preferred, raters_per_item - preferred], axis=1)))
    else:
        note = f"items have {int(raters_per_item.min())}-{int(raters_per_item.max())} raters, not the same number"
    pairwise = pairwise_cohen_kappa(matrix, min_shared=MIN_SHARED)
    # Each pair once (above the diagonal), as a mask: index arrays of millions of pairs would cost more.
    counted = np.triu(pairwise.shared >= MIN_SHARED, k=1)
    kappa = pairwise.kappa[counted]
    pairs, pair_matrix = [], None
    if len(names) <= PAIRS_LISTED:
        pairs = [
            PairKappa(names[i], names[j], int(pairwise.shared[i, j]), finite_or_none(pairwise.kappa[i, j]))
            for i, j in zip(*np.nonzero(counted), strict=True)
        ]
        pair_matrix = (names, pairwise.kappa)
    del pairwise, counted  # at thousands of subjects, free the subjects x subjects matrices before the quantiles
    n_pairs = len(kappa)
    defined = kappa[np.isfinite(kappa)]
    del kappa
    kappa_spread = spread(defined)  # exact quantiles, of the values
    histogram = np.histogram(np.clip(defined, -1, 1, out=defined), bins=KAPPA_BINS)[0]
    return RaterAgreement(
        dataset=dataset,
        subjects=len(names),
        items=len(items),
        answers=int(raters_per_item.sum()),
        krippendorff_alpha=finite_or_none(krippendorff_alpha_nominal(matrix)),
        fleiss_kappa=fleiss,
        fleiss_note=note,
        pairs=n_pairs,
        pairwise_kappa=kappa_spread,
        undefined_pairs=n_pairs - len(defined),
        pair_kappas=pairs,
        pair_matrix=pair_matrix,
        kappa_histogram=histogram,
    )
