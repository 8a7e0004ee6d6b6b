"""Datasets: where images come from, and what a study holds of them.

- :mod:`.kinds` — the dataset kinds by name (``fashion-mnist``, ``lfw``, ``folder``, ...), one registry;
- :mod:`.readers` — each kind's reader: files in, a :class:`~.readers.decoded.Decoded` dataset out;
- :mod:`.catalog` — the study's ``datasets`` and ``items`` tables and its uint8 image cache;
- :mod:`.embedded` — data shipped with prefstudy (the real Fashion-MNIST test split, for the demo).

Nothing is imported here, so that naming the kinds (in ``--help``) stays light.
"""
