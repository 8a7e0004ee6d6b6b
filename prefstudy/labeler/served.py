"""Who the labelling app serves: each secret link's subject, and each subject's plan.

With open enrolment subjects arrive while the app runs, so the lookups are a small registry rather
than dictionaries fixed at start. A lookup takes no lock (one dictionary read, as before); adding a
subject does, and makes the plan before the link, so a request that finds the link finds the plan.
"""

from __future__ import annotations

import threading

from prefstudy.labeler.plan import PlanOptions, TrialPlan


class ServedSubjects:
    """token -> subject, and subject -> :class:`TrialPlan`, for one dataset of ``n_items`` images."""

    def __init__(self, n_items: int, options: PlanOptions, tokens: dict[str, str] | None = None):
        self._n_items, self._options = n_items, options
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
                self._plans[subject] = TrialPlan(subject, self._n_items, self._options)
            self._subjects[token] = subject
