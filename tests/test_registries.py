"""One registry idiom: built-ins from a declared table, third parties through entry points (a distribution
installed for real on the path), the same names / get / create for backbones, dataset kinds and executors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from conftest import Cli

from prefstudy.datasets.kinds import DATASET_KINDS
from prefstudy.errors import PrefstudyError
from prefstudy.executors.registry import EXECUTORS, ExecutorOptions, check_options
from prefstudy.registry import Entry, Registry

ENTRY_POINTS = """\
[prefstudy.dataset_kinds]
stripes = stripe_kinds.readers:stripes
fashion-mnist = stripe_kinds.readers:stripes
broken = stripe_kinds.missing:load

[prefstudy.executors]
elsewhere = stripe_kinds.missing:kind
"""
READERS = '''
"""A third party's dataset kind."""
import hashlib

import numpy as np

from prefstudy.datasets.readers.decoded import Decoded


def stripes(options, report):
    """Horizontal stripes of every width: a dataset made up in memory."""
    n = options.limit or 12
    images = np.zeros((n, 16, 16, 1), dtype=np.uint8)
    for i in range(n):
        images[i, :: i % 4 + 2] = 255
    return Decoded(
        images=images,
        keys=[f"stripe-{i:02d}" for i in range(n)],
        splits=[None] * n,
        classes=[str(i % 4 + 2) for i in range(n)],
        class_names=["2", "3", "4", "5"],
        sha256=[hashlib.sha256(images[i].tobytes()).hexdigest() for i in range(n)],
    )
'''


@pytest.fixture
def plugin_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A distribution that registers a dataset kind (and a broken one, and one that takes a built-in's name)."""
    site = tmp_path / "site"
    dist = site / "stripe_kinds-1.2.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: stripe-kinds\nVersion: 1.2\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    (site / "stripe_kinds").mkdir()
    (site / "stripe_kinds" / "__init__.py").write_text("")
    (site / "stripe_kinds" / "readers.py").write_text(textwrap.dedent(READERS))
    monkeypatch.syspath_prepend(str(site))
    return site


def test_a_registry_lists_built_ins_then_plugins_and_says_what_is_unknown_or_broken(plugin_site):
    registry = Registry("dataset kind", "prefstudy.dataset_kinds", [Entry("tables", lambda: "built-in", "a table")])
    assert registry.builtin_names() == ["tables"]
    assert registry.names() == ["broken", "fashion-mnist", "stripes", "tables"]
    assert registry.get("tables") == "built-in" and registry.get("stripes").__name__ == "stripes"
    assert registry.entries()["stripes"].distribution == "stripe-kinds"
    with pytest.raises(PrefstudyError, match=r"^unknown dataset kind 'nope'; registered: broken, fashion-mnist, "):
        registry.get("nope")
    with pytest.raises(PrefstudyError, match=r"^dataset kind plugin 'broken' failed to load: ModuleNotFoundError"):
        registry.get("broken")
    # A plugin cannot take a built-in's name: prefstudy's fashion-mnist stays its own.
    assert DATASET_KINDS.entries()["fashion-mnist"].distribution is None


def test_a_plugins_dataset_kind_is_listed_and_added_like_a_built_in(plugin_site, ws):
    cli = Cli(ws.root)
    kinds = {k["name"]: k for k in cli.json("data", "kinds")["kinds"]}
    assert list(kinds)[:5] == DATASET_KINDS.builtin_names()  # prefstudy's own first, in their order
    assert kinds["stripes"] == {
        "name": "stripes",
        "summary": "Horizontal stripes of every width: a dataset made up in memory.",
        "distribution": "stripe-kinds",
    }
    assert kinds["broken"]["summary"].startswith("broken: dataset kind plugin 'broken' failed to load")
    added = cli.json("data", "add", "bars", "--kind", "stripes", "--limit", "8")
    assert (added["kind"], added["n_items"], added["image_size"], added["classes"]) == ("stripes", 8, [16, 16, 1], 4)


def test_executors_are_a_registry_with_their_own_options(plugin_site):
    assert EXECUTORS.builtin_names() == ["inline", "local", "ray", "slurm"]
    assert "elsewhere" in EXECUTORS.names()  # a plugin's, listed (it fails only when chosen)
    with pytest.raises(PrefstudyError, match=r"^executor plugin 'elsewhere' failed to load"):
        check_options("elsewhere", ExecutorOptions())
    with pytest.raises(PrefstudyError, match=r"^--workers is for --executor local, not inline$"):
        check_options("inline", ExecutorOptions(workers=2))
