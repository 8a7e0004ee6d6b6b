"""What handing runs to workers costs: the same 100 head-only London runs made three ways.

    .venv/bin/python -m pytest benchmarks/test_executor_overhead.py -s
    BENCH_RATERS=4 ...             (20 runs: a quick try)
    BENCH_RATERS=20 BENCH_EPOCHS=15 BENCH_SIZE=32 BENCH_BACKBONE=paper-vgg:small ...  (the defaults)
    BENCH_INPROCESS_THREADS=1 ...  (torch threads of the in-process run; 0 leaves torch's default, all CPUs)
    BENCH_SEED=0 ...               (the seed that draws the raters)

One study (``studies/london.toml``'s crowd model, 5 item folds, and its head-only runs:
``transfer = "frozen"`` from ``subject:crowd``) is built once with the crowd's 5 runs made; it is
copied (a study is a directory) for each way, and each copy makes the same ``BENCH_RATERS`` raters
x 5 folds with the real CLI in a subprocess (`study run --subjects R1 --subjects R2 ... --json`). The
raters are a seeded draw (``BENCH_SEED``, default 0) from those `study plan` can make all 5 runs of:
a plain `--limit-subjects` draw also picks raters with fewer than 20 usable (untied) ratings,
whose runs are skipped (1 of 20 at seed 0), and every way would make fewer runs than asked.

- in-process: `study run` (torch pinned to ``BENCH_INPROCESS_THREADS`` threads, so every way makes
  the same single-threaded computation), one parallel slot;
- ``--executor local --workers 2`` (one torch thread per worker), two slots;
- ``--executor ray --cpus-per-run 1`` (a one-node Ray on this machine, 2 CPUs), two slots.

Per way: wall seconds, runs per minute, the mean and median ``duration_s`` (train + predict, inside
the run), the per-run overhead ``wall x slots / runs - mean duration_s`` and its ratio to the
in-process one, the driver's peak resident memory (VmHWM of the `study run` process, polled every
0.1 s; in-process that process also trains) and its CPU seconds. For the two executors also the
driver's landing: how long after a worker wrote a run's ``result.json`` the driver's transaction
recorded it, and the driver's CPU seconds per landed run between its first and last landing (what
bounds how many runs one driver can land per second). A timeline per way: when the first run was
queued (or begun), a worker first started one, the first and last landings, the per-run overhead
between those landings (start-up left out), and the median gap between consecutive runs on one
process (the next run's start - this run's start - its ``duration_s``). Every run must finish
once, the three ways must draw the same splits, and the largest |p_preferred| difference between
ways is printed.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pytest

from prefstudy.workspace import init_workspace

REPO = Path(__file__).resolve().parents[1]
LONDON = Path(os.environ.get("PREFSTUDY_SHARED_DATA", REPO.parent / "shared" / "data")) / "london-faces"
RATERS = int(os.environ.get("BENCH_RATERS", "20"))
EPOCHS = int(os.environ.get("BENCH_EPOCHS", "15"))
SIZE = int(os.environ.get("BENCH_SIZE", "32"))
BACKBONE = os.environ.get("BENCH_BACKBONE", "paper-vgg:small")
INPROCESS_THREADS = int(os.environ.get("BENCH_INPROCESS_THREADS", "1"))
SEED = int(os.environ.get("BENCH_SEED", "0"))
FOLDS = 5
PREFSTUDY = str(Path(sys.executable).with_name("prefstudy"))
TICKS = os.sysconf("SC_CLK_TCK")

WAYS = {  # name -> (extra `study run` arguments, parallel slots)
    "in-process": ((), 1),
    "local, 2 workers": (("--executor", "local", "--workers", "2", "--cpus-per-run", "1"), 2),
    "ray, 2 CPUs": (("--executor", "ray", "--cpus-per-run", "1"), 2),
}


@dataclass
class Made:
    """One way's `study run`: its wall time, the driver's memory and CPU over time, and what it recorded."""

    began: float  # time.time() at the start
    load: float  # the 1-minute load average at the start
    wall_s: float
    peak_mb: float
    cpu: list[tuple[float, float]]  # (time.time(), driver CPU seconds), every 0.1 s
    output: dict
    runs: dict[tuple[str, int], dict] = field(default_factory=dict)  # (subject, fold) -> its row and predictions


def _cli(study: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PREFSTUDY, *args, "--study", str(study)], capture_output=True, text=True, check=True)


@dataclass(frozen=True)
class Built:
    root: Path
    raters: list[str]  # the seeded draw whose runs every way makes
    eligible: int  # raters with all their runs plannable
    blocked: int  # raters whose runs `study plan` blocks (too few usable ratings)


@pytest.fixture(scope="module")
def crowd_study(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """A study with the crowd's 5 runs made and every rater's head-only runs still to do."""
    if not (LONDON / "ratings.csv").is_file():
        pytest.skip(f"the London faces are not in {LONDON} (see ../shared/README.md)")
    root = tmp_path_factory.mktemp("overhead") / "crowd"
    init_workspace(root)
    entry = (
        f'dataset = "london"\nbackbone = "{BACKBONE}"\nprotocol = "model1"\nepochs = {EPOCHS}\nbatch_size = 32\n'
        f'split_by = "item"\nfolds = {FOLDS}\n'
    )
    study_file = root / "study.toml"
    study_file.write_text(
        study_file.read_text()
        + f'\n[datasets.london]\nkind = "folder"\npath = "{LONDON / "images"}"\nsize = {SIZE}\nchannels = 3\n'
        + f'\n[[ratings]]\nfile = "{LONDON / "ratings.csv"}"\ndataset = "london"\nitem = "face"\nprefix = "lon-"\n'
        + f'subject_table = "{LONDON / "raters.csv"}"\n'
        + '\n[[consensus]]\nname = "crowd"\ndataset = "london"\nraters = "lon-*"\n'
        + f'\n[[runs]]\nsubjects = ["crowd"]\n{entry}'
        + f'\n[[runs]]\n{entry}transfer_from = "subject:crowd"\ntransfer = "frozen"\n'
    )
    began = time.perf_counter()
    # `--subjects crowd` matches no rater, and the consensus subject is always kept: the crowd's runs alone.
    made = json.loads(_cli(root, "study", "run", "--subjects", "crowd", "--json").stdout)["made"]
    assert sorted(r["subject"] for r in made) == ["crowd"] * FOLDS, made
    print(f"\nstudy built, the crowd's {len(made)} runs made in {time.perf_counter() - began:.0f} s")
    statuses: dict[str, list[str]] = {}
    for run in json.loads(_cli(root, "study", "plan", "--json").stdout)["runs"]:
        statuses.setdefault(run["subject"], []).append(run["status"])
    eligible = sorted(s for s, st in statuses.items() if s != "crowd" and st == ["todo"] * FOLDS)
    picked = np.random.default_rng(SEED).choice(len(eligible), RATERS, replace=False)
    return Built(root, [eligible[i] for i in sorted(picked)], len(eligible), len(statuses) - 1 - len(eligible))


def _proc(pid: int) -> tuple[float, float] | None:
    """(VmHWM in MB, CPU seconds) of a live process, None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    hwm = next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmHWM:")), None)
    fields = stat[stat.rindex(")") + 2 :].split()  # after the command name, which may hold spaces
    if hwm is None:  # a zombie: its memory is gone
        return None
    return hwm, (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def _make(study: Path, way: str, raters: list[str]) -> Made:
    args, _ = WAYS[way]
    env = dict(os.environ)
    if way == "in-process" and INPROCESS_THREADS:
        env["OMP_NUM_THREADS"] = str(INPROCESS_THREADS)  # torch's default thread count, read at its start
    command = [PREFSTUDY, "study", "run", "--study", str(study), *(a for r in raters for a in ("--subjects", r))]
    load = float(Path("/proc/loadavg").read_text().split()[0])
    out_file, err_file = study.with_name(study.name + ".out"), study.with_name(study.name + ".err")
    with open(out_file, "w") as out, open(err_file, "w") as err:  # files, not pipes: nothing blocks the driver
        began, clock = time.time(), time.perf_counter()
        driver = subprocess.Popen([*command, *args, "--json"], env=env, stdout=out, stderr=err)
        peak, cpu = 0.0, []
        while driver.poll() is None:
            seen = _proc(driver.pid)
            if seen is not None:
                peak = seen[0]
                cpu.append((time.time(), seen[1]))
            time.sleep(0.1)
        wall = time.perf_counter() - clock
    assert driver.returncode == 0, f"{way}: exit {driver.returncode}\n{err_file.read_text()[-3000:]}"
    return Made(began, load, wall, peak, cpu, json.loads(out_file.read_text()))


def _read(study: Path, made: Made) -> None:
    """The raters' runs as the study database recorded them, with each run directory's result time."""
    with duckdb.connect(str(study / "prefstudy.duckdb"), read_only=True) as con:
        rows = con.execute(
            "SELECT id, subject, status, duration_s, executor, job_id, attempts, "
            "CAST(json_extract(config, '$.settings.fold') AS INTEGER), epoch(created_at), epoch(finished_at) "
            "FROM runs WHERE subject <> 'crowd'"
        ).fetchall()
        predictions = con.execute(
            "SELECT run_id, list(item_idx ORDER BY item_idx), list(split ORDER BY item_idx), "
            "list(p_preferred ORDER BY item_idx) FROM predictions GROUP BY run_id"
        ).fetchall()
        written = {
            table: dict(con.execute(f"SELECT run_id, count(*) FROM {table} GROUP BY run_id").fetchall())
            for table in ("metrics", "epochs", "predictions")
        }
    by_run = {run_id: (items, splits, ps) for run_id, items, splits, ps in predictions}
    for run_id, subject, status, duration, executor, job_id, attempts, fold, created, finished in rows:
        key = (subject, fold)
        assert key not in made.runs, f"{key} was made twice: {made.runs[key]['id']} and {run_id}"
        result_file, worker_file = (study / "runs" / run_id / name for name in ("result.json", "worker.json"))
        made.runs[key] = {
            "id": run_id,
            "status": status,
            "duration_s": duration,
            "executor": executor,
            "job_id": job_id,
            "attempts": attempts,
            "created": created,
            "landed": finished,
            "result_written": result_file.stat().st_mtime if result_file.is_file() else None,
            "worker": json.loads(worker_file.read_text()) if worker_file.is_file() else None,
            "predictions": by_run.get(run_id),
            "rows": {table: counts.get(run_id, 0) for table, counts in written.items()},
        }


def _cpu_at(made: Made, moment: float) -> float:
    """The driver's CPU seconds at the last poll before ``moment``."""
    before = [c for t, c in made.cpu if t <= moment]
    return before[-1] if before else 0.0


def _timeline(made: Made, slots: int) -> dict[str, float]:
    """When the driver started making runs and landed them, and what a run costs once they flow.

    ``steady_overhead_s``: the per-run overhead of the runs landed after the first landing, over the
    time from the first to the last landing (start-up, the first runs and the tail left out). For
    executors also: how long after a worker wrote a run's ``result.json`` the driver's transaction
    recorded it, and the driver's CPU per landed run.
    """
    runs = list(made.runs.values())
    # DuckDB's current_timestamp is stored as a TIMESTAMP in the session's zone: align it with the clock.
    shift = round((min(r["created"] for r in runs) - made.began) / 1800) * 1800
    landed = sorted(r["landed"] - shift for r in runs)
    first, last = landed[0], landed[-1]
    steady = [r["duration_s"] for r in runs if r["landed"] - shift > first]  # landed after the first landing
    out = {
        "first_run_s": min(r["created"] for r in runs) - shift - made.began,  # queued (executors) or begun
        "first_landed_s": first - made.began,
        "last_landed_s": last - made.began,
        "steady_overhead_s": (last - first) * slots / len(steady) - statistics.fmean(steady) if steady else math.nan,
    }
    # Between one run and the next on the same process: the next one's start - this one's start - its duration.
    by_process: dict[object, list[tuple[float, float]]] = {}
    for r in runs:  # every run's worker.json says when and where it started (inline: the command's process)
        by_process.setdefault(r["worker"]["pid"], []).append((r["worker"]["started"], r["duration_s"]))
    gaps = [b[0] - a[0] - a[1] for one in map(sorted, by_process.values()) for a, b in itertools.pairwise(one)]
    out["gap_median_s"] = statistics.median(gaps) if gaps else math.nan
    if runs[0]["executor"] in (None, "inline"):
        return out
    after_first = sum(t > first for t in landed)
    latency = [r["landed"] - shift - r["result_written"] for r in runs]
    return {
        **out,
        "first_worker_start_s": min(r["worker"]["started"] for r in runs) - made.began,
        "landings": len(set(landed)),
        "latency_median_s": statistics.median(latency),
        "latency_max_s": max(latency),
        "driver_cpu_per_run_s": (_cpu_at(made, last + 0.1) - _cpu_at(made, first)) / after_first,
    }


def test_executor_overhead(crowd_study: Built, tmp_path: Path, benchmark) -> None:
    """The same runs in-process, on a local pool and on Ray: wall, per-run overhead, driver memory, agreement."""
    expected = RATERS * FOLDS
    made: dict[str, Made] = {}
    for way in WAYS:
        study = tmp_path / way.split(",")[0]
        shutil.copytree(crowd_study.root, study)
        if way == "ray, 2 CPUs":  # the one pytest-benchmark records; the others go in its extra_info
            make = lambda s=study, w=way: made.__setitem__(w, _make(s, w, crowd_study.raters))  # noqa: E731
            benchmark.pedantic(make, rounds=1, iterations=1)
        else:
            made[way] = _make(study, way, crowd_study.raters)
        _read(study, made[way])

    # Every run finished, once, by the way it was asked to be made.
    for way, m in made.items():
        assert len(m.output["made"]) == expected and not m.output["failed"], (way, m.output["failed"])
        assert len(m.runs) == expected, (way, len(m.runs))
        assert {r["status"] for r in m.runs.values()} == {"finished"}, way
        executor = None if way == "in-process" else way.split(",")[0]
        assert {r["executor"] for r in m.runs.values()} == {executor}, way
        if executor is not None:
            assert {r["attempts"] for r in m.runs.values()} == {1}, way  # nothing was retried
            assert len({r["job_id"] for r in m.runs.values()}) == expected, way  # one job per run
        assert len({r["id"] for r in m.runs.values()}) == expected
    keys = set(made["in-process"].runs)
    assert all(set(m.runs) == keys for m in made.values()), "the ways made runs of different raters or folds"
    assert {s for s, _ in keys} == set(crowd_study.raters) and {f for _, f in keys} == set(range(FOLDS))

    # The same splits everywhere; how far the predictions are apart.
    reference = made["in-process"].runs
    gap: dict[str, float] = {}
    for way, m in made.items():
        gap[way] = 0.0
        for key, run in m.runs.items():
            items, splits, ps = run["predictions"]
            ref_items, ref_splits, ref_ps = reference[key]["predictions"]
            assert items == ref_items and splits == ref_splits, f"{way}: {key} has another split"
            gap[way] = max(gap[way], max(abs(a - b) for a, b in zip(ps, ref_ps, strict=True)))
    gap["local vs ray"] = max(
        abs(a - b)
        for key, run in made["local, 2 workers"].runs.items()
        for a, b in zip(run["predictions"][2], made["ray, 2 CPUs"].runs[key]["predictions"][2], strict=True)
    )

    rows = {}
    for way, m in made.items():
        durations = [r["duration_s"] for r in m.runs.values()]
        slots = WAYS[way][1]
        mean = statistics.fmean(durations)
        rows[way] = {
            "wall_s": m.wall_s,
            "runs_per_min": expected / m.wall_s * 60,
            "mean_duration_s": mean,
            "median_duration_s": statistics.median(durations),
            "overhead_s": m.wall_s * slots / expected - mean,
            "driver_peak_mb": m.peak_mb,
            "driver_cpu_s": m.cpu[-1][1] if m.cpu else float("nan"),
            "max_abs_dp_vs_in_process": gap[way],
        }
        rows[way].update(_timeline(m, slots))
    base = rows["in-process"]["overhead_s"]
    for row in rows.values():
        row["overhead_ratio"] = row["overhead_s"] / base if base > 0 else float("nan")
    benchmark.extra_info.update(
        {"runs": expected, "raters": crowd_study.raters, "ways": rows, "max_abs_dp_local_vs_ray": gap["local vs ray"]}
    )

    threads = f"{INPROCESS_THREADS} torch thread(s)" if INPROCESS_THREADS else "torch's default threads"
    print(
        f"\n{expected} head-only runs ({RATERS} raters x {FOLDS} item folds; {BACKBONE}, {SIZE}x{SIZE}, {EPOCHS} "
        f"epochs) from the crowd's model, on {os.cpu_count()} CPUs; in-process with {threads}, workers with 1"
    )
    print(
        f"raters drawn with seed {SEED} from the {crowd_study.eligible} whose {FOLDS} runs can be made "
        f"({crowd_study.blocked} raters blocked: too few usable ratings): {' '.join(crowd_study.raters)}"
    )
    header = (
        "way", "wall s", "runs/min", "mean dur s", "median dur s", "overhead s/run", "x in-proc",
        "driver peak MB", "driver CPU s", "max |dp|", "load at start",
    )  # fmt: skip
    print(" | ".join(header))
    for way, r in rows.items():
        print(
            f"{way} | {r['wall_s']:.1f} | {r['runs_per_min']:.1f} | {r['mean_duration_s']:.3f} | "
            f"{r['median_duration_s']:.3f} | {r['overhead_s']:.3f} | {r['overhead_ratio']:.2f} | "
            f"{r['driver_peak_mb']:.0f} | {r['driver_cpu_s']:.1f} | {r['max_abs_dp_vs_in_process']:.2e} | "
            f"{made[way].load:.2f}"
        )
    print(f"max |p_preferred| difference, local vs ray: {gap['local vs ray']:.2e}; every split identical")
    print("timeline (s from the driver's start): first run queued/begun, first worker start, first and last landing")
    for way, r in rows.items():
        worker = f", first worker run {r['first_worker_start_s']:.1f}" if "first_worker_start_s" in r else ""
        print(
            f"  {way}: first run {r['first_run_s']:.1f}{worker}, landed {r['first_landed_s']:.1f} .. "
            f"{r['last_landed_s']:.1f}, exit {r['wall_s']:.1f}; steady overhead {r['steady_overhead_s']:.3f} s/run; "
            f"median gap between runs on one process {r['gap_median_s']:.3f} s"
        )
    print("landing (executors): result.json written -> recorded by the driver, driver CPU per landed run")
    for way, r in rows.items():
        if "landings" in r:
            print(
                f"  {way}: {r['landings']} landing transactions for {expected} runs; latency median "
                f"{r['latency_median_s']:.2f} s, max {r['latency_max_s']:.2f} s; "
                f"{r['driver_cpu_per_run_s'] * 1000:.0f} ms driver CPU per landed run"
            )
    one = next(iter(made["local, 2 workers"].runs.values()))["rows"]
    print(
        f"rows written per run when it lands: 1 runs row, {one['metrics']} metrics, {one['epochs']} epochs, "
        f"{one['predictions']} predictions"
    )
