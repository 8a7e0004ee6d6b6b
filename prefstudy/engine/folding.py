"""Inference copies of a model with BatchNorm folded into the convolution before it.

In eval mode a BatchNorm is a fixed per-channel affine map, so ``bn(conv(x))`` equals one
convolution with rescaled weights and a shifted bias: the same function up to rounding, one
layer fewer, and no separate pass over the activations (BatchNorm is about a quarter of
paper-vgg's time). Validation and prediction use the folded copy; training never does, and
the model a run saves is always the unfolded one.

Two ways to find the pairs: a convolution followed directly by a BatchNorm in an
``nn.Sequential`` (paper-vgg, many plugin backbones), then ``torch.fx`` tracing for models
that call them from ``forward`` (e.g. timm's ResNets). A model neither finds stays as it is.
"""

from __future__ import annotations

import copy
import itertools

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def _foldable(conv: nn.Module, norm: nn.Module) -> bool:
    return (
        type(conv) in _CONVS
        and type(norm) in _NORMS
        and norm.track_running_stats
        and norm.running_mean is not None
        and conv.out_channels == norm.num_features
    )


def _fold_sequentials(module: nn.Module) -> int:
    """Fold conv -> BatchNorm pairs inside every ``nn.Sequential`` of ``module`` in place; returns how many."""
    folded = 0
    for child in module.children():
        folded += _fold_sequentials(child)
    if isinstance(module, nn.Sequential):
        names = list(module._modules)
        for first, second in itertools.pairwise(names):
            conv, norm = module._modules[first], module._modules[second]
            if conv is not None and norm is not None and _foldable(conv, norm):
                module._modules[first] = fuse_conv_bn_eval(conv, norm)
                module._modules[second] = nn.Identity()
                folded += 1
    return folded


def _count_norms(module: nn.Module) -> int:
    return sum(type(m) in _NORMS for m in module.modules())


def _fold_traced(module: nn.Module) -> nn.Module | None:
    """``torch.fx``'s conv/BatchNorm fusion, or None when the model does not trace."""
    try:
        from torch.fx.experimental.optimization import fuse
    except ImportError:  # pragma: no cover - part of torch since 1.8
        return None
    try:
        return fuse(module, inplace=True)
    except Exception:  # data-dependent control flow and the like: such a model is not traceable
        return None


def fold_batchnorm(module: nn.Module) -> nn.Module:
    """An eval-mode copy of ``module`` with each BatchNorm that follows a convolution folded into it.

    ``module`` itself is not changed. Use the copy for inference only: it has no BatchNorm
    statistics left to update.
    """
    folded = copy.deepcopy(module).eval()
    for parameter in folded.parameters():
        parameter.requires_grad_(False)
    _fold_sequentials(folded)
    if _count_norms(folded):
        traced = _fold_traced(folded)
        if traced is not None and _count_norms(traced) < _count_norms(folded):
            folded = traced
    return folded


def batchnorms_left(module: nn.Module) -> int:
    """How many BatchNorm layers ``module`` still has (0 once every one is folded)."""
    return _count_norms(module)


@torch.no_grad()
def max_difference(a: nn.Module, b: nn.Module, x: torch.Tensor) -> float:
    """The largest absolute difference between two models' outputs on ``x`` (both in eval mode)."""
    return (a.eval()(x) - b.eval()(x)).abs().max().item()
