"""The study workspace: a directory with ``study.toml``, ``prefstudy.duckdb``, ``runs/`` and ``cache/``.

Every command finds its workspace from ``--study DIR``, else ``$PREFSTUDY_STUDY``, else the
current directory or the nearest parent holding a ``study.toml``.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import tomli_w

from prefstudy.env import STUDY_ENV
from prefstudy.errors import PrefstudyError
from prefstudy.files import expand_user, writable_dir, write_text_atomically
from prefstudy.store import connect, transaction
from prefstudy.studyfile import DatasetSpec, StudySpec, dataset_declaration, load_study, parse_study

STUDY_FILE = "study.toml"
DB_FILE = "prefstudy.duckdb"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

_HEADER = """\
# prefstudy study definition. `prefstudy study run` makes every run declared here for every
# subject who has labels on its dataset, and skips the runs already finished.
"""
_FOOTER = """
# `prefstudy data add` appends the datasets it adds below. Runs look like:
# [[runs]]
# dataset = "fm"
# protocol = "model2"   # model1 = train/test, model2 = train/validation/test
# epochs = 10
"""
_PARTS = (STUDY_FILE, DB_FILE, "runs", "cache")  # what `study init` creates; study.toml is placed last


def check_name(what: str, name: str) -> str:
    """Validate a dataset or subject name: letters, digits, '-', '_' and '.', at most 64."""
    if not NAME_PATTERN.match(name):
        raise PrefstudyError(
            f"invalid {what} name {name!r}: use letters, digits, '-', '_' or '.', starting with a letter or digit"
        )
    return name


@dataclass(frozen=True)
class Workspace:
    """An opened study directory; every path and connection of a study comes from here."""

    root: Path

    @property
    def study_file(self) -> Path:
        return self.root / STUDY_FILE

    @property
    def db_path(self) -> Path:
        return self.root / DB_FILE

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    def run_dir(self, run_id: str) -> Path:
        return self.runs_dir / run_id

    def connect(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        """A short-lived connection for reads or single statements."""
        return connect(self.db_path)

    def transaction(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        """A short-lived connection whose block commits as a whole or not at all."""
        return transaction(self.db_path)

    def spec(self) -> StudySpec:
        """The parsed ``study.toml``."""
        return load_study(self.study_file)

    def declare_dataset(self, spec: DatasetSpec) -> None:
        """Append a dataset's declaration to ``study.toml`` unless it is declared already."""
        if spec.name in self.spec().datasets:
            return
        text = self.study_file.read_text(encoding="utf-8")
        if not text.endswith("\n"):
            text += "\n"
        text += "\n" + dataset_declaration(spec)
        parse_study(text, origin=str(self.study_file))  # never leave a study file that no longer parses
        write_text_atomically(self.study_file, text)


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a name too long for the file system, or with a NUL in it
        return False


def _candidates(start: Path) -> Iterator[Path]:
    start = start.resolve()
    yield start
    yield from start.parents


def open_workspace(path: Path | str | None = None) -> Workspace:
    """Find the workspace from an explicit path, ``$PREFSTUDY_STUDY``, or the current directory upward."""
    if path is None and os.environ.get(STUDY_ENV):
        path = os.environ[STUDY_ENV]
    if path is not None:
        root = expand_user(path)
        if not _is_file(root / STUDY_FILE):
            raise PrefstudyError(
                f"{root} is not a prefstudy study (no {STUDY_FILE}); create one with `prefstudy study init {root}`"
            )
        return Workspace(root.resolve())
    for candidate in _candidates(Path.cwd()):
        if (candidate / STUDY_FILE).is_file():
            return Workspace(candidate)
    raise PrefstudyError(
        "no study here (no study.toml in this directory or its parents); "
        "run `prefstudy study init DIR` or pass --study DIR"
    )


def init_workspace(root: Path | str, template: Path | None = None) -> Workspace:
    """Create a study directory, from a study file when given; refuse to overwrite an existing study.

    The study is built in a temporary directory and moved into place, ``study.toml`` last, so a
    failure leaves no half-made study behind.
    """
    root = expand_user(root)
    if (root / STUDY_FILE).exists():
        raise PrefstudyError(f"{root} is already a prefstudy study ({STUDY_FILE} exists)")
    if root.exists() and not root.is_dir():
        raise PrefstudyError(f"{root} exists and is not a directory")
    if root.is_dir():
        clashes = [part for part in _PARTS if (root / part).exists()]
        if clashes:
            raise PrefstudyError(
                f"{root} already holds {', '.join(clashes)} but no {STUDY_FILE}; choose another directory"
            )
    if template is not None:
        if not Path(template).is_file():
            raise PrefstudyError(f"study file {template} not found")
        text = Path(template).read_text(encoding="utf-8")
        parse_study(text, origin=str(template))  # validate before creating anything
    else:
        text = _HEADER + tomli_w.dumps({"study": {"name": root.resolve().name}}) + _FOOTER
    parent = writable_dir(root if root.is_dir() else root.resolve().parent)
    staging = Path(tempfile.mkdtemp(prefix=".prefstudy-init-", dir=parent))
    try:
        (staging / STUDY_FILE).write_text(text, encoding="utf-8")
        (staging / "runs").mkdir()
        (staging / "cache").mkdir()
        with connect(staging / DB_FILE):
            pass  # creates the database and applies the schema
        if root.is_dir():
            for part in _PARTS:  # study.toml last: until it is there, this is not a study
                os.replace(staging / part, root / part)
        else:
            os.replace(staging, root)
    except OSError as error:
        raise PrefstudyError(f"cannot create the study at {root}: {error.strerror or error}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Workspace(root.resolve())
