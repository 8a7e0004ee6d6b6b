"""Ranking with a head run: the run's extractor describes each image, its head (and, for a personal deviation,
the population head inside it) scores the vectors.

The extractor sees each file decoded at its own size, from the file itself, as it saw the run's dataset
(:mod:`prefstudy.features.compute`). Vectors are cached per file by the sha256 of its bytes
(:mod:`.pool_cache`), keyed by the extractor, the weights the run's features were computed with and the
size; the extractor is built only when a file is not cached yet, so a second call on the same folder
decodes nothing, loads no model and imports no torch. Images the subject answered are left out by the
sha256 of the file or of its pixels decoded as the run's dataset was. A head on features has no Grad-CAM:
`--explain` says so in a line and the ranking has no overlays. Torch-free unless the extractor is.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from prefstudy.datasets.catalog import DatasetInfo
from prefstudy.datasets.readers.decoded import sha256_hex
from prefstudy.datasets.readers.folder import folder_entries
from prefstudy.datasets.readers.images import ImageEntry, max_pixels, try_decode
from prefstudy.engine.heads import Head, load_head
from prefstudy.errors import PrefstudyError
from prefstudy.extractors.contract import Extractor
from prefstudy.progress import Reporter
from prefstudy.recommend.pool_cache import PixelHashCache, VectorCache
from prefstudy.recommend.ranking import (
    Asked,
    PoolFeatures,
    RankedImage,
    Recommendation,
    Unreadable,
    best_first,
    unlabelled,
)
from prefstudy.runs.record import RunRow, run_dir
from prefstudy.runs.status import FINISHED
from prefstudy.workspace import Workspace

BATCH = 32  # images extracted at once, as features.compute does


@dataclass
class _File:
    """One file of the pool, as far as this call got with it."""

    entry: ImageEntry
    sha256: str | None = None  # of its bytes
    data: bytes | None = None  # kept only while something must still be decoded from it
    vector: np.ndarray | None = None
    pixels_sha256: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class _Recorded:
    """What the run's features were: the extractor, the weights and the size the head learned on."""

    extractor: str
    weights: str | None
    image_size: int | None
    dim: int | None

    @classmethod
    def of(cls, row: RunRow) -> _Recorded:
        features = row.config.get("features") or {}
        extractor = features.get("extractor", row.backbone)
        return cls(extractor, features.get("weights"), features.get("image_size"), features.get("dim"))


def rank_with_head(
    ws: Workspace,
    asked: Asked,
    images: Path,
    *,
    top: int,
    explain_out: Path | None,
    report: Reporter,
) -> Recommendation:
    """Rank the images under ``images`` for the subject by the run's head on its extractor's vectors."""
    row = asked.run
    if row.status != FINISHED:
        raise PrefstudyError(f"run {row.id} is {row.status}, not finished; it has no trained head yet")
    head = load_head(run_dir(ws, row.id).head)
    recorded = _Recorded.of(row)
    root = Path(images)
    files = _read(root, report)
    pixels = _pixel_cache(ws, asked.dataset) if asked.seen else None
    extractor: list[Extractor] = []  # built on first need
    weights, size = recorded.weights, recorded.image_size
    if weights is None or size is None:  # the run does not record them: ask the extractor itself
        info = _extractor(ws, recorded, extractor).info
        weights, size = info.weights, info.image_size
    vectors = VectorCache(ws, recorded.extractor, weights, size)
    for f in files:
        if f.sha256 is not None:
            f.vector = vectors.get(f.sha256)
            f.pixels_sha256 = pixels.cache.get(f.sha256) if pixels is not None else None
    features = _compute_missing(ws, recorded, files, vectors, pixels, extractor, report)
    readable = [f for f in files if f.vector is not None]
    if not readable:
        raise PrefstudyError(f"none of the {len(files)} files in {root} could be read as an image")
    hashes = [(f.sha256, f.pixels_sha256) for f in readable]
    fresh = unlabelled(row.subject, root, hashes, asked.seen)
    X = np.stack([readable[i].vector for i in fresh]).astype(np.float64)
    p, score = head.p(X), head.score(X)
    order = best_first(p, [readable[i].entry.key for i in fresh], top)
    chosen = [readable[fresh[j]] for j in order]
    ranking = tuple(
        RankedImage(rank, root / f.entry.key, f.sha256, float(p[j]), score=float(score[j]))
        for rank, (f, j) in enumerate(zip(chosen, order, strict=True), start=1)
    )
    return Recommendation(
        subject=row.subject,
        run_id=row.id,
        dataset=row.dataset,
        images_dir=root,
        input=_describe(recorded, vectors, head, row),
        images=len(readable),
        left_out_labelled=len(readable) - len(fresh),
        unreadable=tuple(Unreadable(root / f.entry.key, f.error) for f in files if f.vector is None),
        ranked=len(fresh),
        top=top,
        ranking=ranking,
        model=row.model,
        not_explained=None if explain_out is None else _why_not_explained(row, recorded, vectors),
        features=features,
    )


def _read(root: Path, report: Reporter) -> list[_File]:
    """Every candidate file under ``root``, read and hashed (its bytes kept until it is known to be cached)."""
    entries = folder_entries(root)
    if not entries:
        raise PrefstudyError(f"no image files found in {root}")
    report.start(len(entries), f"hashing {len(entries)} files")
    files = []
    for entry in entries:
        try:
            data = Path(entry.locator).read_bytes()
        except OSError as error:
            files.append(_File(entry, error=f"unreadable ({error.strerror or error})"))
            continue
        files.append(_File(entry, sha256_hex(data), data))
        report.advance()
    return files


@dataclass(frozen=True)
class _Pixels:
    """How the run's dataset decoded its files (what a pixel hash is of), and the cache of those hashes."""

    size: int
    channels: int
    cache: PixelHashCache


def _pixel_cache(ws: Workspace, info: DatasetInfo) -> _Pixels | None:
    if info.height != info.width:
        return None
    return _Pixels(info.height, info.channels, PixelHashCache(ws, info.height, info.channels))


def _compute_missing(
    ws: Workspace,
    recorded: _Recorded,
    files: list[_File],
    vectors: VectorCache,
    pixels: _Pixels | None,
    extractor: list[Extractor],
    report: Reporter,
) -> PoolFeatures:
    """Decode and extract what the cache lacks (pixel hashes too), and cache it; the bytes are let go."""
    began = time.perf_counter()
    limit = max_pixels()
    need_pixels = [f for f in files if f.sha256 is not None and pixels is not None and f.pixels_sha256 is None]
    if need_pixels:
        decoded = _decode([f.data for f in need_pixels], pixels.size, pixels.channels, limit)
        for f, (array, why) in zip(need_pixels, decoded, strict=True):
            if array is None:
                f.error = why
            else:
                f.pixels_sha256 = sha256_hex(array.tobytes())
                pixels.cache.put(f.sha256, f.pixels_sha256)
    missing = [f for f in files if f.sha256 is not None and f.vector is None and f.error is None]
    counts: Counter[str] = Counter()
    if missing:
        model = _extractor(ws, recorded, extractor)
        info = model.info
        decoded = _decode([f.data for f in missing], info.image_size, info.channels, limit)
        for f, (_, why) in zip(missing, decoded, strict=True):
            f.error = why
        good = [(f, array) for f, (array, _) in zip(missing, decoded, strict=True) if array is not None]
        report.start(len(good), f"features: {recorded.extractor} on {len(good)} new images")
        vectors.put_info(info)
        for start in range(0, len(good), BATCH):
            batch = good[start : start + BATCH]
            out = model.extract(np.stack([array for _, array in batch]))
            counts.update(out.counts)
            for (f, _), vector in zip(batch, out.vectors, strict=True):
                f.vector = np.asarray(vector, dtype=np.float32)
                vectors.put(f.sha256, f.vector)
            report.advance(len(batch))
    for f in files:
        f.data = None
    computed = sum(f.vector is not None for f in missing)
    cached = sum(f.vector is not None for f in files) - computed
    seconds = time.perf_counter() - began if missing or need_pixels else 0.0
    return PoolFeatures(recorded.extractor, cached, computed, seconds, dict(counts))


def _decode(datas: list[bytes], size: int, channels: int, limit: int) -> list[tuple[np.ndarray | None, str | None]]:
    from concurrent.futures import ThreadPoolExecutor  # only when there is something to decode (logging: 25 ms)

    workers = min(8, max(1, len(datas)))
    with ThreadPoolExecutor(max_workers=workers) as pool:  # Pillow releases the GIL while decoding
        return list(pool.map(lambda data: try_decode(data, size, channels, limit), datas))


def _extractor(ws: Workspace, recorded: _Recorded, built: list[Extractor]) -> Extractor:
    """The run's extractor, built once (it may load large weights), and checked to be the one the head learned
    on: the same weights and size."""
    if not built:
        from prefstudy.features.named import extractor_named  # a run:RUN_ID extractor is a torch model

        model = extractor_named(ws, recorded.extractor)
        info = model.info
        if recorded.weights is not None and info.weights != recorded.weights:
            raise PrefstudyError(
                f"extractor {recorded.extractor!r} now has weights {info.weights}, but the head learned on features "
                f"from weights {recorded.weights}; install the extractor it was made with, or make the run again"
            )
        if recorded.image_size is not None and info.image_size != recorded.image_size:
            raise PrefstudyError(
                f"extractor {recorded.extractor!r} now decodes images at {info.image_size} px, but the head learned "
                f"on features at {recorded.image_size} px; make the run again"
            )
        built.append(model)
    return built[0]


def _describe(recorded: _Recorded, vectors: VectorCache, head: Head, row: RunRow) -> str:
    """How the head meets the images, e.g. ``originals at 256 px -> face (128-d) -> linear head``."""
    size = recorded.image_size or (vectors.info() or {}).get("image_size")
    dim = recorded.dim or len(head.mean)
    text = f"originals at {size} px -> {recorded.extractor} ({dim}-d) -> {head.kind} head"
    if head.base is not None:
        text += f" (a deviation from population run {row.parent_run})" if row.parent_run else " (a deviation)"
    return text


def _why_not_explained(row: RunRow, recorded: _Recorded, vectors: VectorCache) -> str:
    """The one line `--explain` gets for a head run: no Grad-CAM, so no overlays."""
    differentiable = (vectors.info() or {}).get("differentiable")
    because = "its features are not differentiable" if differentiable is False else "Grad-CAM sees networks only"
    return (
        f"no overlays: run {row.id} is a head on {recorded.extractor} features, which Grad-CAM cannot explain "
        f"({because}); the ranking is written without heat maps"
    )
