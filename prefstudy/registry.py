"""Registries by name: backbones, dataset kinds and executors are each one of these, with the same shape.

A :class:`Registry` maps names to factories. Built-ins are declared in a table of loaders whose
imports the import graph sees (``builtins``); third parties register through an entry-point group
(``group``), the way prefstudy's own backbones do. Loading is lazy: a name's module is imported
when it is first used or listed, and a plugin that fails to load is one clear error, never fatal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from prefstudy.errors import PrefstudyError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered name: how to load its factory, and where it comes from."""

    name: str
    loader: Callable[[], T]
    summary: str = ""  # what the registry lists beside the name, known without loading it
    distribution: str | None = None  # the installed package that registers it (None: prefstudy itself)
    version: str | None = None


class Registry(Generic[T]):
    """Names -> factories of one ``kind`` (e.g. "backbone"), built-in and registered by plugins."""

    def __init__(self, kind: str, group: str | None = None, builtins: Sequence[Entry[T]] = ()):
        self.kind, self.group = kind, group
        self._builtins = {entry.name: entry for entry in builtins}

    def entries(self) -> dict[str, Entry[T]]:
        """Every registered name, built-ins first; a plugin cannot take a built-in's name."""
        found = dict(self._builtins)
        if self.group is not None:
            for ep in entry_points(group=self.group):
                if ep.name not in found:
                    dist = getattr(ep, "dist", None)
                    found[ep.name] = Entry(
                        ep.name,
                        ep.load,
                        distribution=dist.name if dist else None,
                        version=dist.version if dist else None,
                    )
        return found

    def builtin_names(self) -> list[str]:
        """prefstudy's own names, in their declared order, known without looking for plugins (e.g. for --help)."""
        return list(self._builtins)

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self.entries())

    def is_registered(self, name: str) -> bool:
        return name in self.entries()

    def create(self, name: str, *args, **kwargs):
        """What the factory registered as ``name`` makes of ``args`` and ``kwargs``."""
        return self.get(name)(*args, **kwargs)

    def get(self, name: str) -> T:
        """The factory registered as ``name``; an unknown name fails with the known ones, a broken plugin with why."""
        entries = self.entries()
        if name not in entries:
            raise PrefstudyError(f"unknown {self.kind} {name!r}; registered: {', '.join(sorted(entries)) or 'none'}")
        try:
            return entries[name].loader()
        except PrefstudyError:
            raise
        except Exception as error:  # a broken third-party plugin must not crash prefstudy
            raise PrefstudyError(
                f"{self.kind} plugin {name!r} failed to load: {type(error).__name__}: {error}"
            ) from None
