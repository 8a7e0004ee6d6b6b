"""Backbones by name, loaded lazily from the ``prefstudy.backbones`` entry-point group.

A name is ``family`` or ``family:variant`` (``paper-vgg``, ``timm:resnet18``); the entry point's
name is the family. prefstudy's own backbones register through the same group as plugins. A
plugin is imported only when it is used or listed, and a broken one is reported, never fatal.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from prefstudy.backbones.contract import Backbone, BackboneFactory, ContractError, check_backbone, module_name
from prefstudy.errors import PrefstudyError
from prefstudy.registry import Registry

GROUP = "prefstudy.backbones"
LISTING_IMAGES = (3, 64, 64)  # what `backbones list` builds each backbone for
BACKBONES: Registry[BackboneFactory] = Registry("backbone", GROUP)
"""Backbone families; prefstudy's own (paper-vgg, timm) are entry points in its pyproject.toml, as a plugin's are."""


def list_backbones() -> list[str]:
    """The registered backbone families, by name."""
    return BACKBONES.names()


def split_name(name: str) -> tuple[str, str | None]:
    family, sep, variant = name.partition(":")
    return family, (variant or None) if sep else None


def is_backbone(name: str) -> bool:
    return BACKBONES.is_registered(split_name(name)[0])


def load_factory(family: str) -> BackboneFactory:
    """Import a family's factory; a plugin that fails to import becomes one clear error."""
    return BACKBONES.get(family)


def example_name(family: str, factory: BackboneFactory) -> str:
    """A buildable name of the family: the family itself, or with the factory's ``example_variant``."""
    variant = getattr(factory, "example_variant", None)
    return f"{family}:{variant}" if variant else family


def create_backbone(
    name: str,
    *,
    in_chans: int,
    input_size: tuple[int, int],
    num_classes: int = 2,
    weights: Path | None = None,
) -> Backbone:
    """Build the named backbone for images of ``in_chans`` channels and ``input_size`` (H, W).

    The result is checked against the plugin contract, so a broken backbone fails here, with
    its reason, and not deep inside training or Grad-CAM.
    """
    family, variant = split_name(name)
    factory = load_factory(family)
    try:
        backbone = factory(variant, num_classes=num_classes, in_chans=in_chans, input_size=input_size, weights=weights)
    except PrefstudyError:
        raise
    except Exception as error:
        detail = " ".join(str(error).split())  # e.g. a state dict's missing keys, one per line
        detail = detail if len(detail) <= 300 else detail[:300] + " …"
        raise PrefstudyError(f"backbone {name!r} failed to build: {type(error).__name__}: {detail}") from None
    if not isinstance(backbone, Backbone):
        raise PrefstudyError(f"backbone {name!r} broke the plugin contract: its factory returned {type(backbone)}")
    checked = (name, in_chans, tuple(input_size), num_classes, str(weights))
    if checked not in _CHECKED:  # a factory builds the same structure every time: check it once per process
        try:
            check_backbone(backbone, num_classes)
        except ContractError as error:
            raise PrefstudyError(f"backbone {name!r} broke the plugin contract: {error}") from None
        _CHECKED.add(checked)
    return backbone


_CHECKED: set[tuple] = set()


@dataclass(frozen=True)
class BackboneInfo:
    """One registered family, as `prefstudy backbones list` shows it."""

    name: str  # the family, as registered
    example: str  # a full name that builds, e.g. timm:resnet18
    distribution: str | None
    version: str | None
    status: str  # "ok" or "broken"
    error: str | None = None
    input_size: tuple[int, int, int] | None = None  # as built for 64x64 RGB images
    cam_layer: str | None = None
    parameters: int | None = None


def describe_backbones(families: list[str] | None = None) -> list[BackboneInfo]:
    """Every registered family (or those named), built once for 64x64 RGB images and checked against the contract."""
    infos = []
    for family, entry in sorted(BACKBONES.entries().items()):
        if families is not None and family not in families:
            continue
        where = {"distribution": entry.distribution, "version": entry.version}
        try:
            factory = load_factory(family)
            example = example_name(family, factory)
            backbone = create_backbone(example, in_chans=LISTING_IMAGES[0], input_size=LISTING_IMAGES[1:])
        except PrefstudyError as error:
            infos.append(BackboneInfo(family, family, **where, status="broken", error=str(error)))
            continue
        infos.append(
            BackboneInfo(
                family,
                example,
                **where,
                status="ok",
                input_size=tuple(backbone.input_size),
                cam_layer=module_name(backbone.module, backbone.cam_layer),
                parameters=sum(p.numel() for p in backbone.module.parameters()),
            )
        )
    return infos
