"""What a ratings import (:func:`prefstudy.subjects.rating_files.import_ratings`) found and did."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class RefusedRater:
    subject: str
    reason: str  # why their answers are not enough for a run


@dataclass(frozen=True)
class RatingImport:
    """What an import found and did (also the `--json` output)."""

    file: str
    dataset: str
    layout: str
    raters: int  # in the file
    new_raters: int
    ratings_in_file: int  # cells with a rating: added + unchanged + replaced + skipped_unknown + duplicates
    added: int
    unchanged: int
    replaced: int
    skipped_unknown: int
    missing_cells: int
    duplicates: int  # identical repeats of a rater's rating of an item, kept once
    rule: str
    ties: int  # ratings on the rule's cut, among these raters
    refused: list[RefusedRater] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The `--json` object: every field, each refused rater as ``{"subject", "reason"}``."""
        return asdict(self)

    def summary(self) -> list[str]:
        """What was imported, the rule and who cannot have a run yet, as lines for a person."""
        lines = [
            f"{self.dataset}: {self.raters} raters ({self.new_raters} new), {self.ratings_in_file} ratings: "
            f"{self.added} added, {self.unchanged} unchanged, {self.replaced} replaced"
            + (f", {self.skipped_unknown} of unknown items skipped" if self.skipped_unknown else "")
            + (f"; {self.missing_cells} missing cells" if self.missing_cells else ""),
            f"preferred: {self.rule}; {self.ties} ties (neither answer)",
            f"{self.raters - len(self.refused)} of {self.raters} raters have enough labels for a run",
        ]
        if self.refused:
            shown = "; ".join(f"{r.subject}: {r.reason}" for r in self.refused[:3])
            more = "; ..." if len(self.refused) > 3 else ""
            lines.append(f"{len(self.refused)} refused for now ({shown}{more})")
        return lines
