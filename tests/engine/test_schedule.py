"""Learning-rate schedules, a run's length and early stopping, and settings each schedule fills in."""

import itertools

import pytest

from prefstudy.config import DEFAULT_SETTINGS, TrainSettings, train_settings
from prefstudy.engine.schedule import learning_rate, plan_steps, stops_early
from prefstudy.errors import PrefstudyError
from prefstudy.studyfile import load_study


def test_onecycle_warms_up_peaks_and_decays_to_nearly_zero():
    rates = [learning_rate("onecycle", 3e-3, step, 100) for step in range(100)]
    peak = rates.index(max(rates))
    assert peak == 9 and rates[9] == pytest.approx(3e-3)  # 10 % warm-up
    assert rates[0] == pytest.approx(3e-3 * (0.1 + 0.9 / 10))
    assert all(a < b for a, b in itertools.pairwise(rates[:10]))  # rising
    assert all(a >= b for a, b in itertools.pairwise(rates[9:]))  # then falling
    assert rates[-1] == pytest.approx(3e-5)  # 1 % of the peak at the last step


def test_the_paper_schedule_is_constant():
    assert {learning_rate("paper", 1e-3, step, 50) for step in range(50)} == {1e-3}


def test_a_budget_cuts_the_run_to_whole_batches_and_epochs_cap_it():
    fashion = plan_steps(steps_per_epoch=196, epochs=10, batch_size=256, budget=30_000)
    assert (fashion.total_steps, fashion.epochs, fashion.steps_in(1)) == (118, 1, 118)
    small = plan_steps(steps_per_epoch=8, epochs=10, batch_size=256, budget=30_000)
    assert (small.total_steps, small.epochs, small.steps_in(10)) == (80, 10, 8)
    middle = plan_steps(steps_per_epoch=50, epochs=10, batch_size=100, budget=12_000)
    assert (middle.epochs, [middle.steps_in(e) for e in (1, 2, 3)]) == (3, [50, 50, 20])
    assert plan_steps(steps_per_epoch=8, epochs=3, batch_size=256, budget=None).total_steps == 24


def test_early_stopping_waits_for_patience_epochs_without_a_better_validation():
    assert not stops_early(2, epoch=3, best_epoch=2)
    assert stops_early(2, epoch=4, best_epoch=2)
    assert not stops_early(None, epoch=10, best_epoch=1)


def test_each_schedule_fills_its_own_defaults_and_keeps_what_was_given():
    onecycle = train_settings()
    assert (onecycle.schedule, onecycle.batch_size, onecycle.lr, onecycle.budget, onecycle.patience) == (
        "onecycle",
        128,
        2e-3,
        40_000,
        3,
    )
    paper = train_settings(schedule="paper", epochs=4)
    assert (paper.batch_size, paper.lr, paper.budget, paper.patience, paper.epochs) == (128, 1e-3, None, None, 4)
    assert train_settings(lr=5e-4, batch_size=None).lr == 5e-4
    unlimited = train_settings(budget=0, patience=0)
    assert (unlimited.budget, unlimited.patience) == (None, None)


def test_the_paper_schedule_refuses_a_budget_or_patience_and_unknown_schedules_are_one_line():
    with pytest.raises(PrefstudyError, match="paper schedule trains exactly its epochs"):
        train_settings(schedule="paper", patience=3)
    with pytest.raises(PrefstudyError, match="unknown schedule 'cosine'; use one of: onecycle, paper"):
        TrainSettings(schedule="cosine")


def test_runs_recorded_before_schedules_read_as_the_paper_schedule():
    assert (DEFAULT_SETTINGS["schedule"], DEFAULT_SETTINGS["budget"], DEFAULT_SETTINGS["patience"]) == (
        "paper",
        None,
        None,
    )
    assert TrainSettings(**DEFAULT_SETTINGS).schedule == "paper"


def test_a_study_file_sets_the_schedule_per_run_and_the_schedule_fills_the_rest(tmp_path):
    study = tmp_path / "study.toml"
    study.write_text(
        '[study]\nname = "s"\n[datasets.fm]\nkind = "fashion-mnist-sample"\n'
        '[[runs]]\ndataset = "fm"\nschedule = "paper"\n'
        '[[runs]]\ndataset = "fm"\nbudget = 0\npatience = 5\n',
        encoding="utf-8",
    )
    paper, onecycle = (run.settings for run in load_study(study).runs)
    assert (paper.schedule, paper.lr, paper.budget, paper.patience) == ("paper", 1e-3, None, None)
    assert (onecycle.schedule, onecycle.lr, onecycle.budget, onecycle.patience) == ("onecycle", 2e-3, None, 5)
    text = study.read_text(encoding="utf-8")
    study.write_text(text.replace('schedule = "paper"', 'schedule = "paper"\npatience = 2'), encoding="utf-8")
    with pytest.raises(PrefstudyError, match=r"runs.*paper schedule trains exactly its epochs"):
        load_study(study)
