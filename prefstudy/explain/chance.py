"""What each agreement rate is for a heat map that knows nothing: the bar a real map must clear.

For a map with no information, the pointing game and the energy equal the region's share of the
image, and the IoU of a random ``top`` share of pixels with the region is
``top * r / (top + r - top * r)``. (Kept apart from :mod:`.agreement`, which needs torch, so that
reports stay light.)
"""

from __future__ import annotations

DEFAULT_TOP = 0.2
"""The share of a map's highest pixels scored by IoU."""


def chance_levels(share: float, top: float = DEFAULT_TOP) -> dict[str, float]:
    """What each rate is for a map that knows nothing, given the region's share of the image."""
    return {"pointing_game": share, "energy": share, "iou": top * share / (top + share - top * share)}
