"""Which declared runs are due: for every ``[[runs]]`` entry and every subject with labels on its dataset.

A run is done when a finished run with the same settings *and the same labels* exists, so the
plan changes as labels come in. A transfer run starts from the subject's finished run on its
source dataset: it waits until there is one, and is due again when a newer one is made. A due
run that an interrupted run already began (same settings, same labels) resumes that run.
"""

from __future__ import annotations

from dataclasses import dataclass

from prefstudy.config import TrainSettings
from prefstudy.errors import PrefstudyError
from prefstudy.runs.prepare import prepare
from prefstudy.runs.record import INTERRUPTED, RunRow, finished_runs, list_runs
from prefstudy.studyfile import RunSpec
from prefstudy.subjects.labels import labelled_pairs, usable_labels
from prefstudy.workspace import Workspace

DONE, TODO, WAITING, BLOCKED = "done", "todo", "waiting", "blocked"


@dataclass(frozen=True)
class PlannedRun:
    subject: str
    run: RunSpec
    status: str  # done, todo, waiting or blocked
    run_id: str | None = None  # the finished run, when done
    source_run: str | None = None  # the run a transfer starts from
    reason: str | None = None  # why it waits or is blocked
    resumes: str | None = None  # the interrupted run that making this one continues

    @property
    def dataset(self) -> str:
        return self.run.dataset

    @property
    def settings(self) -> TrainSettings:
        return self.run.settings


def _source_run(finished: list[RunRow], subject: str, run: RunSpec) -> str | None:
    """The subject's latest finished from-scratch run on the transfer's source dataset, same backbone."""
    assert run.transfer is not None
    found = [
        f.id
        for f in finished
        if (f.subject, f.dataset, f.parent_run) == (subject, run.transfer.source_dataset, None)
        and f.settings["backbone"] == run.settings.backbone
        and f.settings["protocol"] == run.source_protocol
        and f.settings.get("train_size") is None
    ]
    return found[-1] if found else None


def _made_for(f: RunRow, subject: str, run: RunSpec, digest: str, source: str | None) -> bool:
    """Whether run ``f`` was made for declared ``run`` of ``subject``, with these labels and source."""
    if (f.subject, f.dataset, f.labels_digest) != (subject, run.dataset, digest):
        return False
    if f.settings != run.settings.to_dict():
        return False
    if run.transfer is None:
        return f.parent_run is None
    return (
        f.parent_run == source
        and f.transfer is not None
        and (f.transfer["mode"], f.transfer["adapt"]) == (run.transfer.mode, run.transfer.adapt)
    )


def plan(ws: Workspace, epochs: int | None = None) -> list[PlannedRun]:
    """Every declared run for every subject with labels on its dataset, and whether it is done.

    ``epochs`` overrides every declared run's epochs (e.g. 1 for a quick pass).
    """
    spec = ws.spec()
    with ws.connect():  # one connection for every read of the plan
        return _plan(ws, spec.runs, epochs)


def _plan(ws: Workspace, declared_runs: tuple[RunSpec, ...], epochs: int | None) -> list[PlannedRun]:
    finished = finished_runs(ws)
    interrupted = list_runs(ws, [INTERRUPTED])  # marks runs whose process has gone first
    labelled = labelled_pairs(ws)
    planned = []
    for declared in declared_runs:
        run = RunSpec(declared.dataset, declared.settings.replace(epochs=epochs), declared.transfer)
        for subject in sorted({s for s, d in labelled if d == run.dataset}):
            source = _source_run(finished, subject, run) if run.transfer else None
            digest = usable_labels(ws, subject, run.dataset).digest
            done = [f.id for f in finished if _made_for(f, subject, run, digest, source)]
            if done:
                planned.append(PlannedRun(subject, run, DONE, run_id=done[-1], source_run=source))
            elif run.transfer is not None and source is None:
                why = (
                    f"waits for a finished {run.source_protocol} run on {run.transfer.source_dataset!r} "
                    f"with {run.settings.backbone}"
                )
                planned.append(PlannedRun(subject, run, WAITING, reason=why))
            else:
                begun = [f.id for f in interrupted if _made_for(f, subject, run, digest, source)]
                try:
                    prepare(ws, subject, run.dataset, run.settings)
                    resumes = begun[-1] if begun else None
                    planned.append(PlannedRun(subject, run, TODO, source_run=source, resumes=resumes))
                except PrefstudyError as error:
                    planned.append(PlannedRun(subject, run, BLOCKED, reason=str(error)))
    return planned
