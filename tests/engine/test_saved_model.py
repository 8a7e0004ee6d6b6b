"""A finished run's model, read back from its directory: the same network, the same predictions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from prefstudy.datasets.catalog import load_images
from prefstudy.engine.inputs import InputAdapter
from prefstudy.engine.precision import Precision
from prefstudy.engine.predict import predict_proba
from prefstudy.errors import PrefstudyError
from prefstudy.runs.record import RUNNING, get_run, mark_run, predictions
from prefstudy.runs.trained import read_saved_model

pytestmark = pytest.mark.usefixtures("shared_instance")  # each test's study stays open: see tests/conftest.py


def _run_of(ws, subject: str) -> str:
    with ws.connect() as con:
        return con.execute("SELECT id FROM runs WHERE subject = ?", [subject]).fetchone()[0]


def test_a_saved_model_predicts_what_its_run_recorded(trained_study):
    run_id = _run_of(trained_study, "alice")
    saved = read_saved_model(trained_study, run_id)
    assert (saved.subject, saved.dataset, saved.backbone) == ("alice", "fm", "paper-vgg:small")
    assert saved.input_size == saved.images == (1, 28, 28)
    backbone, plan = saved.build()
    assert not backbone.module.training
    recorded = predictions(trained_study, run_id)
    images = load_images(trained_study, "fm").images
    x = torch.from_numpy(images[[p.item_idx for p in recorded]]).permute(0, 3, 1, 2).contiguous()
    precision = Precision(get_run(trained_study, run_id).precision, "cpu")  # the path the run predicted on
    p = predict_proba(backbone.module, InputAdapter(plan, backbone), x, torch.arange(len(x)), precision=precision)
    np.testing.assert_allclose(p.numpy(), [r.p_preferred for r in recorded], atol=1e-5)


def test_a_run_without_a_finished_model_is_one_clear_error(trained_copy):
    run_id = _run_of(trained_copy, "bob")
    mark_run(trained_copy, run_id, RUNNING)
    with pytest.raises(PrefstudyError, match=f"run {run_id} is running, not finished"):
        read_saved_model(trained_copy, run_id)
    with pytest.raises(PrefstudyError, match="no run 'nope'"):
        read_saved_model(trained_copy, "nope")
