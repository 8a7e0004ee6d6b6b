"""`prefstudy recommend` with a head on dlib's face descriptor: what the first call costs per new face, and what a
second call on the same folder costs once every face's vector is cached.

A simulated subject (``feature:brightness``) labels the first 62 London faces, imported as a folder dataset; a
linear head on the face extractor is their model (`run --backbone face --head linear`). `recommend` then ranks the
other 40 faces: the first call decodes each photograph at 256 px, finds, aligns and describes the face, and caches
the 128 numbers under the file's sha256; the second call, in a process where torch cannot be imported, finds them
all and loads no dlib model (best and median of five such calls). Every step is the real command in its own
process, timed from outside:

    .venv/bin/python -m pytest benchmarks/test_recommend_faces.py --benchmark-only -s
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

SHARED_DATA = Path(os.environ.get("PREFSTUDY_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
LONDON = SHARED_DATA / "london-faces" / "images"
N_TRAIN = 62  # the rest of the 102 faces are the pool
NO_TORCH = """
import sys
from importlib.abc import MetaPathFinder


class NoTorch(MetaPathFinder):  # `import torch` raises ImportError, as where torch is not installed
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "torchvision", "timm", "captum"):
            raise ImportError(f"{name} is blocked: this command must not need it")


sys.meta_path.insert(0, NoTorch())  # not sys.modules[name] = None: libraries that look for a loaded torch see none
from prefstudy.cli import main
sys.argv[0] = "prefstudy"
main()
"""


def _prefstudy(*args: object, torch: bool = True) -> tuple[str, float]:
    """Run the real command (with torch unimportable, if asked); its stdout and wall time."""
    start = time.perf_counter()
    command = [sys.executable, "-m", "prefstudy"] if torch else [sys.executable, "-c", NO_TORCH]
    result = subprocess.run([*command, *map(str, args)], capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, f"prefstudy {' '.join(map(str, args))}: {result.stderr[-2000:]}"
    return result.stdout, time.perf_counter() - start


def test_recommend_new_faces_first_call_and_cached_second_call(benchmark, tmp_path: Path):
    pytest.importorskip("prefstudy_face", reason="the face extractor plugin: pip install -e plugins/prefstudy-face")
    photos = sorted(LONDON.glob("*.jpg")) if LONDON.is_dir() else []
    if len(photos) <= N_TRAIN:
        pytest.skip(f"the London faces are not in {LONDON} (the shared data folder)")
    train, pool = tmp_path / "train", tmp_path / "pool"
    for folder, chosen in ((train, photos[:N_TRAIN]), (pool, photos[N_TRAIN:])):
        folder.mkdir()
        for photo in chosen:
            (folder / photo.name).symlink_to(photo)
    study, times = tmp_path / "study", {}
    on = ("--study", study)
    _, times["study init"] = _prefstudy("study", "init", study)
    _, times["data add"] = _prefstudy("data", "add", "london", "--kind", "folder", "--path", train, "--size", 32, *on)
    _, times["subject simulate"] = _prefstudy("subject", "simulate", "ann", "-d", "london", "--rule",
                                              "feature:brightness", *on)  # fmt: skip
    out, times["run (features of 62 faces, head)"] = _prefstudy("run", "-s", "ann", "-d", "london", "--backbone",
                                                                "face", "--head", "linear", "--json", *on)  # fmt: skip
    ask = ("recommend", "-s", "ann", "--images", pool, "--run", json.loads(out)["run_id"], "--top", 40, "--json", *on)
    out, times["recommend, first call"] = _prefstudy(*ask)
    first = json.loads(out)
    n = len(photos) - N_TRAIN
    assert (first["ranked"], first["features"]["computed"], first["features"]["cached"]) == (n, n, 0)

    walls = []

    def second_call() -> dict:
        out, wall = _prefstudy(*ask, torch=False)
        walls.append(wall)
        return json.loads(out)

    second = benchmark.pedantic(second_call, rounds=5, iterations=1)
    assert (second["features"]["computed"], second["features"]["cached"]) == (0, n)
    assert second["ranking"] == first["ranking"]
    times["recommend, second call (no torch), best of 5"] = min(walls)
    times["recommend, second call (no torch), median of 5"] = sorted(walls)[2]
    per_face = first["features"]["seconds"] / n
    _, times["prefstudy --help"] = _prefstudy("--help")

    print(f"\n{N_TRAIN} faces labelled by feature:brightness; face+linear head; {n} new faces ranked")
    print(f"first call: {per_face:.3f} s per face (decoding at 256 px, detection, alignment, descriptor), "
          f"{times['recommend, first call']:.1f} s in all")  # fmt: skip
    for step, seconds in times.items():
        print(f"  {step:40s} {seconds:7.2f} s")
    # The target is a second call under a second: the interpreter, CLI, numpy and DuckDB imports take ~0.55 s and
    # the work ~0.1 s. Shown beside `prefstudy --help` of the same minutes (its ratio), not asserted: a shared
    # machine under load stretches both.
    times["second call / --help"] = min(walls) / times["prefstudy --help"]
    benchmark.extra_info.update({"seconds_per_face_first_call": per_face, **times})
