"""8 subjects answer 200 images each through the real labelling server while it is killed with SIGKILL
10 times and restarted: not one answer lost, doubled or misplaced.

Each subject is a thread doing what the page does (a lost connection or a 5xx is retried with the same
session and trial number); the kills fall at even steps of the 1,600 answers, so each comes under load,
mostly in the middle of a write. Reports what was sent, stored, lost and doubled, the retries, how many
answers were stored before a kill but confirmed only on a retry, throughput and restart times.
"""

from __future__ import annotations

from harness import answer_through_kills, servers  # noqa: F401

from prefstudy.datasets.catalog import add_dataset
from prefstudy.studyfile import DatasetSpec
from prefstudy.workspace import init_workspace

SUBJECTS, ANSWERS, KILLS = 8, 200, 10


def test_answers_survive_ten_kills_under_load(benchmark, servers, tmp_path):  # noqa: F811 (the fixture)
    ws = init_workspace(tmp_path / "study")
    add_dataset(ws, DatasetSpec(name="fm", kind="fashion-mnist-sample"))
    names = [f"subject{i}" for i in range(SUBJECTS)]
    run = benchmark.pedantic(answer_through_kills, args=(servers, ws, names, ANSWERS, KILLS), rounds=1, iterations=1)
    numbers = run.numbers()
    benchmark.extra_info.update(numbers)
    print("\n" + ", ".join(f"{k} {v}" for k, v in numbers.items()))
    assert run.kills == KILLS and run.refused == []
    assert (run.stored, run.lost, run.doubled, run.wrong) == (SUBJECTS * ANSWERS, 0, 0, 0)
