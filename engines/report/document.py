"""Assemble the report's sections into a PDF file (reportlab platypus, vector only)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from reportlab.platypus import Flowable, PageBreak, SimpleDocTemplate

from engines.report import sections
from engines.report.collect import ReportRun
from engines.report.layout import MARGIN_PT, PAGE, NumberedCanvas, markup
from engines.report.summary import DeviceChoice


def render(
    path: Path,
    title: str,
    now: datetime,
    version: str,
    items: Sequence[ReportRun],
    baseline: ReportRun,
    choices: Sequence[DeviceChoice],
    kind: str,
    max_drop_pt: float,
) -> int:
    """Write the PDF to `path`; returns its page count."""
    date = now.strftime("%Y-%m-%d %H:%M")
    canvas_class: type[NumberedCanvas] = type(
        "ReportCanvas",
        (NumberedCanvas,),
        {"title": title, "footer": f"EdgeBench {version} · generated {date} UTC"},
    )
    doc = SimpleDocTemplate(
        str(path),
        pagesize=PAGE,
        leftMargin=MARGIN_PT,
        rightMargin=MARGIN_PT,
        topMargin=MARGIN_PT + 8,
        bottomMargin=MARGIN_PT,
        title=title,
        author="EdgeBench",
        subject="benchmark report",
        creator=f"EdgeBench {version}",
    )
    story: list[Flowable] = [
        *sections.title_block(title, date, version, items, baseline, max_drop_pt, kind),
        *sections.executive_summary(choices, items, max_drop_pt, kind),
        *sections.summary_table(items, baseline, kind),
        *sections.baseline_table(items, baseline, kind),
        *sections.chart_section(items, kind),
    ]
    story.append(PageBreak())
    story.append(markup("Runs in detail", "h1"))
    for position, item in enumerate(items):
        story += sections.run_section(position, item)
    story += sections.methodology()
    story += sections.reproducibility(items)
    doc.build(story, canvasmaker=canvas_class)
    return int(canvas_class.page_count)
