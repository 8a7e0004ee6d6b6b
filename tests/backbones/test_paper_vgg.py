from pathlib import Path

import pytest
import torch

from prefstudy.backbones import Backbone, create_backbone, list_backbones
from prefstudy.errors import PrefstudyError


def test_paper_vgg_is_registered_through_the_entry_point_group():
    assert "paper-vgg" in list_backbones()


@pytest.mark.parametrize(("chans", "size", "cam_side"), [(1, 28, 7), (3, 64, 16), (3, 96, 24)])
def test_input_follows_the_dataset_and_the_cam_layer_is_4d(chans, size, cam_side):
    backbone = create_backbone("paper-vgg", in_chans=chans, input_size=(size, size))
    assert isinstance(backbone, Backbone) and backbone.input_size == (chans, size, size)
    seen = {}

    def keep_output(module, inputs, output):
        seen["cam"] = output

    handle = backbone.cam_layer.register_forward_hook(keep_output)
    logits = backbone.module(torch.randn(2, chans, size, size))
    handle.remove()
    assert logits.shape == (2, 2)
    assert seen["cam"].shape == (2, 128, cam_side, cam_side)


def test_module_is_head_of_features_so_transfer_can_swap_the_head():
    backbone = create_backbone("paper-vgg", in_chans=1, input_size=(28, 28))
    backbone.module.eval()
    x = torch.randn(3, 1, 28, 28)
    assert torch.equal(backbone.module(x), backbone.head(backbone.features(x)))
    # The head takes a fixed-size input whatever the image size: features end in adaptive pooling.
    photo = create_backbone("paper-vgg", in_chans=1, input_size=(64, 64))
    assert backbone.features(x).shape[1:] == photo.features(torch.randn(1, 1, 64, 64)).shape[1:]


def test_one_training_step_changes_the_weights():
    torch.manual_seed(0)
    backbone = create_backbone("paper-vgg:small", in_chans=1, input_size=(28, 28))
    before = [p.detach().clone() for p in backbone.module.parameters()]
    optimizer = torch.optim.Adam(backbone.module.parameters())
    loss = torch.nn.functional.cross_entropy(backbone.module(torch.randn(4, 1, 28, 28)), torch.tensor([0, 1, 0, 1]))
    loss.backward()
    optimizer.step()
    assert all(not torch.equal(a, b) for a, b in zip(before, backbone.module.parameters(), strict=True))


def test_weights_load_from_a_local_file(tmp_path: Path):
    source = create_backbone("paper-vgg", in_chans=1, input_size=(28, 28))
    torch.save(source.module.state_dict(), tmp_path / "w.pt")
    loaded = create_backbone("paper-vgg", in_chans=1, input_size=(28, 28), weights=tmp_path / "w.pt")
    assert all(
        torch.equal(a, b)
        for a, b in zip(source.module.state_dict().values(), loaded.module.state_dict().values(), strict=True)
    )


def test_unknown_names_fail_with_what_is_known():
    with pytest.raises(PrefstudyError, match=r"unknown backbone 'alexnet'; registered: .*paper-vgg"):
        create_backbone("alexnet", in_chans=1, input_size=(28, 28))
    with pytest.raises(PrefstudyError, match="unknown paper-vgg variant 'huge'"):
        create_backbone("paper-vgg:huge", in_chans=1, input_size=(28, 28))
