"""Any folder of images: first-level sub-folder names become classes; keys are relative paths."""

from __future__ import annotations

from pathlib import Path

from prefstudy.datasets.readers.decoded import Decoded, Reporter, SourceOptions, required_path
from prefstudy.datasets.readers.images import ImageEntry, decode_entries, is_candidate
from prefstudy.errors import PrefstudyError


def load(options: SourceOptions, report: Reporter) -> Decoded:
    """Decode every image under ``--path`` (or a seeded ``--limit`` subset)."""
    root = required_path(options, "folder", "a folder of images")
    return decode_entries(folder_entries(root), options, report, source_path=str(root))


def folder_entries(root: Path) -> list[ImageEntry]:
    """Every candidate image under ``root`` (hidden files and folders skipped), keyed by its relative path."""
    if not root.is_dir():
        raise PrefstudyError(f"{root} is not a directory; give a folder of images")
    entries = []
    for f in sorted(root.rglob("*")):
        rel = f.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or not is_candidate(f):
            continue
        class_name = rel.parts[0] if len(rel.parts) > 1 else None
        entries.append(ImageEntry(key=rel.as_posix(), class_name=class_name, split=None, locator=str(f)))
    return entries
