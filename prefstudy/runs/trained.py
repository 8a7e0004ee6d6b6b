"""A finished run's trained model, found in the study (the engine reads the file; it never opens a study)."""

from __future__ import annotations

from prefstudy.engine.saved_model import SavedModel, load_saved_model
from prefstudy.errors import PrefstudyError
from prefstudy.runs.record import FINISHED, get_run, run_dir
from prefstudy.workspace import Workspace


def read_saved_model(ws: Workspace, run_id: str) -> SavedModel:
    """The model of a finished run; a clear error for a run that has none."""
    row = get_run(ws, run_id)
    model_file = run_dir(ws, run_id).model
    if row.status != FINISHED or not model_file.is_file():
        raise PrefstudyError(f"run {run_id} is {row.status}, not finished; it has no trained model yet")
    return load_saved_model(model_file, row.id, row.subject, row.dataset, row.backbone)
