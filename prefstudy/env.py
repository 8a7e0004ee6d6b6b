"""The environment variables prefstudy reads, named once."""

import os

STUDY_ENV = "PREFSTUDY_STUDY"  # the study directory, when --study is not given
DATA_ENV = "PREFSTUDY_DATA"  # where to look for dataset files (e.g. Fashion-MNIST's IDX files)
DEBUG_ENV = "PREFSTUDY_DEBUG"  # 1 = show tracebacks instead of one-line errors
LOCK_TIMEOUT_ENV = "PREFSTUDY_LOCK_TIMEOUT"  # seconds to wait for a database another process holds
MAX_PIXELS_ENV = "PREFSTUDY_MAX_PIXELS"  # the largest image (width x height) decoded; larger ones are left out
# Tests only: a label refit (prefstudy.active.refit) waits until this file exists before it writes its result,
# so a test can label while a refit is certainly running, by the order of events rather than by timing.
REFIT_GATE_ENV = "PREFSTUDY_TEST_REFIT_GATE"
WORLD_SIZE_ENV = "WORLD_SIZE"  # set by torchrun: the processes that make each run together


def is_torchrun() -> bool:
    """Whether this process is one of several that torchrun started (read without importing torch)."""
    return int(os.environ.get(WORLD_SIZE_ENV, "1")) > 1
