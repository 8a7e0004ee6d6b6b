"""The same results on the same seed: a fixed set of runs through the real CLI, their predictions kept.

    .venv/bin/python benchmarks/run_parity.py OUT.json [--threads 2] [--executor local --workers 2]
    .venv/bin/python benchmarks/run_parity.py --compare A.json B.json

Makes, in a temporary study each, at fp32 with torch's threads pinned (``--threads``, default 2; with
``--executor``, each run's ``--cpus-per-run``):

- the demo (`prefstudy demo --epochs 1`): alice's, bob's and carol's model2 test accuracies;
- a transfer run: alice on 300 real LFW faces at 32x32, fine-tuned from her Fashion-MNIST run;
- a fold run: bob's 5 item folds on Fashion-MNIST (model1, 1 epoch);
- London (`studies/london.toml`, one seeded rater): the crowd's 5 fold runs, then the rater's 5
  fine-tuned and 5 head-only (frozen) runs, by `study run`.

Every run's test accuracy and every prediction (by item key) go to OUT.json; ``--compare`` prints
the largest difference in p_preferred between two such files, run by run (named by subject,
dataset, fold and transfer mode, not by run id). With ``--executor``, `run` and `study run` get
it (an option that did not exist before the one run path: compare its output with an inline one).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PREFSTUDY_SHARED_DATA", REPO.parent / "shared" / "data"))
PREFSTUDY = str(Path(sys.executable).with_name("prefstudy"))


def _cli(study: Path, *args: str, threads: int = 2) -> str:
    env = {**os.environ, "PREFSTUDY_STUDY": str(study), "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": "1"}
    done = subprocess.run([PREFSTUDY, *args], env=env, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"prefstudy {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def _runs(study: Path) -> dict[str, dict]:
    """Every finished run's test accuracy and predictions, named by what it is."""
    with duckdb.connect(str(study / "prefstudy.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT id, subject, dataset, config FROM runs WHERE status = 'finished'").fetchall()
        out = {}
        for run_id, subject, dataset, config in rows:
            config = json.loads(config)
            settings, transfer = config["settings"], config.get("transfer") or {}
            name = f"{subject}/{dataset}/{settings['protocol']}/fold={settings.get('fold')}/{transfer.get('mode')}"
            accuracy = con.execute(
                "SELECT accuracy FROM metrics WHERE run_id = ? AND split = 'test'", [run_id]
            ).fetchone()[0]
            predictions = con.execute(
                "SELECT i.key, p.p_preferred FROM predictions p JOIN items i "
                "ON i.dataset = p.dataset AND i.idx = p.item_idx WHERE p.run_id = ? ORDER BY i.key",
                [run_id],
            ).fetchall()
            out[name] = {"test_accuracy": accuracy, "p": dict(predictions)}
    return out


def make(out: Path, threads: int, executor: list[str]) -> None:
    extra = [*executor, "--cpus-per-run", str(threads)] if executor else []
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        demo = Path(tmp) / "demo"
        _cli(demo, "demo", "--dir", str(demo), "--epochs", "1", "--precision", "fp32", threads=threads)
        lfw = SHARED / "lfw"
        if lfw.is_dir():
            _cli(demo, "data", "add", "faces", "--kind", "lfw", "--path", str(lfw), "--limit", "300", "--size", "32")
            _cli(demo, "subject", "simulate", "alice", "--dataset", "faces", "--rule", "feature:brightness")
            source = _runs_of(demo, "alice", "fm")
            _cli(demo, "run", "--subject", "alice", "--dataset", "faces", "--transfer-from", source, "--epochs", "1",
                 "--precision", "fp32", *extra, threads=threads)  # fmt: skip
        _cli(demo, "run", "--subject", "bob", "--dataset", "fm", "--protocol", "model1", "--epochs", "1",
             "--split-by", "item", "--folds", "5", "--precision", "fp32", *extra, threads=threads)  # fmt: skip
        results["demo"] = _runs(demo)
        if (SHARED / "london-faces" / "ratings.csv").is_file():
            london = Path(tmp) / "london"
            _cli(london, "study", "init", str(london), "--from", str(REPO / "studies" / "london.toml"))
            _cli(london, "study", "run", "--limit-subjects", "1", "--seed", "0", "--precision", "fp32", *extra,
                 threads=threads)  # fmt: skip
            results["london"] = _runs(london)
    out.write_text(json.dumps(results, indent=1, sort_keys=True))
    for study, runs in results.items():
        for name, run in sorted(runs.items()):
            print(f"{study:7s} {name:55s} test accuracy {run['test_accuracy']:.4f}")


def _runs_of(study: Path, subject: str, dataset: str) -> str:
    with duckdb.connect(str(study / "prefstudy.duckdb"), read_only=True) as con:
        return con.execute(
            "SELECT id FROM runs WHERE subject = ? AND dataset = ? AND status = 'finished'", [subject, dataset]
        ).fetchone()[0]


def compare(a: Path, b: Path) -> None:
    left, right = json.loads(a.read_text()), json.loads(b.read_text())
    worst = 0.0
    for study in sorted(set(left) | set(right)):
        names = sorted(set(left.get(study, {})) | set(right.get(study, {})))
        for name in names:
            one, two = left.get(study, {}).get(name), right.get(study, {}).get(name)
            if one is None or two is None:
                print(f"{study:7s} {name:55s} only in {'the second' if one is None else 'the first'}")
                worst = float("inf")
                continue
            keys = set(one["p"]) | set(two["p"])
            diff = max(abs(one["p"].get(k, float("nan")) - two["p"].get(k, float("nan"))) for k in keys)
            diff = float("inf") if diff != diff else diff
            worst = max(worst, diff)
            print(
                f"{study:7s} {name:55s} test {one['test_accuracy']:.4f} vs {two['test_accuracy']:.4f}, "
                f"max |dp| {diff:.2e} over {len(keys)} items"
            )
    print(f"largest difference in p_preferred: {worst:.2e}")
    sys.exit(0 if worst <= 1e-6 else 1)


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--compare"]:
        compare(Path(args[1]), Path(args[2]))
    else:
        threads = int(args[args.index("--threads") + 1]) if "--threads" in args else 2
        rest = [a for i, a in enumerate(args[1:], 1) if a != "--threads" and args[i - 1] != "--threads"]
        make(Path(args[0]), threads, rest)
