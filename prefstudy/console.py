"""The consoles prefstudy prints through: stderr for progress, notes, warnings and errors; stdout for results.

Both have Rich markup turned off. What prefstudy prints is full of user text (paths, names, ids,
messages from libraries) in which ``[...]`` is literal, so colour is given as :class:`~rich.text.Text`
styles, never as markup in a string.
"""

import sys

from rich.console import Console
from rich.text import Text

stderr_console = Console(stderr=True, markup=False, highlight=False)


def stdout_console() -> Console:
    """A console on the current stdout; wide when stdout is not a terminal, so tables do not wrap."""
    return Console(file=sys.stdout, width=None if sys.stdout.isatty() else 200, markup=False, highlight=False)


def labelled(label: str, style: str, message: str) -> Text:
    """``label: message`` with the label in ``style`` and the message printed as it is."""
    return Text.assemble((f"{label}:", style), " ", message)
