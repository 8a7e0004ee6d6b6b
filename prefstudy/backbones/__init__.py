"""Backbones: the plugin contract, the entry-point registry, ``paper-vgg`` and the ``timm`` family."""

from prefstudy.backbones.contract import Backbone, ContractError, check_backbone, count_hooks, module_name
from prefstudy.backbones.registry import (
    BackboneInfo,
    create_backbone,
    describe_backbones,
    is_backbone,
    list_backbones,
)

__all__ = [
    "Backbone",
    "BackboneInfo",
    "ContractError",
    "check_backbone",
    "count_hooks",
    "create_backbone",
    "describe_backbones",
    "is_backbone",
    "list_backbones",
    "module_name",
]
