"""``paper-vgg``: the VGG-style DCNN of "Deep CNN with transfer learning to infer personal
preferences in images" (Appl. Sci. 2020, 10, 7641).

3x3 and 1x1 convolutions with max pooling, two hidden fully connected layers and a two-way
softmax output {not preferred, preferred}, trained with Adam. Batch normalisation follows each
convolution so that a model trains in a few epochs on a CPU. The features end in adaptive
pooling, so one head fits any input size and the transfer engine can move features from
28x28 Fashion-MNIST to 64x64 or 96x96 photos.

Layers (variant ``paper``; 28x28x1 input):

    block  layers                                   output
    1      conv3x3 32, conv3x3 32, maxpool          32 x 14 x 14
    2      conv3x3 64, conv1x1 64, maxpool          64 x 7 x 7
    3      conv3x3 128, conv1x1 128  <- cam_layer   128 x 7 x 7
           maxpool, adaptive avg pool 3x3           128 x 3 x 3
    head   fc 256, fc 128 (ReLU, dropout), fc 2     2
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from prefstudy.backbones.contract import Backbone
from prefstudy.errors import PrefstudyError


@dataclass(frozen=True)
class PaperVggConfig:
    widths: tuple[int, int, int] = (32, 64, 128)
    hidden: tuple[int, int] = (256, 128)
    dropout: float = 0.25
    pooled: int = 3  # side of the adaptive pooling grid the head sees


VARIANTS = {
    "paper": PaperVggConfig(),
    "small": PaperVggConfig(widths=(16, 32, 64), hidden=(128, 64)),
    "wide": PaperVggConfig(widths=(64, 128, 256), hidden=(512, 256)),
}


def conv_bn_relu(in_chans: int, out_chans: int, kernel: int) -> nn.Sequential:
    # ReLU is never in-place: Grad-CAM reads the cam layer's output, which must not be overwritten.
    return nn.Sequential(
        nn.Conv2d(in_chans, out_chans, kernel, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(out_chans),
        nn.ReLU(),
    )


class PaperVgg(nn.Module):
    """The paper's DCNN: ``forward(x) = head(features(x))``."""

    def __init__(self, in_chans: int = 1, num_classes: int = 2, cfg: PaperVggConfig | None = None):
        super().__init__()
        cfg = cfg or PaperVggConfig()
        w1, w2, w3 = cfg.widths
        self.features = nn.Sequential(
            conv_bn_relu(in_chans, w1, 3),
            conv_bn_relu(w1, w1, 3),
            nn.MaxPool2d(2),
            conv_bn_relu(w1, w2, 3),
            conv_bn_relu(w2, w2, 1),
            nn.MaxPool2d(2),
            conv_bn_relu(w2, w3, 3),
            conv_bn_relu(w3, w3, 1),
            nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(cfg.pooled),
        )
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(w3 * cfg.pooled * cfg.pooled, cfg.hidden[0]),
            nn.ReLU(),
            nn.Dropout(cfg.dropout),
            nn.Linear(cfg.hidden[0], cfg.hidden[1]),
            nn.ReLU(),
            nn.Dropout(cfg.dropout),
            nn.Linear(cfg.hidden[1], num_classes),
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    @property
    def cam_layer(self) -> nn.Module:
        """The activation of the last convolution, before pooling: the finest map with the most meaning."""
        return self.features[7][2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def make(
    variant: str | None,
    *,
    num_classes: int = 2,
    in_chans: int,
    input_size: tuple[int, int],
    weights: Path | None = None,
) -> Backbone:
    """Factory registered as the ``paper-vgg`` backbone; the input size follows the dataset."""
    name = variant or "paper"
    if name not in VARIANTS:
        raise PrefstudyError(f"unknown paper-vgg variant {name!r}; known: {', '.join(VARIANTS)}")
    height, width = input_size
    if min(height, width) < 8:
        raise PrefstudyError(f"paper-vgg needs images of at least 8x8 pixels, got {height}x{width}")
    model = PaperVgg(in_chans=in_chans, num_classes=num_classes, cfg=VARIANTS[name])
    if weights is not None:
        state = torch.load(Path(weights), map_location="cpu", weights_only=True)
        model.load_state_dict(state.get("model", state) if isinstance(state, dict) else state)
    return Backbone(
        module=model,
        features=model.features,
        head=model.head,
        cam_layer=model.cam_layer,
        input_size=(in_chans, height, width),
        mean=(0.5,) * in_chans,
        std=(0.5,) * in_chans,
    )
