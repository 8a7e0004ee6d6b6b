"""Labeled Faces in the Wild (Huang et al., UMass TR 07-49, 2007): a directory or its ``.tgz``.

Any of the official variants works (``lfw``, ``lfw-funneled``, ``lfw-deepfunneled``): the tree is
``<Person_Name>/<Person_Name>_NNNN.jpg``, optionally under one top folder. Keys are
``Person_Name/Person_Name_NNNN.jpg``; the class is the person. LFW has no train/test split for
preference learning, so runs draw a seeded one.
"""

from __future__ import annotations

import re
import tarfile
from pathlib import Path

from prefstudy.datasets.readers.decoded import Decoded, Reporter, SourceOptions, required_path
from prefstudy.datasets.readers.images import ImageEntry, decode_entries, is_candidate, read_files, tar_reader
from prefstudy.errors import PrefstudyError

_FACE = re.compile(r"^(?P<person>[^/]+)_\d{4}\.[A-Za-z]+$")
_LAYOUT = "<Person_Name>/<Person_Name>_NNNN.jpg"


def _variant(top: str) -> str | None:
    name = top.lower().replace("_", "-")
    if "deepfunneled" in name or "deep-funneled" in name:
        return "deep-funneled"
    if "funneled" in name:
        return "funneled"
    return None


def _is_face_dir(folder: Path) -> bool:
    return folder.is_dir() and any((m := _FACE.match(f.name)) and m["person"] == folder.name for f in folder.iterdir())


def _people_root(path: Path) -> Path:
    if any(_is_face_dir(d) for d in path.iterdir()):
        return path
    subdirs = [d for d in path.iterdir() if d.is_dir() and not d.name.startswith(".")]
    if len(subdirs) == 1 and any(_is_face_dir(d) for d in subdirs[0].iterdir()):
        return subdirs[0]
    raise PrefstudyError(f"{path} does not look like LFW: expected {_LAYOUT} (optionally under one top folder)")


def _from_directory(path: Path) -> tuple[list[ImageEntry], str]:
    root = _people_root(path)
    entries = [
        ImageEntry(key=f"{person.name}/{f.name}", class_name=person.name, split=None, locator=str(f))
        for person in root.iterdir()
        if person.is_dir() and not person.name.startswith(".")
        for f in person.iterdir()
        if is_candidate(f)
    ]
    return entries, root.name


def _from_archive(path: Path) -> tuple[list[ImageEntry], str]:
    try:
        with tarfile.open(path, "r:*") as tar:
            names = [m.name for m in tar.getmembers() if m.isfile()]
    except (tarfile.TarError, EOFError, OSError) as error:
        raise PrefstudyError(f"{path} is not a readable tar archive ({error})") from None
    entries, tops = [], set()
    for name in names:
        parts = name.strip("./").split("/")
        if len(parts) < 2 or parts[-1].startswith("."):
            continue
        person, filename = parts[-2], parts[-1]
        entries.append(ImageEntry(key=f"{person}/{filename}", class_name=person, split=None, locator=name))
        tops.add(parts[0] if len(parts) > 2 else "")
    if not any((m := _FACE.match(e.key.split("/")[1])) and m["person"] == e.class_name for e in entries):
        raise PrefstudyError(f"{path} does not look like an LFW archive: expected members {_LAYOUT}")
    return entries, next(iter(tops)) if len(tops) == 1 else path.name


def load(options: SourceOptions, report: Reporter) -> Decoded:
    """Decode LFW faces (or a seeded ``--limit`` subset, as the paper's 9,000 of 13,233)."""
    path = required_path(options, "lfw", "the LFW folder or its .tgz")
    if path.is_dir():
        entries, top = _from_directory(path)
        read = read_files
    else:
        entries, top = _from_archive(path)
        read = tar_reader(path)
    decoded = decode_entries(entries, options, report, read=read, source_path=str(path))
    decoded.details["variant"] = _variant(top) or "unknown"
    return decoded
