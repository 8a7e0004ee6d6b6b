"""What a head run costs beyond its fit: London raters' personal heads by prefstudy, and the same fits by a bare loop.

    .venv/bin/python -m pytest benchmarks/test_head_overhead.py --benchmark-only -s
    BENCH_RATERS=100 ...   (raters drawn by name: lon-r00*, lon-r01* ...; the default 100 makes ~500 runs)

A study of the shipped ``studies/london-faces.toml`` design (the crowd's ridge per fold; every rater's ridge from
scratch, 5 item folds, on dlib's face descriptor) is made with the real CLI in a subprocess: `study run --json`,
inline (one process, heads on one BLAS thread). Its features are computed first and timed apart. Then the same
personal heads are fitted again by a bare scikit-learn loop over numpy arrays: for each finished run, its own
training items (answered and tied) from its ``predictions.parquet``, the same features, ``StandardScaler`` +
``RidgeCV`` (the same alphas) + the logistic calibration, then a prediction of every item; nothing written.

Printed and kept in ``extra_info``: wall seconds per run of `study run` (everything: plan, queue, fit, write,
land), the split inside a run (``result.json``'s fit / predict / write seconds, medians), the driver's own queue
and land seconds per run, the bare loop's seconds per run, and their ratio.

Measured 2026-12-07 on the 2-core AMD EPYC, CPU only, while another process kept one core busy (defaults:
100 raters, 83 above the minimums, 415 runs): features and the crowd's 5 heads 24.4 s; `study run` 25.8 s
wall, 62 ms a run (process start and planning included) against 11.4 ms for the bare fit: 5.5x. Inside a run
(medians): fit 10.2 ms, predict 0.75 ms, write 5.9 ms; the driver's queue 1.75 ms and land 3.4 ms a run.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("PREFSTUDY_SHARED_DATA", REPO.parent / "shared" / "data"))
RATERS = int(os.environ.get("BENCH_RATERS", "100"))


def _study_file(tmp_path: Path) -> Path:
    """The shipped London design, its paths made absolute, on the first ``RATERS`` raters, scratch heads only."""
    text = (REPO / "studies" / "london-faces.toml").read_text().replace("../shared/data", str(SHARED_DATA))
    raters = [f"lon-r{n:04d}" for n in range(1, RATERS + 1)]  # by name: those below the minimums are skipped
    text = text.replace('subjects = ["lon-*"]', f"subjects = {json.dumps(raters)}")
    text = text[: text.index("# ... and the crowd's head of the same fold")]  # the shrunk heads: not here
    path = tmp_path / "london.toml"
    path.write_text(text)
    return path


def _cli(study: Path, *args: str) -> dict:
    env = {**os.environ, "PREFSTUDY_STUDY": str(study)}
    done = subprocess.run([sys.executable, "-m", "prefstudy", *args, "--json"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def _bare_fits(features: np.ndarray, runs: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> int:
    """The personal heads fitted again with scikit-learn alone: (train items, ratings, answers) per run."""
    from sklearn.linear_model import LogisticRegression, RidgeCV
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    from prefstudy.engine.heads import RIDGE_ALPHAS

    with threadpool_limits(1):
        for items, ratings, answers in runs:
            X = features[items]
            scaler = StandardScaler().fit(X)
            ridge = RidgeCV(alphas=RIDGE_ALPHAS).fit(scaler.transform(X), ratings)
            score = ridge.predict(scaler.transform(X))
            centre, spread = score.mean(), score.std() or 1.0
            answered = ~np.isnan(answers)
            z = ((score - centre) / spread)[answered].reshape(-1, 1)
            calibration = LogisticRegression(C=1e4, max_iter=1000).fit(z, answers[answered].astype(int))
            everything = ridge.predict(scaler.transform(features))
            calibration.predict_proba(((everything - centre) / spread).reshape(-1, 1))
    return len(runs)


def test_head_runs_against_a_bare_scikit_learn_loop(benchmark, tmp_path):
    if not (SHARED_DATA / "london-faces" / "ratings.csv").is_file():
        pytest.skip(f"the London faces are not in {SHARED_DATA / 'london-faces'}")
    pytest.importorskip("prefstudy_face", reason="the face extractor: pip install -e plugins/prefstudy-face")
    study = tmp_path / "study"
    init = subprocess.run(
        [sys.executable, "-m", "prefstudy", "study", "init", str(study), "--from", str(_study_file(tmp_path))],
        capture_output=True, text=True,
    )  # fmt: skip
    assert init.returncode == 0, init.stderr[-2000:]
    began = time.perf_counter()
    _cli(study, "run", "--subject", "crowd", "--dataset", "london", "--backbone", "face", "--head", "linear",
         "--target", "ratings", "--split-by", "item", "--folds", "5", "--seed", "0")  # fmt: skip
    features_and_crowd = time.perf_counter() - began
    began = time.perf_counter()
    made = _cli(study, "study", "run")
    wall = time.perf_counter() - began
    personal = [r for r in made["made"] if r["subject"] != "crowd"]
    assert personal and not made["failed"]
    per_run = wall / len(personal)
    results = [json.loads((study / "runs" / r["run_id"] / "result.json").read_text()) for r in personal]
    inside = {k: statistics.median(r["seconds"][k] for r in results) for k in ("fit", "predict", "write")}

    (features_file,) = (study / "cache" / "features").rglob("*.npy")
    features = np.load(features_file)
    runs = []
    with duckdb.connect() as con:
        for r in personal:
            rows = con.execute(
                "SELECT item_idx, rating, label FROM read_parquet(?) WHERE split = 'train' ORDER BY item_idx",
                [str(study / "runs" / r["run_id"] / "predictions.parquet")],
            ).fetchall()
            items = np.array([i for i, _, _ in rows])
            ratings = np.array([x for _, x, _ in rows], dtype=np.float64)
            answers = np.array([np.nan if a is None else float(a) for _, _, a in rows])
            runs.append((items, ratings, answers))
    fitted = benchmark.pedantic(lambda: _bare_fits(features, runs), rounds=3, iterations=1)
    bare_per_run = benchmark.stats.stats.median / fitted
    numbers = {
        "raters": len({r["subject"] for r in personal}),
        "runs": len(personal),
        "features_and_crowd_s": round(features_and_crowd, 1),
        "study_run_s": round(wall, 1),
        "per_run_ms": round(1000 * per_run, 2),
        "inside_run_ms_median": {k: round(1000 * v, 2) for k, v in inside.items()},
        "driver_queue_ms_per_run": round(1000 * made["driver"]["queue_s"] / len(personal), 2),
        "driver_land_ms_per_run": round(1000 * made["driver"]["land_s"] / len(personal), 2),
        "bare_fit_ms_per_run": round(1000 * bare_per_run, 2),
        "ratio_per_run_to_bare_fit": round(per_run / bare_per_run, 2),
    }
    benchmark.extra_info.update(numbers)
    print("\n" + json.dumps(numbers, indent=2))
    assert per_run > bare_per_run  # prefstudy does the fit and more: a ratio below 1 would be a broken measure
