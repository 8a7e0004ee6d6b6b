"""`prefstudy recommend` with a head on dlib's face descriptor, on real London faces: the pool's vectors are the
ones the run's features were (the originals decoded at 256 px), so each face scores as the run scored it; a second
call reads them from the cache, in a process where torch cannot be imported."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from conftest import SHARED_DATA, Cli, copy_study

from prefstudy.datasets.catalog import key_index
from prefstudy.runs.record import predictions

pytestmark = pytest.mark.slow  # 28 face detections and descriptors, and a subprocess

LONDON = SHARED_DATA / "london-faces" / "images"
N_FACES, N_POOL = 20, 8  # a run needs 20 labels; the pool is 8 of its faces
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


def test_faces_score_as_the_run_scored_them_and_a_second_call_needs_no_extractor_and_no_torch(_empty_study, tmp_path):
    pytest.importorskip("prefstudy_face", reason="the face extractor plugin: pip install -e plugins/prefstudy-face")
    if not LONDON.is_dir():
        pytest.skip(f"the London faces are not in {LONDON} (the shared data folder)")
    faces, pool = tmp_path / "faces", tmp_path / "pool"
    faces.mkdir()
    pool.mkdir()
    for i, photo in enumerate(sorted(LONDON.glob("*.jpg"))[:N_FACES]):
        (faces / photo.name).symlink_to(photo)
        if i % 2 and i < 2 * N_POOL:
            (pool / photo.name).symlink_to(photo)
    ws = copy_study(_empty_study, tmp_path / "study")
    cli = Cli(ws.root)
    cli("data", "add", "london", "--kind", "folder", "--path", faces, "--size", "32")
    cli("subject", "simulate", "ann", "--dataset", "london", "--rule", "feature:brightness")
    run = cli.json("run", "-s", "ann", "-d", "london", "--backbone", "face", "--head", "linear", "--protocol", "model1")
    ask = ("recommend", "-s", "ann", "--images", pool, "--run", run["run_id"], "--include-labelled", "--top", "100")
    out = cli.json(*ask)
    assert out["features"]["computed"] == N_POOL and out["features"]["counts"] == {}  # a face in every photograph
    assert out["input"] == "originals at 256 px -> face (128-d) -> linear head"
    key_of = {idx: key for key, idx in key_index(ws, "london").items()}
    stored = {key_of[p.item_idx]: p.p_preferred for p in predictions(ws, run["run_id"])}
    ranked = {entry["path"].rsplit("/", 1)[-1]: entry["p_preferred"] for entry in out["ranking"]}
    assert (
        ranked == pytest.approx({key: stored[key] for key in ranked}, abs=1e-5) and len(ranked) == N_POOL
    )  # the same vectors as the dataset's features, the same head

    began = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", NO_TORCH, *map(str, ask), "--json", "--study", str(ws.root)],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    seconds = time.perf_counter() - began
    assert result.returncode == 0, result.stderr[-2000:]
    again = json.loads(result.stdout)
    assert (again["features"]["cached"], again["features"]["computed"]) == (N_POOL, 0)
    assert again["ranking"] == out["ranking"]
    assert seconds < 5, f"a second call took {seconds:.1f} s"  # the benchmark measures it: well under a second
