"""Run statuses, and which process owns a running run and whether it is still there.

One vocabulary serves runs made here and runs placed by executors on other machines: *queued*
(handed to an executor, not started), *running*, *finished*, *failed* and *interrupted*. A run
records its owner when it starts: the process id, the host, and the process's start time (with
the boot it belongs to), so that a pid the system has since reused is not taken for the owner.
:func:`owner_alive` is the one place that decides liveness; a run on another host is neither
alive nor dead here (its executor tracks it), so it stays *running*.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from prefstudy.errors import PrefstudyError

QUEUED, RUNNING, FINISHED, FAILED, INTERRUPTED = "queued", "running", "finished", "failed", "interrupted"
STATUSES = (QUEUED, RUNNING, FINISHED, FAILED, INTERRUPTED)
UNFINISHED = (QUEUED, RUNNING, INTERRUPTED, FAILED)
ACTIVE = (QUEUED, RUNNING)  # handed to an executor, or being made: not to be started a second time

_PROC = Path("/proc")


def check_statuses(names: Iterable[str]) -> tuple[str, ...]:
    """Run statuses as given (e.g. by `--status`), checked against the vocabulary."""
    names = tuple(names)
    unknown = [name for name in names if name not in STATUSES]
    if unknown:
        raise PrefstudyError(f"unknown run status {unknown[0]!r}; choose from {', '.join(STATUSES)}")
    return names


@dataclass(frozen=True)
class Owner:
    """The process a run is running in."""

    pid: int
    host: str
    started: str | None = None  # "<boot id>:<start tick>"; None where /proc is missing (not Linux)

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}"


def _started(pid: int) -> str | None:
    """A token naming the process ``pid`` and no other, or None if there is none (or no /proc)."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
        boot = (_PROC / "sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: the fields after it follow the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):  # ended, only not yet reaped by its parent
        return None
    return f"{boot}:{fields[19]}"  # field 22: the start time, in clock ticks since boot


def this_process() -> Owner:
    """The owner a run started (or resumed) by this process records."""
    return Owner(os.getpid(), socket.gethostname(), _started(os.getpid()))


def owner_alive(owner: Owner) -> bool | None:
    """Whether the owning process still runs: True or False on this host, None on another host.

    The hook for executors on other machines: they decide for the runs they placed there.
    """
    if owner.host != socket.gethostname():
        return None
    if owner.started is not None:
        return _started(owner.pid) == owner.started
    if os.name == "nt":  # signal 0 there is CTRL_C_EVENT, not a probe
        return None
    try:  # no start time recorded: only whether some process has the pid
        os.kill(owner.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
