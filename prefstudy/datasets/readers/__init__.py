"""Readers of dataset files, one module per kind; :mod:`prefstudy.datasets.kinds` names them."""
