"""Grad-CAM heat maps per second, batched, against the per-image loop most Grad-CAM examples use.

.venv/bin/python -m pytest benchmarks/test_gradcam_speed.py --benchmark-only -s
"""

import os
import time

import pytest
import torch

from prefstudy.backbones import create_backbone
from prefstudy.explain.gradcam import PREFERRED, GradCam

N = 256
DEVICE = torch.device(os.environ.get("PREFSTUDY_BENCH_DEVICE", "cuda" if torch.cuda.is_available() else "cpu"))


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 64, 64)], ids=["28x28x1", "64x64x3"])
def test_gradcam_maps_per_second(benchmark, shape):
    torch.manual_seed(0)
    backbone = create_backbone("paper-vgg", in_chans=shape[0], input_size=shape[1:])
    cam = GradCam(backbone.module.to(DEVICE), backbone.cam_layer)
    x = torch.randn(N, *shape, device=DEVICE)
    target = torch.full((N,), PREFERRED, device=DEVICE)

    # The plain baseline, in the same process: one image per call.
    began = time.perf_counter()
    for i in range(64):
        cam.attribute(x[i : i + 1], PREFERRED)
    baseline = 64 / (time.perf_counter() - began)

    maps = benchmark(lambda: cam.attribute_batched(x, target, batch_size=128))
    assert maps.shape == (N, *shape[1:])
    per_second = N / benchmark.stats.stats.mean
    benchmark.extra_info.update(maps_per_s=per_second, baseline_maps_per_s=baseline, ratio=per_second / baseline)
    print(
        f"\n{shape} on {DEVICE}: {per_second:.0f} maps/s batched, {baseline:.0f} maps/s one by one, "
        f"x{per_second / baseline:.1f}"
    )
