"""Page layout of the report: A4 landscape, a header (title, tool) and a footer (date,
"page N of M") on every page, the paragraph styles, and tables whose header row repeats
when they split across pages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, Table, TableStyle

PAGE = landscape(A4)
MARGIN_PT = 36.0
CONTENT_WIDTH_PT = PAGE[0] - 2 * MARGIN_PT
HEADER_RULE = colors.HexColor("#1f77b4")
ZEBRA = colors.HexColor("#f3f6fa")
HEAD_FILL = colors.HexColor("#e4ebf3")

_base = getSampleStyleSheet()
STYLES: dict[str, ParagraphStyle] = {
    "title": ParagraphStyle(
        "title", parent=_base["Title"], fontSize=22, leading=27, alignment=0, spaceAfter=4
    ),
    "h1": ParagraphStyle(
        "h1",
        parent=_base["Heading1"],
        fontSize=15,
        leading=19,
        spaceBefore=6,
        spaceAfter=6,
        textColor=colors.HexColor("#17365d"),
    ),
    "h2": ParagraphStyle(
        "h2", parent=_base["Heading2"], fontSize=11.5, leading=14, spaceBefore=8, spaceAfter=4
    ),
    "h3": ParagraphStyle(
        "h3", parent=_base["Heading3"], fontSize=9.5, leading=12, spaceBefore=6, spaceAfter=2
    ),
    "body": ParagraphStyle("body", parent=_base["BodyText"], fontSize=9, leading=12),
    "small": ParagraphStyle("small", parent=_base["BodyText"], fontSize=7.5, leading=9.5),
    "bullet": ParagraphStyle(
        "bullet", parent=_base["BodyText"], fontSize=9, leading=12, leftIndent=12, bulletIndent=2
    ),
    "cell": ParagraphStyle("cell", fontName="Helvetica", fontSize=7.5, leading=9),
    "cell_bold": ParagraphStyle("cell_bold", fontName="Helvetica-Bold", fontSize=7.5, leading=9),
    "num": ParagraphStyle("num", fontName="Helvetica", fontSize=7.5, leading=9, alignment=TA_RIGHT),
    "num_bold": ParagraphStyle(
        "num_bold", fontName="Helvetica-Bold", fontSize=7.5, leading=9, alignment=TA_RIGHT
    ),
    "head": ParagraphStyle("head", fontName="Helvetica-Bold", fontSize=7.5, leading=9),
    "head_num": ParagraphStyle(
        "head_num", fontName="Helvetica-Bold", fontSize=7.5, leading=9, alignment=TA_RIGHT
    ),
    "code": ParagraphStyle(
        "code",
        fontName="Courier",
        fontSize=7.5,
        leading=9.5,
        leftIndent=6,
        textColor=colors.HexColor("#222222"),
    ),
}


for _heading in ("h1", "h2", "h3"):  # a heading never ends a page alone
    STYLES[_heading].keepWithNext = 1


def text(value: object, style: str = "cell") -> Paragraph:
    """A paragraph of plain text: anything from a model, a device or a user is escaped."""
    return Paragraph(escape(str(value)), STYLES[style])


def markup(value: str, style: str = "body") -> Paragraph:
    """A paragraph of our own markup (callers escape what they interpolate)."""
    return Paragraph(value, STYLES[style])


def grid(
    rows: Sequence[Sequence[Any]],
    widths_pt: Sequence[float],
    header_rows: int = 1,
    extra: Sequence[tuple[Any, ...]] = (),
) -> Table:
    """A table with a shaded header that repeats on every page it spans, zebra rows and
    cells that wrap (strings become escaped paragraphs)."""
    cells = [[c if not isinstance(c, str) else text(c) for c in row] for row in rows]
    table = Table(cells, colWidths=list(widths_pt), repeatRows=header_rows, hAlign="LEFT")
    style: list[tuple[Any, ...]] = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ("LINEBELOW", (0, header_rows - 1), (-1, header_rows - 1), 0.8, colors.black),
        ("LINEBELOW", (0, -1), (-1, -1), 0.5, colors.grey),
    ]
    if header_rows:
        style.append(("BACKGROUND", (0, 0), (-1, header_rows - 1), HEAD_FILL))
    style += [
        ("BACKGROUND", (0, r), (-1, r), ZEBRA)
        for r in range(header_rows, len(rows))
        if (r - header_rows) % 2 == 1
    ]
    table.setStyle(TableStyle([*style, *extra]))
    return table


class NumberedCanvas(Canvas):  # type: ignore[misc]  # reportlab ships no types
    """Draws the header and "page N of M" once the page count is known."""

    title = ""
    footer = ""
    page_count = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        type(self).page_count = total
        for state in self._pages:
            self.__dict__.update(state)
            self._decorate(total)
            super().showPage()
        super().save()

    def _decorate(self, total: int) -> None:
        width, height = PAGE
        self.saveState()
        self.setStrokeColor(HEADER_RULE)
        self.setLineWidth(0.8)
        self.line(MARGIN_PT, height - MARGIN_PT + 8, width - MARGIN_PT, height - MARGIN_PT + 8)
        self.setFont("Helvetica-Bold", 8.5)
        title = self.title
        while title and self.stringWidth(title, "Helvetica-Bold", 8.5) > width * 0.6:
            title = title[:-2] + "…"
        self.drawString(MARGIN_PT, height - MARGIN_PT + 12, title)
        self.setFont("Helvetica", 8.5)
        self.drawRightString(width - MARGIN_PT, height - MARGIN_PT + 12, "EdgeBench report")
        self.setStrokeColor(colors.lightgrey)
        self.line(MARGIN_PT, MARGIN_PT - 10, width - MARGIN_PT, MARGIN_PT - 10)
        self.setFont("Helvetica", 8)
        self.drawString(MARGIN_PT, MARGIN_PT - 21, self.footer)
        self.drawRightString(
            width - MARGIN_PT, MARGIN_PT - 21, f"page {self._pageNumber} of {total}"
        )
        self.restoreState()
