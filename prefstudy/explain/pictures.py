"""Heat-map pictures: the original, the heat map, the overlay, and contact sheets as in the paper's Figures 8-9."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib import colormaps
from PIL import Image, ImageDraw

from prefstudy.files import atomic_path

DISPLAY_SIDE = 112  # small images (28x28) are enlarged to at least this, so a person can see them
_JET = (colormaps["jet"](np.linspace(0, 1, 256))[:, :3] * 255).astype(np.uint8)


def _enlarge(image: Image.Image) -> Image.Image:
    scale = max(1, -(-DISPLAY_SIDE // min(image.size)))
    return image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)


def original_image(pixels: np.ndarray) -> Image.Image:
    """A (H, W, C) uint8 dataset image as an RGB picture."""
    rgb = np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels
    return _enlarge(Image.fromarray(np.ascontiguousarray(rgb), "RGB"))


def heat_image(heat: np.ndarray, size: tuple[int, int]) -> Image.Image:
    """A (h, w) map scaled to its maximum, coloured (jet), resized to ``size`` (W, H)."""
    peak = float(heat.max())
    scaled = heat / peak if peak > 0 else np.zeros_like(heat)
    picture = Image.fromarray(_JET[(scaled * 255).clip(0, 255).astype(np.uint8)], "RGB")
    return picture.resize(size, Image.Resampling.BILINEAR)


def overlay_image(original: Image.Image, heat: Image.Image, alpha: float = 0.45) -> Image.Image:
    return Image.blend(original, heat, alpha)


def draw_region(picture: Image.Image, region: tuple[float, float, float, float] | None) -> Image.Image:
    """The subject's region as a white frame, when there is one."""
    if region is None:
        return picture
    framed = picture.copy()
    x0, y0, x1, y1 = region
    w, h = framed.size
    ImageDraw.Draw(framed).rectangle([x0 * w, y0 * h, x1 * w - 1, y1 * h - 1], outline=(255, 255, 255), width=2)
    return framed


def contact_sheet(tiles: list[Image.Image], title: str, columns: int = 8) -> Image.Image:
    """Tiles in a grid under a one-line title."""
    tile_w, tile_h = tiles[0].size
    rows = -(-len(tiles) // columns)
    sheet = Image.new("RGB", (tile_w * min(columns, len(tiles)), 18 + tile_h * rows), (0, 0, 0))
    ImageDraw.Draw(sheet).text((4, 3), title, fill=(255, 255, 255))
    for i, tile in enumerate(tiles):
        sheet.paste(tile, ((i % columns) * tile_w, 18 + (i // columns) * tile_h))
    return sheet


def save(picture: Image.Image, path: Path) -> Path:
    with atomic_path(path) as tmp:
        picture.save(tmp, format="PNG")
    return path
