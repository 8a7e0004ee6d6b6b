"""The plugin contract, checked over every registered backbone: a new plugin is tested the moment it installs."""

import pytest
import torch

from prefstudy.backbones import Backbone, check_backbone, count_hooks, create_backbone, list_backbones
from prefstudy.backbones.registry import example_name, load_factory
from prefstudy.config import TransferRequest
from prefstudy.engine.inputs import InputPlan
from prefstudy.engine.surgery import SourceModel, transfer_backbone

# Families whose variants differ in kind get more than their example built.
EXTRA_VARIANTS = {"timm": ["timm:mobilenetv3_small_100", "timm:efficientnet_b0"]}
# Importing timm alone takes seconds, so its models are checked in the slow lane.
SLOW_FAMILIES = {"timm"}
NAMES = [
    pytest.param(name, marks=[pytest.mark.slow] if family in SLOW_FAMILIES else [])
    for family in list_backbones()
    for name in sorted({example_name(family, load_factory(family)), *EXTRA_VARIANTS.get(family, [])})
]


def test_the_built_in_families_and_the_example_plugin_are_registered():
    assert {"paper-vgg", "timm", "tiny-cnn"} <= set(list_backbones())


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("chans", "size"), [(1, 28), (3, 64)])
def test_output_shape_cam_layer_and_no_hooks(name, chans, size):
    backbone = create_backbone(name, in_chans=chans, input_size=(size, size))
    assert isinstance(backbone, Backbone) and backbone.input_size == (chans, size, size)
    check_backbone(backbone)  # (N, 2) logits, 4-D cam map, head(features(x)) == module(x)
    seen = {}

    def keep_shape(module, inputs, output):
        seen["cam"] = output.shape

    handle = backbone.cam_layer.register_forward_hook(keep_shape)
    backbone.module.eval()(torch.randn(3, chans, size, size))
    handle.remove()
    assert len(seen["cam"]) == 4 and seen["cam"][0] == 3
    assert count_hooks(backbone.module) == 0


@pytest.mark.parametrize("name", NAMES)
def test_one_training_step_on_cpu(name):
    torch.manual_seed(0)
    backbone = create_backbone(name, in_chans=1, input_size=(32, 32))
    head_before = [p.detach().clone() for p in backbone.head.parameters()]
    optimizer = torch.optim.Adam(backbone.module.parameters(), lr=1e-3)
    backbone.module.train()
    loss = torch.nn.functional.cross_entropy(backbone.module(torch.randn(4, 1, 32, 32)), torch.tensor([0, 1, 0, 1]))
    loss.backward()
    assert all(p.grad is not None for p in backbone.head.parameters())
    optimizer.step()
    assert all(not torch.equal(a, b) for a, b in zip(head_before, backbone.head.parameters(), strict=True))
    assert count_hooks(backbone.module) == 0


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("adapt", ["keep-size", "resize", "conv"])
def test_features_transfer_and_the_head_is_new(name, adapt):
    torch.manual_seed(0)
    trained = create_backbone(name, in_chans=1, input_size=(28, 28))
    source = SourceModel("src", "ann", "fm", name, (1, 28, 28), (1, 28, 28), trained.module.state_dict())
    target, plan = transfer_backbone(source, (3, 48, 48), TransferRequest("src", "finetune", adapt))
    assert plan == InputPlan(
        images=(3, 48, 48), model={"keep-size": (1, 48, 48), "resize": (1, 28, 28), "conv": (3, 48, 48)}[adapt]
    )
    check_backbone(target)
    head = {id(p) for p in target.head.parameters()}
    names = dict(trained.module.named_parameters())
    copied = changed = 0
    for key, param in target.module.named_parameters():
        if id(param) in head:
            continue
        if param.shape == names[key].shape:
            assert torch.equal(param, names[key]), key
            copied += 1
        else:  # the first convolution, adapted from 1 to 3 channels
            assert adapt == "conv" and torch.allclose(param.sum(dim=1, keepdim=True), names[key], atol=1e-6)
            changed += 1
    assert copied > 0 and changed == (1 if adapt == "conv" else 0)
    assert not all(torch.equal(a, b) for a, b in zip(target.head.parameters(), trained.head.parameters(), strict=True))
