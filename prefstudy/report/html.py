"""The report as one self-contained HTML page: every section's table (the same text as the other
formats), its figures embedded as data URIs, inline styles, no script, no external resource.
"""

from __future__ import annotations

from datetime import datetime, timezone
from html import escape

from prefstudy.report.figures import Figure, build_figures
from prefstudy.report.model import Report
from prefstudy.report.render import EMPTY
from prefstudy.report.sections import NUMERIC, Section, scale_note, sections
from prefstudy.workspace import Workspace

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d1d1f; margin: 0; }
header, main { max-width: 1200px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 24px; border-bottom: 1px solid #ddd; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 32px 0 8px; }
.meta { color: #555; margin: 0 0 12px; }
nav ul { list-style: none; padding: 0; margin: 8px 0 16px; display: flex; flex-wrap: wrap; gap: 6px 16px; }
nav a { color: #1f5fa8; text-decoration: none; } nav a:hover { text-decoration: underline; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
th, td { padding: 4px 8px; border-bottom: 1px solid #e5e5e5; text-align: left; white-space: nowrap; }
th { background: #f5f5f7; position: sticky; top: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.note { color: #444; font-size: 13px; max-width: 900px; }
.scale { background: #fff7e0; border-left: 4px solid #e0a800; padding: 8px 12px; }
figure { margin: 12px 0 20px; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 13px; }
"""

EXTRA_SECTIONS = {"training": "Training curves", "sheets": "Grad-CAM contact sheets"}


def _table(section: Section) -> str:
    head = "".join(f'<th class="{"num" if h in NUMERIC else "text"}">{escape(h)}</th>' for h in section.headers)
    numeric = [h in NUMERIC for h in section.headers]
    body = "".join(
        "<tr>"
        + "".join(f'<td class="{"num" if n else "text"}">{escape(c)}</td>' for c, n in zip(row, numeric, strict=True))
        + "</tr>"
        for row in section.rows
    )
    return (
        f'<div class="scroll"><table data-section="{section.key}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def _figure(figure: Figure) -> str:
    return (
        f'<figure><img src="{figure.uri}" alt="{escape(figure.caption)}">'
        f"<figcaption>{escape(figure.caption)}</figcaption></figure>"
    )


def _block(key: str, title: str, inner: list[str]) -> str:
    return f'<section id="{key}"><h2>{escape(title)}</h2>{"".join(inner)}</section>'


def render_html(report: Report, ws: Workspace) -> str:
    """One HTML page holding the whole report: tables, notes and figures."""
    built = sections(report)
    figures = build_figures(report, ws)
    by_section: dict[str, list[Figure]] = {}
    for f in figures:
        by_section.setdefault(f.section, []).append(f)
    blocks, toc = [], []
    for section in built:
        inner = [_figure(f) for f in by_section.pop(section.key, [])]
        inner.append(_table(section))
        inner += [f'<p class="note">{escape(n)}</p>' for n in section.notes]
        blocks.append(_block(section.key, section.title, inner))
        toc.append((section.key, section.title))
    for key, chosen in by_section.items():  # figures whose table is left out (or has none)
        title = EXTRA_SECTIONS.get(key, "Figures")
        blocks.append(_block(key, title, [_figure(f) for f in chosen]))
        toc.append((key, title))
    filters = ", ".join(f"{k} = {v}" for k, v in report.filters.items() if v) or "none"
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    meta = (
        f"{len(report.runs):,} finished runs, {report.n_subjects:,} subjects; filters: {escape(filters)}; "
        f"made {stamp} by prefstudy report"
    )
    nav = "".join(f'<li><a href="#{k}">{escape(t)}</a></li>' for k, t in toc)
    notice = f'<p class="scale">{escape(scale_note(report))}</p>' if scale_note(report) else ""
    empty = f"<p>{escape(EMPTY)}</p>" if not built else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Study report: {escape(report.study)}</title><style>{STYLE}</style></head><body>"
        f'<header><h1>Study report: {escape(report.study)}</h1><p class="meta">{meta}</p>'
        f"<nav><ul>{nav}</ul></nav></header><main>{notice}{empty}{''.join(blocks)}</main></body></html>"
    )
