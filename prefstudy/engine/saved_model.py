"""A trained model in a ``model.pt``: written by a run, read back from a path or bytes (transfer, explain, recommend).

The engine never opens a study: :func:`prefstudy.runs.trained.read_saved_model` finds a finished run's file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import torch

from prefstudy.backbones import Backbone, create_backbone
from prefstudy.engine.inputs import InputPlan, Shape
from prefstudy.files import atomic_path


@dataclass(frozen=True)
class SavedModel:
    run_id: str
    subject: str
    dataset: str
    backbone: str
    input_size: Shape  # what the model takes
    images: Shape  # the run's dataset images, as cached
    state_dict: dict[str, torch.Tensor]

    def build(self) -> tuple[Backbone, InputPlan]:
        """The trained backbone (in eval mode) and the input plan it was trained with."""
        backbone = create_backbone(self.backbone, in_chans=self.input_size[0], input_size=self.input_size[1:])
        backbone.module.load_state_dict(self.state_dict)
        backbone.module.eval()
        return backbone, InputPlan(images=self.images, model=self.input_size)


def save_model(
    path: Path, backbone_name: str, backbone: Backbone, plan: InputPlan, state: dict[str, torch.Tensor]
) -> None:
    """Write a run's selected weights with what it takes to build them again (read by :func:`load_saved_model`)."""
    saved = {
        "backbone": backbone_name,
        "input_size": list(backbone.input_size),
        "input": plan.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in state.items()},
    }
    with atomic_path(path) as tmp:
        torch.save(saved, tmp)


def load_saved_model(model_file: Path | BinaryIO, run_id: str, subject: str, dataset: str, backbone: str) -> SavedModel:
    """A run's ``model.pt`` (a path or an open file), read without the study database (e.g. by a worker)."""
    saved = torch.load(model_file, map_location="cpu", weights_only=True)
    input_size = tuple(saved["input_size"])
    images = tuple(saved.get("input", {}).get("images", input_size))
    return SavedModel(run_id, subject, dataset, backbone, input_size, images, saved["state_dict"])
