"""Holm through statsmodels, without the full garbage collection multipletests runs on every call."""

import gc

import pytest
import statsmodels.stats.multitest as multitest

from prefstudy.stats import holm, holm_adjusted


def test_holm_calls_statsmodels_with_the_heap_frozen_and_unfreezes_it(monkeypatch):
    original, calls = multitest.multipletests, []

    def recording(p_values, alpha, method):
        calls.append((list(p_values), alpha, method, gc.get_freeze_count() > 0))
        return original(p_values, alpha, method=method)

    monkeypatch.setattr(multitest, "multipletests", recording)
    assert holm([0.01, None, 0.04], alpha=0.1) == [True, False, True]
    assert calls == [([0.01, 0.04], 0.1, "holm", True)] and gc.get_freeze_count() == 0
    assert holm_adjusted([None, float("nan")]) == [None, None] and len(calls) == 1  # nothing tested: no call

    def failing(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(multitest, "multipletests", failing)
    with pytest.raises(RuntimeError):
        holm([0.01])
    assert gc.get_freeze_count() == 0  # unfrozen on the way out


def test_objects_someone_else_froze_stay_frozen():
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert holm_adjusted([0.01, 0.02]) == pytest.approx([0.02, 0.02])
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
