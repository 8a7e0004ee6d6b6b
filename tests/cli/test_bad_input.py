"""Bad input from the command line: one clear line, the right exit status, and nothing written.

Each test checks the message a user reads, the exit status, and that the study is unchanged
(no label, subject, dataset or file appeared).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Cli, copy_study, one_duckdb
from PIL import Image

from prefstudy.store import connect
from prefstudy.workspace import Workspace, init_workspace

pytestmark = pytest.mark.usefixtures("shared_instance")  # each test's study stays open: see tests/conftest.py


def _one_line_error(result, exit_code: int = 1) -> str:
    """The error line of a failed command, checked to be one line with no traceback."""
    assert result.exit_code == exit_code, (result.stdout, result.stderr, result.exception)
    assert "Traceback" not in result.stderr
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    lines = [line for line in result.stderr.splitlines() if line.startswith(("error:", "Error:"))]
    assert len(lines) == 1, result.stderr
    return lines[0]


TABLES = ("labels", "subjects", "datasets", "label_links", "runs")


def _rows(ws: Workspace) -> dict[str, int]:
    with connect(ws.db_path) as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


class Refusing:
    """One study with the sample dataset, shared by every test here that must leave it unchanged."""

    def __init__(self, ws: Workspace):
        self.ws, self.cli, self.rows = ws, Cli(ws.root), _rows(ws)

    def unchanged(self) -> bool:
        return _rows(self.ws) == self.rows


@pytest.fixture(scope="module")
def refusing(_sample_study: Path, tmp_path_factory) -> Iterator[Refusing]:
    ws = copy_study(_sample_study, tmp_path_factory.mktemp("refusing") / "study")
    with one_duckdb(ws):
        yield Refusing(ws)


# -- 1. error text is printed as it is, never as markup --------------------------------------------------------------


def test_a_path_with_brackets_is_printed_as_given(refusing):
    result = refusing.cli("data", "add", "x", "--kind", "folder", "--path", "photos/no[/x]such", ok=False)
    line = _one_line_error(result)
    assert line == "error: photos/no[/x]such does not exist; give a folder of images"
    assert refusing.unchanged()


def test_the_hint_for_a_study_with_no_runs_names_the_runs_table(cli: Cli):
    line = _one_line_error(cli("study", "run", ok=False))
    assert "[[runs]]" in line


# -- 2. option values: validated at the boundary, with the same rules in study.toml ---------------------------------

NEGATIVE_SEED = [
    ("data", "add", "x", "--kind", "folder", "--path", ".", "--limit", "3"),
    ("subject", "simulate", "s", "--dataset", "fm", "--rule", "classes:Bag"),
    ("run", "--subject", "s", "--dataset", "fm"),
    ("label", "--subject", "s", "--dataset", "fm", "--no-browser"),
]


@pytest.mark.parametrize("command", NEGATIVE_SEED, ids=lambda c: " ".join(c[:2]))
def test_a_negative_seed_is_refused_before_anything_runs(refusing, command):
    line = _one_line_error(refusing.cli(*command, "--seed", "-1", ok=False), exit_code=2)
    assert line == "Error: Invalid value for '--seed': must be an integer from 0 to 2^31-1, got -1"
    assert refusing.unchanged()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("label", "--limit", "-5"), "'--limit': must be an integer from 1 to 2^31-1, got -5"),
        (("label", "--limit", "0"), "'--limit': must be an integer from 1 to 2^31-1, got 0"),
        (("label", "--port", "99999"), "'--port': must be an integer from 0 to 65535, got 99999"),
        (("label", "--deadline", "nan"), "'--deadline': must be a number from 0 to 86400, got nan"),
        (("explain", "some-run", "--n", "-1"), "'--n': must be an integer from 0 to 2^31-1, got -1"),
        (("explain", "some-run", "--top", "1"), "'--top': must be a number > 0 and < 1, got 1.0"),
        (("run", "--epochs", "1e3"), "'--epochs': must be an integer from 1 to 2^31-1, got '1e3'"),
        (("run", "--lr", "inf"), "'--lr': must be a number > 0, got inf"),
        (("run", "--test-fraction", "1"), "'--test-fraction': must be a number > 0 and < 1, got 1.0"),
        (("subject", "simulate", "s", "-d", "fm", "--rule", "classes:Bag", "--noise", "2"), "'--noise'"),
        (("data", "add", "x", "--kind", "folder", "--channels", "4"), "'--channels'"),
        (("study", "plan", "--epochs", "0"), "'--epochs': must be an integer from 1 to 2^31-1, got 0"),
    ],
)
def test_numbers_out_of_range_are_usage_errors(refusing, args, says):
    cli = refusing.cli
    line = _one_line_error(cli(*args, "--subject", "s", ok=False) if args[0] == "label" else cli(*args, ok=False), 2)
    assert says in line
    assert refusing.unchanged()


def test_a_bad_lock_timeout_in_the_environment_is_one_line(cli: Cli, monkeypatch):
    monkeypatch.setenv("PREFSTUDY_LOCK_TIMEOUT", "abc")
    line = _one_line_error(cli("data", "list", ok=False))
    assert line == "error: $PREFSTUDY_LOCK_TIMEOUT must be a number from 0 to 86400, got 'abc'"


@pytest.mark.parametrize(
    ("rule", "says"),
    [
        ("feature:contrast@", "name a region after @"),
        ("feature:contrast@ ", "name a region after @"),
        ("classes:,", "name at least one class"),
        ("feature:contrast@nan,0,1,1", "must satisfy 0 <= x0 < x1 <= 1"),
    ],
)
def test_a_rule_with_an_empty_part_is_refused(refusing, rule: str, says: str):
    line = _one_line_error(refusing.cli("subject", "simulate", "s", "--dataset", "fm", "--rule", rule, ok=False))
    assert says in line
    assert refusing.unchanged()


@pytest.mark.parametrize("rt", ["inf", "1e308", "nan", "3600001"])
def test_an_impossible_response_time_in_a_label_file_is_refused(refusing, tmp_path, rt):
    path = tmp_path / "labels.csv"
    path.write_text(f"key,preferred,rt_ms\ntest-00000,1,{rt}\n")
    line = _one_line_error(refusing.cli("label", "import", str(path), "--subject", "p", "--dataset", "fm", ok=False))
    assert "line 2: rt_ms must be a number from 0 to 3600000" in line
    assert refusing.unchanged()


def test_study_file_values_obey_the_same_rules_as_options(tmp_path: Path):
    from prefstudy.errors import PrefstudyError
    from prefstudy.studyfile import parse_study

    base = '[datasets.fm]\nkind = "fashion-mnist-sample"\n'
    cases = {
        base + "[[runs]]\ndataset = 'fm'\nseed = -1\n": "seed must be an integer from 0 to 2^31-1, got -1",
        base + "[[runs]]\ndataset = 'fm'\nepochs = 0\n": "epochs must be an integer from 1 to 2^31-1, got 0",
        base + "[[runs]]\ndataset = 'fm'\nlr = nan\n": "lr must be a number > 0, got nan",
        base + "[[runs]]\ndataset = 'fm'\ntrain_size = []\n": "train_size = [] makes no run",
        '[datasets.fm]\nkind = "folder"\nlimit = 0\n': "limit must be an integer from 1 to 2^31-1, got 0",
        base + "[[subjects]]\nname='s'\ndataset='fm'\nrule='classes:Bag'\nnoise=2\n": "noise must be a number from 0",
        base + "[[subjects]]\nname='s'\ndataset=['fm']\nrule='classes:Bag'\n": "is not declared under [datasets]",
        "datasets = 3\n": "[datasets]: must be a table",
        "[subjects]\nname = 's'\n": "must be an array of tables ([[subjects]])",
    }
    for text, says in cases.items():
        with pytest.raises(PrefstudyError, match=None) as caught:
            parse_study(text)
        assert says in str(caught.value), text


# -- 3. output paths -------------------------------------------------------------------------------------------------


def test_writing_under_a_file_is_one_line_and_writes_nothing(cli: Cli, sample_ws: Workspace, tmp_path: Path):
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    cli("subject", "simulate", "s", "--dataset", "fm", "--rule", "classes:Bag", "--limit", "50")
    for args in (
        ("report", "--format", "markdown", "--out", str(blocker / "report.md")),
        ("label", "export", "--subject", "s", "--out", str(blocker / "labels.csv")),
    ):
        line = _one_line_error(cli(*args, ok=False))
        assert line == f"error: cannot write into {blocker}: it is a file, not a directory"
    line = _one_line_error(cli("report", "--format", "markdown", "--out", str(tmp_path), ok=False))
    assert line == f"error: cannot write {tmp_path}: it is a directory; give a file name"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


@pytest.mark.slow  # loads a trained model
def test_explain_checks_its_output_folder_before_computing(trained_copy: Workspace, tmp_path: Path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with connect(trained_copy.db_path) as con:
        run_id = con.execute("SELECT id FROM runs ORDER BY id LIMIT 1").fetchone()[0]
    line = _one_line_error(Cli(trained_copy.root)("explain", run_id, "--out", str(blocker / "maps"), ok=False))
    assert line == f"error: cannot create {blocker / 'maps'}: Not a directory"
    with connect(trained_copy.db_path) as con:
        assert con.execute("SELECT count(*) FROM explanations").fetchone()[0] == 0


# -- 4. study creation is atomic and writes TOML with a TOML writer -----------------------------------------------


@pytest.mark.parametrize("name", ['quote"d', "back\\slash", "tab\tand ünïcode", "[brackets]"])
def test_a_study_named_with_toml_special_characters_is_valid(tmp_path: Path, name: str):
    ws = init_workspace(tmp_path / name)
    assert ws.spec().name == name
    assert sorted(p.name for p in ws.root.iterdir()) == ["cache", "prefstudy.duckdb", "runs", "study.toml"]
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no staging folder left beside it


def test_a_failed_study_init_leaves_nothing(tmp_path: Path, monkeypatch):
    import prefstudy.workspace as workspace

    def broken(path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(workspace, "connect", broken)
    cli = Cli(tmp_path)
    line = _one_line_error(cli("study", "init", str(tmp_path / "new"), ok=False))
    assert line == f"error: cannot create the study at {tmp_path / 'new'}: No space left on device"
    assert list(tmp_path.iterdir()) == []


def test_study_init_in_a_folder_with_files_keeps_them_and_adds_the_study(tmp_path: Path):
    (tmp_path / "photos").mkdir()
    ws = init_workspace(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "photos", "prefstudy.duckdb", "runs", "study.toml"]
    assert ws.spec().name == tmp_path.name


def test_data_add_declares_a_path_with_quotes_as_valid_toml(cli: Cli, ws: Workspace, tmp_path: Path):
    folder = tmp_path / 'my "best" \\ photos'
    (folder / "a").mkdir(parents=True)
    for i in range(3):
        Image.new("RGB", (20, 20), (i * 60, 0, 0)).save(folder / "a" / f"{i}.png")
    cli("data", "add", "pics", "--kind", "folder", "--path", str(folder))
    assert ws.spec().datasets["pics"].path == str(folder)


# -- 8. concurrent commands ----------------------------------------------------------------------------------------


def test_a_subject_simulated_meanwhile_by_another_process_is_a_clean_refusal(sample_ws: Workspace, monkeypatch):
    from prefstudy.errors import PrefstudyError
    from prefstudy.subjects import simulate

    real = simulate.simulate_labels

    def racing(*args, **kwargs):  # another process finishes the same simulation while this one computes
        result = real(*args, **kwargs)
        monkeypatch.setattr(simulate, "simulate_labels", real)
        simulate.simulate_subject(sample_ws, "s", "fm", "classes:Bag", limit=30)
        return result

    monkeypatch.setattr(simulate, "simulate_labels", racing)
    with pytest.raises(PrefstudyError, match="subject 's' already has labels on 'fm'"):
        simulate.simulate_subject(sample_ws, "s", "fm", "classes:Bag", limit=40)
    assert _rows(sample_ws)["labels"] == 30  # the other process's labels, and none of this one's


# -- 9. files from the wild ----------------------------------------------------------------------------------------


def test_a_csv_with_an_enormous_field_is_one_line(refusing, tmp_path: Path):
    path = tmp_path / "labels.csv"
    path.write_text('key,preferred\n"' + "x" * 200_000 + '",1\n')
    line = _one_line_error(refusing.cli("label", "import", str(path), "--subject", "p", "--dataset", "fm", ok=False))
    assert line.startswith(f"error: {path}: line 2: not a readable CSV row (field larger than field limit")
    assert refusing.unchanged()


def _png_claiming(width: int, height: int) -> bytes:
    """A small PNG whose header says it is width x height: what a decompression bomb looks like to a reader."""
    import io

    buffer = io.BytesIO()
    Image.new("L", (8, 8)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    ihdr = 8 + 8  # signature, then the IHDR chunk's length and type
    data[ihdr : ihdr + 8] = struct.pack(">II", width, height)
    data[ihdr + 13 : ihdr + 17] = struct.pack(">I", zlib.crc32(bytes(data[ihdr - 4 : ihdr + 13])))
    return bytes(data)


def test_an_image_over_the_pixel_limit_is_left_out_with_the_reason(cli: Cli, ws: Workspace, tmp_path: Path):
    folder = tmp_path / "photos"
    (folder / "a").mkdir(parents=True)
    for i in range(3):
        Image.new("RGB", (40, 30), (i * 60, 0, 0)).save(folder / "a" / f"{i}.png")
    (folder / "a" / "bomb.png").write_bytes(_png_claiming(13000, 13000))
    result = cli("data", "add", "pics", "--kind", "folder", "--path", str(folder))
    assert "a/bomb.png (too large: 13000x13000 is 169 MP, over the limit of 100 MP ($PREFSTUDY_MAX_PIXELS))" in (
        result.stderr
    )
    assert "DecompressionBomb" not in result.stderr
    with connect(ws.db_path) as con:
        assert con.execute("SELECT n_items FROM datasets WHERE name = 'pics'").fetchone()[0] == 3


def test_the_pixel_limit_is_configurable(cli: Cli, ws: Workspace, tmp_path: Path, monkeypatch):
    folder = tmp_path / "photos"
    (folder / "a").mkdir(parents=True)
    Image.new("RGB", (40, 30)).save(folder / "a" / "small.png")
    Image.new("RGB", (400, 300)).save(folder / "a" / "big.png")
    monkeypatch.setenv("PREFSTUDY_MAX_PIXELS", "10000")
    result = cli("data", "add", "pics", "--kind", "folder", "--path", str(folder))
    assert "a/big.png (too large: 400x300 is 0.12 MP, over the limit of 0.01 MP" in result.stderr
    monkeypatch.setenv("PREFSTUDY_MAX_PIXELS", "lots")
    line = _one_line_error(cli("data", "add", "more", "--kind", "folder", "--path", str(folder), ok=False))
    assert line == "error: $PREFSTUDY_MAX_PIXELS must be an integer from 1 to 10000000000, got 'lots'"
