"""Importing the London faces' 256,326 ratings (the long CSV) into a fresh study, against DuckDB reading the file.

The baseline, in the same run, is a plain DuckDB ``read_csv`` of the same file into a table of an
in-memory database: the ratio is what parsing, checking, item matching, the rule and the writes to
the study cost on top of reading the file once.

.venv/bin/python -m pytest benchmarks/test_ratings_import.py --benchmark-only -s
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import duckdb
import pytest

from prefstudy.datasets.catalog import add_dataset
from prefstudy.studyfile import DatasetSpec
from prefstudy.subjects.rating_files import RatingTable, import_ratings
from prefstudy.workspace import Workspace, init_workspace

SHARED_DATA = Path(os.environ.get("PREFSTUDY_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
LONDON = SHARED_DATA / "london-faces"
ROUNDS = 3


@pytest.fixture(scope="module")
def london_study(tmp_path_factory) -> Path:
    """A study with the 102 London faces (cached small: only the items matter here) and no subject yet."""
    if not (LONDON / "ratings.csv").is_file():
        pytest.skip(f"the London faces ratings are not in {LONDON} (the shared data folder)")
    ws = init_workspace(tmp_path_factory.mktemp("london") / "study")
    add_dataset(ws, DatasetSpec(name="london", kind="folder", path=str(LONDON / "images"), size=8))
    return ws.root


def _baseline_seconds(path: Path) -> float:
    """The fastest of a few plain DuckDB reads of the file into an in-memory table."""
    times = []
    for _ in range(ROUNDS):
        began = time.perf_counter()
        with duckdb.connect() as con:
            con.execute(f"CREATE TABLE ratings AS SELECT * FROM read_csv('{path}')")
            assert con.execute("SELECT count(*) FROM ratings").fetchone()[0] == 256_326
        times.append(time.perf_counter() - began)
    return min(times)


def test_importing_the_london_long_ratings(benchmark, london_study, tmp_path):
    path = LONDON / "ratings.csv"
    table = RatingTable(rater="rater", item="face", rating="rating", prefix="lon-", subject_table=LONDON / "raters.csv")
    baseline = _baseline_seconds(path)
    copies = iter(range(ROUNDS))

    def fresh_study():
        target = tmp_path / f"study{next(copies)}"
        shutil.copytree(london_study, target)
        return (Workspace(target), path, "london", table), {}

    result = benchmark.pedantic(import_ratings, setup=fresh_study, rounds=ROUNDS, iterations=1)
    assert (result.raters, result.added, result.new_raters) == (2513, 256_326, 2513)
    seconds = benchmark.stats.stats.min
    per_second = result.added / seconds
    benchmark.extra_info.update(ratings_per_s=per_second, baseline_s=baseline, ratio=seconds / baseline)
    print(
        f"\nimport-ratings: {seconds:.2f} s for {result.added:,} ratings of {result.raters:,} raters "
        f"({per_second:,.0f} ratings/s); DuckDB read_csv alone: {baseline:.3f} s; x{seconds / baseline:.1f} the read"
    )
