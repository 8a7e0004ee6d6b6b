"""Study files: a study declared in TOML — its datasets, simulated subjects and planned runs.

Example::

    [study]
    name = "paper"

    [datasets.faces]
    kind = "lfw"
    path = "~/data/lfw"
    limit = 9000
    seed = 0

    [[subjects]]              # optional: simulated subjects the study creates itself
    name = "alice"
    dataset = "faces"
    rule = "feature:contrast@top"
    noise = 0.05

    [[runs]]                  # made for every subject who has labels on the dataset
    dataset = "faces"
    protocol = "model2"
    epochs = 10
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import tomli_w

from prefstudy.bounds import CHANNELS, COUNT, IMAGE_SIZE, REPEAT, SEED, SHARE, check_fields
from prefstudy.config import DEFAULT_ADAPT, DEFAULT_TRANSFER_MODE, PROTOCOLS, TrainSettings, check_transfer
from prefstudy.errors import PrefstudyError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib


_OPTIONAL_NUMBERS = frozenset({"limit", "size", "channels"})  # None: all images, the source's size and channels


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset the study uses: which reader, where its files are, which subset and image size."""

    name: str
    kind: str
    path: str | None = None
    limit: int | None = None
    seed: int = 0
    size: int | None = None
    channels: int | None = None

    def __post_init__(self) -> None:
        _check_text("kind", self.kind)
        if self.path is not None:
            _check_text("path", self.path)
        check_fields(self, {"limit": COUNT, "seed": SEED, "size": IMAGE_SIZE, "channels": CHANNELS}, _OPTIONAL_NUMBERS)


@dataclass(frozen=True)
class SubjectSpec:
    """A simulated subject the study creates: a preference rule with known ground truth."""

    name: str
    dataset: str
    rule: str
    noise: float = 0.0
    repeat: float = 0.0
    seed: int = 0
    limit: int | None = None

    def __post_init__(self) -> None:
        for key in ("name", "dataset", "rule"):
            _check_text(key, getattr(self, key))
        check_fields(self, {"noise": SHARE, "repeat": REPEAT, "seed": SEED, "limit": COUNT}, _OPTIONAL_NUMBERS)


@dataclass(frozen=True)
class TransferSpec:
    """Start each subject's run from their finished run on ``source_dataset`` (same backbone)."""

    source_dataset: str
    mode: str = DEFAULT_TRANSFER_MODE  # finetune, frozen or zero-shot
    adapt: str = DEFAULT_ADAPT  # keep-size, resize or conv
    source_protocol: str | None = None  # default: the run's own protocol


@dataclass(frozen=True)
class RunSpec:
    """A run to make for every subject who has labels on ``dataset``."""

    dataset: str
    settings: TrainSettings = field(default_factory=TrainSettings)
    transfer: TransferSpec | None = None

    @property
    def source_protocol(self) -> str:
        assert self.transfer is not None
        return self.transfer.source_protocol or self.settings.protocol


@dataclass(frozen=True)
class StudySpec:
    name: str
    description: str = ""
    datasets: dict[str, DatasetSpec] = field(default_factory=dict)
    subjects: tuple[SubjectSpec, ...] = ()
    runs: tuple[RunSpec, ...] = ()


def _check_text(key: str, value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise PrefstudyError(f"{key} must be a non-empty string, got {value!r}")


_DATASET_KEYS = {"kind", "path", "limit", "seed", "size", "channels"}
_SUBJECT_KEYS = {"name", "dataset", "rule", "noise", "repeat", "seed", "limit"}
_TOP_KEYS = {"study", "datasets", "subjects", "runs"}


def _check_keys(where: str, table: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise PrefstudyError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(allowed))})")


def _table(where: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PrefstudyError(f"{where}: must be a table, got {value!r:.60}")
    return value


def _array_of_tables(where: str, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise PrefstudyError(f"{where}: must be an array of tables ([[{where.rsplit(' ', 1)[-1]}]]), got {value!r:.60}")
    return value


def _require(where: str, table: dict[str, Any], key: str) -> Any:
    if key not in table:
        raise PrefstudyError(f"{where}: missing required key {key!r}")
    return table[key]


def parse_study(text: str, origin: str = "study.toml") -> StudySpec:
    """Parse and validate a study file's text; raise one clear line for the first problem."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PrefstudyError(f"{origin}: not valid TOML ({error})") from None
    _check_keys(origin, doc, _TOP_KEYS)
    head = _table(f"{origin} [study]", doc.get("study", {}))
    _check_keys(f"{origin} [study]", head, {"name", "description"})
    for key in ("name", "description"):
        if key in head and not isinstance(head[key], str):
            raise PrefstudyError(f"{origin} [study]: {key} must be a string, got {head[key]!r}")

    datasets: dict[str, DatasetSpec] = {}
    for name, table in _table(f"{origin} [datasets]", doc.get("datasets", {})).items():
        where = f"{origin} [datasets.{name}]"
        _table(where, table)
        _check_keys(where, table, _DATASET_KEYS)
        try:
            datasets[name] = DatasetSpec(
                name=name, kind=_require(where, table, "kind"), **{k: v for k, v in table.items() if k != "kind"}
            )
        except (PrefstudyError, TypeError) as error:
            raise PrefstudyError(f"{where}: {error}") from None

    subjects = []
    for i, table in enumerate(_array_of_tables(f"{origin} subjects", doc.get("subjects", [])), start=1):
        where = f"{origin} [[subjects]] #{i}"
        _check_keys(where, table, _SUBJECT_KEYS)
        for key in ("name", "dataset", "rule"):
            _require(where, table, key)
        if not isinstance(table["dataset"], str) or table["dataset"] not in datasets:
            raise PrefstudyError(f"{where}: dataset {table['dataset']!r} is not declared under [datasets]")
        try:
            subjects.append(SubjectSpec(**table))
        except PrefstudyError as error:
            raise PrefstudyError(f"{where}: {error}") from None

    runs = []
    for i, table in enumerate(_array_of_tables(f"{origin} runs", doc.get("runs", [])), start=1):
        runs += _parse_runs(f"{origin} [[runs]] #{i}", table, datasets)

    return StudySpec(
        name=head.get("name", Path(origin).parent.name or "study"),
        description=head.get("description", ""),
        datasets=datasets,
        subjects=tuple(subjects),
        runs=tuple(runs),
    )


_TRANSFER_KEYS = {"transfer_from", "transfer", "adapt", "source_protocol"}


def _parse_runs(where: str, table: dict[str, Any], datasets: dict[str, DatasetSpec]) -> list[RunSpec]:
    """One ``[[runs]]`` entry; a list of ``train_size`` values makes one run per size (a learning curve)."""
    _check_keys(where, table, {"dataset", *TrainSettings.field_names(), *_TRANSFER_KEYS})
    dataset = _require(where, table, "dataset")
    for key in ("dataset", "transfer_from"):
        if key in table and (not isinstance(table[key], str) or table[key] not in datasets):
            raise PrefstudyError(f"{where}: dataset {table[key]!r} is not declared under [datasets]")
    transfer = None
    if "transfer_from" in table:
        transfer = TransferSpec(
            source_dataset=table["transfer_from"],
            mode=table.get("transfer", DEFAULT_TRANSFER_MODE),
            adapt=table.get("adapt", DEFAULT_ADAPT),
            source_protocol=table.get("source_protocol"),
        )
        try:
            check_transfer(transfer.mode, transfer.adapt)
            if transfer.source_protocol is not None and transfer.source_protocol not in PROTOCOLS:
                raise PrefstudyError(f"source_protocol must be one of {', '.join(PROTOCOLS)}")
        except PrefstudyError as error:
            raise PrefstudyError(f"{where}: {error}") from None
    elif set(table) & _TRANSFER_KEYS:
        raise PrefstudyError(f'{where}: transfer, adapt and source_protocol need transfer_from = "DATASET"')
    sizes = table.get("train_size")
    sizes = sizes if isinstance(sizes, list) else [sizes]
    if not sizes:
        raise PrefstudyError(f"{where}: train_size = [] makes no run; give sizes, or leave train_size out")
    base = {k: v for k, v in table.items() if k in TrainSettings.field_names() and k != "train_size"}
    runs = []
    for size in sizes:
        try:
            settings = TrainSettings(**base, train_size=size)
        except (PrefstudyError, TypeError) as error:
            raise PrefstudyError(f"{where}: {error}") from None
        runs.append(RunSpec(dataset=dataset, settings=settings, transfer=transfer))
    return runs


def load_study(path: Path) -> StudySpec:
    """Read and validate a study file."""
    path = Path(path)
    if not path.is_file():
        raise PrefstudyError(f"study file {path} not found")
    return parse_study(path.read_text(encoding="utf-8"), origin=str(path))


def dataset_declaration(spec: DatasetSpec) -> str:
    """The TOML block declaring ``spec``, to append to a study file."""
    table: dict[str, Any] = {"kind": spec.kind}
    for key in ("path", "limit", "size", "channels"):
        if getattr(spec, key) is not None:
            table[key] = getattr(spec, key)
    if spec.limit is not None:
        table["seed"] = spec.seed
    return tomli_w.dumps({"datasets": {spec.name: table}})


SHIPPED_STUDIES = ("demo", "paper")


def shipped_study(name: str) -> Path:
    """A study file shipped with prefstudy: ``demo`` or ``paper`` (``studies/<name>.toml``)."""
    return Path(str(files("prefstudy.studies") / f"{name}.toml"))


def resolve_study_file(given: Path) -> Path:
    """``given`` when it is a file; else a shipped study of that name (``paper``, ``paper.toml``)."""
    if given.is_file():
        return given
    name = given.name.removesuffix(".toml")
    if name in SHIPPED_STUDIES and given.parent in (Path("."), Path("studies")):
        return shipped_study(name)
    raise PrefstudyError(f"study file {given} not found (shipped studies: {', '.join(SHIPPED_STUDIES)})")
