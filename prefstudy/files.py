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

from prefstudy.errors import PrefstudyError


def expand_user(path: Path | str) -> Path:
    """``path`` with a leading ``~`` or ``~user`` expanded; an unknown user is a clear error, not a traceback."""
    try:
        return Path(path).expanduser()
    except RuntimeError as e:  # pathlib: "Could not determine home directory."
        raise PrefstudyError(f"cannot expand {str(path)!r}: {e} (no such user?); give the path without ~") from None


def writable_dir(directory: Path) -> Path:
    """``directory``, created if missing; one clear line when it cannot be written to.

    Commands call it for their output folder before long work, so a typo in ``--out`` fails at
    once rather than after the computation.
    """
    directory = Path(directory)
    try:
        if directory.exists() and not directory.is_dir():
            raise PrefstudyError(f"cannot write into {directory}: it is a file, not a directory")
        directory.mkdir(parents=True, exist_ok=True)
    except (OSError, ValueError) as error:  # ValueError: a NUL in the name
        raise PrefstudyError(f"cannot create {directory}: {_reason(error)}") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise PrefstudyError(f"cannot write into {directory}: permission denied")
    return directory


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; it replaces ``path`` when the block succeeds.

    Example::

        with atomic_path(run_dir / "model.pt") as tmp:
            torch.save(state, tmp)
    """
    path = Path(path)
    try:
        is_dir = path.is_dir()
    except (OSError, ValueError) as error:
        raise PrefstudyError(f"cannot write {path}: {_reason(error)}") from None
    if is_dir:
        raise PrefstudyError(f"cannot write {path}: it is a directory; give a file name")
    writable_dir(path.parent)
    # The pid keeps two processes writing the same file (e.g. two torchrun ranks) apart.
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as error:
        if error.filename not in (str(tmp), str(path)):
            raise
        raise PrefstudyError(f"cannot write {path}: {_reason(error)}") from None
    finally:
        tmp.unlink(missing_ok=True)


def _reason(error: Exception) -> str:
    return (error.strerror if isinstance(error, OSError) else None) or str(error)


def write_text_atomically(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json_atomically(path: Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    return write_text_atomically(path, json.dumps(obj, indent=2) + "\n")
