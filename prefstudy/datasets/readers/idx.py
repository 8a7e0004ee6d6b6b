"""Reading IDX files (the MNIST family's format), gzipped or raw, with clear errors for damaged files."""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from prefstudy.errors import PrefstudyError

_UBYTE = 0x08


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                return handle.read()
        return path.read_bytes()
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise PrefstudyError(f"{path} is truncated or corrupt ({error}); download it again") from None


def read_idx(path: Path) -> np.ndarray:
    """Read an unsigned-byte IDX file into an array of the shape its header declares."""
    data = _read_bytes(path)
    if len(data) < 4:
        raise PrefstudyError(f"{path} is truncated: {len(data)} bytes, not even an IDX header")
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != _UBYTE or not 1 <= ndim <= 4:
        raise PrefstudyError(f"{path} is not an unsigned-byte IDX file (magic {data[:4].hex()})")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise PrefstudyError(f"{path} is truncated inside its IDX header")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(shape))
    if len(data) - header != expected:
        raise PrefstudyError(
            f"{path} is truncated or corrupt: its header declares shape {shape} ({expected} bytes), "
            f"it holds {len(data) - header}; download it again"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)
