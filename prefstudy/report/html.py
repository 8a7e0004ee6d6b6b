"""The report as one self-contained HTML page: every section's table (the same text as the other
formats), its figures embedded as data URIs, inline styles, no script, no external resource.

The page fits a window 1,280 px wide: headers and cells wrap (a number stays with its unit; an interval
breaks between its bounds), and a table that still cannot fit scrolls inside its own box, never the page.
A long table (a row per subject or run) is folded in a ``<details>`` element; past
:data:`~prefstudy.report.sections.scale.HTML_ROWS_UP_TO` rows the rest is left to the JSON and the export.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from html import escape

from prefstudy.report.figures import Figure, build_figures
from prefstudy.report.model import Report
from prefstudy.report.render import EMPTY
from prefstudy.report.sections import NUMERIC, Section, scale_note, sections
from prefstudy.report.sections.scale import FOLD_OVER, HTML_ROWS_UP_TO, shown_rows
from prefstudy.workspace import Workspace

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d1d1f; margin: 0; }
header, main { max-width: 1200px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 24px; border-bottom: 1px solid #ddd; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 32px 0 8px; }
.meta { color: #555; margin: 0 0 12px; }
nav ul { list-style: none; padding: 0; margin: 8px 0 16px; display: flex; flex-wrap: wrap; gap: 6px 16px; }
nav a { color: #1f5fa8; text-decoration: none; } nav a:hover { text-decoration: underline; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; font-size: 12px; margin: 8px 0; }
th, td { padding: 3px 5px; border-bottom: 1px solid #e5e5e5; text-align: left; vertical-align: top; }
th { background: #f5f5f7; position: sticky; top: 0; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; } td.num.ci { white-space: normal; }
details > summary { cursor: pointer; color: #1f5fa8; margin: 4px 0; }
.note { color: #444; font-size: 13px; max-width: 900px; }
.scale { background: #fff7e0; border-left: 4px solid #e0a800; padding: 8px 12px; }
figure { margin: 12px 0 20px; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 13px; }
"""

EXTRA_SECTIONS = {"training": "Training curves", "sheets": "Grad-CAM contact sheets"}


_UNIT = re.compile(r" (?=%|ms\b)")


def _cell(text: str, numeric: bool) -> str:
    if not numeric:
        return f'<td class="text">{escape(text)}</td>'
    if " [" not in text:  # a number: on one line
        return f'<td class="num">{escape(text)}</td>'
    # An estimate with its interval may wrap, at its spaces, but never between a number and its unit.
    return f'<td class="num ci">{_UNIT.sub("&nbsp;", escape(text))}</td>'


def _table(section: Section, rows: list[list[str]]) -> str:
    head = "".join(f'<th class="{"num" if h in NUMERIC else "text"}">{escape(h)}</th>' for h in section.headers)
    numeric = [h in NUMERIC for h in section.headers]
    body = "".join("<tr>" + "".join(_cell(c, n) for c, n in zip(row, numeric, strict=True)) + "</tr>" for row in rows)
    table = (
        f'<div class="scroll"><table data-section="{section.key}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )
    if len(rows) <= FOLD_OVER:
        return table
    return f"<details><summary>{len(rows):,} rows: show the table</summary>{table}</details>"


def _figure(figure: Figure) -> str:
    return (
        f'<figure><img src="{figure.uri}" alt="{escape(figure.caption)}">'
        f"<figcaption>{escape(figure.caption)}</figcaption></figure>"
    )


def _block(key: str, title: str, inner: list[str]) -> str:
    return f'<section id="{key}"><h2>{escape(title)}</h2>{"".join(inner)}</section>'


def _filter_text(value: str | list[str]) -> str:
    return ", ".join(value) if isinstance(value, list) else value


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
        rows, cut = shown_rows(section, HTML_ROWS_UP_TO)
        inner.append(_table(section, rows))
        inner += [f'<p class="note">{escape(n)}</p>' for n in [*section.notes, *([cut] if cut else [])]]
        blocks.append(_block(section.key, section.title, inner))
        toc.append((section.key, section.title))
    for key, chosen in by_section.items():  # figures whose table is left out (or has none)
        title = EXTRA_SECTIONS.get(key, "Figures")
        blocks.append(_block(key, title, [_figure(f) for f in chosen]))
        toc.append((key, title))
    filters = "; ".join(f"{k} = {_filter_text(v)}" for k, v in report.filters.items() if v) or "none"
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    meta = (
        f"{len(report.runs):,} finished runs of {report.n_subjects_with_runs:,} subjects, {report.n_subjects:,} "
        f"subjects in all; filters: {escape(filters)}; made {stamp} by prefstudy report"
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
