"""A study's main job: bring the workspace in line with ``study.toml`` and make every planned run.

- :mod:`~prefstudy.study.sync` — add the declared datasets and simulated subjects the study lacks;
- :mod:`~prefstudy.study.plan` — every declared run per subject with labels: done, to do, waiting
  or blocked (no torch: it trains nothing);
- :mod:`~prefstudy.study.run` — make the runs that are due, transfer runs after their sources.
"""
