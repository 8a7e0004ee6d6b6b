"""What the subject sees: the item's own photo, up to ``DISPLAY_SIZE`` px, on the model's square crop.

The model learns from the cache (e.g. 64x64); a person judging an interior or a face should see
the photo itself. Where the dataset's folder still holds the item's file — found by its key and
proven by the sha256 recorded when the dataset was added — it is served at up to 512 px, cropped
to the same centred square as the cache, so a box the subject draws covers the same part of the
image the model and Grad-CAM see. Otherwise (Fashion-MNIST's IDX files, an LFW .tgz, a moved
or changed file) the cached pixels are served.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from prefstudy.datasets.catalog import ImageSet
from prefstudy.datasets.readers.decoded import sha256_hex

DISPLAY_SIZE = 512


def _candidates(root: Path, key: str) -> list[Path]:
    # Keys are relative to the image tree: the folder itself, Indoor-67's Images/, or LFW's one top folder.
    found = [root / key, root / "Images" / key]
    if not found[0].exists() and not found[1].exists():
        subfolders = [d for d in root.iterdir() if d.is_dir()]
        if len(subfolders) == 1:
            found.append(subfolders[0] / key)
    return found


def original_bytes(images: ImageSet, item: int) -> bytes | None:
    """The item's own file, if the dataset's folder still holds it unchanged."""
    root = Path(images.info.path) if images.info.path else None
    if root is None or not root.is_dir():
        return None
    for path in _candidates(root, str(images.keys[item])):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if sha256_hex(data) == images.sha256[item]:
            return data
    return None


def display_image(images: ImageSet, item: int) -> tuple[bytes, str]:
    """(bytes, media type) of what the subject is shown for ``item``."""
    mode = "L" if images.info.channels == 1 else "RGB"
    data = original_bytes(images, item)
    if data is not None:
        with Image.open(io.BytesIO(data)) as photo:
            size = min(DISPLAY_SIZE, *photo.size)
            fitted = ImageOps.fit(photo.convert(mode), (size, size), Image.Resampling.LANCZOS)
        if size > images.info.height:
            buffer = io.BytesIO()
            fitted.save(buffer, format="JPEG", quality=90)
            return buffer.getvalue(), "image/jpeg"
    pixels: np.ndarray = images.images[item]
    buffer = io.BytesIO()
    Image.fromarray(pixels[..., 0] if mode == "L" else pixels).save(buffer, format="PNG")
    return buffer.getvalue(), "image/png"
