"""Grad-CAM heat maps (Selvaraju et al., ICCV 2017) with Captum's ``LayerGradCam``.

For the two-way softmax head, the map of a class is taken from that class's own logit: target 1
explains "preferred", target 0 "not preferred". (The sign pitfall of binary heads — explaining
"not preferred" by the gradient of a single "preferred" score — does not arise with two logits.)
Maps are ReLU'd, upsampled bilinearly to the model's input size, and batched.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from captum.attr import LayerAttribution, LayerGradCam
from torch import nn

from prefstudy.backbones import module_name
from prefstudy.errors import PrefstudyError

PREFERRED, NOT_PREFERRED = 1, 0


def cam_layer(module: nn.Module, name: str | None, default: nn.Module) -> tuple[str, nn.Module]:
    """The layer maps are taken at, and its name: ``default`` (a backbone's cam layer), or ``module``'s ``name``."""
    if name is None:
        return module_name(module, default), default
    try:
        return name, module.get_submodule(name)
    except AttributeError:
        convs = [n for n, m in module.named_modules() if isinstance(m, nn.Conv2d)][-4:]
        raise PrefstudyError(f"the model has no layer {name!r}; e.g. {', '.join(convs)}") from None


class GradCam:
    """Heat maps of ``model`` at ``layer`` for (N, C, H, W) normalised inputs.

    Example::

        cam = GradCam(backbone.module, backbone.cam_layer)
        maps = cam.attribute(x, target=PREFERRED)  # (N, H, W), >= 0
    """

    def __init__(self, model: nn.Module, layer: nn.Module):
        self.model = model
        self.layer = layer

    def attribute(self, inputs: torch.Tensor, target: int | torch.Tensor) -> torch.Tensor:
        """Maps for ``target`` (one class for all, or one per input), upsampled to the input size."""
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.enable_grad():
                # Captum registers its hooks for this call only and removes them in a finally block.
                cams = LayerGradCam(self.model, self.layer).attribute(inputs, target=target, relu_attributions=True)
        finally:
            self.model.train(was_training)
        if cams.ndim != 4:
            raise ValueError(f"the cam layer gave a {cams.ndim}-D attribution; Grad-CAM needs a (N, C, H, W) map")
        maps = LayerAttribution.interpolate(cams, tuple(inputs.shape[-2:]), interpolate_mode="bilinear")
        return maps[:, 0].detach()

    def attribute_batched(
        self,
        inputs: torch.Tensor,
        target: torch.Tensor,
        batch_size: int = 128,
        *,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        advance: Callable[[int], None] | None = None,
    ) -> torch.Tensor:
        """:meth:`attribute` over a large set, ``batch_size`` inputs at a time, on the model's device.

        ``transform`` turns each batch into model inputs (e.g. uint8 images into normalised floats),
        so only one batch is ever converted at once; ``advance(n)`` is told of each batch done.
        Maps come back on the CPU.
        """
        device = next(self.model.parameters()).device
        parts = []
        for start in range(0, len(inputs), batch_size):
            batch = inputs[start : start + batch_size].to(device)
            if transform is not None:
                with torch.no_grad():
                    batch = transform(batch)
            parts.append(self.attribute(batch, target[start : start + batch_size].to(device)).cpu())
            if advance is not None:
                advance(len(batch))
        return torch.cat(parts) if parts else torch.empty(0, *inputs.shape[-2:])
