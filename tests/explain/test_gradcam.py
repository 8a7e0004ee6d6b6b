"""The Grad-CAM engine: hand-computed maps, determinism, batching, hooks, and no in-place corruption."""

import pytest
import torch
from torch import nn

from prefstudy.backbones import count_hooks, create_backbone
from prefstudy.explain.gradcam import NOT_PREFERRED, PREFERRED, GradCam


class HandSet(nn.Module):
    """x -> conv1x1 to 2 channels [x, -x] -> ReLU (the cam layer) -> global mean -> linear [[2, 0], [0, 3]]."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 1, bias=False)
        self.act = nn.ReLU()
        self.fc = nn.Linear(2, 2, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(torch.tensor([1.0, -1.0]).view(2, 1, 1, 1))
            self.fc.weight.copy_(torch.tensor([[2.0, 0.0], [0.0, 3.0]]))

    def forward(self, x):
        return self.fc(self.act(self.conv(x)).mean(dim=(2, 3)))


def test_maps_match_the_hand_computation():
    x = torch.tensor([[[[1.0, -2.0], [3.0, 0.0]]]])
    model = HandSet()
    cam = GradCam(model, model.act)
    # A = [relu(x), relu(-x)]. d logit_0 / dA_0 = 2 / 4 everywhere, d logit_0 / dA_1 = 0: alpha_0 = (0.5, 0).
    # map_0 = relu(0.5 * relu(x)) = [[0.5, 0], [1.5, 0]];  alpha_1 = (0, 0.75): map_1 = 0.75 * relu(-x).
    expected_0 = torch.tensor([[0.5, 0.0], [1.5, 0.0]])
    expected_1 = torch.tensor([[0.0, 1.5], [0.0, 0.0]])
    assert torch.allclose(cam.attribute(x, target=0)[0], expected_0)
    assert torch.allclose(cam.attribute(x, target=1)[0], expected_1)


def test_per_item_targets_and_upsampling_to_the_input_size():
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3, stride=2, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 2)
    )
    cam = GradCam(model, model[1])
    x = torch.randn(3, 1, 8, 8)
    maps = cam.attribute(x, target=torch.tensor([0, 1, 0]))
    assert maps.shape == (3, 8, 8) and (maps >= 0).all()
    assert torch.allclose(maps[1], cam.attribute(x[1:2], target=1)[0], atol=1e-6)


@pytest.fixture
def vgg():
    torch.manual_seed(0)
    backbone = create_backbone("paper-vgg", in_chans=1, input_size=(28, 28))
    backbone.module.eval()
    return backbone


def test_repeated_batched_and_single_calls_agree(vgg):
    cam = GradCam(vgg.module, vgg.cam_layer)
    x = torch.randn(6, 1, 28, 28)
    first = cam.attribute(x, target=PREFERRED)
    again = cam.attribute(x, target=PREFERRED)
    single = torch.cat([cam.attribute(x[i : i + 1], target=PREFERRED) for i in range(6)])
    batched = cam.attribute_batched(x, torch.full((6,), PREFERRED), batch_size=4)
    assert torch.equal(first, again)
    assert torch.allclose(first, single, atol=1e-5) and torch.allclose(first, batched, atol=1e-5)
    assert not torch.allclose(first, cam.attribute(x, target=NOT_PREFERRED))


def test_equals_grad_cam_computed_directly_with_autograd(vgg):
    """No in-place op after the cam layer corrupts what Captum reads."""
    x = torch.randn(2, 1, 28, 28)
    store = {}

    def keep(module, inputs, output):
        store["a"] = output

    handle = vgg.cam_layer.register_forward_hook(keep)
    logits = vgg.module(x)
    handle.remove()
    grads = torch.autograd.grad(logits[:, PREFERRED].sum(), store["a"])[0]
    weights = grads.mean(dim=(2, 3), keepdim=True)
    manual = torch.relu((weights * store["a"]).sum(dim=1, keepdim=True))
    manual = torch.nn.functional.interpolate(manual, size=(28, 28), mode="bilinear", align_corners=False)[:, 0]
    assert torch.allclose(GradCam(vgg.module, vgg.cam_layer).attribute(x, PREFERRED), manual.detach(), atol=1e-5)


def test_hooks_are_removed_even_when_the_model_raises(vgg):
    class Boom(nn.Module):
        def forward(self, x):
            raise RuntimeError("boom")

    model = nn.Sequential(vgg.module.features, Boom())
    with pytest.raises(RuntimeError, match="boom"):
        GradCam(model, vgg.cam_layer).attribute(torch.randn(1, 1, 28, 28), PREFERRED)
    assert count_hooks(model) == 0 and count_hooks(vgg.module) == 0
    vgg.module.train()
    GradCam(vgg.module, vgg.cam_layer).attribute(torch.randn(2, 1, 28, 28), PREFERRED)
    assert vgg.module.training  # evaluation mode was only for the maps
