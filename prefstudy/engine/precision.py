"""The numeric path a model trains and predicts on: fp32, or bf16 autocast with channels_last.

``auto`` takes the fastest correct path for the device: bf16 autocast + channels_last on a CUDA
GPU with bf16, and on a CPU with native bf16 units (AVX-512 BF16 or AMX); fp32 elsewhere, e.g.
on CPUs that would only emulate bf16, where it is slower than fp32. Weights, optimizer state and
the loss stay fp32 on every path. On a CPU fp32 runs channels_last too: oneDNN's convolutions
are about 1.5x faster that way for training and 1.7x for inference on an AVX2 CPU (measured for
issue 17); on a GPU fp32 keeps the default layout.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import torch

from prefstudy.config import BF16, FP32
from prefstudy.config import PRECISIONS as CHOICES
from prefstudy.errors import PrefstudyError


@cache
def cpu_has_native_bf16() -> bool:
    """True when this CPU computes bf16 in hardware (Linux: the avx512_bf16 or amx_bf16 flags)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return torch.backends.mkldnn.is_available() and ("avx512_bf16" in flags or "amx_bf16" in flags)


def fast_path_available(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return cpu_has_native_bf16()


@dataclass(frozen=True)
class Precision:
    """How tensors flow through the model on one device."""

    name: str
    device_type: str

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.name == BF16 or self.device_type == "cpu" else torch.contiguous_format

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.name == FP32:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=torch.bfloat16)

    def batch(self, x: torch.Tensor) -> torch.Tensor:
        """An input batch in the path's memory layout."""
        return x.contiguous(memory_format=self.memory_format) if x.dim() == 4 else x


def resolve_precision(name: str, device: torch.device) -> Precision:
    """``auto`` picks bf16 where the device computes it natively, else fp32; bf16 and fp32 are taken as asked."""
    if name not in CHOICES:
        raise PrefstudyError(f"unknown precision {name!r}; use {', '.join(CHOICES)}")
    if name == "auto":
        name = BF16 if fast_path_available(device) else FP32
    return Precision(name, device.type)
