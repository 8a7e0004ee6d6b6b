"""Features computed once per dataset and extractor, and reused by every run, fold, curve and recommendation.

- :mod:`.store` — the ``features`` table and its ``cache/features/`` files (no torch);
- :mod:`.named` — an extractor by name: a plugin's, or a finished run's feature layers (``run:RUN_ID``);
- :mod:`.compute` — decode the originals at the extractor's size, extract in batches, store.

Nothing is imported here, so that reading the table never brings in an extractor.
"""
