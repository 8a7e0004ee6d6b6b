"""Transfer against no transfer, as the paper's Table 4: each transfer run beside the run trained
from scratch with the same settings, scored on the same test items.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from prefstudy.runs.record import Prediction, RunRow, predictions_by_run
from prefstudy.splits import TEST
from prefstudy.workspace import Workspace


@dataclass(frozen=True)
class TransferPair:
    subject: str
    dataset: str
    source_dataset: str
    mode: str
    n_train: int  # target training labels
    transfer_run: str
    baseline_run: str | None  # the same settings trained from scratch, if there is one
    n_test: int  # test items both runs were scored on
    baseline_accuracy: float | None
    transfer_accuracy: float
    gain_points: float | None  # transfer minus baseline, in percentage points


@dataclass(frozen=True)
class GainSummary:
    """Mean gain over subjects for one source -> target, mode and number of target labels."""

    source_dataset: str
    dataset: str
    mode: str
    n_train: int
    n_subjects: int
    mean_gain_points: float
    min_gain_points: float
    max_gain_points: float
    largest: bool  # the number of labels where this transfer gains most


def _accuracy(predicted: list[Prediction], items: set[int] | None = None) -> tuple[float, set[int]]:
    chosen = [
        (p.item_idx, p.label == (p.p_preferred > 0.5))
        for p in predicted
        if p.label is not None and (items is None or p.item_idx in items)  # a tie has no answer to score
    ]
    return (sum(ok for _, ok in chosen) / len(chosen) if chosen else float("nan")), {i for i, _ in chosen}


def _scratch_runs(runs: list[RunRow]) -> dict[tuple[str, str], list[RunRow]]:
    """The runs trained from scratch, by (subject, dataset), oldest first (found without a scan per run)."""
    found: dict[tuple[str, str], list[RunRow]] = {}
    for r in runs:
        if r.parent_run is None:
            found.setdefault((r.subject, r.dataset), []).append(r)
    return found


def _baseline(scratch: dict[tuple[str, str], list[RunRow]], run: RunRow) -> RunRow | None:
    """The latest run trained from scratch with the transfer run's subject, dataset and settings."""
    found = [r for r in scratch.get((run.subject, run.dataset), []) if r.settings == run.settings]
    return found[-1] if found else None


def pair_runs(runs: list[RunRow], test_predictions: dict[str, list[Prediction]]) -> list[TransferPair]:
    """Each transfer run among ``runs`` (oldest first) beside its baseline, both scored on the test items they share."""
    pairs = []
    scratch = _scratch_runs(runs)
    for run in runs:
        if run.parent_run is None:
            continue
        baseline = _baseline(scratch, run)
        if baseline is None:
            accuracy, items = _accuracy(test_predictions.get(run.id, []))
            base_accuracy = None
        else:
            _, base_items = _accuracy(test_predictions.get(baseline.id, []))
            accuracy, items = _accuracy(test_predictions.get(run.id, []), base_items)
            base_accuracy, _ = _accuracy(test_predictions.get(baseline.id, []), items)
        transfer = run.transfer
        pairs.append(
            TransferPair(
                subject=run.subject,
                dataset=run.dataset,
                source_dataset=transfer["source_dataset"],
                mode=transfer["mode"],
                n_train=0 if transfer["mode"] == "zero-shot" else run.config["split_sizes"]["train"],
                transfer_run=run.id,
                baseline_run=baseline.id if baseline else None,
                n_test=len(items),
                baseline_accuracy=base_accuracy,
                transfer_accuracy=accuracy,
                gain_points=None if base_accuracy is None else 100 * (accuracy - base_accuracy),
            )
        )
    return pairs


def collect_pairs(ws: Workspace, runs: list[RunRow]) -> list[TransferPair]:
    """Pair each finished transfer run among ``runs`` with the latest scratch run of the same settings."""
    transfer_runs = [r for r in runs if r.parent_run]
    if not transfer_runs:
        return []
    scratch = _scratch_runs(runs)
    needed = {r.id for r in transfer_runs} | {b.id for r in transfer_runs if (b := _baseline(scratch, r))}
    return pair_runs(runs, predictions_by_run(ws, needed, split=TEST))


def summarize_gains(pairs: list[TransferPair]) -> list[GainSummary]:
    """Mean gain per (source, target, mode, target labels), marking the label count where it is largest."""
    groups: dict[tuple[str, str, str, int], dict[str, float]] = {}
    for pair in pairs:  # the latest pair of a subject wins
        if pair.gain_points is not None:
            key = (pair.source_dataset, pair.dataset, pair.mode, pair.n_train)
            groups.setdefault(key, {})[pair.subject] = pair.gain_points
    means = {key: statistics.fmean(g.values()) for key, g in groups.items()}
    best = {}
    for (source, target, mode, n), mean in means.items():
        if (source, target, mode) not in best or mean > means[best[(source, target, mode)]]:
            best[(source, target, mode)] = (source, target, mode, n)
    return [
        GainSummary(
            *key,
            len(groups[key]),
            means[key],
            min(groups[key].values()),
            max(groups[key].values()),
            largest=best[key[:3]] == key,
        )
        for key in sorted(groups)
    ]
