"""The numeric path: bf16 autocast + channels_last where the device computes bf16 natively, fp32 elsewhere."""

import pytest
import torch

from prefstudy.engine.precision import BF16, FP32, Precision, cpu_has_native_bf16, resolve_precision
from prefstudy.errors import PrefstudyError


def test_auto_takes_bf16_only_where_the_cpu_computes_it_natively(monkeypatch):
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu).name == (BF16 if cpu_has_native_bf16() else FP32)
    monkeypatch.setattr("prefstudy.engine.precision.fast_path_available", lambda device: False)
    assert resolve_precision("auto", cpu).name == FP32
    assert resolve_precision(BF16, cpu).name == BF16  # asked for, taken
    with pytest.raises(PrefstudyError, match="unknown precision 'fp16'"):
        resolve_precision("fp16", cpu)


def test_the_fast_path_is_bf16_in_channels_last_and_fp32_is_channels_last_on_a_cpu_only():
    x = torch.zeros(4, 3, 8, 8)
    fast, plain = Precision(BF16, "cpu"), Precision(FP32, "cpu")
    assert fast.batch(x).is_contiguous(memory_format=torch.channels_last)
    assert plain.batch(x).is_contiguous(memory_format=torch.channels_last)  # oneDNN's faster layout
    assert not Precision(FP32, "cuda").batch(x).is_contiguous(memory_format=torch.channels_last)
    conv = torch.nn.Conv2d(3, 2, 3)
    with fast.autocast():
        assert conv(fast.batch(x)).dtype == torch.bfloat16
    with plain.autocast():
        assert conv(x).dtype == torch.float32
