"""Training settings shared by `prefstudy run` and study files: the one place their defaults live."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefstudy.bounds import COUNT, OPEN_FRACTION, POSITIVE, SEED, TRAIN_SIZE, Bound, check_fields
from prefstudy.errors import PrefstudyError

PROTOCOLS = ("model1", "model2")
"""model1 = train/test; model2 = train/validation/test, validation picks the epoch (the paper's two models)."""
TRANSFER_MODES = ("finetune", "frozen", "zero-shot")
"""finetune = new head, every parameter trained; frozen = only the new head; zero-shot = no training."""
ADAPT_MODES = ("keep-size", "resize", "conv")
"""How target images meet the source model's input (see :mod:`prefstudy.transfer`)."""
DEFAULT_TRANSFER_MODE = "finetune"
DEFAULT_ADAPT = "keep-size"
FP32, BF16 = "fp32", "bf16"
PRECISIONS = ("auto", FP32, BF16)
"""How a run computes (see :mod:`prefstudy.precision`): not part of what it learns, so not a setting."""


def check_transfer(mode: str, adapt: str) -> None:
    """Refuse an unknown transfer mode or input adaptation (see :mod:`prefstudy.transfer`)."""
    if mode not in TRANSFER_MODES:
        raise PrefstudyError(f"unknown transfer mode {mode!r}; use one of: {', '.join(TRANSFER_MODES)}")
    if adapt not in ADAPT_MODES:
        raise PrefstudyError(f"unknown input adaptation {adapt!r}; use one of: {', '.join(ADAPT_MODES)}")


@dataclass(frozen=True)
class TrainSettings:
    """How one per-subject model is trained and evaluated."""

    backbone: str = "paper-vgg"
    protocol: str = "model2"
    epochs: int = 10
    seed: int = 0
    batch_size: int = 128
    lr: float = 1e-3
    # Used for items without an official split (LFW, folders, unlisted Indoor-67 images).
    test_fraction: float = 0.2
    # Share of the training items held out for validation under model2; 1/6 turns Fashion-MNIST's
    # official 60k train split into the paper's 50k/10k.
    validation_fraction: float = 1 / 6
    # Train on a seeded, stratified N of the training items only (validation and test unchanged),
    # to measure what a number of labels buys, e.g. with and without transfer.
    train_size: int | None = None
    # A local weights file for the backbone (never downloaded).
    weights: str | None = None

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise PrefstudyError(f"unknown protocol {self.protocol!r}; use one of: {', '.join(PROTOCOLS)}")
        check_fields(self, _BOUNDS, optional=frozenset({"train_size"}))
        for name in ("backbone", "weights"):
            value = getattr(self, name)
            if not (isinstance(value, str) and value.strip()) and (value is not None or name == "backbone"):
                raise PrefstudyError(f"{name} must be a non-empty string, got {value!r}")

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    def replace(self, **changes: Any) -> TrainSettings:
        """A copy with the given fields changed; ``None`` values are ignored."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def weights_path(self) -> Path | None:
        """The local weights file, with ``~`` expanded, or None."""
        return Path(self.weights).expanduser() if self.weights else None


_BOUNDS: dict[str, Bound] = {
    "epochs": COUNT,
    "seed": SEED,
    "batch_size": COUNT,
    "lr": POSITIVE,
    "test_fraction": OPEN_FRACTION,
    "validation_fraction": OPEN_FRACTION,
    "train_size": TRAIN_SIZE,
}
