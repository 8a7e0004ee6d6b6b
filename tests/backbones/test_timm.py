"""The timm family: any timm CNN as a backbone, local weights only."""

from pathlib import Path

import pytest
import torch

from prefstudy.backbones import create_backbone
from prefstudy.errors import PrefstudyError

pytestmark = pytest.mark.slow  # importing timm alone takes seconds; the contract tests cover timm:resnet18 too


def test_a_local_weights_file_is_loaded_and_adapted_to_one_channel(tmp_path: Path):
    import timm

    torch.manual_seed(0)
    pretrained = timm.create_model("resnet18", pretrained=False)  # stands for an ImageNet checkpoint
    torch.save(pretrained.state_dict(), tmp_path / "resnet18.pth")
    backbone = create_backbone("timm:resnet18", in_chans=1, input_size=(64, 64), weights=tmp_path / "resnet18.pth")
    features = backbone.features
    assert torch.equal(features.layer4[1].conv2.weight, pretrained.layer4[1].conv2.weight)
    # timm sums an RGB first convolution into one channel
    assert torch.allclose(features.conv1.weight, pretrained.conv1.weight.sum(dim=1, keepdim=True), atol=1e-6)
    assert backbone.head.out_features == 2
    assert backbone.mean == pytest.approx([(0.485 + 0.456 + 0.406) / 3])


def test_without_weights_the_model_is_random_and_nothing_is_fetched(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("a backbone tried to download weights")

    monkeypatch.setattr("urllib.request.urlopen", no_network)
    a = create_backbone("timm:resnet18", in_chans=3, input_size=(32, 32))
    torch.manual_seed(1)
    b = create_backbone("timm:resnet18", in_chans=3, input_size=(32, 32))
    assert not torch.equal(a.features.conv1.weight, b.features.conv1.weight)


def test_cam_layer_comes_from_feature_info():
    backbone = create_backbone("timm:efficientnet_b0", in_chans=3, input_size=(64, 64))
    assert backbone.cam_layer is backbone.features.blocks[6]


def test_unknown_models_and_missing_names_are_clear_errors():
    with pytest.raises(PrefstudyError, match=r"timm has no model 'resnet1'; close names: .*resnet10"):
        create_backbone("timm:resnet1", in_chans=3, input_size=(32, 32))
    with pytest.raises(PrefstudyError, match="name a timm model"):
        create_backbone("timm", in_chans=3, input_size=(32, 32))
    with pytest.raises(PrefstudyError, match=r"weights file .* not found"):
        create_backbone("timm:resnet18", in_chans=3, input_size=(32, 32), weights=Path("/no/such.pth"))


def test_a_model_without_a_feature_map_fails_the_contract_with_its_reason():
    with pytest.raises(PrefstudyError, match=r"broke the plugin contract: its cam layer yields \(2, 17, 192\)"):
        create_backbone("timm:vit_tiny_patch16_224", in_chans=3, input_size=(64, 64))
