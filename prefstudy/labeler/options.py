"""How a labelling sitting runs (:class:`LabelOptions`), checked by the same rules as `prefstudy label`'s options."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from prefstudy.active.selection import RANDOM, UNCERTAINTY, check_order
from prefstudy.bounds import COUNT, FIXATION_S, REPEAT, SECONDS, SEED, SHARE
from prefstudy.errors import PrefstudyError
from prefstudy.labeler.orders import AUTO, DEFAULT_EXPLORE, DEFAULT_REFIT_EVERY, LabelOrder
from prefstudy.labeler.trial_plan import PlanOptions

MARK_REASON = ("always", "sometimes", "never")
MAX_URL = 2000


@dataclass(frozen=True)
class LabelOptions:
    """How a sitting runs: the paper's deadline (1 s) and blocks against fatigue."""

    deadline_s: float = 1.0  # 0 = no deadline
    block: int = 100
    mark_reason: str = "sometimes"  # always, sometimes (every 5th answer) or never
    repeat: float = 0.0
    seed: int = 0
    limit: int | None = None
    fixation_s: float = 0.3
    trials: int | None = None  # a participant's budget: done after this many answers (misses not counted)
    complete_url: str | None = None  # where the page sends a finished participant (e.g. the platform's)
    order: str = RANDOM  # random, uncertainty or diverse: what each subject sees next (see .active_plan)
    explore: float = DEFAULT_EXPLORE  # an active order's share of random items
    refit_every: int = DEFAULT_REFIT_EVERY  # uncertainty: a new model after every N answers
    start: str = AUTO  # where an active order's model starts: auto, scratch or a run id

    def __post_init__(self) -> None:
        # The same rules as the `prefstudy label` options, for callers that build options in code.
        SECONDS.check("--deadline", self.deadline_s)
        COUNT.check("--block", self.block)
        REPEAT.check("--repeat", self.repeat)
        SEED.check("--seed", self.seed)
        FIXATION_S.check("--fixation", self.fixation_s)
        if self.limit is not None:
            COUNT.check("--limit", self.limit)
        if self.trials is not None:
            COUNT.check("--trials", self.trials)
        if self.complete_url is not None:
            check_complete_url(self.complete_url)
        check_order(self.order)
        SHARE.check("--explore", self.explore)
        COUNT.check("--refit-every", self.refit_every)
        if self.mark_reason not in MARK_REASON:
            raise PrefstudyError(f"--mark-reason must be one of {', '.join(MARK_REASON)}, got {self.mark_reason!r}")

    def plan_options(self) -> PlanOptions:
        """The options every subject's trial plan is made with."""
        return PlanOptions(seed=self.seed, repeat=self.repeat, limit=self.limit, block=self.block, trials=self.trials)

    def label_order(self) -> LabelOrder:
        """The order a subject who has not begun labels in (``start`` still to resolve for them)."""
        if self.order == RANDOM:
            return LabelOrder()
        refit_every = self.refit_every if self.order == UNCERTAINTY else None
        return LabelOrder(self.order, self.explore, refit_every, self.start)


def check_complete_url(url: str) -> str:
    """``url`` when it is an absolute http(s) URL a browser can be sent to; else one line saying so."""
    parts = urlsplit(url) if isinstance(url, str) else None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or len(url) > MAX_URL
        or any(c.isspace() or ord(c) < 32 for c in url)
    ):
        raise PrefstudyError(f"--complete-url must be an http:// or https:// URL, got {str(url)[:80]!r}")
    return url
