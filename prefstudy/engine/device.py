"""Choosing the torch device: CUDA when there is a GPU, the CPU otherwise."""

from __future__ import annotations

import torch

from prefstudy.errors import PrefstudyError


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when available; ``cpu``, ``cuda`` or ``cuda:N`` are taken as asked."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise PrefstudyError(f"unknown device {name!r}; use auto, cpu or cuda") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise PrefstudyError("--device cuda was asked for, but torch sees no CUDA GPU here; use --device cpu or auto")
    if device.type not in ("cpu", "cuda"):
        raise PrefstudyError(f"unsupported device {name!r}; use auto, cpu or cuda")
    return device
