"""`prefstudy subject add|simulate|list|consensus`."""

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
    from prefstudy.subjects.roster import add_subject

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
def list_(
    dataset: Annotated[
        str | None, typer.Option("--dataset", "-d", help="Only subjects with labels or ratings on this dataset.")
    ] = None,
    study: StudyOption = None,
    json_out: JsonOption = False,
) -> None:
    """List subjects with their usable labels (and ratings, for imported raters) per dataset."""
    from prefstudy.subjects.roster import list_subjects

    subjects = list_subjects(workspace(study), dataset)
    if json_out:
        print_json({"subjects": [asdict(s) for s in subjects]})
        return
    rated = any(s.ratings for s in subjects)
    table = Table(title="Subjects")
    for column in ("name", "kind", "labels", *(("ratings",) if rated else ()), "rules / attributes"):
        table.add_column(column)
    for s in subjects:
        labels = ", ".join(f"{d}: {n}" for d, n in s.labels.items()) or "none"
        ratings = (", ".join(f"{d}: {n}" for d, n in (s.ratings or {}).items()),) if rated else ()
        about = {**s.rules, **(s.attributes or {})}
        table.add_row(s.name, s.kind, labels, *ratings, ", ".join(f"{k}: {v}" for k, v in about.items()))
    stdout_console().print(table)
    note(f"{len(subjects)} subject(s)")


@app.command("consensus")
def consensus(
    name: Annotated[str, typer.Argument(help="The derived subject's name, e.g. crowd.")],
    dataset: DatasetOption,
    raters: Annotated[str, typer.Option(help="Raters whose ratings to average: a name pattern, e.g. 'lon-*'.")] = "*",
    exclude: Annotated[
        list[str] | None, typer.Option(help="Leave out raters matching this pattern (repeat for more).")
    ] = None,
    min_raters: Annotated[
        int, bounded(COUNT, "--min-raters", help="Leave out items rated by fewer of the raters.")
    ] = 1,
    replace: Annotated[bool, typer.Option("--replace", help="Make it again from other raters or ratings.")] = False,
    study: StudyOption = None,
    json_out: JsonOption = False,
) -> None:
    """Derive the population as a subject: per item the mean rating of the raters, split at its median."""
    from prefstudy.subjects.consensus import make_consensus

    result = make_consensus(
        workspace(study), name, dataset, raters=raters, exclude=exclude, min_raters=min_raters, replace=replace
    )
    if json_out:
        print_json(asdict(result))
        return
    what = "made" if result.changed else "unchanged (the same raters and ratings)"
    note(
        f"consensus {name} on {dataset} {what}: the mean of {result.raters} raters ({result.excluded} excluded) on "
        f"{result.items} items: {result.preferred} preferred, {result.not_preferred} not, {result.ties} ties"
        + (f"; {result.left_out} items rated by fewer than {min_raters} left out" if result.left_out else "")
    )
