"""The architecture, checked: layers (import-linter), no import cycle, SQL in its tables' homes, light modules."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import grimp

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "prefstudy"
HEAVY = ("torch", "torchvision", "timm", "captum")

# Each table and the one module that writes it; reading it elsewhere goes through that module.
TABLE_HOMES = {
    "datasets": "prefstudy/datasets/catalog.py",
    "items": "prefstudy/datasets/catalog.py",
    "subjects": "prefstudy/subjects/roster.py",
    "simulations": "prefstudy/subjects/roster.py",
    "labels": "prefstudy/subjects/labels.py",
    "runs": "prefstudy/runs/record.py",
    "metrics": "prefstudy/runs/record.py",
    "epochs": "prefstudy/runs/record.py",
    "predictions": "prefstudy/runs/record.py",
    "explanations": "prefstudy/explain/records.py",
    "explanation_files": "prefstudy/explain/records.py",
    "label_links": "prefstudy/labeler/links.py",
    "enrolments": "prefstudy/labeler/enrolments.py",
    "label_orders": "prefstudy/labeler/orders.py",
    "rating_rules": "prefstudy/subjects/ratings.py",
    "consensus": "prefstudy/subjects/consensus.py",
    "curves": "prefstudy/active/curve_store.py",
    "curve_points": "prefstudy/active/curve_store.py",
    "features": "prefstudy/features/store.py",
}
# Queries that read another home's table, on purpose: a label export names items by key.
CROSS_READS = {("prefstudy/subjects/labels.py", "items")}
SQL = re.compile(r"\b(?:SELECT\s|INSERT\s+INTO|DELETE\s+FROM|UPDATE\s+\w+\s+SET|COPY\s*\()")
# The word after each keyword that writes or reads a table (lookaheads: every occurrence, overlapping or not).
WRITES = re.compile(r"(?=\b(?:INSERT\s+INTO|DELETE\s+FROM|UPDATE)\s+(\w+))")
READS = re.compile(r"(?=\b(?:FROM|JOIN)\s+(\w+))")


def _sources() -> dict[str, str]:
    return {p.relative_to(REPO).as_posix(): p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py")}


def test_the_layer_and_torch_free_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "2 kept, 0 broken" in result.stdout


def _contract_layers() -> list[str]:
    from prefstudy.studyfile import tomllib  # tomllib, or tomli before Python 3.11

    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["type"] == "layers")["layers"]
    return [name.strip() for layer in layers for name in re.split(r"[|:]", layer)]


def test_every_module_is_in_a_layer_of_the_contract():
    layers = _contract_layers()
    modules = sorted(m for m in grimp.build_graph("prefstudy").modules if m != "prefstudy")
    outside = [m for m in modules if not any(m == layer or m.startswith(layer + ".") for layer in layers)]
    assert not outside, f"modules in no layer of pyproject.toml's contract (add them): {outside}"
    # Layers name whole packages (and the foundation's modules): a package sliced across layers hides its arrows.
    assert all(layer.count(".") == 1 for layer in layers), [layer for layer in layers if layer.count(".") != 1]


def test_no_module_imports_itself_back_through_others():
    graph = grimp.build_graph("prefstudy")
    cycles = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            if imported != "prefstudy" and graph.chain_exists(importer=imported, imported=importer):
                cycles.append(graph.find_shortest_chain(importer=imported, imported=importer))
    assert not cycles, f"import cycles: {cycles[:3]}"


def test_sql_lives_only_in_the_homes_of_its_tables():
    store = {f"prefstudy/store/{m}.py" for m in ("migrations", "connection", "integrity", "salvage")}  # any table
    # Modules that query files through an in-memory DuckDB, never a table of the study.
    files = {"prefstudy/runs/rundir.py", "prefstudy/subjects/rating_files.py"}
    homes = set(TABLE_HOMES.values()) | store | files
    sources = _sources()
    with_sql = {path for path, text in sources.items() if SQL.search(text)}
    assert with_sql <= homes, f"SQL outside the tables' homes: {sorted(with_sql - homes)}"
    for path, text in sources.items():
        if path == "prefstudy/store/migrations.py":
            continue
        written, read = set(WRITES.findall(text)), set(READS.findall(text))
        for table, home in TABLE_HOMES.items():
            writes, reads = table in written, table in read
            if path != home:
                assert not writes, f"{path} writes {table}; only {home} may"
                assert not reads or (path, table) in CROSS_READS, f"{path} reads {table}; ask {home}"


def test_every_table_of_the_schema_has_a_home():
    from prefstudy.store.migrations import MIGRATIONS

    created = {m for _, sql in MIGRATIONS for m in re.findall(r"CREATE TABLE (\w+)", sql)}
    assert created == set(TABLE_HOMES)


def test_every_package_is_declared_for_the_build():
    from prefstudy.studyfile import tomllib  # tomllib, or tomli before Python 3.11

    declared = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(d.relative_to(REPO).parts)
        for d in [PACKAGE, *PACKAGE.rglob("*")]
        if d.is_dir() and "__pycache__" not in d.parts and (any(d.glob("*.py")) or d.name == "static")
    }
    assert found | {"prefstudy.studies"} == declared


def test_no_module_is_much_over_500_lines():
    sizes = {path: text.count("\n") for path, text in _sources().items()}
    largest = max(sizes, key=sizes.get)
    assert sizes[largest] <= 500, f"{largest} has {sizes[largest]} lines; split it"


# Imported one after another in one fresh interpreter: the first that brings torch in is named.
RECORD_MODULES = [
    "prefstudy.cli",
    "prefstudy.runs.record",
    "prefstudy.runs.importing",
    "prefstudy.report",
    "prefstudy.study.plan",
    "prefstudy.subjects.roster",
    "prefstudy.subjects.label_files",
    "prefstudy.labeler.server",
]


def test_modules_that_only_read_and_write_records_import_no_torch():
    code = (
        "import importlib, sys\n"
        f"for module in {RECORD_MODULES!r}:\n"
        "    importlib.import_module(module)\n"
        f"    heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "    if heavy:\n"
        "        sys.exit(f'{module} imports {heavy}')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_the_command_tree_imports_nothing_heavy_until_a_command_runs():
    code = (
        "import sys, prefstudy.cli; "
        "print(','.join(m for m in ('torch', 'timm', 'captum', 'numpy', 'duckdb', 'fastapi') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == ""
