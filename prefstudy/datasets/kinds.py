"""Dataset readers by kind: ``fashion-mnist``, ``fashion-mnist-sample``, ``lfw``, ``indoor67``, ``folder``.

Each reader turns its files into a :class:`~prefstudy.datasets.readers.decoded.Decoded` dataset;
:mod:`prefstudy.datasets.catalog` caches and records it. A reader's module is imported only when it is
used, so naming the kinds (in ``--help``, in an error) stays light.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING

from prefstudy.errors import PrefstudyError

if TYPE_CHECKING:
    from prefstudy.datasets.readers.decoded import Decoded, SourceOptions
    from prefstudy.progress import Reporter


@dataclass(frozen=True)
class SourceKind:
    name: str
    reader: str  # "module:function" under prefstudy.datasets.kinds
    summary: str

    @property
    def load(self) -> Callable[[SourceOptions, Reporter], Decoded]:
        module, function = self.reader.split(":")
        return getattr(import_module(f"prefstudy.datasets.readers.{module}"), function)


SOURCES: dict[str, SourceKind] = {
    kind.name: kind
    for kind in (
        SourceKind("fashion-mnist", "fashion_mnist:load", "official Fashion-MNIST IDX files (60k train + 10k test)"),
        SourceKind("fashion-mnist-sample", "fashion_mnist:load_sample", "the 10k test split embedded in prefstudy"),
        SourceKind("lfw", "lfw:load", "Labeled Faces in the Wild: a folder or .tgz of <Person>/<Person>_NNNN.jpg"),
        SourceKind(
            "indoor67", "indoor67:load", "MIT Indoor-67 layout: Images/<category>/, TrainImages.txt, TestImages.txt"
        ),
        SourceKind("folder", "folder:load", "any image tree; first-level sub-folders become classes"),
    )
}


def get_source(kind: str) -> SourceKind:
    """The reader for ``kind``; an unknown kind fails with the list of known ones."""
    try:
        return SOURCES[kind]
    except KeyError:
        raise PrefstudyError(f"unknown dataset kind {kind!r}; known kinds: {', '.join(SOURCES)}") from None


__all__ = ["SOURCES", "SourceKind", "get_source"]
