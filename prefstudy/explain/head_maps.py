"""Maps of a head run: its extractor and its head, explained as one model, whatever the extractor is.

- A pooled torch backbone (``imagenet-lite0``, ``run:RUN_ID``): Grad-CAM at its cam layer, through the
  features, their average pool and the head (written in torch from the head's arrays).
- An extractor that finds and aligns before it describes (:class:`~prefstudy.extractors.contract.Localising`,
  e.g. ``face``): occlusion of its crop, the detection and alignment held as found on the unoccluded
  image; the crop's map is carried back to the image through the crop's corners.
- Any other extractor: occlusion of the whole image, each occluded image extracted anew.

The score explained is the head's logit of P(preferred) (its raw score for a logistic head), for
the answer the run predicted: high for "preferred", low for "not preferred". Maps lie on the
originals decoded at the extractor's own size, which are also the pictures drawn.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from prefstudy.datasets.originals import read_originals
from prefstudy.engine.device import resolve_device
from prefstudy.engine.heads import Head, load_head
from prefstudy.errors import PrefstudyError
from prefstudy.explain.gradcam import GradCam, cam_layer
from prefstudy.explain.maps import CROP, GRAD_CAM, IMAGE, OCCLUSION, Maps
from prefstudy.explain.occlusion import Occluder, Window, to_image
from prefstudy.extractors.contract import Extractor, localises
from prefstudy.extractors.pooled import PooledFeatures
from prefstudy.features.named import extractor_named
from prefstudy.progress import Reporter
from prefstudy.runs.record import FINISHED, Prediction, RunRow, run_dir
from prefstudy.workspace import Workspace


def head_logit(head: Head, X: np.ndarray) -> np.ndarray:
    """The head's logit of P(preferred) for feature vectors ``X``."""
    score = head.score(X)
    return score if head.calibration is None else head.calibration[0] * score + head.calibration[1]


def head_run_maps(
    ws: Workspace,
    row: RunRow,
    chosen: list[Prediction],
    *,
    layer: str | None,
    window: int | None,
    stride: int | None,
    batch_size: int,
    device: str,
    report: Reporter,
) -> Maps:
    """The maps of ``chosen`` items of the head run ``row``, each of the answer the run predicted."""
    head_file = run_dir(ws, row.id).head
    if row.status != FINISHED or not head_file.is_file():
        raise PrefstudyError(f"run {row.id} is {row.status}, not finished; it has no fitted head yet")
    head = load_head(head_file)
    extractor = extractor_named(ws, row.backbone)
    info = extractor.info
    pooled = isinstance(extractor, PooledFeatures)
    if pooled and (window is not None or stride is not None):
        raise PrefstudyError(f"{row.backbone} is explained with Grad-CAM; --window and --stride are occlusion's")
    if not pooled and layer is not None:
        raise PrefstudyError(f"{row.backbone} is not differentiable: its maps are occlusion's, with no --layer")
    if not pooled and not localises(extractor):
        _window(info.image_size, window, stride)  # a window too large for the image, before the images are read
    pictures = read_originals(ws, row.dataset, info.image_size, info.channels, report)
    pictures = pictures[np.array([p.item_idx for p in chosen], dtype=np.int64)]
    predicted = np.array([p.p_preferred > 0.5 for p in chosen], dtype=bool)
    if pooled:
        return _grad_cam(extractor, head, pictures, predicted, layer, batch_size, device, report)
    return _occlusion(extractor, head, pictures, predicted, window, stride, report)


def _occlusion(
    extractor: Extractor,
    head: Head,
    pictures: np.ndarray,
    predicted: np.ndarray,
    window: int | None,
    stride: int | None,
    report: Reporter,
) -> Maps:
    sign = np.where(predicted, 1.0, -1.0)
    name = extractor.info.name
    if localises(extractor):
        found = extractor.crops(pictures)
        crops = found.crops
        chosen = _window(crops.shape[1], window, stride)
        report.start(len(crops), f"occlusion of {name}'s crops ({chosen.size} px, stride {chosen.stride})")
        occluder = Occluder(lambda x: head_logit(head, extractor.describe(x)), chosen)
        crop_heat = occluder.attribute(crops, sign, report.advance)
        side = pictures.shape[1]
        heat = np.stack([to_image(m, c, side) for m, c in zip(crop_heat, found.corners, strict=True)])
        missed = int((~np.asarray(found.found, dtype=bool)).sum())
        note = (
            f"occlusion of {name}'s {crops.shape[1]}x{crops.shape[2]}-px crops by a grey {chosen.size}-px square, "
            f"stride {chosen.stride} ({chosen.positions(crops.shape[1])} positions), the detection and alignment "
            "held as found on the unoccluded image; each crop's map drawn on the image through the crop's corners"
            + (f"; {missed} image(s) with nothing found, their fallback crop occluded" if missed else "")
        )
        return Maps(OCCLUSION, CROP, heat, pictures, note, chosen.size, chosen.stride, crops, crop_heat)
    side = pictures.shape[1]
    chosen = _window(side, window, stride)
    report.start(len(pictures), f"occlusion of whole images for {name} ({chosen.size} px, stride {chosen.stride})")
    occluder = Occluder(lambda x: head_logit(head, extractor.extract(x).vectors), chosen)
    heat = occluder.attribute(pictures, sign, report.advance)
    note = (
        f"occlusion of the whole {side}-px image by a grey {chosen.size}-px square, stride {chosen.stride} "
        f"({chosen.positions(side)} positions): {name} offers no crops, so each occluded image is extracted anew "
        "(whatever it locates may move)"
    )
    return Maps(OCCLUSION, IMAGE, heat, pictures, note, chosen.size, chosen.stride)


def _window(side: int, size: int | None, stride: int | None) -> Window:
    default = Window.default(side)
    size = size or default.size
    if size > side:
        raise PrefstudyError(f"--window {size} is larger than the {side}-px image or crop it slides over")
    return Window(size, stride or max(1, size // 2))


class _HeadOnFeatures(nn.Module):
    """A pooled backbone's features and a head as one network: (N, C, H, W) -> two logits, ±logit / 2."""

    def __init__(self, features: nn.Module, head: Head):
        super().__init__()
        self.features = features
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x).float()
        v = f.mean(dim=(2, 3)) if f.dim() == 4 else f.flatten(1)
        z = _torch_score(self.head, v)
        if self.head.calibration is not None:
            z = float(self.head.calibration[0]) * z + float(self.head.calibration[1])
        return torch.stack([-z / 2, z / 2], dim=1)  # softmax of these is (1 - p, p)


def _torch_score(head: Head, v: torch.Tensor) -> torch.Tensor:
    """:meth:`Head.score` in torch, so a gradient goes through it."""

    def t(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(a, dtype=np.float32), device=v.device)

    h = (v - t(head.mean)) / t(head.scale)
    for i, (w, b) in enumerate(zip(head.weights, head.biases, strict=True)):
        h = h @ t(w) + t(b)
        if i < len(head.weights) - 1:
            h = torch.relu(h)
    own = h.reshape(-1)
    if head.base is None:
        return own
    return float(head.base_map[0]) * _torch_score(head.base, v) + float(head.base_map[1]) + own


def _grad_cam(
    extractor: PooledFeatures,
    head: Head,
    pictures: np.ndarray,
    predicted: np.ndarray,
    layer: str | None,
    batch_size: int,
    device: str,
    report: Reporter,
) -> Maps:
    backbone = extractor.backbone
    layer_name, layer_module = cam_layer(backbone.module, layer, backbone.cam_layer)
    where = resolve_device(device)
    model = _HeadOnFeatures(backbone.features, head).to(where)
    adapter = extractor.adapter.to(where)
    report.start(len(pictures), f"Grad-CAM at {layer_name} through {extractor.info.name} and the head")
    pixels = torch.from_numpy(np.ascontiguousarray(pictures)).permute(0, 3, 1, 2)
    target = torch.from_numpy(predicted).long()
    cam = GradCam(model, layer_module)
    heat = cam.attribute_batched(pixels, target, batch_size, transform=adapter, advance=report.advance).numpy()
    note = f"Grad-CAM at {layer_name} through {extractor.info.name}'s pooled features and the head"
    return Maps(GRAD_CAM, layer_name, heat, pictures, note)
