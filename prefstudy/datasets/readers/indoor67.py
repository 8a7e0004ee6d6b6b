"""MIT Indoor-67 (Quattoni & Torralba, CVPR 2009) and data laid out like it.

``Images/<category>/<file>.jpg`` with ``TrainImages.txt`` / ``TestImages.txt`` listing
``<category>/<file>.jpg``. The official split is honoured: listed images keep it; images in
neither list (most of the 15,620) get a seeded split at run time.
"""

from __future__ import annotations

from pathlib import Path

from prefstudy.datasets.readers.decoded import Decoded, Reporter, SourceOptions, required_path
from prefstudy.datasets.readers.images import ImageEntry, decode_entries, is_candidate
from prefstudy.errors import PrefstudyError

SPLIT_LISTS = {"train": "TrainImages.txt", "test": "TestImages.txt"}


def _read_split_lists(root: Path) -> dict[str, str]:
    split_of: dict[str, str] = {}
    for split, filename in SPLIT_LISTS.items():
        for line in (root / filename).read_text(encoding="utf-8", errors="replace").splitlines():
            key = line.strip().replace("\\", "/")
            if key:
                split_of[key] = split
    return split_of


def load(options: SourceOptions, report: Reporter) -> Decoded:
    """Decode an Indoor-67-style tree (or a seeded ``--limit`` subset, as the paper's 15,000 of 15,620)."""
    root = required_path(options, "indoor67", "the folder holding Images/, TrainImages.txt and TestImages.txt")
    missing = [name for name in ("Images", *SPLIT_LISTS.values()) if not (root / name).exists()]
    if missing:
        raise PrefstudyError(
            f"{root} does not look like MIT Indoor-67: missing {', '.join(missing)} "
            "(expected Images/<category>/*.jpg with TrainImages.txt and TestImages.txt)"
        )
    split_of = _read_split_lists(root)
    images = root / "Images"
    categories = sorted(d.name for d in images.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not categories:
        raise PrefstudyError(f"{images} has no category folders (expected Images/<category>/*.jpg)")
    entries = []
    for category in categories:
        for f in sorted((images / category).rglob("*")):
            if is_candidate(f):
                key = f.relative_to(images).as_posix()
                entries.append(ImageEntry(key=key, class_name=category, split=split_of.get(key), locator=str(f)))
    decoded = decode_entries(entries, options, report, class_names=categories, source_path=str(root))
    listed = sum(s is not None for s in decoded.splits)
    decoded.details["officially_split"] = listed
    return decoded
