"""imagenet-lite0: timm's model with the shipped weights gives the reference loader's outputs, keeps the backbone
contract, and extracts 1280 numbers per image."""

import numpy as np
import pytest
import torch

from prefstudy.backbones import check_backbone, create_backbone, describe_backbones
from prefstudy.extractors.registry import create_extractor, describe_extractors


def test_timm_with_the_shipped_weights_gives_the_reference_loaders_outputs():
    reference_package = pytest.importorskip("efficientnet_lite_pytorch")
    import timm
    from prefstudy_imagenet_lite0 import TIMM_NAME, timm_state_dict, weights_file

    shipped = torch.load(weights_file(), map_location="cpu", weights_only=True)
    reference = reference_package.EfficientNet.from_name("efficientnet-lite0")
    reference.load_state_dict(shipped)
    ours = timm.create_model(TIMM_NAME, pretrained=False)
    ours.load_state_dict(timm_state_dict(ours, shipped))
    x = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(0)) * 2 - 1  # inputs in [-1, 1]
    with torch.no_grad():
        theirs, mine = reference.eval()(x), ours.eval()(x)
    assert theirs.shape == (2, 1000)
    torch.testing.assert_close(mine, theirs, rtol=0, atol=1e-5)


def test_a_backbone_that_keeps_the_contract_in_gray_and_colour():
    (info,) = describe_backbones(["imagenet-lite0"])
    assert (info.status, info.distribution) == ("ok", "prefstudy-imagenet-lite0")
    for chans, size in ((1, 32), (3, 64)):
        backbone = create_backbone("imagenet-lite0", in_chans=chans, input_size=(size, size))
        check_backbone(backbone)
        assert backbone.head.in_features == 1280 and backbone.mean == (0.5,) * chans


def test_an_extractor_of_1280_numbers_that_sees_what_an_image_holds():
    (listed,) = [e for e in describe_extractors() if e.name == "imagenet-lite0"]
    assert (listed.dim, listed.image_size, listed.differentiable) == (1280, 224, True)
    extractor = create_extractor("imagenet-lite0")
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (1, 224, 224, 3), dtype=np.uint8)
    stripes = np.zeros((1, 224, 224, 3), dtype=np.uint8)
    stripes[:, ::8] = 255
    vectors = extractor.extract(np.concatenate([noise, noise, stripes])).vectors
    assert vectors.shape == (3, 1280) and np.all(np.isfinite(vectors))
    assert np.array_equal(vectors[0], vectors[1]) and not np.allclose(vectors[0], vectors[2], atol=1e-3)
