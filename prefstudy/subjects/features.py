"""Visual features any image has, for simulated subjects' rules: one number per image.

Computed on the cached uint8 images, in chunks, with torch. Each is oriented so that a larger
value means "more" of the feature: brighter, more contrast, more edges, more colourful, more
mirror-symmetric.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from prefstudy.subjects.regions import Region, pixel_bounds
from prefstudy.subjects.vocabulary import FEATURE_NAMES, canonical_feature

_LUMA = torch.tensor([0.299, 0.587, 0.114])
_SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


def _luminance(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) in [0, 1] -> (N, H, W)."""
    if x.shape[1] == 3:
        return torch.einsum("nchw,c->nhw", x, _LUMA)
    return x[:, 0]


def brightness(x: torch.Tensor) -> torch.Tensor:
    """Mean luminance."""
    return _luminance(x).mean(dim=(1, 2))


def contrast(x: torch.Tensor) -> torch.Tensor:
    """RMS contrast: the standard deviation of luminance."""
    return _luminance(x).flatten(1).std(dim=1)


def edges(x: torch.Tensor) -> torch.Tensor:
    """Edge density: mean Sobel gradient magnitude of luminance."""
    lum = _luminance(x)[:, None]
    if lum.shape[-1] < 3 or lum.shape[-2] < 3:
        return torch.zeros(len(x))
    kernels = torch.stack([_SOBEL_X, _SOBEL_X.T])[:, None]
    grad = F.conv2d(lum, kernels)
    return grad.pow(2).sum(dim=1).sqrt().mean(dim=(1, 2))


def colourfulness(x: torch.Tensor) -> torch.Tensor:
    """Hasler & Süsstrunk (2003) colourfulness; 0 for grayscale images."""
    if x.shape[1] != 3:
        return torch.zeros(len(x))
    r, g, b = x[:, 0].flatten(1), x[:, 1].flatten(1), x[:, 2].flatten(1)
    rg, yb = r - g, 0.5 * (r + g) - b
    spread = (rg.std(dim=1) ** 2 + yb.std(dim=1) ** 2).sqrt()
    level = (rg.mean(dim=1) ** 2 + yb.mean(dim=1) ** 2).sqrt()
    return spread + 0.3 * level


def symmetry(x: torch.Tensor) -> torch.Tensor:
    """Left-right mirror symmetry: 1 minus the mean absolute difference from the mirrored image."""
    lum = _luminance(x)
    return 1.0 - (lum - lum.flip(-1)).abs().mean(dim=(1, 2))


# Each name of FEATURE_NAMES is the function above of the same name.
FEATURES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {name: globals()[name] for name in FEATURE_NAMES}


def compute_feature(name: str, images: np.ndarray, region: Region | None = None, chunk: int = 4096) -> np.ndarray:
    """The feature's value for every image of a (N, H, W, C) uint8 array, inside ``region`` if given."""
    fn = FEATURES[canonical_feature(name)]
    _, height, width, _ = images.shape
    r0, r1, c0, c1 = pixel_bounds(region, height, width) if region else (0, height, 0, width)
    out = np.empty(len(images), dtype=np.float64)
    with torch.inference_mode():
        for start in range(0, len(images), chunk):
            block = torch.from_numpy(np.ascontiguousarray(images[start : start + chunk, r0:r1, c0:c1]))
            x = block.permute(0, 3, 1, 2).float() / 255.0
            out[start : start + len(x)] = fn(x).double().numpy()
    return out
