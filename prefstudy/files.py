"""Writing files so that a reader never sees half of one: write beside the target, then rename.

A rename within one directory is atomic on POSIX file systems, so a crash mid-write leaves the
old file (or none), never a truncated one. Every file prefstudy writes for later reading —
caches, checkpoints, run files, exports — goes through :func:`atomic_path`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; it replaces ``path`` when the block succeeds.

    Example::

        with atomic_path(run_dir / "model.pt") as tmp:
            torch.save(state, tmp)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The pid keeps two processes writing the same file (e.g. two torchrun ranks) apart.
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomically(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json_atomically(path: Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    return write_text_atomically(path, json.dumps(obj, indent=2) + "\n")
