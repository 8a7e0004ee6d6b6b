from pathlib import Path

import pytest

from prefstudy.errors import PrefstudyError
from prefstudy.studyfile import DatasetSpec
from prefstudy.workspace import DB_FILE, STUDY_FILE, init_workspace, open_workspace


def test_init_creates_the_workspace_layout(tmp_path: Path):
    ws = init_workspace(tmp_path / "mystudy")
    assert (ws.root / STUDY_FILE).is_file()
    assert (ws.root / DB_FILE).is_file()
    assert ws.runs_dir.is_dir() and ws.cache_dir.is_dir()
    assert ws.spec().name == "mystudy"
    with ws.connect() as con:
        assert con.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] >= 1


def test_init_refuses_an_existing_study(tmp_path: Path):
    init_workspace(tmp_path / "s")
    with pytest.raises(PrefstudyError, match="already a prefstudy study"):
        init_workspace(tmp_path / "s")


def test_init_from_an_invalid_study_file_creates_nothing(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[datasets.fm]\nkind = "fashion-mnist"\n\n[[runs]]\ndataset = "fm"\nepoch = 3\n')
    with pytest.raises(PrefstudyError, match="unknown key 'epoch'"):
        init_workspace(tmp_path / "s", bad)
    assert not (tmp_path / "s").exists()


def test_open_finds_the_study_from_a_subdirectory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    ws = init_workspace(tmp_path / "s")
    (ws.root / "notes" / "deep").mkdir(parents=True)
    monkeypatch.chdir(ws.root / "notes" / "deep")
    assert open_workspace().root == ws.root


def test_open_uses_the_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    ws = init_workspace(tmp_path / "s")
    monkeypatch.setenv("PREFSTUDY_STUDY", str(ws.root))
    monkeypatch.chdir(tmp_path)
    assert open_workspace().root == ws.root


def test_open_outside_a_study_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PrefstudyError, match="prefstudy study init"):
        open_workspace()
    with pytest.raises(PrefstudyError, match="not a prefstudy study"):
        open_workspace(tmp_path)


def test_declare_dataset_appends_once_and_keeps_the_file_valid(tmp_path: Path):
    ws = init_workspace(tmp_path / "s")
    spec = DatasetSpec(name="faces", kind="lfw", path='/data/my "lfw"', limit=9000, seed=3)
    ws.declare_dataset(spec)
    ws.declare_dataset(spec)
    text = ws.study_file.read_text()
    assert text.count("[datasets.faces]") == 1
    assert ws.spec().datasets["faces"] == DatasetSpec(
        name="faces", kind="lfw", path='/data/my "lfw"', limit=9000, seed=3
    )
