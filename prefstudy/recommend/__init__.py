"""`prefstudy recommend`: rank unseen images for a subject by one of its finished runs.

The run is the subject's latest finished run on a dataset, or one named. A network run
(:mod:`.network`) scores the pool with its model and explains the top images with Grad-CAM; a head
run (:mod:`.heads`) scores its extractor's vectors of the pool, cached per file, with its head. Both
leave out the images the subject has answered (:mod:`.ranking`). This module imports no torch: a
head run's ranking needs none.
"""

from __future__ import annotations

from pathlib import Path

from prefstudy.errors import PrefstudyError
from prefstudy.progress import Reporter, SilentReporter
from prefstudy.recommend.ranking import Recommendation, read_asked
from prefstudy.workspace import Workspace

__all__ = ["Recommendation", "recommend"]


def recommend(
    ws: Workspace,
    subject: str,
    images: Path,
    *,
    run_id: str | None = None,
    dataset: str | None = None,
    top: int = 10,
    explain_out: Path | None = None,
    include_labelled: bool = False,
    batch_size: int = 256,
    device: str = "auto",
    report: Reporter | None = None,
) -> Recommendation:
    """Rank the images under ``images`` for ``subject``, the ``top`` first; a network run's Grad-CAM overlays
    under ``explain_out`` (a head run writes none, and says why in ``not_explained``)."""
    report = report or SilentReporter()
    if top < 1:
        raise PrefstudyError(f"--top must be at least 1, got {top}")
    asked = read_asked(ws, subject, run_id, dataset, include_labelled)
    if asked.run.settings.get("head") is not None:
        from prefstudy.recommend.heads import rank_with_head

        return rank_with_head(ws, asked, images, top=top, explain_out=explain_out, report=report)
    from prefstudy.recommend.network import rank_with_network  # torch and Captum

    return rank_with_network(
        ws,
        asked,
        images,
        top=top,
        explain_out=explain_out,
        batch_size=batch_size,
        device=device,
        report=report,
    )
