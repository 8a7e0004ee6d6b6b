"""`prefstudy label --order uncertainty`: how long one refit takes, and what it costs the page while it runs.

- ``test_one_refit``: one refit as the server starts it (``python -m prefstudy.active.refit``, niced, one
  thread): 100 labels of a class rule (preferred: sandals, sneakers and ankle boots), fitted from scratch,
  then P(preferred) of the 2,000 candidates a refit scores. On the embedded Fashion-MNIST sample (10k) and,
  when Debian's files are there, on all of Fashion-MNIST (70k). Wall time (torch's import included) and
  the refit's own time.
- ``test_key_to_next_image_while_refitting``: the real server on the sample under
  ``--order uncertainty --refit-every 20`` and the paper's settings (1 s deadline, 0.3 s fixation), 100
  trials in headless Chromium answered about 250 ms after each image appears; each trial's key press ->
  next image (measured in the page) is counted as *with a refit* when a refit process was alive at its key
  press, else *without*. Both in the same run::

    .venv/bin/python -m pytest benchmarks/test_refit_latency.py --benchmark-only -s
"""

# ruff: noqa: F811 -- the harness's fixtures are imported, then used as test arguments
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from harness import CHROMIUM, browser, serve, servers, wait_showing, wait_stored  # noqa: F401

from prefstudy.active.refit_task import RefitDir, RefitTask
from prefstudy.datasets.catalog import add_dataset, get_dataset, load_images
from prefstudy.labeler.active_plan import SCORED_AT_MOST
from prefstudy.labeler.refits import refit_dir
from prefstudy.studyfile import DatasetSpec
from prefstudy.workspace import init_workspace

LABELS = 100
PREFERRED_CLASSES = ("Sandal", "Sneaker", "Ankle boot")
TRIALS = 100


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[round(q * (len(ordered) - 1))]


def one_refit(ws, dataset: str, out: Path) -> dict:
    """One refit of a 100-label subject, started as the server starts it; its wall and own seconds."""
    images = load_images(ws, dataset)
    info = get_dataset(ws, dataset)
    rng = np.random.default_rng(0)
    items = rng.choice(info.n_items, LABELS, replace=False)
    preferred = np.isin(images.classes[items], PREFERRED_CLASSES)
    pool = np.setdiff1d(rng.permutation(info.n_items), items)[:SCORED_AT_MOST]
    folder = RefitDir(out)
    task = RefitTask(
        seq=1,
        subject="bench",
        dataset=dataset,
        answers=LABELS,
        images=str((ws.root / info.cache_file).resolve()),
        info=asdict(info),
        labels=str(folder.labels(1)),
        pool=str(folder.pool(1)),
        scores=True,
        clusters=None,
    )
    path = folder.write_task(task, items, preferred, pool)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "prefstudy.active.refit", str(path)], env=env, capture_output=True)
    wall = time.monotonic() - began
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    result = json.loads(folder.result.read_text())
    scores = folder.read_scores(info.n_items)
    truth = np.isin(images.classes[pool], PREFERRED_CLASSES)
    return {
        "dataset_items": info.n_items,
        "labels": result["labels"],
        "scored": len(pool),
        "wall_s": round(wall, 2),
        "refit_s": round(result["seconds"], 2),
        "scored_accuracy": round(float(((scores[pool] > 0.5) == truth).mean()), 3),
    }


@pytest.mark.parametrize("source", ["sample", "full"])
def test_one_refit(benchmark, source, tmp_path, request):
    ws = init_workspace(tmp_path / "study")
    if source == "sample":
        add_dataset(ws, DatasetSpec(name="fm", kind="fashion-mnist-sample"))
    else:
        path = request.getfixturevalue("fashion_mnist_dir")
        add_dataset(ws, DatasetSpec(name="fm", kind="fashion-mnist", path=str(path)))
    numbers = benchmark.pedantic(lambda: one_refit(ws, "fm", tmp_path / "refit"), rounds=1, iterations=1)
    benchmark.extra_info.update(numbers)
    print(f"\none refit ({source}): " + ", ".join(f"{k} {v}" for k, v in numbers.items()))
    assert numbers["labels"] == LABELS and numbers["scored_accuracy"] > 0.6


def _refit_running(folder: RefitDir) -> bool:
    """Whether the newest refit's process is alive (started, and not yet exited: a zombie has exited)."""
    starts = [e for e in folder.read_events() if e["event"] == "refit_start"]
    if not starts:
        return False
    try:
        state = Path(f"/proc/{starts[-1]['pid']}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}: apt-get install chromium")
def test_key_to_next_image_while_refitting(benchmark, browser, servers, tmp_path):
    ws = init_workspace(tmp_path / "study")
    add_dataset(ws, DatasetSpec(name="fm", kind="fashion-mnist-sample"))
    server = serve(
        servers,
        ws.root,
        *("--subject", "ann", "--order", "uncertainty", "--refit-every", "20", "--block", str(TRIALS)),
        *("--mark-reason", "never"),
    )
    folder = refit_dir(ws, "ann", "fm")
    page = browser.new_page(viewport={"width": 1000, "height": 760})
    during: dict[int, bool] = {}  # trial answered -> a refit ran at its key press

    def label() -> list[dict]:
        page.goto(server.links["ann"])
        page.wait_for_selector("#intro:not([hidden])")
        page.keyboard.press("Space")
        for trial in range(1, TRIALS + 1):
            wait_showing(page)
            page.wait_for_timeout(250)
            during[trial] = _refit_running(folder)
            page.keyboard.press("ArrowRight" if trial % 3 else "ArrowLeft")
        page.wait_for_selector("#pause:not([hidden])")
        wait_stored(page)
        return page.evaluate("window.prefstudy.timings")

    timings = benchmark.pedantic(label, rounds=1, iterations=1)
    # a timing belongs to the trial whose image it brought up; the key press was the previous trial's answer
    split = {True: [], False: []}
    for t in timings:
        split[during[t["trial"] - 1]].append(t["key_to_image_ms"])
    refits = [e for e in folder.read_events() if e["event"] == "refit_end"]
    stats = {
        "trials": len(timings),
        "with_refit_n": len(split[True]),
        "with_refit_p50_ms": statistics.median(split[True]),
        "with_refit_p95_ms": percentile(split[True], 0.95),
        "without_n": len(split[False]),
        "without_p50_ms": statistics.median(split[False]),
        "without_p95_ms": percentile(split[False], 0.95),
        "refits": len(refits),
        "refit_wall_s": [e["seconds"] for e in refits],
    }
    benchmark.extra_info.update(stats)
    print("\n" + ", ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in stats.items()))
    assert len(timings) == TRIALS - 1 and refits and all(e["ok"] for e in refits)
    assert stats["with_refit_n"] >= 10 and stats["without_n"] >= 10
