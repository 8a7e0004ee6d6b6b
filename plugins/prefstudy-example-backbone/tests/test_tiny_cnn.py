"""The plugin's own tests: it registers, keeps prefstudy's contract, and learns."""

import pytest
import torch

from prefstudy.backbones import check_backbone, create_backbone, describe_backbones, list_backbones
from prefstudy.errors import PrefstudyError


def test_registered_through_the_entry_point():
    assert "tiny-cnn" in list_backbones()
    (info,) = describe_backbones(["tiny-cnn"])
    assert (info.status, info.distribution, info.cam_layer) == ("ok", "prefstudy-example-backbone", "features.6")


@pytest.mark.parametrize(("variant", "chans", "size"), [(None, 1, 28), ("32", 3, 64)])
def test_keeps_the_contract(variant, chans, size):
    name = "tiny-cnn" if variant is None else f"tiny-cnn:{variant}"
    backbone = create_backbone(name, in_chans=chans, input_size=(size, size))
    check_backbone(backbone)
    assert backbone.input_size == (chans, size, size)


@pytest.mark.slow  # trains: the contract tests above are the fast lane's
def test_learns_a_separable_problem():
    torch.manual_seed(0)
    backbone = create_backbone("tiny-cnn", in_chans=1, input_size=(16, 16))
    x = torch.randn(64, 1, 16, 16)
    y = (x[:, 0, :8].mean(dim=(1, 2)) > x[:, 0, 8:].mean(dim=(1, 2))).long()  # brighter top half
    optimizer = torch.optim.Adam(backbone.module.parameters(), lr=1e-2)
    for _ in range(60):
        loss = torch.nn.functional.cross_entropy(backbone.module(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    backbone.module.eval()
    assert (backbone.module(x).argmax(1) == y).float().mean() > 0.95


def test_unknown_variant_is_a_clear_error():
    with pytest.raises(PrefstudyError, match="unknown tiny-cnn variant '64'"):
        create_backbone("tiny-cnn:64", in_chans=1, input_size=(28, 28))
