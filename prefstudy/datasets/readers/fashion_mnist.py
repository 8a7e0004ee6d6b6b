"""Fashion-MNIST from its four official IDX files (Xiao, Rasul & Vollgraf 2017; MIT licence).

The files are looked for in ``--path``, then ``$PREFSTUDY_DATA``, ``~/.cache/prefstudy`` and
``/usr/share/datasets/fashion-mnist`` (Debian's ``dataset-fashion-mnist``), each also with a
``fashion-mnist/`` sub-folder. Items are keyed ``train-00042`` / ``test-00042`` by official split
and index, so label files stay valid across copies of the data.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from prefstudy.datasets.readers.decoded import Decoded, Reporter, SourceOptions, seeded_order, sha256_hex
from prefstudy.datasets.readers.idx import read_idx
from prefstudy.env import DATA_ENV
from prefstudy.errors import PrefstudyError

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def default_search_dirs() -> list[Path]:
    """Where Fashion-MNIST is looked for when no ``--path`` is given, in order."""
    dirs = []
    if os.environ.get(DATA_ENV):
        dirs.append(Path(os.environ[DATA_ENV]).expanduser())
    dirs += [Path("~/.cache/prefstudy").expanduser(), Path("/usr/share/datasets/fashion-mnist")]
    return dirs


def _find_file(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def splits_in(folder: Path) -> dict[str, tuple[Path, Path]]:
    """The official splits whose image and label files are both in ``folder``."""
    found = {}
    for split, (images, labels) in SPLIT_FILES.items():
        image_file, label_file = _find_file(folder, images), _find_file(folder, labels)
        if image_file and label_file:
            found[split] = (image_file, label_file)
    return found


def locate(path: Path | None, *, require: tuple[str, ...] = ("train", "test")) -> Path:
    """The first folder holding the official files for every split in ``require``."""
    if path is not None:
        candidates = [Path(path).expanduser()]
        if not candidates[0].exists():
            raise PrefstudyError(f"{candidates[0]} does not exist; give the folder holding the Fashion-MNIST IDX files")
    else:
        candidates = default_search_dirs()
    for folder in candidates:
        for sub in (folder, folder / "fashion-mnist"):
            if set(require) <= set(splits_in(sub)):
                return sub
    wanted = ", ".join(f"{SPLIT_FILES[s][0]}[.gz]/{SPLIT_FILES[s][1]}[.gz]" for s in require)
    where = ", ".join(str(c) for c in candidates)
    raise PrefstudyError(
        f"Fashion-MNIST files ({wanted}) not found in {where}; "
        "run `prefstudy data fetch fashion-mnist`, install Debian's dataset-fashion-mnist, or pass --path"
    )


def read_folder(folder: Path, splits: tuple[str, ...], options: SourceOptions, report: Reporter) -> Decoded:
    """Decode the given official splits of the Fashion-MNIST files in ``folder``."""
    if options.size not in (None, 28) or options.channels not in (None, 1):
        raise PrefstudyError("Fashion-MNIST images are 28x28 grayscale; drop --size/--channels for this dataset")
    files = splits_in(folder)
    images, labels, keys, split_of = [], [], [], []
    for split in splits:
        image_file, label_file = files[split]
        x, y = read_idx(image_file), read_idx(label_file)
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise PrefstudyError(
                f"{image_file} and {label_file} do not match: {x.shape} images, {y.shape} labels; download them again"
            )
        if y.size and y.max() >= len(CLASSES):
            raise PrefstudyError(f"{label_file} holds class {int(y.max())}; Fashion-MNIST has 10 classes")
        images.append(x)
        labels.append(y)
        keys += [f"{split}-{i:05d}" for i in range(len(x))]
        split_of += [split] * len(x)
    x = np.concatenate(images)[..., None]  # (N, 28, 28, 1)
    y = np.concatenate(labels)
    chosen = np.arange(len(x))
    if options.limit is not None:
        chosen = np.sort(seeded_order(len(x), options.seed)[: options.limit])
    report.start(len(chosen), "hashing images")
    hashes = []
    for i in chosen:
        hashes.append(sha256_hex(x[i].tobytes()))
        report.advance()
    return Decoded(
        images=np.ascontiguousarray(x[chosen]),
        keys=[keys[i] for i in chosen],
        splits=[split_of[i] for i in chosen],
        classes=[CLASSES[y[i]] for i in chosen],
        class_names=list(CLASSES),
        sha256=hashes,
        path=str(folder),
    )


def load(options: SourceOptions, report: Reporter) -> Decoded:
    """Full Fashion-MNIST: the official 60k train and 10k test split."""
    return read_folder(locate(options.path), ("train", "test"), options, report)


def load_sample(options: SourceOptions, report: Reporter) -> Decoded:
    """The official 10k test split embedded in prefstudy, so a study runs with no download."""
    from prefstudy.datasets.embedded import fashion_mnist_sample_dir

    if options.path is not None:
        raise PrefstudyError("the fashion-mnist-sample dataset is embedded in prefstudy; drop --path")
    decoded = read_folder(fashion_mnist_sample_dir(), ("test",), options, report)
    decoded.path = None
    decoded.details["embedded"] = "official Fashion-MNIST test split"
    return decoded
