"""Reports across subjects: collect finished runs and labels from the database, add statistics, render them."""

from prefstudy.report.model import Report, RunSummary, collect
from prefstudy.report.render import render_json, render_markdown, render_table

__all__ = ["Report", "RunSummary", "collect", "render_json", "render_markdown", "render_table"]
