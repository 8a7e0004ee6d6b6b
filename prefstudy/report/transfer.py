"""Transfer against no transfer, as the paper's Table 4: each transfer run beside the run trained
from scratch with the same settings, scored on the same test items.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from typing import Protocol

from prefstudy.runs import FINISHED
from prefstudy.workspace import Workspace


class _Run(Protocol):
    run_id: str
    subject: str
    dataset: str


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


def _test_accuracy(con, run_id: str, items: set[int] | None = None) -> tuple[float, set[int]]:
    rows = con.execute(
        "SELECT item_idx, label, p_preferred FROM predictions WHERE run_id = ? AND split = 'test'", [run_id]
    ).fetchall()
    chosen = [(i, label == (p > 0.5)) for i, label, p in rows if items is None or i in items]
    return (sum(ok for _, ok in chosen) / len(chosen) if chosen else float("nan")), {i for i, _ in chosen}


def collect_pairs(ws: Workspace, transfer_runs: list[_Run]) -> list[TransferPair]:
    """Pair each finished transfer run with the latest scratch run of the same subject, dataset and settings."""
    if not transfer_runs:
        return []
    with ws.connect() as con:
        rows = con.execute(
            "SELECT id, subject, dataset, parent_run, config FROM runs WHERE status = ? ORDER BY created_at, id",
            [FINISHED],
        ).fetchall()
        configs = {run_id: (subject, dataset, parent, json.loads(c)) for run_id, subject, dataset, parent, c in rows}
        pairs = []
        for run in transfer_runs:
            subject, dataset, _, config = configs[run.run_id]
            baselines = [
                rid
                for rid, (s, d, parent, c) in configs.items()
                if parent is None and (s, d) == (subject, dataset) and c["settings"] == config["settings"]
            ]
            baseline = baselines[-1] if baselines else None
            if baseline is None:
                accuracy, items = _test_accuracy(con, run.run_id)
                base_accuracy = None
            else:
                _, base_items = _test_accuracy(con, baseline)
                accuracy, items = _test_accuracy(con, run.run_id, base_items)
                base_accuracy, _ = _test_accuracy(con, baseline, items)
            transfer = config["transfer"]
            pairs.append(
                TransferPair(
                    subject=subject,
                    dataset=dataset,
                    source_dataset=transfer["source_dataset"],
                    mode=transfer["mode"],
                    n_train=0 if transfer["mode"] == "zero-shot" else config["split_sizes"]["train"],
                    transfer_run=run.run_id,
                    baseline_run=baseline,
                    n_test=len(items),
                    baseline_accuracy=base_accuracy,
                    transfer_accuracy=accuracy,
                    gain_points=None if base_accuracy is None else 100 * (accuracy - base_accuracy),
                )
            )
    return pairs


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
