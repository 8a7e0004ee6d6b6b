"""Backbones: the plugin contract, the entry-point registry, and prefstudy's built-in ``paper-vgg``."""

from prefstudy.backbones.contract import Backbone
from prefstudy.backbones.registry import create_backbone, is_backbone, list_backbones

__all__ = ["Backbone", "create_backbone", "is_backbone", "list_backbones"]
