"""Fewer labels: choosing what each subject labels next (random, uncertainty, diverse) and measuring
how many labels are enough (learning curves replayed from a subject's existing labels).

:mod:`.selection` and :mod:`.image_features` are torch-free (the labelling server uses them);
:mod:`.fitting` trains a model on a set of labels from a starting point (scratch, transfer, population).
Learning curves (`prefstudy curve`): :mod:`.curve_plan` checks a request and reads numbers off curves and
:mod:`.curve_store` holds their tables (both torch-free); :mod:`.curve` measures them.
"""
