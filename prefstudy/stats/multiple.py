"""Holm's step-down correction for testing many hypotheses at once: statsmodels' ``multipletests(method="holm")``."""

from __future__ import annotations

import gc
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

HOLM_METHOD = "holm"


@contextmanager
def _collections_skip_the_heap() -> Iterator[None]:
    """Objects that exist now are left out of garbage collections until the block ends (gc.freeze, then unfreeze).

    ``multipletests(method="holm")`` runs ``gc.collect()`` on every call: in the report's process, with duckdb,
    matplotlib and a hundred thousand objects alive, that is ~85 ms a call, and the report corrects many families.
    Frozen, the collection walks only the call's own objects. Skipped when something else froze objects already
    (unfreezing would release theirs too).
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _tested(p_values: Sequence[float | None]) -> list[int]:
    """Indices of the p-values that were computed (None and NaN are untested, and take no share of alpha)."""
    return [i for i, p in enumerate(p_values) if p is not None and not math.isnan(p)]


def _holm(p_values: Sequence[float | None], alpha: float) -> tuple[list[bool], list[float | None]]:
    from statsmodels.stats.multitest import multipletests

    tested = _tested(p_values)
    rejected, adjusted = [False] * len(p_values), [None] * len(p_values)
    if tested:
        with _collections_skip_the_heap():
            reject, corrected, _, _ = multipletests([float(p_values[i]) for i in tested], alpha, method=HOLM_METHOD)
        for i, r, p in zip(tested, reject, corrected, strict=True):
            rejected[i], adjusted[i] = bool(r), float(p)
    return rejected, adjusted


def holm(p_values: Sequence[float | None], alpha: float = 0.05) -> list[bool]:
    """Which hypotheses Holm's method rejects at family-wise level ``alpha``; untested ones are not rejected."""
    return _holm(p_values, alpha)[0]


def holm_adjusted(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm-adjusted p-values (monotone in p, at most 1); None where untested."""
    return _holm(p_values, 0.05)[1]
