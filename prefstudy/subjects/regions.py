"""Image regions a subject's reason can point at, as fractions ``(x0, y0, x1, y1)`` of the image."""

from __future__ import annotations

from prefstudy.errors import PrefstudyError

Region = tuple[float, float, float, float]

NAMED_REGIONS: dict[str, Region] = {
    "top": (0.0, 0.0, 1.0, 0.5),
    "bottom": (0.0, 0.5, 1.0, 1.0),
    "left": (0.0, 0.0, 0.5, 1.0),
    "right": (0.5, 0.0, 1.0, 1.0),
    "center": (0.25, 0.25, 0.75, 0.75),
    "top-left": (0.0, 0.0, 0.5, 0.5),
    "top-right": (0.5, 0.0, 1.0, 0.5),
    "bottom-left": (0.0, 0.5, 0.5, 1.0),
    "bottom-right": (0.5, 0.5, 1.0, 1.0),
}


def parse_region(text: str) -> Region:
    """A named region (top, bottom, left, right, center, top-left, ...) or ``x0,y0,x1,y1`` in fractions."""
    text = text.strip().lower()
    if text in NAMED_REGIONS:
        return NAMED_REGIONS[text]
    parts = text.split(",")
    try:
        x0, y0, x1, y1 = (float(p) for p in parts)
    except ValueError:
        raise PrefstudyError(
            f"unknown region {text!r}: use one of {', '.join(NAMED_REGIONS)} or x0,y0,x1,y1 in fractions"
        ) from None
    if not (0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1):
        raise PrefstudyError(f"region {text!r} must satisfy 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1")
    return (x0, y0, x1, y1)


def pixel_bounds(region: Region, height: int, width: int) -> tuple[int, int, int, int]:
    """The region's pixel rows and columns ``(r0, r1, c0, c1)``, at least one pixel each way."""
    x0, y0, x1, y1 = region
    c0, c1 = int(x0 * width), max(int(x0 * width) + 1, round(x1 * width))
    r0, r1 = int(y0 * height), max(int(y0 * height) + 1, round(y1 * height))
    return r0, min(r1, height), c0, min(c1, width)


def region_share(region: Region) -> float:
    """The fraction of the image the region covers (the chance level of pointing into it)."""
    x0, y0, x1, y1 = region
    return (x1 - x0) * (y1 - y0)
