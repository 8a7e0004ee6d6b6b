"""Decoding trees of image files (LFW, Indoor-67, folders) into one uint8 array, once.

Each image is read, hashed, decoded with Pillow, fitted to a square (shorter side resized,
centre cropped, so nothing is stretched) and stored as uint8. Files Pillow cannot read —
corrupt, truncated, or not images at all — are collected with the reason and left out, and so
are images of more than ``$PREFSTUDY_MAX_PIXELS`` pixels (default 100 MP: any camera photo
passes, a decompression bomb does not). That limit replaces Pillow's own check, whose warning
would otherwise reach the user raw; JPEGs are decoded at a reduced scale, near the cache size.
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from prefstudy.bounds import COUNT, IMAGE_SIZE, PIXELS
from prefstudy.datasets.readers.decoded import Decoded, Reporter, SourceOptions, seeded_order, sha256_hex
from prefstudy.env import MAX_PIXELS_ENV
from prefstudy.errors import PrefstudyError

DEFAULT_PHOTO_SIZE = 64
DEFAULT_PHOTO_CHANNELS = 3
DEFAULT_MAX_PIXELS = 100_000_000
# prefstudy checks every image's size itself (see max_pixels), before decoding a pixel.
Image.MAX_IMAGE_PIXELS = None
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}


@dataclass(frozen=True)
class ImageEntry:
    """One candidate image: its key, class and official split, and where its bytes are."""

    key: str
    class_name: str | None
    split: str | None
    locator: str  # a file path, or a member name inside an archive


ReadMany = Callable[[Sequence[ImageEntry]], Iterator[tuple[ImageEntry, bytes | None, str | None]]]
"""Reads entries' bytes; yields (entry, bytes, None) or (entry, None, why it failed)."""


def read_files(entries: Sequence[ImageEntry]) -> Iterator[tuple[ImageEntry, bytes | None, str | None]]:
    """Read entries whose locators are file paths."""
    for entry in entries:
        try:
            yield entry, Path(entry.locator).read_bytes(), None
        except OSError as error:
            yield entry, None, f"unreadable ({error.strerror or error})"


def tar_reader(archive: Path) -> ReadMany:
    """A reader for entries whose locators are member names of a (gzipped) tar archive."""

    def read(entries: Sequence[ImageEntry]) -> Iterator[tuple[ImageEntry, bytes | None, str | None]]:
        wanted = {entry.locator: entry for entry in entries}
        found: dict[str, bytes] = {}
        import tarfile  # here: a listing of files (recommend's pool) needs no archive reader

        with tarfile.open(archive, "r:*") as tar:  # one streaming pass: a .tgz has no random access
            for member in tar:
                if member.name in wanted and member.isfile():
                    handle = tar.extractfile(member)
                    found[member.name] = handle.read() if handle else b""
        for locator, entry in wanted.items():
            if locator in found:
                yield entry, found[locator], None
            else:
                yield entry, None, "missing from the archive"

    return read


def max_pixels() -> int:
    """The largest image, in pixels, that prefstudy decodes: ``$PREFSTUDY_MAX_PIXELS`` or 100 MP."""
    text = os.environ.get(MAX_PIXELS_ENV)
    return DEFAULT_MAX_PIXELS if text is None else int(PIXELS.parse(f"${MAX_PIXELS_ENV}", text))


class ImageTooLarge(ValueError):
    """An image with more pixels than :func:`max_pixels` allows."""


def decode_image(data: bytes, size: int, channels: int, limit: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode image bytes into a (size, size, channels) uint8 array, fitted without distortion.

    Raises :class:`ImageTooLarge`, having read only the header, when the image has more than
    ``limit`` pixels.
    """
    mode = "L" if channels == 1 else "RGB"
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
        if width * height > limit:
            raise ImageTooLarge(
                f"too large: {width}x{height} is {width * height / 1e6:.3g} MP, over the limit of "
                f"{limit / 1e6:g} MP (${MAX_PIXELS_ENV})"
            )
        image.draft(mode, (size, size))  # JPEG: decode at a reduced scale, much faster for big photos
        fitted = ImageOps.fit(image.convert(mode), (size, size), Image.Resampling.BILINEAR)
    array = np.asarray(fitted, dtype=np.uint8)
    return array.reshape(size, size, channels)


_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError, struct.error)


def try_decode(data: bytes, size: int, channels: int, limit: int) -> tuple[np.ndarray | None, str | None]:
    """:func:`decode_image`, or None and why a file is skipped (empty, not an image, corrupt, too large)."""
    if not data:
        return None, "empty file"
    try:
        return decode_image(data, size, channels, limit), None
    except ImageTooLarge as error:
        return None, str(error)
    except _DECODE_ERRORS as error:  # what Pillow raises for broken files; each one means "skip it"
        return None, "not an image" if "cannot identify" in str(error) else f"corrupt or truncated ({error})"


def _decode_one(item: tuple[ImageEntry, bytes | None, str | None], size: int, channels: int, limit: int):
    entry, data, why = item
    if data is None:
        return entry, None, None, why
    array, why = try_decode(data, size, channels, limit)
    return entry, array, None if array is None else sha256_hex(data), why


def _decode_batch(
    entries: Sequence[ImageEntry], read: ReadMany, size: int, channels: int, limit: int, report: Reporter
):
    workers = max(1, min(8, os.cpu_count() or 1))
    from concurrent.futures import ThreadPoolExecutor  # here: it imports logging (~25 ms), which a listing needs not

    with ThreadPoolExecutor(max_workers=workers) as pool:  # Pillow releases the GIL while decoding
        for result in pool.map(lambda item: _decode_one(item, size, channels, limit), read(entries)):
            report.advance()
            yield result


def decode_entries(
    entries: Sequence[ImageEntry],
    options: SourceOptions,
    report: Reporter,
    *,
    read: ReadMany = read_files,
    class_names: list[str] | None = None,
    source_path: str | None = None,
) -> Decoded:
    """Decode the candidates (or a seeded random ``--limit`` of them) into a :class:`Decoded` dataset.

    With a limit, candidates are drawn in a seeded random order, and an unreadable image is
    replaced by the next candidate in that order, so the subset has ``limit`` readable images
    whenever the tree holds that many.
    """
    size = options.size or DEFAULT_PHOTO_SIZE
    channels = options.channels or DEFAULT_PHOTO_CHANNELS
    if channels not in (1, 3):
        raise PrefstudyError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels}")
    IMAGE_SIZE.check("image size", size)
    entries = sorted(entries, key=lambda e: e.key)
    if not entries:
        raise PrefstudyError(f"no image files found in {source_path}")
    if options.limit is not None:
        COUNT.check("--limit", options.limit)

    limit = max_pixels()
    order = seeded_order(len(entries), options.seed) if options.limit is not None else np.arange(len(entries))
    wanted = len(entries) if options.limit is None else min(options.limit, len(entries))
    good: list[tuple[ImageEntry, np.ndarray, str]] = []
    skipped: list[tuple[str, str]] = []
    report.start(wanted, f"decoding images at {size}x{size}x{channels}")
    cursor = 0
    while len(good) < wanted and cursor < len(order):
        batch = [entries[i] for i in order[cursor : cursor + wanted - len(good)]]
        cursor += len(batch)
        for entry, array, digest, why in _decode_batch(batch, read, size, channels, limit, report):
            if array is None:
                skipped.append((entry.key, why or "unreadable"))
            else:
                good.append((entry, array, digest))
    if not good:
        raise PrefstudyError(f"none of the {len(skipped)} files in {source_path} could be read as an image")
    good.sort(key=lambda g: g[0].key)
    names = class_names if class_names is not None else sorted({e.class_name for e, _, _ in good if e.class_name})
    return Decoded(
        images=np.stack([array for _, array, _ in good]),
        keys=[e.key for e, _, _ in good],
        splits=[e.split for e, _, _ in good],
        classes=[e.class_name for e, _, _ in good],
        class_names=names,
        sha256=[digest for _, _, digest in good],
        path=source_path,
        skipped=sorted(skipped),
    )


def is_candidate(path: Path) -> bool:
    """Whether a file in an image tree should be tried as an image (hidden files are not)."""
    return path.is_file() and not path.name.startswith(".")
