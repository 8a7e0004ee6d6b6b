"""LFW, Indoor-67 and plain folders, on real photos from the shared data folder."""

import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from prefstudy.datasets.readers import folder, indoor67, lfw
from prefstudy.datasets.readers.decoded import SourceOptions, sha256_hex
from prefstudy.datasets.readers.images import decode_image
from prefstudy.errors import PrefstudyError
from prefstudy.progress import SilentReporter


def _some_people(lfw_dir: Path, dest: Path, n: int = 12) -> list[str]:
    people = sorted(p.name for p in lfw_dir.iterdir() if p.is_dir())[:n]
    for name in people:
        shutil.copytree(lfw_dir / name, dest / name)
    return people


def test_lfw_directory_keys_classes_and_hashes(lfw_dir: Path):
    decoded = lfw.load(SourceOptions(path=lfw_dir, limit=40, seed=0, size=32), SilentReporter())
    assert decoded.images.shape == (40, 32, 32, 3)
    key = decoded.keys[0]
    person, filename = key.split("/")
    assert filename.startswith(person + "_") and decoded.classes[0] == person
    assert decoded.sha256[0] == sha256_hex((lfw_dir / key).read_bytes())
    assert set(decoded.splits) == {None}  # LFW has no preference split


def test_lfw_tgz_with_a_top_folder_gives_the_same_images(lfw_dir: Path, tmp_path: Path):
    tree = tmp_path / "lfw-deepfunneled"
    people = _some_people(lfw_dir, tree)
    archive = tmp_path / "lfw-deepfunneled.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tree, arcname="lfw-deepfunneled")
    from_dir = lfw.load(SourceOptions(path=tmp_path / "lfw-deepfunneled", size=32), SilentReporter())
    from_tgz = lfw.load(SourceOptions(path=archive, size=32), SilentReporter())
    assert from_tgz.keys == from_dir.keys and np.array_equal(from_tgz.images, from_dir.images)
    assert sorted(set(from_dir.classes)) == people
    assert from_tgz.details["variant"] == "deep-funneled"


def test_lfw_under_one_top_folder_is_found(lfw_dir: Path, tmp_path: Path):
    _some_people(lfw_dir, tmp_path / "download" / "lfw", n=3)
    decoded = lfw.load(SourceOptions(path=tmp_path / "download", size=16), SilentReporter())
    assert len(decoded.keys) >= 3


def test_lfw_wrong_layout_is_one_clear_error(tmp_path: Path):
    (tmp_path / "photos").mkdir()
    Image.new("RGB", (20, 20)).save(tmp_path / "photos" / "holiday.jpg")
    with pytest.raises(PrefstudyError, match="does not look like LFW"):
        lfw.load(SourceOptions(path=tmp_path), SilentReporter())


@pytest.mark.slow  # decodes 3,000 real photos
def test_indoor67_honours_the_official_split(indoor_dir: Path):
    decoded = indoor67.load(SourceOptions(path=indoor_dir, size=32), SilentReporter())
    train = {line.strip() for line in (indoor_dir / "TrainImages.txt").read_text().splitlines() if line.strip()}
    test = {line.strip() for line in (indoor_dir / "TestImages.txt").read_text().splitlines() if line.strip()}
    split_of = dict(zip(decoded.keys, decoded.splits, strict=True))
    assert {k for k, s in split_of.items() if s == "train"} == train
    assert {k for k, s in split_of.items() if s == "test"} == test
    assert decoded.class_names == sorted(p.name for p in (indoor_dir / "Images").iterdir())


def test_indoor67_unlisted_images_have_no_official_split(indoor_dir: Path, tmp_path: Path):
    root = tmp_path / "indoor"
    (root / "Images" / "kitchen").mkdir(parents=True)
    kitchens = sorted((indoor_dir / "Images" / "kitchen").iterdir())[:6]
    for f in kitchens:
        shutil.copy(f, root / "Images" / "kitchen" / f.name)
    (root / "TrainImages.txt").write_text(f"kitchen/{kitchens[0].name}\n")
    (root / "TestImages.txt").write_text(f"kitchen/{kitchens[1].name}\n")
    decoded = indoor67.load(SourceOptions(path=root, size=16), SilentReporter())
    assert sorted(s or "-" for s in decoded.splits) == ["-", "-", "-", "-", "test", "train"]


def test_indoor67_missing_lists_is_one_clear_error(tmp_path: Path):
    (tmp_path / "Images" / "kitchen").mkdir(parents=True)
    with pytest.raises(PrefstudyError, match=r"missing TrainImages\.txt, TestImages\.txt"):
        indoor67.load(SourceOptions(path=tmp_path), SilentReporter())


def test_folder_leaves_out_corrupt_truncated_and_non_image_files(indoor_dir: Path, tmp_path: Path):
    good = sorted((indoor_dir / "Images" / "bedroom").iterdir())[:4]
    (tmp_path / "liked").mkdir()
    (tmp_path / "other").mkdir()
    for f in good[:2]:
        shutil.copy(f, tmp_path / "liked" / f.name)
    shutil.copy(good[2], tmp_path / "other" / good[2].name)
    (tmp_path / "other" / "truncated.jpg").write_bytes(good[3].read_bytes()[:2000])
    (tmp_path / "other" / "notes.txt").write_text("not an image")
    (tmp_path / "other" / "empty.png").write_bytes(b"")
    (tmp_path / ".hidden.jpg").write_bytes(b"ignored")
    decoded = folder.load(SourceOptions(path=tmp_path, size=24, channels=1), SilentReporter())
    assert decoded.images.shape == (3, 24, 24, 1)
    assert decoded.class_names == ["liked", "other"]
    reasons = dict(decoded.skipped)
    assert set(reasons) == {"other/truncated.jpg", "other/notes.txt", "other/empty.png"}
    assert reasons["other/notes.txt"] == "not an image"
    assert reasons["other/truncated.jpg"].startswith("corrupt or truncated")


def test_limit_replaces_unreadable_images_from_the_same_seeded_order(indoor_dir: Path, tmp_path: Path):
    files = sorted((indoor_dir / "Images" / "bathroom").iterdir())[:10]
    for f in files:
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    a = folder.load(SourceOptions(path=tmp_path, limit=10, seed=1, size=16), SilentReporter())
    b = folder.load(SourceOptions(path=tmp_path, limit=10, seed=1, size=16), SilentReporter())
    assert len(a.keys) == 10 and "broken.jpg" not in a.keys
    assert a.keys == b.keys


def test_decode_fits_without_stretching():
    import io

    wide = Image.new("RGB", (200, 100), (255, 0, 0))
    wide.paste((0, 0, 255), (0, 0, 40, 100))  # a blue band at the left edge, cropped away by the fit
    buffer = io.BytesIO()
    wide.save(buffer, format="PNG")
    array = decode_image(buffer.getvalue(), 32, 3)
    assert array.shape == (32, 32, 3)
    assert array[:, :, 2].max() < 10 and array[:, :, 0].min() > 245  # only red survives the centre crop
