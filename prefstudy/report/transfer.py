"""Transfer against no transfer, as the paper's Table 4: each transfer run beside the run trained
from scratch with the same settings, scored on the same test items.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass

from prefstudy.report.paired import PairedSummary, mcnemar_attainable, summarize_paired
from prefstudy.runs.record import Prediction, RunRow, predictions_by_run
from prefstudy.splits import TEST
from prefstudy.stats import mcnemar_exact
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
    baseline_only: int | None = None  # items only the baseline got right (McNemar's discordant pairs)
    transfer_only: int | None = None  # items only the transfer run got right
    mcnemar_p: float | None = None  # exact McNemar test on the shared test items
    train_size: int | None = None  # the labels asked for (a label curve's point); None: all the subject's

    @property
    def labels(self) -> int | None:
        """The label count this pair is grouped at: a label curve's (or zero-shot's 0), else None for "all of
        each subject's labels" (raters with 30 and with 90 labels then make one group, not two)."""
        return self.n_train if self.train_size is not None or self.mode == "zero-shot" else None


@dataclass(frozen=True)
class GainSummary:
    """Mean gain over subjects for one source -> target, mode and number of target labels."""

    source_dataset: str
    dataset: str
    mode: str
    n_train: int | None  # None: each subject's labels, all of them
    n_subjects: int
    mean_gain_points: float
    min_gain_points: float
    max_gain_points: float
    largest: bool  # the number of labels where this transfer gains most
    paired: PairedSummary | None = None  # across subjects: mean gain with a CI, Wilcoxon, sign test, Holm

    def to_dict(self) -> dict:
        data = asdict(self)
        data["paired"] = None if self.paired is None else self.paired.to_dict()
        return data


def _correct(predicted: list[Prediction]) -> dict[int, bool]:
    """Item -> whether the run answered it as the subject did (a tie has no answer to score)."""
    return {p.item_idx: p.label == (p.p_preferred > 0.5) for p in predicted if p.label is not None}


def _share(correct: dict[int, bool], items: list[int]) -> float:
    return sum(correct[i] for i in items) / len(items) if items else float("nan")


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
        mine = _correct(test_predictions.get(run.id, []))
        test = None
        if baseline is None:
            items = sorted(mine)
            base_accuracy = None
        else:
            theirs = _correct(test_predictions.get(baseline.id, []))
            items = sorted(mine.keys() & theirs.keys())
            base_accuracy = _share(theirs, items)
            test = mcnemar_exact(
                sum(theirs[i] and not mine[i] for i in items), sum(mine[i] and not theirs[i] for i in items)
            )
        accuracy = _share(mine, items)
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
                baseline_only=None if test is None else test.b,
                transfer_only=None if test is None else test.c,
                mcnemar_p=None if test is None else test.p_value,
                train_size=run.settings.get("train_size"),
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
    latest: dict[tuple[str, str, str, int | None], dict[str, TransferPair]] = {}
    for pair in pairs:  # the latest pair of a subject wins
        if pair.gain_points is not None:
            key = (pair.source_dataset, pair.dataset, pair.mode, pair.labels)
            latest.setdefault(key, {})[pair.subject] = pair
    groups = {key: {s: p.gain_points for s, p in g.items()} for key, g in latest.items()}
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
            paired=summarize_paired(
                list(groups[key].values()),
                [p.mcnemar_p for p in latest[key].values()],
                [mcnemar_attainable(p.n_test) for p in latest[key].values()],
            ),
        )
        for key in sorted(groups, key=lambda k: (*k[:3], -1 if k[3] is None else k[3]))
    ]
