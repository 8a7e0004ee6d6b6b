"""What makes two runs' results one result: every setting that changes a model, and names for groups that differ.

A report never pools runs whose models were made differently: a group's key holds every setting
(backbone or extractor with its weights' hash, head, target, schedule, lr, epochs, budget, batch,
validation share, train size, protocol, split, seed, folds) and where a transfer run started from
(the source's subject, or "own", its dataset and the mode). Only ``fold`` is left out: the runs of
one setting's k folds are one result, each item tested once. The dataset's name fixes its images and their size. A head
is fitted in one go, so the training schedule's settings play no part in it and are left out of a
head's key. Where groups that read alike differ, :func:`distinguish` names what differs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Mapping
from typing import Any

from prefstudy.runs.row import RunRow

POOLED = frozenset({"fold"})  # the runs of one setting's folds are one result
NOT_FOR_HEADS = frozenset({"epochs", "schedule", "lr", "batch_size", "budget", "patience", "weights"})
NOT_FOR_NETWORKS = frozenset({"head", "target"})

Identity = tuple[tuple[str, Any], ...]


def identity(row: RunRow, subject_of: Mapping[str, str]) -> Identity:
    """Every setting that made ``row``'s model, as a sorted tuple (``subject_of``: run id -> subject)."""
    settings = row.settings
    left_out = POOLED | (NOT_FOR_HEADS if settings.get("head") else NOT_FOR_NETWORKS)
    out = {k: v for k, v in settings.items() if k not in left_out}
    features = row.config.get("features") or {}
    if features.get("weights"):
        out["extractor weights"] = str(features["weights"])[:12]
    transfer = row.transfer
    if transfer is not None:
        source = subject_of.get(transfer.get("source_run"), transfer.get("source_run"))
        who = "own" if source == row.subject else source  # a subject's own model on another dataset: the paper's
        out["source"] = f"{who} {transfer.get('source_dataset')} ({transfer.get('mode')})"
    return tuple(sorted(out.items(), key=lambda kv: kv[0]))


def distinguish(groups: Mapping[Hashable, tuple[str, Identity]]) -> dict[Hashable, str]:
    """A label per group: its base label, and where groups with that base label differ, the settings that differ
    (e.g. ``from scratch, schedule=paper``)."""
    by_label: dict[str, list[Hashable]] = defaultdict(list)
    for key, (label, _) in groups.items():
        by_label[label].append(key)
    out = {}
    for label, keys in by_label.items():
        settings = [dict(groups[k][1]) for k in keys]
        names = sorted({name for s in settings for name in s})
        differing = [n for n in names if len({repr(s.get(n)) for s in settings}) > 1]
        for key, s in zip(keys, settings, strict=True):
            extra = ", ".join(f"{n}={_value(s.get(n))}" for n in differing)
            out[key] = f"{label}, {extra}" if extra else label
    return out


def _value(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
