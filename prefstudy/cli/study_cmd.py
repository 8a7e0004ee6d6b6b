"""`prefstudy study init|plan|run|check`."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from prefstudy.bounds import COUNT, SECONDS, SEED
from prefstudy.cli.options import (
    AddressOption,
    ClusterOption,
    CpusPerRunOption,
    DeviceOption,
    ExecutorOption,
    GpusPerRunOption,
    JsonOption,
    MaxParallelOption,
    PartitionOption,
    PrecisionOption,
    RetriesOption,
    RunsPerJobOption,
    StorageOption,
    StudyOption,
    TimeLimitOption,
    WorkersOption,
    bounded,
    workspace,
)
from prefstudy.cli.output import note, print_json, warn
from prefstudy.config import SPLIT_BY_ITEM
from prefstudy.errors import PrefstudyError

app = typer.Typer(rich_markup_mode=None, help="Create a study and make its planned runs.", no_args_is_help=True)


def _report_sync(outcome) -> None:
    for name in outcome.added_datasets:
        note(f"added dataset {name}")
    for name in outcome.simulated:
        note(f"simulated subject {name}")
    for what in outcome.imported:
        note(f"imported {what}")
    for name in outcome.derived:
        note(f"made consensus subject {name}")
    for problem in outcome.problems:
        warn(problem)


@app.command("init")
def init(
    directory: Annotated[Path, typer.Argument(help="The study directory to create.")],
    from_file: Annotated[
        Path | None,
        typer.Option("--from", help="A study file to set the study up from; 'paper' and 'demo' name the shipped ones."),
    ] = None,
) -> None:
    """Create a study workspace: study.toml, prefstudy.duckdb, runs/ and cache/.

    With --from, the study file's datasets are added (those whose files are found) and its
    simulated subjects created.
    """
    from prefstudy.studyfile import resolve_study_file
    from prefstudy.workspace import init_workspace

    ws = init_workspace(directory, resolve_study_file(from_file) if from_file is not None else None)
    note(f"created study {ws.root}")
    if from_file is not None:
        from prefstudy.progress import RichReporter
        from prefstudy.study.sync import sync

        with RichReporter() as reporter:
            _report_sync(sync(ws, reporter))


EpochsOverride = Annotated[
    int | None, bounded(COUNT, "--epochs", help="Override every declared run's epochs (e.g. 1 for a quick pass).")
]
SubjectsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--subjects",
        help="Only subjects whose names match this pattern (e.g. 'lon-r00*'; repeat for more). "
        "Consensus subjects are always kept.",
    ),
]
LimitSubjectsOption = Annotated[
    int | None,
    bounded(COUNT, "--limit-subjects", help="Only a seeded random N of the (matching) subjects; see --seed."),
]
SubjectSeedOption = Annotated[int, bounded(SEED, "--seed", help="The seed that draws --limit-subjects.")]


def _subject_filter(subjects: list[str] | None, limit: int | None, seed: int):
    from prefstudy.study.plan import SubjectFilter

    return SubjectFilter(tuple(subjects or ()), limit, seed)


PLAN_ROWS_UP_TO = 50
"""`study plan` prints every planned run up to this many; beyond, a summary and the first rows (--all: every one)."""
PLAN_FIRST_ROWS = 20
PLAN_REASONS_SHOWN = 10


@app.command("plan")
def show_plan(
    study: StudyOption = None,
    epochs: EpochsOverride = None,
    subjects: SubjectsOption = None,
    limit_subjects: LimitSubjectsOption = None,
    seed: SubjectSeedOption = 0,
    every_row: Annotated[
        bool,
        typer.Option(
            "--all", help=f"Print every planned run (beyond {PLAN_ROWS_UP_TO}, a summary and the first ones are shown)."
        ),
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Show every planned run per subject: done, to do, or blocked (and why).

    Beyond 50 planned runs: counts by status, by [[runs]] entry and by reason, then the first runs;
    --all prints every one, and --json always holds every one.
    """
    from prefstudy.study.plan import plan

    items = plan(workspace(study), epochs, _subject_filter(subjects, limit_subjects, seed))
    if json_out:
        print_json(
            {
                "runs": [
                    {
                        "subject": p.subject,
                        "dataset": p.dataset,
                        **p.settings.to_dict(),
                        "transfer": asdict(p.run.transfer) if p.run.transfer else None,
                        "status": p.status,
                        "run_id": p.run_id,
                        "source_run": p.source_run,
                        "reason": p.reason,
                        "resumes": p.resumes,
                    }
                    for p in items
                ]
            }
        )
        return
    if not items:
        note("nothing planned: declare [[runs]] in study.toml and give subjects labels on their datasets")
    summarised = len(items) > PLAN_ROWS_UP_TO and not every_row
    if summarised:
        _plan_summary(items)
    for p in items[:PLAN_FIRST_ROWS] if summarised else items:
        typer.echo(f"{p.subject} on {p.dataset} ({_plan_details(p)}): {_plan_status(p)}")
    if summarised:
        typer.echo(f"... and {len(items) - PLAN_FIRST_ROWS:,} more: `--all` prints every planned run, `--json` as JSON")


def _plan_details(p, fold: bool = True) -> str:
    """What makes a planned run: model, protocol, epochs or head, and where it starts from."""
    s = p.settings
    # A head has no epochs: it is fitted in one go, on the training items' features.
    details = [s.backbone, s.protocol, f"{s.head} head on {s.target}" if s.head else f"{s.epochs} epochs"]
    if s.train_size is not None:
        details.append(f"{s.train_size} train labels")
    if s.split_by == SPLIT_BY_ITEM:
        if not s.folds:
            details.append("item split")
        else:
            details.append(f"item fold {s.fold + 1}/{s.folds}" if fold else f"{s.folds} item folds")
    if p.run.transfer is not None:
        whose = f"{p.run.transfer.source_subject}@" if p.run.transfer.source_subject else ""
        mode = "deviation" if s.head else p.run.transfer.mode
        details.append(f"{mode} from {whose}{p.run.transfer.source_dataset}")
    return ", ".join(details)


def _plan_status(p) -> str:
    from prefstudy.study.plan import ACTIVE, BLOCKED, DONE, TODO, WAITING

    todo = f"to do: resumes interrupted run {p.resumes}" if p.resumes else "to do"
    return {
        DONE: f"done: {p.run_id}",
        TODO: todo,
        WAITING: p.reason,
        BLOCKED: f"blocked: {p.reason}",
        ACTIVE: f"in progress: {p.run_id}, {p.reason}",
    }[p.status]


def _counts(counter) -> str:
    return ", ".join(f"{n:,} {status}" for status, n in counter.most_common())


def _plan_summary(items: list) -> None:
    """Counts by status, by [[runs]] entry (its folds together) and by reason, for a plan too long to read."""
    import re
    from collections import Counter, defaultdict

    from prefstudy.study.plan import TODO

    statuses = Counter("to do" if p.status == TODO else p.status for p in items)
    subjects = len({p.subject for p in items})
    typer.echo(f"{len(items):,} planned runs for {subjects:,} subjects: {_counts(statuses)}")
    by_entry: dict[str, Counter] = defaultdict(Counter)
    reasons: Counter = Counter()
    for p in items:
        by_entry[f"{p.dataset} ({_plan_details(p, fold=False)})"]["to do" if p.status == TODO else p.status] += 1
        if p.reason and p.status != "active":
            # The same reason for many subjects: their names and counts aside.
            reasons[re.sub(r"\b\d+\b", "N", p.reason.replace(repr(p.subject), "SUBJECT"))] += 1
    typer.echo("by [[runs]] entry:")
    for entry, counted in by_entry.items():
        typer.echo(f"  {entry}: {sum(counted.values()):,} ({_counts(counted)})")
    if reasons:
        typer.echo("why runs wait or are blocked:")
        for reason, n in reasons.most_common(PLAN_REASONS_SHOWN):
            typer.echo(f"  {n:,} x {reason}")
        if len(reasons) > PLAN_REASONS_SHOWN:
            typer.echo(f"  ... and {len(reasons) - PLAN_REASONS_SHOWN} other reasons")
    typer.echo(f"the first {PLAN_FIRST_ROWS}:")


@app.command("run")
def run(
    study: StudyOption = None,
    device: DeviceOption = "auto",
    precision: PrecisionOption = "auto",
    epochs: EpochsOverride = None,
    subjects: SubjectsOption = None,
    limit_subjects: LimitSubjectsOption = None,
    seed: SubjectSeedOption = 0,
    executor: ExecutorOption = "inline",
    workers: WorkersOption = None,
    cpus_per_run: CpusPerRunOption = None,
    gpus_per_run: GpusPerRunOption = None,
    address: AddressOption = None,
    partition: PartitionOption = None,
    max_parallel: MaxParallelOption = None,
    time_limit: TimeLimitOption = None,
    runs_per_job: RunsPerJobOption = None,
    cluster: ClusterOption = None,
    storage: StorageOption = None,
    retries: RetriesOption = None,
    json_out: JsonOption = False,
) -> None:
    """Make every planned run for every subject with labels, skipping those already finished.

    Declared datasets and simulated subjects that are missing are set up first, so this can be
    re-run as data and labels come in. The runs are made by the same runner as `prefstudy run`, on
    --executor: inline (one after another in this process), or by workers (see docs/scale.md);
    this process records them, and `prefstudy study status` shows them from another terminal.
    """
    from prefstudy.executors.registry import ExecutorOptions, check_options
    from prefstudy.progress import RichReporter
    from prefstudy.study.plan import ACTIVE, DONE, TODO, WAITING, plan
    from prefstudy.study.sync import sync

    backend = ExecutorOptions(
        workers, cpus_per_run, gpus_per_run, address, partition, max_parallel, time_limit, runs_per_job, cluster,
        storage,
    )  # fmt: skip
    check_options(executor, backend)  # before anything is read or made
    ws = workspace(study)
    with RichReporter() as reporter:
        _report_sync(sync(ws, reporter))
        chosen = _subject_filter(subjects, limit_subjects, seed)
        pending = plan(ws, epochs, chosen)
        _warn_blocked(pending)
        active = [p for p in pending if p.status == ACTIVE]
        results, failed, driver = [], [], {}
        if any(p.status in (TODO, WAITING) for p in pending) or (active and executor != "inline"):
            from prefstudy.executors.driver import DriverOptions
            from prefstudy.executors.runner import run_orders
            from prefstudy.study.plan import study_planner

            for p in active[:5] if executor == "inline" else []:
                note(f"{p.subject} on {p.dataset}: {p.reason}; not made again")
            driving = DriverOptions(device, precision, retries=retries, storage=storage)
            outcome = run_orders(ws, study_planner(ws, epochs, chosen), executor, backend, driving, reporter)
            results, failed = outcome.finished, outcome.failed
            driver = {"queue_s": round(outcome.queue_s, 3), "land_s": round(outcome.land_s, 3)}
    done = sum(p.status == DONE for p in pending)
    if json_out:
        print_json({"made": results, "failed": failed, "already_done": done, "driver": driver})
        return
    note(f"{len(results)} run(s) made, {len(failed)} failed, {done} already finished")
    if not results and not done and not failed and not active:
        raise PrefstudyError("no run could be made: add a [[runs]] table to study.toml and labels for their datasets")


def _warn_blocked(pending) -> None:
    from prefstudy.study.plan import BLOCKED

    blocked = [p for p in pending if p.status == BLOCKED]
    for p in blocked[:5]:
        warn(f"{p.subject} on {p.dataset} ({p.settings.protocol}) skipped: {p.reason}")
    if len(blocked) > 5:
        warn(f"... and {len(blocked) - 5} more planned runs skipped (see `prefstudy study plan`)")


@app.command("status")
def status(
    study: StudyOption = None,
    watch: Annotated[
        bool, typer.Option("--watch", help="Refresh every --every seconds until no run is queued or running.")
    ] = False,
    every: Annotated[float, bounded(SECONDS, "--every", help="Seconds between refreshes under --watch.")] = 2.0,
    limit: Annotated[int, bounded(COUNT, "--limit", help="Unfinished runs listed at most (JSON lists all).")] = 50,
    json_out: JsonOption = False,
) -> None:
    """Show where the study's runs stand: queued, running, finished, failed and interrupted, and each
    unfinished run with its executor's job id. Reads the study a `study run` is recording, from any terminal.
    """
    from prefstudy.study.overview import study_status

    ws = workspace(study)
    if json_out:
        print_json(study_status(ws).to_dict())
        return
    if not watch:
        typer.echo(_status_text(study_status(ws), limit))
        return
    import time

    from rich.live import Live
    from rich.text import Text

    with Live(Text(""), auto_refresh=False) as live:
        while True:
            current = study_status(ws)
            live.update(Text(_status_text(current, limit)), refresh=True)
            if not current.active:
                return
            time.sleep(max(every, 0.2))


def _status_text(current, limit: int) -> str:
    from prefstudy.study.overview import describe_run

    counts = ", ".join(f"{n} {name}" for name, n in current.counts.items())
    lines = [f"{sum(current.counts.values())} runs: {counts}"]
    lines += [describe_run(r) for r in current.open_runs[:limit]]
    if len(current.open_runs) > limit:
        lines.append(f"... and {len(current.open_runs) - limit} more (--limit, or --json for all)")
    return "\n".join(lines)


@app.command("check")
def check(
    study: StudyOption = None,
    repair: Annotated[
        bool,
        typer.Option(
            "--repair",
            help="Rebuild what can be rebuilt: a damaged database becomes a new one holding every table that still "
            "reads (the damaged file is kept as prefstudy.duckdb.damaged-<time>), and finished runs are recorded "
            "again from their run directories. Stop other prefstudy commands on the study first.",
        ),
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Check the study: its database read through, every finished run with its metrics, predictions and
    run directory, every run directory with its row, every dataset cache against its record.

    Exits 1 when anything is wrong; each problem says whether --repair mends it.
    """
    from prefstudy.progress import RichReporter
    from prefstudy.study.check import check_study, repair_study

    ws = workspace(study)
    with RichReporter() as reporter:
        result = repair_study(ws, reporter) if repair else check_study(ws, reporter)
    if json_out:
        print_json(result.to_dict())
        if not result.healthy:
            raise typer.Exit(1)
        return
    for done in result.repairs:
        note(f"repaired: {done}")
    for problem in result.problems:
        mend = "--repair mends this" if problem.repairable else "--repair cannot mend this"
        typer.echo(f"{problem.kind}: {problem.message} ({mend})")
    readable = sum(rows is not None for rows in result.tables.values())
    if result.healthy:
        note(f"study {ws.root} is healthy: {readable} tables read through, runs and caches match their records")
        return
    hint = "run `prefstudy study check --repair`" if any(p.repairable for p in result.problems) else "see above"
    raise PrefstudyError(f"study {ws.root} has {len(result.problems)} problem(s); {hint}")
