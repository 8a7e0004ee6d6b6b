"""What a recommendation is, whichever model ranks: the run chosen, images the subject answered, the ranking.

Torch-free: a network run (:mod:`.network`) and a head on features (:mod:`.heads`) both end here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from prefstudy.datasets.catalog import DatasetInfo, get_dataset, item_hashes
from prefstudy.errors import PrefstudyError
from prefstudy.runs.record import RunRow, finished_runs, get_run
from prefstudy.subjects.labels import labelled_pairs, usable_labels
from prefstudy.subjects.roster import require_subject
from prefstudy.workspace import Workspace

GRAD_CAM = "grad-cam"


@dataclass(frozen=True)
class RankedImage:
    """One recommended image."""

    rank: int  # 1 for the image the model prefers most
    path: Path
    sha256: str  # of the file's bytes
    p_preferred: float
    overlay: Path | None = None  # its Grad-CAM overlay, when asked for
    score: float | None = None  # a head's raw score (what ρ ranks: a predicted rating on ratings); None for a network

    def to_dict(self) -> dict[str, Any]:
        """The entry of ``ranking`` in `prefstudy recommend --json`."""
        entry = {"rank": self.rank, "path": str(self.path), "sha256": self.sha256, "p_preferred": self.p_preferred}
        if self.score is not None:
            entry["score"] = self.score
        return entry if self.overlay is None else {**entry, "overlay": str(self.overlay)}


@dataclass(frozen=True)
class Unreadable:
    """A file of the pool that could not be decoded."""

    path: Path
    error: str

    def to_dict(self) -> dict[str, Any]:
        """The entry of ``unreadable`` in `prefstudy recommend --json`."""
        return {"path": str(self.path), "error": self.error}


@dataclass(frozen=True)
class PoolFeatures:
    """How a head run's pool met its extractor: vectors found in the cache, and computed now."""

    extractor: str
    cached: int  # images whose vectors were in the cache
    computed: int  # images the extractor saw now (their vectors are cached for the next call)
    seconds: float  # decoding and extracting the computed ones
    counts: dict[str, int]  # what the extractor said of the computed ones (e.g. faces not found)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Recommendation:
    """A folder of images ranked for a subject by one of its runs."""

    subject: str
    run_id: str
    dataset: str  # the run's
    images_dir: Path
    input: str  # how the run's model meets the images
    images: int  # readable images found
    left_out_labelled: int  # of those, the ones the subject has answered
    unreadable: tuple[Unreadable, ...]
    ranked: int  # the images scored
    top: int  # the most asked for
    ranking: tuple[RankedImage, ...]  # best first
    model: str = ""  # the run's model as a report names it: a backbone, or extractor+head
    explanation: str | None = None  # "grad-cam" when overlays were written
    not_explained: str | None = None  # why --explain wrote none (e.g. a head on features Grad-CAM cannot see)
    features: PoolFeatures | None = None  # a head run's: the pool's vectors, cached or computed

    def to_dict(self) -> dict[str, Any]:
        """The `prefstudy recommend --json` object (docs/json.md)."""
        return {
            "subject": self.subject,
            "run_id": self.run_id,
            "dataset": self.dataset,
            "model": self.model,
            "images_dir": str(self.images_dir),
            "input": self.input,
            "images": self.images,
            "left_out_labelled": self.left_out_labelled,
            "unreadable": [u.to_dict() for u in self.unreadable],
            "ranked": self.ranked,
            "top": self.top,
            "explanation": self.explanation,
            "not_explained": self.not_explained,
            "features": None if self.features is None else self.features.to_dict(),
            "ranking": [r.to_dict() for r in self.ranking],
        }


@dataclass(frozen=True)
class Asked:
    """What a recommendation reads from the study before its work: the run, and the items the subject answered."""

    run: RunRow
    seen: set[str]  # the sha256 of every item the subject answered (none with --include-labelled)
    dataset: DatasetInfo  # the run's


def read_asked(ws: Workspace, subject: str, run_id: str | None, dataset: str | None, include_labelled: bool) -> Asked:
    """The run to rank with and what the subject answered, read on one connection (opening one costs ~30 ms)."""
    with ws.connect():
        row = choose_run(ws, subject, run_id, dataset)
        seen = set() if include_labelled else labelled_hashes(ws, subject)
        return Asked(row, seen, get_dataset(ws, row.dataset))


def choose_run(ws: Workspace, subject: str, run_id: str | None, dataset: str | None) -> RunRow:
    """``run_id`` (which must be the subject's), or the subject's latest finished run on ``dataset``."""
    require_subject(ws, subject)
    if (run_id is None) == (dataset is None):
        raise PrefstudyError("give either --run RUN_ID or --dataset D (the subject's latest finished run on D)")
    if run_id is not None:
        row = get_run(ws, run_id)
        if row.subject != subject:
            raise PrefstudyError(f"run {run_id} is {row.subject}'s model, not {subject}'s; give a run of {subject}'s")
        return row
    get_dataset(ws, dataset)  # an unknown dataset is its own clear error
    runs = finished_runs(ws, subject=subject, dataset=dataset)
    if not runs:
        raise PrefstudyError(
            f"subject {subject!r} has no finished run on {dataset!r}; "
            f"make one with `prefstudy run --subject {subject} --dataset {dataset}`"
        )
    return runs[-1]


def labelled_hashes(ws: Workspace, subject: str) -> set[str]:
    """The sha256 of every item the subject has answered, on any dataset."""
    hashes: set[str] = set()
    for who, dataset in labelled_pairs(ws):
        if who == subject:
            hashes.update(item_hashes(ws, dataset)[usable_labels(ws, subject, dataset).item_idx])
    return hashes


def unlabelled(subject: str, root: Path, hashes: Sequence[tuple[str, str | None]], seen: set[str]) -> list[int]:
    """Which images (each by its file's and, where known, its decoded pixels' sha256) are not among the ``seen``
    (the subject's answered items, :func:`labelled_hashes`); there must be one."""
    fresh = [i for i, (file, pixels) in enumerate(hashes) if file not in seen and pixels not in seen]
    if not fresh:
        raise PrefstudyError(
            f"all {len(hashes)} images in {root} are ones {subject} has labelled; "
            "add --include-labelled to rank them anyway"
        )
    return fresh


def best_first(p: np.ndarray, keys: Sequence[str], top: int) -> list[int]:
    """The ``top`` positions of ``p`` from the highest; ties by key (the file's path in the folder)."""
    return sorted(range(len(p)), key=lambda j: (-p[j], keys[j]))[:top]
