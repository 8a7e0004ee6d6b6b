"""BatchNorm folded into convolutions: the same function up to rounding, on the copy only."""

import pytest
import torch
from torch import nn

from prefstudy.backbones import create_backbone
from prefstudy.engine.folding import batchnorms_left, fold_batchnorm
from prefstudy.engine.inputs import InputAdapter, InputPlan
from prefstudy.engine.predict import predict_proba


def _trained_like(module: nn.Module) -> nn.Module:
    """BatchNorm statistics and affine weights far from their initial 0/1, as training leaves them."""
    generator = torch.Generator().manual_seed(0)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.rand(m.num_features, generator=generator) * 2 - 1)
            m.running_var.copy_(torch.rand(m.num_features, generator=generator) * 2 + 0.2)
            m.weight.data.copy_(torch.rand(m.num_features, generator=generator) + 0.5)
            m.bias.data.copy_(torch.rand(m.num_features, generator=generator) - 0.5)
    return module


@pytest.mark.parametrize(("name", "shape"), [("paper-vgg", (1, 28, 28)), ("timm:resnet18", (3, 32, 32))])
def test_folding_removes_every_batchnorm_and_keeps_the_function(name, shape):
    backbone = create_backbone(name, in_chans=shape[0], input_size=shape[1:])
    module = _trained_like(backbone.module).train()
    norms = batchnorms_left(module)
    folded = fold_batchnorm(module)
    assert norms > 0 and batchnorms_left(folded) == 0
    assert batchnorms_left(module) == norms and module.training  # the model itself is untouched
    x = torch.randn(16, *shape, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        expected, got = module.eval()(x), folded(x)
    assert (got - expected).abs().max().item() < 1e-4 * max(1.0, expected.abs().max().item())
    assert not torch.equal(got, module.eval()(torch.zeros_like(x)))  # a real function of x, not a constant


def test_predictions_come_from_the_folded_copy_and_match_the_model():
    backbone = create_backbone("paper-vgg", in_chans=1, input_size=(28, 28))
    module = _trained_like(backbone.module)
    adapter = InputAdapter(InputPlan((1, 28, 28), (1, 28, 28)), backbone)
    images = torch.randint(0, 256, (64, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
    positions = torch.arange(64)
    got = predict_proba(module, adapter, images, positions)
    with torch.inference_mode():
        expected = torch.softmax(module.eval()(adapter(images)), dim=1)[:, 1]
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
    assert got.std().item() > 0.0
