"""`prefstudy subject add|simulate|list`."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer
from rich.table import Table

from prefstudy.bounds import COUNT, REPEAT, SHARE
from prefstudy.cli.options import DatasetOption, JsonOption, SeedOption, StudyOption, bounded, workspace
from prefstudy.cli.output import note, print_json, stdout_console
from prefstudy.subjects.vocabulary import RULE_HELP

app = typer.Typer(
    rich_markup_mode=None, help="Add subjects, simulate subjects with a known rule, list them.", no_args_is_help=True
)


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The subject's name (letters, digits, '-', '_', '.').")],
    study: StudyOption = None,
) -> None:
    """Register a person as a subject; they then label with `prefstudy label` or `label import`."""
    from prefstudy.subjects.registry import add_subject

    add_subject(workspace(study), name)
    note(f"added subject {name}")


@app.command("simulate")
def simulate(
    name: Annotated[str, typer.Argument(help="The simulated subject's name.")],
    dataset: DatasetOption,
    rule: Annotated[str, typer.Option(help=RULE_HELP)],
    noise: Annotated[float, bounded(SHARE, "--noise", help="Probability of flipping each answer.")] = 0.0,
    repeat: Annotated[float, bounded(REPEAT, "--repeat", help="Fraction of items shown twice, for test-retest.")] = 0.0,
    limit: Annotated[
        int | None, bounded(COUNT, "--limit", help="Label a seeded random N items instead of all.")
    ] = None,
    seed: SeedOption = 0,
    study: StudyOption = None,
    json_out: JsonOption = False,
) -> None:
    """Label a dataset as a subject with a known preference rule would (run again to add another dataset)."""
    from prefstudy.subjects.simulate import simulate_subject  # feature rules compute with torch

    result = simulate_subject(workspace(study), name, dataset, rule, noise=noise, repeat=repeat, seed=seed, limit=limit)
    if json_out:
        print_json(asdict(result))
        return
    note(
        f"{name} labelled {result.n_labels} items of {dataset} ({100 * result.preferred_share:.1f} % preferred, "
        f"{100 * result.agreement_with_rule:.1f} % agree with the rule; {result.n_repeats} repeats)"
    )


@app.command("list")
def list_(study: StudyOption = None, json_out: JsonOption = False) -> None:
    """List subjects with their usable labels per dataset."""
    from prefstudy.subjects.registry import list_subjects

    subjects = list_subjects(workspace(study))
    if json_out:
        print_json({"subjects": [asdict(s) for s in subjects]})
        return
    table = Table(title="Subjects")
    for column in ("name", "kind", "labels", "rules"):
        table.add_column(column)
    for s in subjects:
        labels = ", ".join(f"{d}: {n}" for d, n in s.labels.items()) or "none"
        rules = ", ".join(f"{d}: {r}" for d, r in s.rules.items())
        table.add_row(s.name, s.kind, labels, rules)
    stdout_console().print(table)
