"""Preference rules of simulated subjects, with known ground truth.

- ``classes:Sneaker,Bag,Dress`` (names or indices): preferred when the item is of those classes.
- ``feature:NAME``: preferred when the feature is above the dataset's median
  (NAME: brightness, contrast, edges, colourfulness, symmetry).
- ``feature:NAME@REGION``: the same, measured inside REGION (top, bottom, left, right, center,
  top-left, ..., or ``x0,y0,x1,y1`` in fractions); the region is the subject's stated reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from prefstudy.errors import PrefstudyError
from prefstudy.subjects.regions import Region, parse_region
from prefstudy.subjects.vocabulary import FEATURE_NAMES, RULE_HELP, canonical_feature


@dataclass(frozen=True)
class ClassRule:
    """Prefers items of the given classes."""

    classes: tuple[str, ...]
    region: Region | None = None

    def preferred(self, images: np.ndarray, item_classes: np.ndarray) -> np.ndarray:
        return np.isin(item_classes.astype(str), list(self.classes))


@dataclass(frozen=True)
class FeatureRule:
    """Prefers items whose feature (inside ``region``, if given) is above the dataset median."""

    feature: str
    region: Region | None = None

    def preferred(self, images: np.ndarray, item_classes: np.ndarray) -> np.ndarray:
        # Imported here: features need torch, and parsing a rule (or listing subjects) must not.
        from prefstudy.subjects.features import compute_feature

        values = compute_feature(self.feature, images, self.region)
        if np.ptp(values) == 0:
            raise PrefstudyError(
                f"feature {self.feature!r} is the same for every image of this dataset "
                "(e.g. colourfulness on grayscale); choose another feature"
            )
        return values > np.median(values)


Rule = ClassRule | FeatureRule


def _resolve_class(token: str, class_names: list[str]) -> str:
    by_lower = {name.lower(): name for name in class_names}
    if token.lower() in by_lower:
        return by_lower[token.lower()]
    if token.isdigit() and int(token) < len(class_names):
        return class_names[int(token)]
    shown = ", ".join(class_names[:12]) + (f", ... ({len(class_names)} in all)" if len(class_names) > 12 else "")
    raise PrefstudyError(f"unknown class {token!r} in rule; this dataset's classes: {shown or 'none'}")


def parse_rule(text: str, class_names: list[str]) -> Rule:
    """Parse a rule string against a dataset's class names; one clear error line when it is wrong."""
    kind, sep, body = text.partition(":")
    if not sep or not body.strip():
        raise PrefstudyError(f"invalid rule {text!r}; use {RULE_HELP}")
    kind = kind.strip().lower()
    if kind == "classes":
        if not class_names:
            raise PrefstudyError("this dataset has no classes; use a feature: rule instead")
        tokens = [t.strip() for t in body.split(",") if t.strip()]
        if not tokens:
            raise PrefstudyError(f"invalid rule {text!r}: name at least one class after classes:")
        classes = tuple(dict.fromkeys(_resolve_class(t, class_names) for t in tokens))
        if len(classes) == len(class_names):
            raise PrefstudyError("a classes: rule naming every class prefers everything; name fewer classes")
        return ClassRule(classes)
    if kind == "feature":
        name, at, region = body.partition("@")
        name = canonical_feature(name)
        if name not in FEATURE_NAMES:
            raise PrefstudyError(f"unknown feature {name!r}; use one of: {', '.join(FEATURE_NAMES)}")
        if at and not region.strip():
            raise PrefstudyError(f"invalid rule {text!r}: name a region after @ (e.g. top, center or 0,0,0.5,0.5)")
        return FeatureRule(name, parse_region(region) if at else None)
    raise PrefstudyError(f"unknown rule kind {kind!r}; use {RULE_HELP}")
