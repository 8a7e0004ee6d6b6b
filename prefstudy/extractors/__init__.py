"""Feature extractors: images in, fixed-length vectors out, with pretrained weights from installed packages.

- :mod:`.contract` — what an extractor is (:class:`~.contract.Extractor`, :class:`~.contract.ExtractorInfo`);
- :mod:`.registry` — extractors by name, from the ``prefstudy.extractors`` entry-point group;
- :mod:`.pooled` — a torch backbone's feature layers, pooled, as an extractor (a trained run's, too).

Nothing is imported here, so that naming the extractors stays light.
"""
