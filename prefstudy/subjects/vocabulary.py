"""The words of simulated subjects' rules: the rule syntax and the feature names.

Kept apart from parsing (:mod:`.rules`) and computing (:mod:`.features`, which needs torch), so
that naming them, in ``--help`` for instance, stays light.
"""

from __future__ import annotations

RULE_HELP = "classes:NAME,NAME,... | feature:NAME | feature:NAME@REGION"
FEATURE_NAMES = ("brightness", "contrast", "edges", "colourfulness", "symmetry")
FEATURE_ALIASES = {"colorfulness": "colourfulness", "edge": "edges", "edge-density": "edges"}


def canonical_feature(name: str) -> str:
    """The feature's canonical name (aliases and case resolved); unknown names are returned as given."""
    name = name.strip().lower()
    return FEATURE_ALIASES.get(name, name)
