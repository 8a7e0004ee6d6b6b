"""Several subjects answer at once through the real server while it is killed with SIGKILL and restarted:
not one answer lost or doubled. (The full-size run is benchmarks/test_labeler_kill.py.)"""

from __future__ import annotations

import pytest
from harness import answer_through_kills, servers  # noqa: F401


@pytest.mark.slow  # real server processes, killed and restarted
def test_answers_survive_kills_under_load_once_each(sample_ws, servers):  # noqa: F811 (the fixture)
    run = answer_through_kills(servers, sample_ws, ["ann", "ben", "cid"], answers=12, kills=2)
    print("\n", run.numbers())
    assert run.kills == 2 and run.refused == []
    assert (run.stored, run.lost, run.doubled, run.wrong) == (3 * 12, 0, 0, 0)
    assert run.acknowledged == 3 * 12
