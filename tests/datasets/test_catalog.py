"""`prefstudy data add`: real files in, cache and items out; bad input leaves nothing behind."""

import gzip
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from prefstudy.datasets.catalog import add_dataset, list_datasets, load_images
from prefstudy.datasets.embedded import fashion_mnist_sample_dir
from prefstudy.errors import PrefstudyError
from prefstudy.studyfile import DatasetSpec

pytestmark = pytest.mark.usefixtures("shared_instance")  # each test's study stays open: see tests/conftest.py


def _nothing_written(ws) -> None:
    with ws.connect() as con:
        assert con.execute("SELECT count(*) FROM datasets").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM items").fetchone()[0] == 0
    assert not any(p.is_file() for p in ws.cache_dir.rglob("*"))
    assert "[datasets." not in ws.study_file.read_text()


def _one_error_line(result) -> str:
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ")
    return lines[0]


def test_add_records_items_with_their_sha256_and_caches_uint8(sample_ws):
    images = load_images(sample_ws, "fm")
    assert images.images.shape == (10_000, 28, 28, 1) and images.images.dtype == np.uint8
    assert images.keys[0] == "test-00000" and images.classes[0] == "Ankle boot"
    assert images.sha256[0] == hashlib.sha256(images.images[0].tobytes()).hexdigest()
    (info,) = list_datasets(sample_ws)
    assert (sample_ws.root / info.cache_file).is_file()
    assert info.cache_file.startswith("cache/fm/28x28x1-")


def test_cli_add_declares_the_dataset_in_study_toml(cli, ws, indoor_dir: Path):
    out = cli.json("data", "add", "rooms", "--kind", "indoor67", "--path", indoor_dir, "--limit", "60", "--size", "32")
    assert out["n_items"] == 60 and out["image_size"] == [32, 32, 3] and out["skipped"] == []
    declared = ws.spec().datasets["rooms"]
    assert (declared.kind, declared.limit, declared.size) == ("indoor67", 60, 32)
    listed = cli.json("data", "list")["datasets"]
    assert [d["name"] for d in listed] == ["rooms"]


def test_cli_add_without_kind_uses_the_declaration(cli, ws):
    ws.study_file.write_text(ws.study_file.read_text() + '\n[datasets.fm]\nkind = "fashion-mnist-sample"\n')
    out = cli.json("data", "add", "fm")
    assert out["n_items"] == 10_000


def test_corrupt_files_are_listed_in_one_warning_and_left_out(cli, ws, indoor_dir: Path, tmp_path: Path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for f in sorted((indoor_dir / "Images" / "kitchen").iterdir())[:5]:
        shutil.copy(f, photos / f.name)
    (photos / "cut.jpg").write_bytes(next(photos.iterdir()).read_bytes()[:1500])
    (photos / "readme.txt").write_text("hello")
    result = cli("data", "add", "mine", "--kind", "folder", "--path", photos, "--size", "16")
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1
    assert "2 file(s) left out" in warnings[0] and "cut.jpg" in warnings[0] and "readme.txt" in warnings[0]
    assert load_images(ws, "mine").images.shape[0] == 5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kind", "lfw", "--path", "/no/such/lfw"], "/no/such/lfw does not exist"),
        (["--kind", "indoor67", "--path", "{tmp}"], "does not look like MIT Indoor-67"),
        (["--kind", "lfw", "--path", "{tmp}"], "does not look like LFW"),
        (["--kind", "folder", "--path", "{tmp}/empty"], "no image files found"),
        (["--kind", "fashion-mnist", "--path", "{tmp}"], "Fashion-MNIST files"),
        (["--kind", "nonsense"], "unknown dataset kind 'nonsense'"),
    ],
)
def test_bad_input_is_one_error_line_and_writes_nothing(cli, ws, tmp_path: Path, args, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "stray.txt").write_text("x")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    line = _one_error_line(cli("data", "add", "bad", *args, ok=False))
    assert message in line
    _nothing_written(ws)


@pytest.mark.slow  # writes and reads 30 MB of IDX files
def test_truncated_idx_file_is_one_error_line_and_writes_nothing(cli, ws, tmp_path: Path):
    folder = tmp_path / "fm"
    folder.mkdir()
    for name in ("train-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(fashion_mnist_sample_dir() / "t10k-labels-idx1-ubyte.gz", folder / name)
    shutil.copy(fashion_mnist_sample_dir() / "t10k-images-idx3-ubyte.gz", folder / "t10k-images-idx3-ubyte.gz")
    raw = gzip.decompress((fashion_mnist_sample_dir() / "t10k-images-idx3-ubyte.gz").read_bytes())
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(raw[: len(raw) // 3]))
    line = _one_error_line(cli("data", "add", "fm", "--kind", "fashion-mnist", "--path", folder, ok=False))
    assert "truncated or corrupt" in line and "train-images-idx3-ubyte.gz" in line
    _nothing_written(ws)


def test_a_dataset_name_is_added_once(sample_ws):
    with pytest.raises(PrefstudyError, match="already exists"):
        add_dataset(sample_ws, DatasetSpec(name="fm", kind="fashion-mnist-sample"))


def test_a_failed_database_write_removes_the_cache_file(ws, monkeypatch):
    def explode(self):
        raise RuntimeError("disk full")

    import prefstudy.workspace

    monkeypatch.setattr(prefstudy.workspace.Workspace, "transaction", explode)
    with pytest.raises(RuntimeError, match="disk full"):
        add_dataset(ws, DatasetSpec(name="fm", kind="fashion-mnist-sample"))
    assert not any(p.is_file() for p in ws.cache_dir.rglob("*"))
