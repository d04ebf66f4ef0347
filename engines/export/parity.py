"""Numerical parity between a source model's outputs and an exported model's outputs.

`check_parity` compares output by output: shapes first, then max / mean absolute error and
cosine similarity against a declared `Tolerance`. Presets per precision live in
`TOLERANCES`; `tolerance_for(mode)` picks one. The absolute-error bound is
``atol + rtol * max|reference|`` per output, so it scales with the output's magnitude.
Quantized precisions (int8, dynamic-int8) are judged on cosine only: their absolute error
is reported, not judged, because it depends on the output's range more than on the export.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from engines.floor.errors import BadInput, RunFailed


@dataclass(frozen=True)
class Tolerance:
    """What an export must reproduce: |err| <= atol + rtol * max|ref| and cosine >= min."""

    atol: float
    rtol: float
    min_cosine: float
    #: False: max_abs_error is reported but never fails the check (quantized precisions).
    judge_abs: bool = True
    name: str = "custom"

    def allowed_abs(self, ref_max: float) -> float:
        return self.atol + self.rtol * ref_max

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


TOLERANCES: dict[str, Tolerance] = {
    "fp32": Tolerance(atol=1e-4, rtol=1e-3, min_cosine=0.9999, name="fp32"),
    "fp16": Tolerance(atol=1e-3, rtol=1e-2, min_cosine=0.999, name="fp16"),
    # INT8 gates catch broken conversions (cosine near 0); how much accuracy a variant
    # keeps is what evaluation measures, on real data.
    "int8": Tolerance(atol=math.inf, rtol=0.0, min_cosine=0.95, judge_abs=False, name="int8"),
    "dynamic-int8": Tolerance(
        atol=math.inf, rtol=0.0, min_cosine=0.99, judge_abs=False, name="dynamic-int8"
    ),
}


def tolerance_for(mode: str) -> Tolerance:
    try:
        return TOLERANCES[mode]
    except KeyError:
        raise BadInput(
            f"no parity tolerance for precision {mode!r}",
            f"choose one of: {', '.join(TOLERANCES)}",
        ) from None


class ParityError(RunFailed):
    """An exported model does not reproduce its source; `report` holds the comparison."""

    def __init__(self, message: str, report: dict[str, Any], details: str = "") -> None:
        super().__init__(message, details)
        self.report = report


class ShapeMismatch(ParityError):
    """An output (or the number of outputs) differs in shape from the source's."""


class ToleranceExceeded(ParityError):
    """An output's error is beyond the declared tolerance."""


def _json_float(value: float) -> float | None:
    """JSON has no inf/nan: a non-finite number becomes None."""
    return float(value) if math.isfinite(value) else None


def _tolerance_json(tolerance: Tolerance) -> dict[str, Any]:
    return {
        k: (_json_float(v) if isinstance(v, float) else v) for k, v in asdict(tolerance).items()
    }


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    na = float(np.linalg.norm(a))
    nb = float(np.linalg.norm(b))
    if na == 0.0 and nb == 0.0:
        return 1.0
    if na == 0.0 or nb == 0.0:
        return 0.0
    return float(np.clip(np.dot(a, b) / (na * nb), -1.0, 1.0))


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def compare_output(name: str, reference: np.ndarray, candidate: np.ndarray) -> dict[str, Any]:
    """Error figures for one output of matching shape (float64 arithmetic).

    Positions that are NaN/inf in one model and finite in the other are counted in
    `nonfinite_mismatch`; the error figures cover the positions finite in both.
    """
    a = np.asarray(reference, dtype=np.float64).ravel()
    b = np.asarray(candidate, dtype=np.float64).ravel()
    fa, fb = np.isfinite(a), np.isfinite(b)
    both = fa & fb
    a, b = a[both], b[both]
    if a.size == 0:
        max_abs = mean_abs = ref_max = 0.0
    else:
        diff = np.abs(a - b)
        max_abs = float(np.max(diff))
        mean_abs = float(np.mean(diff))
        ref_max = float(np.max(np.abs(a)))
    return {
        "name": name,
        "shape": list(np.shape(reference)),
        "max_abs_error": max_abs,
        "mean_abs_error": mean_abs,
        "cosine": _cosine(a, b),
        "reference_max_abs": ref_max,
        "nonfinite_mismatch": int(np.count_nonzero(fa != fb)),
    }


def _failures(row: dict[str, Any], tolerance: Tolerance) -> list[str]:
    name = row["name"]
    problems: list[str] = []
    if row["nonfinite_mismatch"]:
        problems.append(
            f"output {name!r}: {row['nonfinite_mismatch']} values are NaN/inf in one model "
            "and finite in the other"
        )
    allowed = tolerance.allowed_abs(row["reference_max_abs"])
    if tolerance.judge_abs and row["max_abs_error"] > allowed:
        problems.append(
            f"output {name!r}: max abs error {_fmt(row['max_abs_error'])} > allowed "
            f"{_fmt(allowed)} (atol {_fmt(tolerance.atol)} + rtol {_fmt(tolerance.rtol)} "
            f"x max|ref| {_fmt(row['reference_max_abs'])}, {tolerance.name} tolerance)"
        )
    if row["cosine"] < tolerance.min_cosine:
        problems.append(
            f"output {name!r}: cosine {row['cosine']:.6f} < {tolerance.min_cosine} "
            f"(max abs error {_fmt(row['max_abs_error'])}, {tolerance.name} tolerance)"
        )
    return problems


def _public(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for key in ("max_abs_error", "mean_abs_error", "cosine", "reference_max_abs"):
        out[key] = _json_float(float(out[key]))
    return out


def _report(rows: list[dict[str, Any]], tolerance: Tolerance, passed: bool) -> dict[str, Any]:
    public = [_public(r) for r in rows]
    cosines = [r["cosine"] for r in rows]
    errors = [r["max_abs_error"] for r in rows]
    return {
        "outputs": public,
        "tolerance": _tolerance_json(tolerance),
        "passed": passed,
        # Whole-model summary (worst output), kept for callers that read one number.
        "cosine": _json_float(min(cosines)) if cosines else None,
        "max_abs_error": _json_float(max(errors)) if errors else None,
    }


def check_parity(
    reference: list[np.ndarray],
    candidate: list[np.ndarray],
    names: list[str],
    tolerance: Tolerance,
) -> dict[str, Any]:
    """JSON-able report {outputs, tolerance, passed: True, cosine, max_abs_error}.

    Raises ShapeMismatch (an output's shape or the number of outputs differs) or
    ToleranceExceeded (errors beyond `tolerance`); both carry the report as `.report`.
    """
    if len(reference) != len(candidate):
        report = _report([], tolerance, False)
        report["failure"] = (
            f"the exported model has {len(candidate)} outputs; the source has {len(reference)}"
        )
        raise ShapeMismatch(report["failure"], report)
    if len(names) != len(reference):
        names = [*names, *(f"output_{i}" for i in range(len(names), len(reference)))]
    rows: list[dict[str, Any]] = []
    for name, ref, cand in zip(names, reference, candidate, strict=False):
        ref_shape, cand_shape = tuple(np.shape(ref)), tuple(np.shape(cand))
        if ref_shape != cand_shape:
            report = _report(rows, tolerance, False)
            report["failure"] = (
                f"output {name!r} has shape {list(cand_shape)} in the exported model; "
                f"the source gives {list(ref_shape)}"
            )
            raise ShapeMismatch(report["failure"], report)
        rows.append(compare_output(name, ref, cand))
    problems = [p for row in rows for p in _failures(row, tolerance)]
    if problems:
        report = _report(rows, tolerance, False)
        report["failure"] = "; ".join(problems)
        raise ToleranceExceeded(
            "exported model does not match its source: " + report["failure"], report
        )
    return _report(rows, tolerance, True)


def check_parity_samples(
    references: list[list[np.ndarray]],
    candidates: list[list[np.ndarray]],
    names: list[str],
    tolerance: Tolerance,
) -> dict[str, Any]:
    """`check_parity` on each sample; the report holds the worst figure per output.

    max_abs_error: the largest over samples; mean_abs_error: the mean; cosine: the lowest.
    A failing sample raises with its index in the message and `.report["sample"]`.
    """
    if not references:
        raise BadInput("parity needs at least one sample")
    reports: list[dict[str, Any]] = []
    for index, (ref, cand) in enumerate(zip(references, candidates, strict=True)):
        try:
            reports.append(check_parity(ref, cand, names, tolerance))
        except ParityError as exc:
            exc.report["sample"] = index
            exc.report["samples"] = len(references)
            exc.message = f"parity sample {index + 1} of {len(references)}: {exc.message}"
            exc.args = (exc.message,)
            raise
    outputs: list[dict[str, Any]] = []
    for i, first in enumerate(reports[0]["outputs"]):
        rows = [r["outputs"][i] for r in reports]
        cosines = [r["cosine"] for r in rows]
        outputs.append(
            {
                "name": first["name"],
                "shape": first["shape"],
                "max_abs_error": max(r["max_abs_error"] for r in rows),
                "mean_abs_error": float(np.mean([r["mean_abs_error"] for r in rows])),
                "cosine": min(cosines),
                "reference_max_abs": max(r["reference_max_abs"] for r in rows),
            }
        )
    return {
        "outputs": outputs,
        "tolerance": reports[0]["tolerance"],
        "passed": True,
        "samples": len(references),
        "cosine": min(o["cosine"] for o in outputs) if outputs else None,
        "max_abs_error": max(o["max_abs_error"] for o in outputs) if outputs else None,
    }
