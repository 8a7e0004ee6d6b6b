"""Backbones by name, loaded lazily from the ``prefstudy.backbones`` entry-point group.

A name is ``family`` or ``family:variant`` (``paper-vgg``, ``timm:resnet18``); the entry point's
name is the family. prefstudy's own backbones register through the same group as plugins.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

from prefstudy.backbones.contract import Backbone, BackboneFactory
from prefstudy.errors import PrefstudyError

GROUP = "prefstudy.backbones"


def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def list_backbones() -> list[str]:
    """The registered backbone families, by name."""
    return sorted(_entry_points())


def split_name(name: str) -> tuple[str, str | None]:
    family, sep, variant = name.partition(":")
    return family, (variant or None) if sep else None


def is_backbone(name: str) -> bool:
    return split_name(name)[0] in _entry_points()


def load_factory(family: str) -> BackboneFactory:
    """Import a family's factory; a plugin that fails to import becomes one clear error."""
    eps = _entry_points()
    if family not in eps:
        raise PrefstudyError(f"unknown backbone {family!r}; registered: {', '.join(sorted(eps)) or 'none'}")
    try:
        return eps[family].load()
    except Exception as error:  # a broken third-party plugin must not crash prefstudy
        raise PrefstudyError(f"backbone plugin {family!r} failed to load: {type(error).__name__}: {error}") from None


def create_backbone(
    name: str,
    *,
    in_chans: int,
    input_size: tuple[int, int],
    num_classes: int = 2,
    weights: Path | None = None,
) -> Backbone:
    """Build the named backbone for images of ``in_chans`` channels and ``input_size`` (H, W)."""
    family, variant = split_name(name)
    factory = load_factory(family)
    backbone = factory(variant, num_classes=num_classes, in_chans=in_chans, input_size=input_size, weights=weights)
    if not isinstance(backbone, Backbone):
        raise PrefstudyError(f"backbone {name!r} broke the plugin contract: its factory returned {type(backbone)}")
    return backbone
