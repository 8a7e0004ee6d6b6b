"""The console on stderr that progress, notes, warnings and errors share; stdout stays free for results."""

from rich.console import Console

stderr_console = Console(stderr=True)
