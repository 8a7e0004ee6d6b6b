"""A run directory as bytes, for executors whose workers share no storage with the driver (Ray's object store)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from prefstudy.errors import PrefstudyError
from prefstudy.runs.rundir import RunDir

_LEFT_BEHIND = {RunDir.CHECKPOINT, RunDir.PREVIOUS_CHECKPOINT}  # without shared storage a retry restarts anyway


def pack(directory: Path) -> bytes:
    """The run directory's files (checkpoints aside) as an uncompressed tar archive."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in sorted(Path(directory).iterdir()):
            if path.is_file() and path.name not in _LEFT_BEHIND:
                tar.add(path, arcname=path.name)
    return buffer.getvalue()


def unpack(packed: bytes, target: Path) -> Path:
    """Write a packed run directory to ``target`` (created; it must not exist) and return it."""
    target.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(packed), mode="r") as tar:
        members = tar.getmembers()
        if any(not m.isfile() or "/" in m.name or m.name.startswith(".") for m in members):
            raise PrefstudyError(f"a packed run directory for {target.name} holds more than plain files")
        tar.extractall(target, members=members, filter="data")
    return target
