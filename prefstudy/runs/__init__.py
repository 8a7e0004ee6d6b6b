"""A run's life: one subject's model on one dataset.

- :mod:`~prefstudy.runs.prepare` — labels to splits, checked (no torch);
- :mod:`~prefstudy.runs.execute` — build the model once, fit, predict, write the run directory;
- :mod:`~prefstudy.runs.record` — the run directory's layout and the run's rows in DuckDB (no torch);
- :mod:`~prefstudy.runs.status` — the run statuses, and whether a running run's process is still there;
- :mod:`~prefstudy.runs.importing` — `prefstudy runs import`, recorded through ``record``.

Nothing is imported here, so that importing ``record`` never brings in torch.
"""
