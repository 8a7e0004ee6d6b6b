"""Dataset kinds by name: ``fashion-mnist``, ``fashion-mnist-sample``, ``lfw``, ``indoor67``, ``folder``.

A kind's factory is a reader, ``(SourceOptions, Reporter) -> Decoded`` (:mod:`.readers`);
:mod:`.catalog` caches and records what it decodes. prefstudy's kinds are declared below, each
reader imported only when it is used; a third party registers one through the
``prefstudy.dataset_kinds`` entry-point group. Naming the kinds (in ``--help``, in an error) imports
no reader.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from prefstudy.registry import Entry, Registry

if TYPE_CHECKING:
    from prefstudy.datasets.readers.decoded import Decoded, SourceOptions
    from prefstudy.progress import Reporter

Reader = Callable[["SourceOptions", "Reporter"], "Decoded"]
GROUP = "prefstudy.dataset_kinds"


def _fashion_mnist() -> Reader:
    from prefstudy.datasets.readers import fashion_mnist

    return fashion_mnist.load


def _fashion_mnist_sample() -> Reader:
    from prefstudy.datasets.readers import fashion_mnist

    return fashion_mnist.load_sample


def _lfw() -> Reader:
    from prefstudy.datasets.readers import lfw

    return lfw.load


def _indoor67() -> Reader:
    from prefstudy.datasets.readers import indoor67

    return indoor67.load


def _folder() -> Reader:
    from prefstudy.datasets.readers import folder

    return folder.load


DATASET_KINDS: Registry[Reader] = Registry(
    "dataset kind",
    GROUP,
    [
        Entry("fashion-mnist", _fashion_mnist, "official Fashion-MNIST IDX files (60k train + 10k test)"),
        Entry("fashion-mnist-sample", _fashion_mnist_sample, "the 10k test split embedded in prefstudy"),
        Entry("lfw", _lfw, "Labeled Faces in the Wild: a folder or .tgz of <Person>/<Person>_NNNN.jpg"),
        Entry("indoor67", _indoor67, "MIT Indoor-67 layout: Images/<category>/, TrainImages.txt, TestImages.txt"),
        Entry("folder", _folder, "any image tree; first-level sub-folders become classes"),
    ],
)


def list_kinds() -> list[str]:
    """Every registered dataset kind, prefstudy's and plugins'."""
    return DATASET_KINDS.names()


def get_reader(kind: str) -> Reader:
    """The reader of ``kind``; an unknown kind fails with the list of known ones."""
    return DATASET_KINDS.get(kind)


def read_dataset(kind: str, options: SourceOptions, report: Reporter) -> Decoded:
    """Decode a dataset of ``kind`` as ``options`` say."""
    return DATASET_KINDS.create(kind, options, report)
