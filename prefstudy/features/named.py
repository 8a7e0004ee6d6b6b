"""An extractor by name: a plugin's (``face``, ``imagenet-lite0``), or a finished run's feature layers.

``run:RUN_ID`` makes any trained model an extractor: its ``features``, pooled, on images at the size
the run trained on (a subject's Fashion-MNIST model is one, and so is the population's). The study
resolves a name to an :class:`ExtractorSpec`, which a worker builds without the study's database.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from prefstudy.errors import PrefstudyError
from prefstudy.extractors.contract import Extractor, ExtractorInfo, weights_digest
from prefstudy.extractors.registry import create_extractor
from prefstudy.runs.record import FINISHED, get_run, run_dir
from prefstudy.workspace import Workspace

RUN_PREFIX = "run:"


@dataclass(frozen=True)
class TrainedModel:
    """A finished run's model file and what it was trained as (what ``load_saved_model`` needs)."""

    file: str
    run_id: str
    subject: str
    dataset: str
    backbone: str


@dataclass(frozen=True)
class ExtractorSpec:
    """An extractor as a worker builds it: a plugin's name, or a trained run's model file."""

    name: str
    trained: TrainedModel | None = None

    def build(self) -> Extractor:
        """The extractor (its weights loaded)."""
        if self.trained is None:
            return create_extractor(self.name)
        from prefstudy.engine.saved_model import load_saved_model
        from prefstudy.extractors.pooled import PooledFeatures, pooled_width

        t = self.trained
        backbone, plan = load_saved_model(Path(t.file), t.run_id, t.subject, t.dataset, t.backbone).build()
        images = plan.images
        if images[1] != images[2]:
            raise PrefstudyError(
                f"run {t.run_id} trained on {images[1]}x{images[2]} images; an extractor takes squares"
            )
        info = ExtractorInfo(
            name=self.name,
            dim=pooled_width(backbone, images),
            image_size=images[1],
            channels=images[0],
            weights=weights_digest(Path(t.file)),
            licence=f"trained in this study (run {t.run_id})",
            differentiable=True,
        )
        return PooledFeatures(backbone, images, info)


def extractor_spec(ws: Workspace, name: str) -> ExtractorSpec:
    """What ``name`` means in this study, for a worker to build."""
    if not name.startswith(RUN_PREFIX):
        return ExtractorSpec(name)
    run_id = name.removeprefix(RUN_PREFIX)
    row = get_run(ws, run_id)
    model_file = run_dir(ws, run_id).model
    if row.status != FINISHED or not model_file.is_file():
        raise PrefstudyError(f"run {run_id} is {row.status}, not finished; it has no trained model yet")
    return ExtractorSpec(name, TrainedModel(str(model_file), row.id, row.subject, row.dataset, row.backbone))


def extractor_named(ws: Workspace, name: str) -> Extractor:
    """The extractor ``name`` means in this study."""
    return extractor_spec(ws, name).build()
