"""Explanations: heat maps (Grad-CAM, occlusion), their pictures, and their agreement with the subject's reasons.

- :mod:`~prefstudy.explain.gradcam` — the Grad-CAM engine (Captum's ``LayerGradCam``);
- :mod:`~prefstudy.explain.occlusion` — the occlusion engine (Captum's ``Occlusion``), for what has no gradient;
- :mod:`~prefstudy.explain.head_maps` — a head run's maps, through its extractor and head;
- :mod:`~prefstudy.explain.maps` — what a method hands the service (no torch);
- :mod:`~prefstudy.explain.region_scores` — pointing game, energy and IoU against a region;
- :mod:`~prefstudy.explain.chance` — their chance levels (no torch);
- :mod:`~prefstudy.explain.pictures` — the pictures and contact sheets;
- :mod:`~prefstudy.explain.records` — the ``explanations`` tables (no torch);
- :mod:`~prefstudy.explain.service` — `prefstudy explain RUN_ID`, end to end.

Nothing is imported here, so that reading the tables never brings in torch or Captum.
"""
