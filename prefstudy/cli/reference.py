"""The command reference, ``docs/cli.md``, generated from the command tree's own parameter data.

Each command's names, types, defaults and help come from the Click objects Typer builds, not from
rendered ``--help`` output, so the reference does not change with a Rich release. Regenerate it
with ``make docs`` (``python -m prefstudy.cli.reference docs/cli.md``); a test fails when it is stale.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Any, get_args, get_origin

import typer

HEADER = """# Command reference

Every `prefstudy` command, its arguments and options. Generated from the command tree by
`make docs`; do not edit by hand. Every command also prints this with `--help`. Errors you can fix
print one line and exit 1 (`PREFSTUDY_DEBUG=1` shows the traceback); with `--json`, stdout holds
one JSON object and progress goes to stderr (see [json.md](json.md)).
"""
_TYPE_NAMES = {str: "text", int: "integer", float: "number", Path: "path", bool: "flag"}


def command_tree() -> Any:
    """The ``prefstudy`` command as Typer builds it (a group of groups and commands)."""
    from prefstudy.cli import app

    return typer.main.get_command(app)


def _is_group(command: Any) -> bool:
    return hasattr(command, "commands")


def _is_argument(param: Any) -> bool:
    return param.param_type_name == "argument"


def _default(param: Any) -> str:
    value = param.default
    if callable(value) or value is None or (getattr(param, "is_flag", False) and value is False):
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value)


def _kind(param: Any) -> str:
    annotation = param.type_descriptor.annotation
    if get_origin(annotation) is list:
        return _TYPE_NAMES.get(get_args(annotation)[0], "text") + " (repeatable)"
    return _TYPE_NAMES.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _usage(path: list[str], command: Any) -> str:
    words = [*path]
    words += [p.name.upper() if p.required else f"[{p.name.upper()}]" for p in command.params if _is_argument(p)]
    if any(not _is_argument(p) for p in command.params):
        words.append("[OPTIONS]")
    if _is_group(command):
        words.append("COMMAND ...")
    return " ".join(words)


def _parameters(command: Any) -> list[str]:
    rows = []
    for param in command.params:
        if param.hidden:
            continue
        help_text = param.help or ""
        if _is_argument(param):
            name = f"`{param.name.upper()}`"
        else:
            name = ", ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
            if param.envvar:
                help_text += f" (env: `${param.envvar}`)"
        default = _default(param)
        shown = f"`{default}`" if default else ("required" if param.required else "")
        rows.append(f"| {name} | {_kind(param)} | {shown} | {_cell(help_text)} |")
    if not rows:
        return []
    return ["| argument / option | type | default | description |", "|---|---|---|---|", *rows, ""]


def _section(path: list[str], command: Any, lines: list[str]) -> None:
    lines += [f"## `{' '.join(path)}`", ""]
    text = inspect.cleandoc(command.help or "")
    if text:
        lines += [text, ""]
    lines += ["```", _usage(path, command), "```", ""]
    lines += _parameters(command)
    if _is_group(command):
        for name, sub in command.commands.items():
            if not sub.hidden:
                _section([*path, name], sub, lines)


def render_reference() -> str:
    """``docs/cli.md``: every command with its usage, arguments and options."""
    root = command_tree()
    lines = [HEADER]
    lines += ["Commands: " + ", ".join(f"`{name}`" for name in root.commands), ""]
    for name, command in root.commands.items():
        _section(["prefstudy", name], command, lines)
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> None:
    """Write the reference to the file named on the command line, or to stdout."""
    argv = sys.argv[1:] if argv is None else argv
    text = render_reference()
    if argv:
        Path(argv[0]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
