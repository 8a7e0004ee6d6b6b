"""`prefstudy recommend` on rooms the subject never saw: does the ranking follow their known taste?

A simulated subject prefers colourful rooms (``feature:colourfulness``: above the median
Hasler-Süsstrunk colourfulness) and labels only the TRAIN images of the shared indoor-rooms data
(``TrainImages.txt``), imported as a folder dataset of just those files. Their model2 (paper-vgg,
64x64 RGB, a few epochs) then ranks a folder of the TEST images (``TestImages.txt``) with
`prefstudy recommend`; Spearman's rho between each test image's ``p_preferred`` and its true
colourfulness (the rule's own function, on the image decoded as the dataset's images were)
says how well the recommendation follows the taste. Every step is the real command, in its own
process; the wall time of each is printed. A few minutes on a 2-core CPU:

    .venv/bin/python -m pytest benchmarks/test_recommend_colourfulness.py --benchmark-only -s
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from prefstudy.datasets.readers.images import decode_image
from prefstudy.metrics import spearman
from prefstudy.subjects.features import compute_feature

SHARED_DATA = Path(os.environ.get("PREFSTUDY_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
ROOMS = SHARED_DATA / "indoor-rooms"
SIZE, EPOCHS = 64, 4
RULE = "feature:colourfulness"


def _prefstudy(*args: object) -> tuple[str, float]:
    """Run the real command; its stdout and wall time."""
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "prefstudy", *map(str, args)], capture_output=True, text=True, timeout=3600
    )
    assert result.returncode == 0, f"prefstudy {' '.join(map(str, args))}: {result.stderr[-2000:]}"
    return result.stdout, time.perf_counter() - start


def _link_split(listing: str, target: Path) -> list[Path]:
    """A folder of links to the images one split list names (the data is read, never copied or changed)."""
    links = []
    for line in (ROOMS / listing).read_text(encoding="utf-8").splitlines():
        key = line.strip().replace("\\", "/")
        if key:
            link = target / key
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(ROOMS / "Images" / key)
            links.append(link)
    return links


def test_recommendations_follow_a_colourfulness_subject(benchmark, tmp_path: Path):
    if not (ROOMS / "TrainImages.txt").is_file() or not (ROOMS / "TestImages.txt").is_file():
        pytest.skip(f"the shared indoor-rooms photos (Images/, TrainImages.txt, TestImages.txt) are not in {ROOMS}")
    train, test = _link_split("TrainImages.txt", tmp_path / "train"), _link_split("TestImages.txt", tmp_path / "test")
    study = tmp_path / "study"
    times = {}
    _, times["study init"] = _prefstudy("study", "init", study)
    on = ("--study", study)
    _, times["data add (train only)"] = _prefstudy("data", "add", "rooms", "--kind", "folder", "--path",
                                                   tmp_path / "train", "--size", SIZE, *on)  # fmt: skip
    _, times["subject simulate"] = _prefstudy("subject", "simulate", "cleo", "-d", "rooms", "--rule", RULE, *on)
    out, times["run"] = _prefstudy("run", "-s", "cleo", "-d", "rooms", "--epochs", EPOCHS, "--json", *on)
    run = json.loads(out)

    def recommend() -> dict:
        out, times["recommend"] = _prefstudy("recommend", "-s", "cleo", "--images", tmp_path / "test",
                                             "--dataset", "rooms", "--top", len(test), "--json", *on)  # fmt: skip
        return json.loads(out)

    ranked = benchmark.pedantic(recommend, rounds=1, iterations=1)
    assert (ranked["images"], ranked["left_out_labelled"], ranked["unreadable"]) == (len(test), 0, [])
    assert ranked["run_id"] == run["run_id"] and len(ranked["ranking"]) == len(test)
    by_path = {entry["path"]: entry["p_preferred"] for entry in ranked["ranking"]}
    p = np.array([by_path[str(link)] for link in test])
    pixels = np.stack([decode_image(link.read_bytes(), SIZE, 3) for link in test])
    rho = spearman(p, compute_feature("colourfulness", pixels))

    print(f"\n{len(train)} train images labelled by {RULE}; model2 paper-vgg {SIZE}x{SIZE}, {EPOCHS} epochs: "
          f"test accuracy {run['metrics']['test']['accuracy']:.3f} (best epoch {run['best_epoch']})")  # fmt: skip
    print(f"recommend over {len(test)} unseen test images: Spearman rho(p_preferred, colourfulness) = {rho:.3f}")
    for step, seconds in times.items():
        print(f"  {step:24s} {seconds:7.1f} s")
    benchmark.extra_info.update({"spearman_rho": rho, "test_accuracy": run["metrics"]["test"]["accuracy"], **times})
    assert rho > 0.5
