"""A finished run's trained model, read back from ``runs/<id>/model.pt`` (for transfer, explain, recommend)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from prefstudy.backbones import Backbone, create_backbone
from prefstudy.errors import PrefstudyError
from prefstudy.inputs import InputPlan, Shape
from prefstudy.workspace import Workspace


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


def read_saved_model(ws: Workspace, run_id: str) -> SavedModel:
    """The model of a finished run; a clear error for a run that has none."""
    with ws.connect() as con:
        rows = con.execute("SELECT subject, dataset, backbone, status FROM runs WHERE id = ?", [run_id]).fetchall()
    if not rows:
        raise PrefstudyError(f"no run {run_id!r} in this study; see `prefstudy report`")
    subject, dataset, backbone, status = rows[0]
    model_file = ws.run_dir(run_id) / "model.pt"
    if status != "finished" or not model_file.is_file():
        raise PrefstudyError(f"run {run_id} is {status}, not finished; it has no trained model yet")
    saved = torch.load(model_file, map_location="cpu", weights_only=True)
    input_size = tuple(saved["input_size"])
    images = tuple(saved.get("input", {}).get("images", input_size))
    return SavedModel(run_id, subject, dataset, backbone, input_size, images, saved["state_dict"])
