"""Who the labelling app serves: each secret link's subject, and each subject's plan.

With open enrolment subjects arrive while the app runs, so the lookups are a small registry rather
than dictionaries fixed at start. A lookup takes no lock (one dictionary read, as before); adding a
subject does, and makes the plan before the link, so a request that finds the link finds the plan.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from prefstudy.labeler.trial_plan import PlanOptions, TrialPlan


class ServedSubjects:
    """token -> subject, and subject -> :class:`TrialPlan`, for one dataset of ``n_items`` images."""

    def __init__(
        self,
        n_items: int,
        options: PlanOptions,
        tokens: dict[str, str] | None = None,
        make_plan: Callable[[str], TrialPlan] | None = None,
    ):
        """``make_plan``: a subject's plan (default: the ``random`` order's, from ``options``)."""
        self._make_plan = make_plan or (lambda subject: TrialPlan(subject, n_items, options))
        self._subjects: dict[str, str] = {}
        self._plans: dict[str, TrialPlan] = {}
        self._lock = threading.Lock()
        for token, subject in (tokens or {}).items():
            self.add(token, subject)

    def subject(self, token: str) -> str | None:
        """The subject whose link ``token`` is, or None for an unknown link."""
        return self._subjects.get(token)

    def plan(self, subject: str) -> TrialPlan:
        """The subject's plan (every subject served has one)."""
        return self._plans[subject]

    def add(self, token: str, subject: str) -> None:
        """Serve ``subject`` at ``token`` from now on (again: nothing changes)."""
        with self._lock:
            if subject not in self._plans:
                self._plans[subject] = self._make_plan(subject)
            self._subjects[token] = subject

    def stop(self) -> None:
        """The server stops: each plan ends what runs for it (an active order's refit)."""
        with self._lock:
            plans = list(self._plans.values())
        for plan in plans:
            plan.stop()
