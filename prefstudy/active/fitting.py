"""A model of a subject fitted on a set of their labels, from a starting point: from scratch, from their
own run on another domain (transfer), or from the population's model (a consensus subject's run).

Used by label refits (:mod:`.refit`) and learning curves (:mod:`.curve`): neither is a run. The fit is
the paper's Model 1 (the last epoch, no validation split: label budgets are small) through the same
:func:`prefstudy.engine.train.fit` loop as runs, so a model here is what a run with these labels would make.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from prefstudy.backbones import Backbone
from prefstudy.config import TrainSettings, TransferRequest
from prefstudy.datasets.catalog import ImageSet
from prefstudy.engine.build import build_model
from prefstudy.engine.inputs import InputAdapter
from prefstudy.engine.precision import Precision
from prefstudy.engine.predict import predict_proba
from prefstudy.engine.saved_model import SavedModel
from prefstudy.engine.train import Compute, FitSetup, TrainData, fit, image_tensor
from prefstudy.errors import PrefstudyError
from prefstudy.progress import SilentReporter

SCRATCH, TRANSFER, POPULATION = "scratch", "transfer", "population"
START_KINDS = (SCRATCH, TRANSFER, POPULATION)


@dataclass(frozen=True)
class Start:
    """Where a fitted model starts: ``scratch``, ``transfer:RUN`` or ``population:RUN``."""

    kind: str = SCRATCH
    run_id: str | None = None

    @property
    def name(self) -> str:
        return self.kind if self.run_id is None else f"{self.kind}:{self.run_id}"


def parse_start(text: str) -> Start:
    """A :class:`Start` from ``scratch``, ``transfer:RUN`` or ``population:RUN``; else one line saying so."""
    kind, _, run_id = text.strip().partition(":")
    if kind == SCRATCH and not run_id:
        return Start()
    if kind in (TRANSFER, POPULATION) and run_id:
        return Start(kind, run_id)
    raise PrefstudyError(f"a start is scratch, transfer:RUN or population:RUN, got {text!r}")


@dataclass(frozen=True)
class FitOptions:
    """How a model is fitted on a set of labels (Model 1: every label trains; the last epoch is kept)."""

    backbone: str = "paper-vgg"
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    transfer_mode: str = "finetune"  # how a transfer or population start is used: finetune or frozen

    def settings(self, seed: int) -> TrainSettings:
        return TrainSettings(
            backbone=self.backbone,
            protocol="model1",
            epochs=self.epochs,
            seed=seed,
            batch_size=self.batch_size,
            lr=self.lr,
        )


class LabelModel:
    """A fitted model: P(preferred) and features of any of the dataset's items."""

    def __init__(self, backbone: Backbone, adapter: InputAdapter, images: torch.Tensor, precision: Precision):
        self.backbone, self.adapter, self.images, self.precision = backbone, adapter, images, precision

    def predict(self, items: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """P(preferred) of ``items`` (item indices)."""
        positions = torch.from_numpy(np.asarray(items, dtype=np.int64))
        return predict_proba(
            self.backbone.module, self.adapter, self.images, positions, batch_size, self.precision
        ).numpy()

    @torch.inference_mode()
    def features(self, items: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """(len(items), D) float32: the feature layers' output (globally averaged when it is a map)."""
        self.backbone.module.eval()
        device = next(self.backbone.module.parameters()).device
        out = []
        for batch in torch.split(torch.from_numpy(np.asarray(items, dtype=np.int64)), batch_size):
            x = self.precision.batch(self.adapter(self.images[batch].to(device)))
            with self.precision.autocast():
                f = self.backbone.features(x).float()
            out.append((f.mean(dim=(2, 3)) if f.dim() == 4 else f.flatten(1)).cpu())
        return torch.cat(out).numpy() if out else np.zeros((0, 0), dtype=np.float32)


class LabelFitter:
    """Fits :class:`LabelModel` s on one dataset's images, from one start (the image tensor is built once)."""

    def __init__(
        self,
        images: ImageSet,
        start_model: SavedModel | None,
        options: FitOptions,
        precision: Precision,
        device: torch.device | None = None,
        start_kind: str | None = None,
    ):
        """``start_model``: the run the start names (None: scratch); ``start_kind``: transfer or population."""
        self.images, self.start_model, self.options, self.precision = images, start_model, options, precision
        self.start_kind = start_kind or (SCRATCH if start_model is None else TRANSFER)
        self.device = device or torch.device("cpu")
        self.tensor = image_tensor(images.images)

    def start(self, seed: int) -> LabelModel:
        """The start itself, untrained on the subject's labels (scratch: a fresh, seeded model)."""
        backbone, adapter = self._build(seed)
        return LabelModel(backbone, adapter, self.tensor, self.precision)

    def fit(self, items: np.ndarray, preferred: np.ndarray, seed: int) -> LabelModel:
        """A model fitted on the labels (``items``: item indices, ``preferred``: bool) from the start."""
        items = np.asarray(items, dtype=np.int64)
        preferred = np.asarray(preferred, dtype=bool)
        if len(items) < 2:
            raise PrefstudyError(f"a model needs at least 2 labels to fit, got {len(items)}")
        backbone, adapter = self._build(seed)
        data = TrainData(
            images=self.tensor,
            labels=torch.from_numpy(np.zeros(len(self.tensor), dtype=np.int64)),
            train=torch.from_numpy(items),
            validation=None,
            test=torch.zeros(0, dtype=torch.int64),
        )
        data.labels[data.train] = torch.from_numpy(preferred.astype(np.int64))
        frozen = self.start_kind == TRANSFER and self.options.transfer_mode == "frozen"
        # No checkpoints: a fit on a label set is seconds long and never resumed.
        setup = FitSetup(self.options.settings(seed), Compute(self.device, self.precision), freeze_features=frozen)
        result = fit(backbone, adapter, data, setup, SilentReporter())
        backbone.module.load_state_dict(result.state)
        return LabelModel(backbone, adapter.to(self.device), self.tensor, self.precision)

    def _build(self, seed: int) -> tuple[Backbone, InputAdapter]:
        settings = self.options.settings(seed)
        source = self.start_model
        if source is not None:
            settings = settings.replace(backbone=source.backbone)
        transfer = None
        if source is not None:
            # The population's model is kept whole (its head already predicts this dataset's preference) and
            # fine-tuned; a transfer from another domain keeps the features and learns a new head.
            mode = "zero-shot" if self.start_kind == POPULATION else self.options.transfer_mode
            transfer = TransferRequest(source.run_id, mode=mode)
        backbone, plan = build_model(self.images.info.shape, settings, source, transfer)
        torch.manual_seed(seed)  # a new head is seeded too
        return backbone, InputAdapter(plan, backbone).to(self.device)
