"""docs/cli.md is generated from the command tree, and kept up to date."""

from __future__ import annotations

from pathlib import Path

from prefstudy.cli.reference import command_tree, render_reference

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_the_reference_in_docs_is_up_to_date():
    assert REFERENCE.read_text(encoding="utf-8") == render_reference(), "docs/cli.md is stale: run `make docs`"


def test_the_reference_names_every_command_with_its_options_and_defaults():
    text = render_reference()
    root = command_tree()
    for group, command in root.commands.items():
        assert f"## `prefstudy {group}`" in text
        for sub in getattr(command, "commands", {}):
            assert f"## `prefstudy {group} {sub}`" in text
    assert "| `--precision` | text | `auto` |" in text
    epochs = "Training epochs (onecycle: at most, see --budget). [an integer from 1 to 2^31-1]"
    assert f"| `--epochs` | integer | `10` | {epochs} |" in text
    assert "| `--schedule` | text | `onecycle` |" in text
    assert "| `--lr` | number |  | Adam learning rate (onecycle: its peak) [default: 0.002, paper: 0.001]" in text
    assert "| `--study` | path |  |" in text and "(env: `$PREFSTUDY_STUDY`)" in text
    assert "prefstudy data add NAME [OPTIONS]" in text
    assert "| `RUN_ID` | text | required |" in text


def test_every_command_with_json_output_has_its_contract_in_docs():
    contracts = (REFERENCE.parent / "json.md").read_text(encoding="utf-8")
    root = command_tree()
    for group, command in root.commands.items():
        for name, sub in [
            (group, command),
            *[(f"{group} {n}", c) for n, c in getattr(command, "commands", {}).items()],
        ]:
            if any("--json" in getattr(p, "opts", ()) for p in sub.params):
                assert f"`prefstudy {name}" in contracts, f"docs/json.md lacks `prefstudy {name} --json`"
