"""Broken plugins, installed for real (a distribution on the path), are listed as broken and break nothing else."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import Cli

from prefstudy.backbones.registry import list_backbones

pytestmark = pytest.mark.slow  # starts the command in subprocesses many times, and trains

ENTRY_POINTS = """\
[prefstudy.backbones]
crashes-on-import = broken_plugins.crash:make
wrong-output = broken_plugins.wrong:make
"""


@pytest.fixture
def site_with_broken_plugins(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    dist = site / "broken_plugins-0.3.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugins\nVersion: 0.3\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    package = site / "broken_plugins"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "crash.py").write_text("raise ImportError('needs a library that is not installed')\n")
    (package / "wrong.py").write_text(
        textwrap.dedent("""
        from torch import nn
        from prefstudy.backbones import Backbone

        def make(variant, *, num_classes=2, in_chans, input_size, weights=None):
            features = nn.Sequential(nn.Conv2d(in_chans, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
            head = nn.Linear(4, 5)  # five outputs: breaks the two-way contract
            module = nn.Sequential(features, head)
            return Backbone(module, features, head, features[1], (in_chans, *input_size), (0.5,) * in_chans,
                            (0.5,) * in_chans)
        """)
    )
    return site


def _prefstudy(site: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run(
        [sys.executable, "-m", "prefstudy", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_broken_plugins_are_listed_with_their_errors(site_with_broken_plugins: Path, tmp_path: Path):
    result = _prefstudy(site_with_broken_plugins, "backbones", "list", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    infos = {b["name"]: b for b in json.loads(result.stdout)["backbones"]}
    crash = infos["crashes-on-import"]
    assert (crash["status"], crash["distribution"], crash["version"]) == ("broken", "broken-plugins", "0.3")
    assert "ImportError: needs a library that is not installed" in crash["error"]
    assert infos["wrong-output"]["status"] == "broken"
    assert "its output is (2, 5), not (N, 2)" in infos["wrong-output"]["error"]
    assert infos["paper-vgg"]["status"] == "ok" and infos["tiny-cnn"]["status"] == "ok"


def test_a_broken_plugin_breaks_no_other_command(
    site_with_broken_plugins: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # The broken distribution goes on this process's path too, and the commands up to the good run run
    # in-process: the registry reads the path's entry points on every call. The last command (and the
    # listing test) start a fresh process, so a plugin loaded as the command starts would still fail them.
    monkeypatch.syspath_prepend(str(site_with_broken_plugins))
    study = tmp_path / "s"
    cli = Cli(study)
    cli("study", "init", study)
    cli("data", "add", "fm", "--kind", "fashion-mnist-sample")
    labels = study / "labels.csv"
    labels.write_text("key,preferred\n" + "".join(f"test-{i:05d},{int(i % 2)}\n" for i in range(60)))
    cli("label", "import", labels, "--subject", "bob", "--dataset", "fm")
    assert cli.json("run", "--subject", "bob", "--dataset", "fm", "--epochs", "1")["backbone"] == "paper-vgg"
    assert "crashes-on-import" in list_backbones()  # the broken plugin was on the path all along
    bad = _prefstudy(
        site_with_broken_plugins,
        "run",
        "--subject",
        "bob",
        "--dataset",
        "fm",
        "--backbone",
        "crashes-on-import",
        cwd=study,
    )
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "backbone plugin 'crashes-on-import' failed to load: ImportError" in bad.stderr
