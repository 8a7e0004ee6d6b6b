"""The study workspace: a directory with ``study.toml``, ``prefstudy.duckdb``, ``runs/`` and ``cache/``.

Every command finds its workspace from ``--study DIR``, else ``$PREFSTUDY_STUDY``, else the
current directory or the nearest parent holding a ``study.toml``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from prefstudy.env import STUDY_ENV
from prefstudy.errors import PrefstudyError
from prefstudy.store import connect, transaction
from prefstudy.studyfile import DatasetSpec, StudySpec, dataset_declaration, load_study, parse_study

STUDY_FILE = "study.toml"
DB_FILE = "prefstudy.duckdb"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

_TEMPLATE = """\
# prefstudy study definition. `prefstudy study run` makes every run declared here for every
# subject who has labels on its dataset, and skips the runs already finished.
[study]
name = "{name}"

# `prefstudy data add` appends the datasets it adds below. Runs look like:
# [[runs]]
# dataset = "fm"
# protocol = "model2"   # model1 = train/test, model2 = train/validation/test
# epochs = 10
"""


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
        self.study_file.write_text(text, encoding="utf-8")


def _candidates(start: Path) -> Iterator[Path]:
    start = start.resolve()
    yield start
    yield from start.parents


def open_workspace(path: Path | str | None = None) -> Workspace:
    """Find the workspace from an explicit path, ``$PREFSTUDY_STUDY``, or the current directory upward."""
    if path is None and os.environ.get(STUDY_ENV):
        path = os.environ[STUDY_ENV]
    if path is not None:
        root = Path(path).expanduser()
        if not (root / STUDY_FILE).is_file():
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
    """Create a study directory, from a study file when given; refuse to overwrite an existing study."""
    root = Path(root).expanduser()
    if (root / STUDY_FILE).exists():
        raise PrefstudyError(f"{root} is already a prefstudy study ({STUDY_FILE} exists)")
    if root.exists() and not root.is_dir():
        raise PrefstudyError(f"{root} exists and is not a directory")
    if template is not None:
        text = Path(template).read_text(encoding="utf-8") if Path(template).is_file() else None
        if text is None:
            raise PrefstudyError(f"study file {template} not found")
        parse_study(text, origin=str(template))  # validate before creating anything
    else:
        text = _TEMPLATE.format(name=root.resolve().name)
    root.mkdir(parents=True, exist_ok=True)
    (root / STUDY_FILE).write_text(text, encoding="utf-8")
    workspace = Workspace(root.resolve())
    workspace.runs_dir.mkdir(exist_ok=True)
    workspace.cache_dir.mkdir(exist_ok=True)
    with workspace.connect():
        pass  # creates the database and applies the schema
    return workspace
