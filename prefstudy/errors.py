"""Errors a user can fix.

Raise :class:`PrefstudyError` with one line that says what is wrong and what to do; the CLI
prints it without a traceback (set ``PREFSTUDY_DEBUG=1`` to see one).
"""


class PrefstudyError(Exception):
    """An error caused by input or state the user can fix; printed by the CLI as one line."""


class LabelFileError(PrefstudyError):
    """A label CSV with bad rows; carries every problem with its line number."""

    def __init__(self, path: str, problems: list[tuple[int, str]]):
        self.problems = problems
        shown = "; ".join(f"line {line}: {msg}" for line, msg in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"{path}: {len(problems)} bad row(s), nothing imported — {shown}{more}")
