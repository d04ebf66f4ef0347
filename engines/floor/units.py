"""How the report prints numbers: milliseconds, bytes, ratios and percentages.

The CLI's tables (app/formatting.py) use these too, so a figure reads the same in the
terminal, on the Compare page and in a PDF.
"""

from __future__ import annotations


def ms(value: float | None) -> str:
    """Milliseconds with 4 significant-ish digits: 0.0154, 4.301, 128.3."""
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:.1f}"
    if value >= 1:
        return f"{value:.3f}"
    return f"{value:.4f}"


def size(n_bytes: float | None) -> str:
    """Binary units: 160.2 KiB, 44.6 MiB."""
    if n_bytes is None:
        return "-"
    value = float(n_bytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def percent(fraction: float | None, digits: int = 1) -> str:
    return "-" if fraction is None else f"{fraction * 100:.{digits}f}%"


def factor(value: float | None, base: float | None, smaller: str, larger: str) -> str:
    """'2.97x faster': the factor is always >= 1 and the word says which way."""
    if value is None or base is None or value <= 0 or base <= 0:
        return "-"
    ratio = value / base
    if f"{ratio:.2f}" == "1.00":
        return "same"
    return f"{ratio:.2f}x {larger}" if ratio > 1 else f"{1 / ratio:.2f}x {smaller}"
