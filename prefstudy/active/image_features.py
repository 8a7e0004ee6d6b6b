"""Simple image features for the ``diverse`` order when no trained model's features exist: a downscaled
grey image, grey-level and per-channel colour statistics, and edge energy on a coarse grid.

An untrained network's features are noise; these describe what a person sees first (layout, brightness,
colour, texture). Numpy only: the labelling server computes them without torch.
"""

from __future__ import annotations

import numpy as np

GRID = 8  # the downscaled image is GRID x GRID
EDGE_GRID = 4
CHUNK = 2048


def _block_means(x: np.ndarray, cells: int) -> np.ndarray:
    """(N, H, W) -> (N, cells, cells): the mean over each of cells x cells near-equal blocks."""
    _, h, w = x.shape
    rows = np.linspace(0, h, cells + 1).round().astype(int)
    cols = np.linspace(0, w, cells + 1).round().astype(int)
    rows[1:] = np.maximum(rows[1:], rows[:-1] + 1).clip(max=h)
    cols[1:] = np.maximum(cols[1:], cols[:-1] + 1).clip(max=w)
    summed = np.add.reduceat(np.add.reduceat(x, rows[:-1], axis=1), cols[:-1], axis=2)
    area = np.diff(rows)[:, None] * np.diff(cols)[None, :]
    return summed / np.maximum(area, 1)


def _chunk_features(images: np.ndarray) -> np.ndarray:
    x = images.astype(np.float32) / 255.0
    grey = x.mean(axis=3)
    n = len(x)
    small = _block_means(grey, GRID).reshape(n, -1)
    channels = np.concatenate([x.mean(axis=(1, 2)), x.std(axis=(1, 2))], axis=1)
    bins = (grey * 8).astype(np.int64).clip(0, 7) + 8 * np.arange(n)[:, None, None]
    hist = np.bincount(bins.ravel(), minlength=8 * n).reshape(n, 8).astype(np.float32) / grey[0].size
    gy = np.abs(np.diff(grey, axis=1))[:, :, :-1]
    gx = np.abs(np.diff(grey, axis=2))[:, :-1, :]
    edges = _block_means(gx + gy, EDGE_GRID).reshape(n, -1)
    return np.concatenate([small, channels, hist, edges], axis=1)


def simple_features(images: np.ndarray) -> np.ndarray:
    """(N, D) float32 features of (N, H, W, C) uint8 images, each column standardised over the images."""
    if len(images) == 0:
        return np.zeros((0, 0), dtype=np.float32)
    raw = np.concatenate([_chunk_features(images[i : i + CHUNK]) for i in range(0, len(images), CHUNK)])
    sd = raw.std(axis=0)
    return ((raw - raw.mean(axis=0)) / np.where(sd > 0, sd, 1)).astype(np.float32)
