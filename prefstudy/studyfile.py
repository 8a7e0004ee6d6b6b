"""Study files: a study declared in TOML — its datasets, subjects (simulated, or imported raters and
their consensus), planned runs, and what the labelling page tells participants.

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

Real raters come from a ratings file, and the population from their consensus (see
``studies/london.toml``)::

    [[ratings]]               # as `prefstudy label import-ratings`
    file = "ratings.csv"
    dataset = "faces"
    rater = "rater"
    item = "face"
    rating = "rating"

    [[consensus]]             # as `prefstudy subject consensus`
    name = "crowd"
    dataset = "faces"

    [[runs]]                  # every rater, fine-tuned from the crowd's run on the same item fold
    dataset = "faces"
    split_by = "item"
    folds = 5
    transfer_from = "subject:crowd"

What the labelling page shows each participant before their first trial (consent, instructions)::

    [label]
    instructions = '''
    You will see 300 photos of rooms, one at a time. Press -> if you like it, <- if not ...
    '''
"""

from __future__ import annotations

import fnmatch
import sys
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import tomli_w

from prefstudy.bounds import CHANNELS, COUNT, IMAGE_SIZE, REPEAT, SEED, SHARE, check_fields
from prefstudy.config import (
    DEFAULT_ADAPT,
    DEFAULT_TRANSFER_MODE,
    PROTOCOLS,
    TrainSettings,
    check_transfer,
    train_settings,
)
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
    """Start each subject's run from their finished run on ``source_dataset`` (same backbone), or from
    ``source_subject``'s (e.g. the population's consensus) with the same item split."""

    source_dataset: str
    mode: str = DEFAULT_TRANSFER_MODE  # finetune, frozen or zero-shot
    adapt: str = DEFAULT_ADAPT  # keep-size, resize or conv
    source_protocol: str | None = None  # default: the run's own protocol
    source_subject: str | None = None  # default: each subject's own run


@dataclass(frozen=True)
class RatingsSpec:
    """A ratings file the study imports (``prefstudy label import-ratings``), one rater per subject."""

    file: str
    dataset: str
    layout: str = "long"
    rater: str | None = None
    item: str | None = None
    rating: str | None = None
    item_columns: str | None = None
    subject_columns: tuple[str, ...] = ()
    subject_table: str | None = None
    prefix: str = ""
    threshold: float | None = None
    skip_unknown: bool = False


@dataclass(frozen=True)
class ConsensusSpec:
    """A consensus subject the study derives (``prefstudy subject consensus``): the raters' mean rating."""

    name: str
    dataset: str
    raters: str = "*"
    exclude: tuple[str, ...] = ()
    min_raters: int = 1


@dataclass(frozen=True)
class RunSpec:
    """A run to make for every subject who has labels on ``dataset``."""

    dataset: str
    settings: TrainSettings = field(default_factory=TrainSettings)
    transfer: TransferSpec | None = None
    subjects: tuple[str, ...] = ()  # name patterns: only these subjects (default: every one)

    def covers(self, subject: str) -> bool:
        """Whether this entry is made for ``subject``."""
        return not self.subjects or any(fnmatch.fnmatchcase(subject, p) for p in self.subjects)

    @property
    def source_protocol(self) -> str:
        assert self.transfer is not None
        return self.transfer.source_protocol or self.settings.protocol


MAX_INSTRUCTIONS = 20_000  # characters: a consent form and instructions, not a document


@dataclass(frozen=True)
class LabelSpec:
    """How the labelling app presents the study: the text shown before the first trial (plain text); whether the
    enrolments of the open join link keep each participant's network address (by default it is held in memory for
    the join rate limit only, never stored)."""

    instructions: str | None = None
    keep_address: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.keep_address, bool):
            raise PrefstudyError(f"keep_address must be true or false, got {self.keep_address!r}")
        text = self.instructions
        if text is not None and (not isinstance(text, str) or not text.strip() or len(text) > MAX_INSTRUCTIONS):
            raise PrefstudyError(f"instructions must be a non-empty string of at most {MAX_INSTRUCTIONS} characters")


@dataclass(frozen=True)
class StudySpec:
    name: str
    description: str = ""
    datasets: dict[str, DatasetSpec] = field(default_factory=dict)
    subjects: tuple[SubjectSpec, ...] = ()
    runs: tuple[RunSpec, ...] = ()
    ratings: tuple[RatingsSpec, ...] = ()
    consensus: tuple[ConsensusSpec, ...] = ()
    label: LabelSpec = field(default_factory=LabelSpec)


def _check_text(key: str, value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise PrefstudyError(f"{key} must be a non-empty string, got {value!r}")


_DATASET_KEYS = {"kind", "path", "limit", "seed", "size", "channels"}
_SUBJECT_KEYS = {"name", "dataset", "rule", "noise", "repeat", "seed", "limit"}
_TOP_KEYS = {"study", "datasets", "subjects", "runs", "ratings", "consensus", "label"}


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
    ratings = [
        _parse_entry(f"{origin} [[ratings]] #{i}", table, RatingsSpec, ("file", "dataset"), datasets)
        for i, table in enumerate(_array_of_tables(f"{origin} ratings", doc.get("ratings", [])), start=1)
    ]
    consensus = [
        _parse_entry(f"{origin} [[consensus]] #{i}", table, ConsensusSpec, ("name", "dataset"), datasets)
        for i, table in enumerate(_array_of_tables(f"{origin} consensus", doc.get("consensus", [])), start=1)
    ]

    label = _table(f"{origin} [label]", doc.get("label", {}))
    _check_keys(f"{origin} [label]", label, set(LabelSpec.__dataclass_fields__))
    try:
        label_spec = LabelSpec(**label)
    except PrefstudyError as error:
        raise PrefstudyError(f"{origin} [label]: {error}") from None

    return StudySpec(
        name=head.get("name", Path(origin).parent.name or "study"),
        description=head.get("description", ""),
        datasets=datasets,
        subjects=tuple(subjects),
        runs=tuple(runs),
        ratings=tuple(ratings),
        consensus=tuple(consensus),
        label=label_spec,
    )


_ENTRY_TYPES = {
    "file": str,
    "dataset": str,
    "layout": str,
    "rater": str,
    "item": str,
    "rating": str,
    "item_columns": str,
    "subject_table": str,
    "prefix": str,
    "name": str,
    "raters": str,
    "threshold": (int, float),
    "skip_unknown": bool,
    "min_raters": int,
    "subject_columns": list,
    "exclude": list,
}


def _parse_entry(where: str, table: dict[str, Any], cls: type, required: tuple[str, ...], datasets: dict) -> Any:
    """A ``[[ratings]]`` or ``[[consensus]]`` entry: known keys of the right types, on a declared dataset."""
    known = {f for f in cls.__dataclass_fields__}
    _check_keys(where, table, known)
    for key in required:
        _require(where, table, key)
    for key, value in table.items():
        wanted = _ENTRY_TYPES[key]
        ok = isinstance(value, wanted) and not (wanted is not bool and isinstance(value, bool))
        if wanted is list:
            ok = isinstance(value, list) and all(isinstance(v, str) and v for v in value)
        if not ok or (isinstance(value, str) and not value.strip() and key != "prefix"):
            raise PrefstudyError(f"{where}: {key} has the wrong type or is empty, got {value!r:.60}")
    if table["dataset"] not in datasets:
        raise PrefstudyError(f"{where}: dataset {table['dataset']!r} is not declared under [datasets]")
    if "min_raters" in table:
        COUNT.check(f"{where}: min_raters", table["min_raters"])
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in table.items()}
    return cls(**values)


_TRANSFER_KEYS = {"transfer_from", "transfer", "adapt", "source_protocol"}
_RUN_KEYS = {"dataset", "subjects", *_TRANSFER_KEYS}


def _parse_runs(where: str, table: dict[str, Any], datasets: dict[str, DatasetSpec]) -> list[RunSpec]:
    """One ``[[runs]]`` entry; a list of ``train_size`` values makes one run per size (a learning curve)."""
    _check_keys(where, table, {*_RUN_KEYS, *TrainSettings.field_names()})
    dataset = _require(where, table, "dataset")
    subjects = table.get("subjects", [])
    if not isinstance(subjects, list) or not all(isinstance(p, str) and p.strip() for p in subjects):
        raise PrefstudyError(f'{where}: subjects must be a list of name patterns, e.g. ["crowd", "lon-*"]')
    source_subject, source_dataset = None, table.get("transfer_from")
    if isinstance(source_dataset, str) and source_dataset.startswith("subject:"):
        source_subject, _, source_dataset = source_dataset.removeprefix("subject:").partition("@")
        source_dataset = source_dataset or dataset
        if not source_subject:
            raise PrefstudyError(f'{where}: transfer_from = "subject:NAME" or "subject:NAME@DATASET"')
    for key, value in (("dataset", dataset), ("transfer_from", source_dataset)):
        if key in table and (not isinstance(value, str) or value not in datasets):
            raise PrefstudyError(f"{where}: dataset {value!r} is not declared under [datasets]")
    transfer = None
    if "transfer_from" in table:
        transfer = TransferSpec(
            source_subject=source_subject,
            source_dataset=source_dataset,
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
            settings = train_settings(**base, train_size=size)
        except (PrefstudyError, TypeError) as error:
            raise PrefstudyError(f"{where}: {error}") from None
        runs += [
            RunSpec(dataset=dataset, settings=fold, transfer=transfer, subjects=tuple(subjects))
            for fold in settings.per_fold()
        ]
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


SHIPPED_STUDIES = ("demo", "paper", "london")


def shipped_study(name: str) -> Path:
    """A study file shipped with prefstudy: ``demo``, ``paper`` or ``london`` (``studies/<name>.toml``)."""
    return Path(str(files("prefstudy.studies") / f"{name}.toml"))


def resolve_study_file(given: Path) -> Path:
    """``given`` when it is a file; else a shipped study of that name (``paper``, ``paper.toml``)."""
    if given.is_file():
        return given
    name = given.name.removesuffix(".toml")
    if name in SHIPPED_STUDIES and given.parent in (Path("."), Path("studies")):
        return shipped_study(name)
    raise PrefstudyError(f"study file {given} not found (shipped studies: {', '.join(SHIPPED_STUDIES)})")
