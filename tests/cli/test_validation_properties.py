"""Property-based tests of the validation layer: whatever a user types, no traceback.

Aimed at validation, not at work: numeric options go to a study that does not exist, so a
value that passes validation ends in the one-line "not a prefstudy study" error and nothing runs.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import tomli_w
from click.testing import CliRunner
from conftest import COMMAND
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prefstudy import bounds
from prefstudy.errors import PrefstudyError
from prefstudy.studyfile import TrainSettings, parse_study

BOUNDS = [getattr(bounds, name) for name in dir(bounds) if isinstance(getattr(bounds, name), bounds.Bound)]

# Text a user might type for a number: numbers of every shape, and junk.
NUMBER_TEXT = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", " ", "nan", "-inf", "1e308", "1e-400", "0x10", "1_000", "½", "٣", "--1", "1.", ".5e3"]),
    st.text(max_size=12),
)


@given(bound=st.sampled_from(BOUNDS), text=NUMBER_TEXT)
@settings(max_examples=200, deadline=None)
def test_a_bound_parses_any_text_into_its_range_or_one_error(bound: bounds.Bound, text: str):
    try:
        value = bound.parse("--x", text)
    except PrefstudyError as error:
        assert "\n" not in str(error) and str(error).startswith("--x must be")
        return
    assert isinstance(value, int) if bound.integer else math.isfinite(value)
    assert bound.low is None or value >= bound.low
    assert bound.high is None or value <= bound.high


NUMERIC_OPTIONS = [
    (("data", "add", "x", "--kind", "folder"), ["--limit", "--seed", "--size", "--channels"]),
    (("subject", "simulate", "s", "-d", "fm", "--rule", "classes:Bag"), ["--noise", "--repeat", "--limit", "--seed"]),
    (
        ("run", "--subject", "s", "--dataset", "fm"),
        ["--epochs", "--seed", "--batch-size", "--lr", "--test-fraction", "--validation-fraction", "--train-size"],
    ),
    (("label", "--subject", "s", "-d", "fm"), ["--deadline", "--block", "--repeat", "--seed", "--limit", "--port"]),
    (("explain", "some-run"), ["--n", "--top"]),
    (("study", "plan"), ["--epochs"]),
]
CASES = [(command, option) for command, options in NUMERIC_OPTIONS for option in options]


@pytest.mark.slow
@given(case=st.sampled_from(CASES), text=NUMBER_TEXT)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_no_numeric_option_value_yields_a_traceback(tmp_path: Path, case, text: str):
    command, option = case
    result = CliRunner().invoke(COMMAND, [*command, option, text, "--study", str(tmp_path / "nowhere")])
    assert isinstance(result.exception, SystemExit), (command, option, text, result.exception)
    assert result.exit_code in (1, 2)
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(("error:", "Error:"))


PATH_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", ".", "/", "/dev/null/x", "a\x00b", "~", "x" * 300, "[red]x[/red]", "--", "/proc/1/x"]),
)


@pytest.mark.slow
@given(text=PATH_TEXT)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_no_study_path_yields_a_traceback(text: str):
    result = CliRunner().invoke(COMMAND, ["data", "list", "--study", text])
    assert isinstance(result.exception, SystemExit), (text, result.exception)
    assert result.exit_code in (1, 2) and "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def empty_study(tmp_path_factory) -> Path:
    from prefstudy.workspace import init_workspace

    return init_workspace(tmp_path_factory.mktemp("props") / "study").root


@pytest.mark.slow
@given(text=PATH_TEXT)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_no_output_path_yields_a_traceback(empty_study: Path, tmp_path_factory, text: str):
    out = tmp_path_factory.mktemp("out") / text if text and not text.startswith("/") else text
    result = CliRunner().invoke(COMMAND, ["report", "--format", "json", "--out", str(out), "--study", str(empty_study)])
    assert result.exception is None or isinstance(result.exception, SystemExit), (text, result.exception)
    assert "Traceback" not in result.stderr


# Study files: any document made of the keys prefstudy knows, with values of any TOML type.
VALUES = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True),
    st.text(max_size=8),
    st.booleans(),
    st.lists(st.integers(-3, 3), max_size=3),
    st.sampled_from(["fm", "model1", "model2", "classes:Bag", "feature:contrast@top", "folder", "finetune"]),
)
RUN_KEYS = ["dataset", *TrainSettings.field_names(), "transfer_from", "transfer", "adapt", "source_protocol", "x"]
SUBJECT_KEYS = ["name", "dataset", "rule", "noise", "repeat", "seed", "limit", "x"]
DATASET_KEYS = ["kind", "path", "limit", "seed", "size", "channels", "x"]
DOCUMENTS = st.fixed_dictionaries(
    {},
    optional={
        "study": st.dictionaries(st.sampled_from(["name", "description", "x"]), VALUES, max_size=2),
        "datasets": st.dictionaries(
            st.sampled_from(["fm", "faces"]), st.dictionaries(st.sampled_from(DATASET_KEYS), VALUES), max_size=2
        ),
        "subjects": st.lists(st.dictionaries(st.sampled_from(SUBJECT_KEYS), VALUES), max_size=2),
        "runs": st.lists(st.dictionaries(st.sampled_from(RUN_KEYS), VALUES), max_size=2),
    },
)


@pytest.mark.slow
@given(doc=DOCUMENTS)
@settings(max_examples=300, deadline=None)
def test_any_study_file_parses_or_is_refused_in_one_line(doc: dict):
    try:
        text = tomli_w.dumps(doc)
    except (TypeError, ValueError):  # a value TOML cannot hold (e.g. NaN is fine, but not mixed arrays)
        return
    try:
        spec = parse_study(text)
    except PrefstudyError as error:
        assert "\n" not in str(error)
        return
    for run in spec.runs:  # what parses obeys the rules the options obey
        assert run.settings.epochs >= 1 and 0 <= run.settings.seed <= bounds.INT32_MAX
    for subject in spec.subjects:
        assert 0 <= subject.noise <= 1 and subject.dataset in spec.datasets
