"""The allowed range of every number a user gives prefstudy, defined once.

A :class:`Bound` checks a value from any boundary: a command-line option (through
:func:`prefstudy.cli.options.bounded`), a key in ``study.toml``, an environment variable, a CSV
column. The same rule gives the same one-line message everywhere, and the web app's request
models take their limits from here too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from prefstudy.errors import PrefstudyError

INT32_MAX = 2**31 - 1  # the study database stores counts and seeds as INTEGER
RT_MS_MAX = 3_600_000.0  # an hour: a response time beyond it is a broken clock, not a slow subject


@dataclass(frozen=True)
class Bound:
    """A number's type and range; each end is included unless ``above`` / ``below`` excludes it."""

    integer: bool
    low: float | None = None
    high: float | None = None
    above: bool = False  # value > low, not >=
    below: bool = False  # value < high, not <=

    def describe(self) -> str:
        kind = "an integer" if self.integer else "a number"
        if self.low is not None and self.high is not None and not (self.above or self.below):
            return f"{kind} from {_show(self.low)} to {_show(self.high)}"
        ends = []
        if self.low is not None:
            ends.append(f"{'>' if self.above else '>='} {_show(self.low)}")
        if self.high is not None:
            ends.append(f"{'<' if self.below else '<='} {_show(self.high)}")
        return " ".join([kind, " and ".join(ends)]).strip()

    def check(self, name: str, value: Any) -> Any:
        """``value`` when it is of the type and in the range; else one line naming ``name``."""
        wrong = PrefstudyError(f"{name} must be {self.describe()}, got {value!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong
        if self.integer and not isinstance(value, int):
            raise wrong
        if not self.integer and not math.isfinite(value):
            raise wrong
        if self.low is not None and (value <= self.low if self.above else value < self.low):
            raise wrong
        if self.high is not None and (value >= self.high if self.below else value > self.high):
            raise wrong
        return value

    def parse(self, name: str, text: str) -> int | float:
        """A value written as text (an option, an environment variable), checked."""
        text = text.strip()
        try:
            value: int | float = int(text) if self.integer else float(text)
        except ValueError:
            raise PrefstudyError(f"{name} must be {self.describe()}, got {text[:40]!r}") from None
        return self.check(name, value)


def check_fields(obj: Any, bounds: dict[str, Bound], optional: frozenset[str] = frozenset()) -> None:
    """Check each named attribute of ``obj`` against its bound; those in ``optional`` may also be None."""
    for name, bound in bounds.items():
        value = getattr(obj, name)
        if value is not None or name not in optional:
            bound.check(name.replace("_", " "), value)


def _show(x: float) -> str:
    if x == INT32_MAX:
        return "2^31-1"
    return str(int(x)) if float(x).is_integer() else str(x)


SEED = Bound(integer=True, low=0, high=INT32_MAX)
COUNT = Bound(integer=True, low=1, high=INT32_MAX)  # epochs, batch size, --limit, --n, blocks ...
COUNT_OR_NONE = Bound(integer=True, low=0, high=INT32_MAX)  # e.g. explain --n 0: only the named items
TRAIN_SIZE = Bound(integer=True, low=2, high=INT32_MAX)
PORT = Bound(integer=True, low=1, high=65535)
PORT_OR_ANY = Bound(integer=True, low=0, high=65535)  # 0: the system picks a free port
IMAGE_SIZE = Bound(integer=True, low=8, high=1024)
CHANNELS = Bound(integer=True, low=1, high=3)
FRACTION = Bound(integer=False, low=0, high=1, above=True)  # of a whole, never none of it: (0, 1]
OPEN_FRACTION = Bound(integer=False, low=0, high=1, above=True, below=True)  # a split's share: (0, 1)
SHARE = Bound(integer=False, low=0, high=1)  # noise, a share of repeats: [0, 1]
REPEAT = Bound(integer=False, low=0, high=0.5)
POSITIVE = Bound(integer=False, low=0, above=True)  # a learning rate
SECONDS = Bound(integer=False, low=0, high=24 * 3600)  # a deadline or timeout; 0 = none
FIXATION_S = Bound(integer=False, low=0, high=5)
RT_MS = Bound(integer=False, low=0, high=RT_MS_MAX)
FINITE = Bound(integer=False)  # any finite number, e.g. a rating threshold on the file's own scale
FOLDS = Bound(integer=True, low=2, high=100)  # item-level k-fold cross-validation
FOLD = Bound(integer=True, low=0, high=99)
PIXELS = Bound(integer=True, low=1, high=10**10)
RETRIES = Bound(integer=True, low=0, high=100)
RESOURCE = Bound(integer=False, low=0, high=4096)  # CPUs or GPUs a run asks for; a fraction shares one
