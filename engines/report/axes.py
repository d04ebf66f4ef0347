"""Scales and ticks for the report's vector charts: linear or log10, with round ticks and
tick labels that carry no more digits than they need."""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Use a log axis when the largest value is this many times the smallest.
LOG_RANGE = 20.0


@dataclass(frozen=True)
class Scale:
    lo: float
    hi: float
    log: bool
    #: Where the axis is drawn on the page (points).
    start_pt: float
    end_pt: float

    def _t(self, value: float) -> float:
        return math.log10(max(value, 1e-300)) if self.log else value

    def __call__(self, value: float) -> float:
        """Page position of `value`, clamped to the axis."""
        lo, hi = self._t(self.lo), self._t(self.hi)
        frac = 0.0 if hi == lo else (self._t(value) - lo) / (hi - lo)
        frac = min(max(frac, 0.0), 1.0)
        return self.start_pt + frac * (self.end_pt - self.start_pt)

    def ticks(self) -> list[float]:
        return log_ticks(self.lo, self.hi) if self.log else linear_ticks(self.lo, self.hi)


def nice_step(span: float, count: int = 5) -> float:
    raw = span / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for mult in (1, 2, 2.5, 5, 10):
        if raw <= mult * magnitude:
            return mult * magnitude
    return 10 * magnitude


def linear_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    step = nice_step(hi - lo, count)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    value = first
    while value <= hi + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def log_ticks(lo: float, hi: float) -> list[float]:
    """1-2-5 ticks per decade; just the powers of ten when there are many decades."""
    decades = range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
    mults = (1,) if len(decades) > 4 else (1, 2, 5)
    ticks = [m * 10.0**d for d in decades for m in mults]
    return [t for t in ticks if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)]


def padded_range(values: list[float], log: bool, pad: float = 0.08) -> tuple[float, float]:
    """The data range with some air, from zero for a linear axis of positive values."""
    lo, hi = min(values), max(values)
    if log:
        lo_t, hi_t = math.log10(lo), math.log10(hi)
        span = max(hi_t - lo_t, 0.3)
        return 10 ** (lo_t - span * pad), 10 ** (hi_t + span * pad)
    if lo >= 0:
        return 0.0, hi * (1 + pad) if hi > 0 else 1.0
    span = hi - lo or abs(hi) or 1.0
    return lo - span * pad, hi + span * pad


def wants_log(values: list[float]) -> bool:
    positive = [v for v in values if v > 0]
    return (
        bool(positive)
        and len(positive) == len(values)
        and max(positive) / min(positive) > LOG_RANGE
    )


def tick_label(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:g}"
    return f"{value:.4g}"
