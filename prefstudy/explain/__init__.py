"""Explanations: Grad-CAM heat maps, their pictures, and their agreement with the subject's reasons."""

from prefstudy.explain.agreement import Agreement, agreement, chance_levels, region_mask
from prefstudy.explain.gradcam import NOT_PREFERRED, PREFERRED, GradCam
from prefstudy.explain.service import explain_run

__all__ = [
    "NOT_PREFERRED",
    "PREFERRED",
    "Agreement",
    "GradCam",
    "agreement",
    "chance_levels",
    "explain_run",
    "region_mask",
]
