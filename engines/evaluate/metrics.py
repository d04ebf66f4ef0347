"""Accuracy figures as the README defines them (stdlib + numpy only: runs in the agent).

Two families, both computed from model outputs:

- labelled: top-1 and top-5 accuracy against integer class labels;
- fidelity to a reference (the FP32 source model on the same inputs): per-sample cosine
  similarity (mean and min), SQNR in dB, max absolute error, top-1 agreement.

Conventions, the same for the one-shot functions and `EvalAccumulator`:

- An output array's axis 0 is always the sample axis (1-D outputs are N scalars).
- Logits: an N x ... array is read as N x C after dropping the size-1 axes behind the
  sample axis (N x 1 x C, N x C x 1 x 1 -> N x C). More than one axis of size > 1 left
  (a segmentation map, say) is not a classifier's output: BadInput.
- Ranking for top-k: descending logit, ties broken by the lower class index (the rule
  `np.argmax` uses); NaN ranks as -inf. A sample counts for top-k when its label's rank
  is below k. top-5 is None for fewer than 5 classes.
- Fidelity flattens each sample: all model outputs of sample i, each flattened, joined
  in output order. Cosine of two zero vectors is 1.0, of a zero and a non-zero one 0.0.
- SQNR = 10*log10(sum(ref^2) / sum((ref - cand)^2)) over every sample, clamped to
  [-SQNR_CAP_DB, SQNR_CAP_DB]: identical outputs give exactly SQNR_CAP_DB (300 dB, beyond
  any float32 difference), never inf. `max_abs_error == 0.0` is the test for "identical".
- Non-finite values (NaN/inf) in either output make the sample "non-finite": it is counted
  in `nonfinite_samples` and, when there is any, cosine/SQNR/max-abs are None (every
  figure stays JSON-serialisable). Top-1 agreement still counts those samples.
- top1_agreement compares argmax of the first output per sample when that output is
  classifier-shaped (N x C with C >= 2 after the squeeze above); otherwise None.

Sums are accumulated exactly (Shewchuk partials, as `math.fsum`), so feeding the same
samples in any batching gives the same result as the one-shot functions, bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypedDict

import numpy as np

from engines.floor.errors import BadInput

#: SQNR reported for identical outputs (and the clamp for all others), in dB.
SQNR_CAP_DB = 300.0


def _exact_add(partials: list[float], values: Sequence[float]) -> None:
    """Add values to a list of non-overlapping partials (exact; `math.fsum` of it rounds)."""
    for value in values:
        x = float(value)
        i = 0
        for y in partials:
            if abs(x) < abs(y):
                x, y = y, x
            hi = x + y
            lo = y - (hi - x)
            if lo:
                partials[i] = lo
                i += 1
            x = hi
        partials[i:] = [x]


def _samples(array: Any, what: str) -> np.ndarray:
    a = np.asarray(array)
    if a.ndim == 0:
        raise BadInput(
            f"{what} is a scalar; expected an array whose first axis is the sample axis",
            "pass the model output with its batch dimension",
        )
    return a


def _logits_2d(logits: Any, what: str = "logits") -> np.ndarray:
    """N x C float64 view of a classifier output (see the module docstring)."""
    a = _samples(logits, what)
    rest = [d for d in a.shape[1:] if d != 1]
    if len(rest) > 1:
        raise BadInput(
            f"{what} of shape {list(a.shape)} is not a classifier output (N x C); "
            "top-1/top-5 need one class axis",
            "label accuracy applies to classification models; use fidelity metrics instead",
        )
    classes = rest[0] if rest else 1
    out = a.reshape(a.shape[0], classes).astype(np.float64)
    return np.where(np.isnan(out), -np.inf, out)


def _check_labels(labels: Any, count: int, classes: int) -> np.ndarray:
    y = np.asarray(labels)
    if y.ndim != 1:
        raise BadInput(
            f"labels must be a 1-D array of class indices, got shape {list(y.shape)}",
            "give one integer label per sample",
        )
    if y.shape[0] != count:
        raise BadInput(
            f"{y.shape[0]} labels for {count} outputs; the counts must match",
            "give exactly one label per sample",
        )
    if y.dtype.kind not in "iu":
        raise BadInput(
            f"labels must be integers (class indices), got dtype {y.dtype}",
            "store labels as integers 0..C-1",
        )
    if count and (int(y.min()) < 0 or int(y.max()) >= classes):
        raise BadInput(
            f"labels range {int(y.min())}..{int(y.max())} but the model has {classes} classes",
            "labels must be class indices 0..C-1 in the model's class order",
        )
    return y.astype(np.int64)


def _ranks(logits2d: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Rank of each label in its row: descending logit, ties to the lower index."""
    n = logits2d.shape[0]
    own = logits2d[np.arange(n), labels][:, None]
    greater = (logits2d > own).sum(axis=1)
    index = np.arange(logits2d.shape[1])[None, :]
    tied_before = ((logits2d == own) & (index < labels[:, None])).sum(axis=1)
    return np.asarray(greater + tied_before)


class ClassificationScores(TypedDict):
    """Top-1/top-5 against the data's labels (None where they cannot be scored)."""

    count: int
    classes: int | None
    top1: float | None
    top5: float | None


class FidelityScores(TypedDict):
    """How closely a variant's outputs follow its FP32 source's on the same inputs."""

    count: int
    cosine_mean: float | None
    cosine_min: float | None
    sqnr_db: float | None
    max_abs_error: float | None
    top1_agreement: float | None
    nonfinite_samples: int


class Evaluation(TypedDict):
    """A run's `evaluation`: what was scored, on how many samples."""

    count: int
    classification: ClassificationScores | None
    fidelity: FidelityScores | None


class _Classification:
    def __init__(self) -> None:
        self.count = 0
        self.classes: int | None = None
        self.hits1 = 0
        self.hits5 = 0

    def add(self, logits: Any, labels: Any) -> None:
        scores = _logits_2d(logits)
        n, classes = scores.shape
        if self.classes is not None and classes != self.classes:
            raise BadInput(
                f"the classifier output has {classes} classes in this batch but "
                f"{self.classes} before",
                "every batch must come from the same model",
            )
        y = _check_labels(labels, n, classes)
        self.classes = classes
        ranks = _ranks(scores, y)
        self.count += n
        self.hits1 += int((ranks < 1).sum())
        self.hits5 += int((ranks < 5).sum())

    def result(self) -> ClassificationScores:
        n = self.count
        top5 = self.classes is not None and self.classes >= 5
        return {
            "count": n,
            "classes": self.classes,
            "top1": self.hits1 / n if n else None,
            "top5": self.hits5 / n if n and top5 else None,
        }


def _flatten_outputs(outputs: Sequence[Any], what: str) -> tuple[np.ndarray, list[np.ndarray]]:
    """(N x D float64 of every output joined per sample, the raw arrays)."""
    if len(outputs) == 0:
        raise BadInput(f"{what} has no output arrays", "pass the model's outputs as a list")
    arrays = [_samples(o, f"{what} output {i}") for i, o in enumerate(outputs)]
    n = arrays[0].shape[0]
    for i, a in enumerate(arrays):
        if a.shape[0] != n:
            raise BadInput(
                f"{what} output {i} has {a.shape[0]} samples but output 0 has {n}",
                "every output must keep the batch dimension first",
            )
    flat = np.concatenate([a.reshape(n, -1).astype(np.float64) for a in arrays], axis=1)
    return np.ascontiguousarray(flat), arrays


def _squeezed(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(d for d in shape[1:] if d != 1)


class _Fidelity:
    def __init__(self) -> None:
        self.count = 0
        self.shapes: list[tuple[int, ...]] | None = None
        self.cos_partials: list[float] = []
        self.cos_min = math.inf
        self.signal: list[float] = []
        self.noise: list[float] = []
        self.max_abs = 0.0
        self.nonfinite = 0
        self.agree = 0
        self.classifier = True

    def add(self, reference: Sequence[Any], candidate: Sequence[Any]) -> None:
        if len(reference) != len(candidate):
            raise BadInput(
                f"the reference has {len(reference)} outputs and the candidate {len(candidate)}",
                "compare models with the same outputs, in the same order",
            )
        ref, ref_arrays = _flatten_outputs(reference, "reference")
        cand, cand_arrays = _flatten_outputs(candidate, "candidate")
        if ref.shape[0] != cand.shape[0]:
            raise BadInput(
                f"the reference has {ref.shape[0]} samples and the candidate {cand.shape[0]}",
                "run both models on the same inputs",
            )
        shapes = []
        for i, (r, c) in enumerate(zip(ref_arrays, cand_arrays, strict=True)):
            if _squeezed(r.shape) != _squeezed(c.shape):
                raise BadInput(
                    f"output {i}: the reference's per-sample shape {list(r.shape[1:])} "
                    f"differs from the candidate's {list(c.shape[1:])}",
                    "the two models must produce the same output layout (NCHW vs NHWC?)",
                )
            shapes.append(_squeezed(r.shape))
        if self.shapes is not None and shapes != self.shapes:
            raise BadInput(
                f"per-sample output shapes changed between batches: {self.shapes} then {shapes}",
                "every batch must come from the same models",
            )
        self.shapes = shapes
        n = ref.shape[0]
        if n == 0:
            return
        self.count += n

        first = shapes[0]
        self.classifier = self.classifier and len(first) == 1 and first[0] >= 2
        if self.classifier:
            r_top = np.argmax(_logits_2d(ref_arrays[0], "reference output 0"), axis=1)
            c_top = np.argmax(_logits_2d(cand_arrays[0], "candidate output 0"), axis=1)
            self.agree += int((r_top == c_top).sum())

        finite = np.isfinite(ref).all(axis=1) & np.isfinite(cand).all(axis=1)
        self.nonfinite += int(n - finite.sum())
        if not finite.all():
            ref, cand = ref[finite], cand[finite]
            if ref.shape[0] == 0:
                return
        err = ref - cand
        rr = (ref * ref).sum(axis=1)
        cc = (cand * cand).sum(axis=1)
        rc = (ref * cand).sum(axis=1)
        ee = (err * err).sum(axis=1)
        norms = np.sqrt(rr) * np.sqrt(cc)
        both_zero = (rr == 0) & (cc == 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            cos = np.where(norms > 0, rc / np.where(norms > 0, norms, 1.0), 0.0)
        cos = np.clip(np.where(both_zero, 1.0, cos), -1.0, 1.0)
        _exact_add(self.cos_partials, cos.tolist())
        self.cos_min = min(self.cos_min, float(cos.min()))
        _exact_add(self.signal, rr.tolist())
        _exact_add(self.noise, ee.tolist())
        self.max_abs = max(self.max_abs, float(np.abs(err).max()) if err.size else 0.0)

    def result(self) -> FidelityScores:
        n = self.count
        out: FidelityScores = {
            "count": n,
            "cosine_mean": None,
            "cosine_min": None,
            "sqnr_db": None,
            "max_abs_error": None,
            "top1_agreement": self.agree / n if n and self.classifier else None,
            "nonfinite_samples": self.nonfinite,
        }
        if n == 0 or self.nonfinite:
            return out
        signal = math.fsum(self.signal)
        noise = math.fsum(self.noise)
        out["cosine_mean"] = math.fsum(self.cos_partials) / n
        out["cosine_min"] = self.cos_min
        out["sqnr_db"] = sqnr_db(signal, noise)
        out["max_abs_error"] = self.max_abs
        return out


def sqnr_db(signal_energy: float, noise_energy: float) -> float:
    """10*log10(signal / noise), clamped to +-SQNR_CAP_DB; zero noise gives the cap."""
    if noise_energy <= 0:
        return SQNR_CAP_DB
    if signal_energy <= 0:
        return -SQNR_CAP_DB
    value = 10.0 * (math.log10(signal_energy) - math.log10(noise_energy))
    return max(-SQNR_CAP_DB, min(SQNR_CAP_DB, value))


def classification_metrics(logits: np.ndarray, labels: np.ndarray) -> ClassificationScores:
    """Labelled accuracy: {"count", "classes", "top1", "top5"} (fractions in [0, 1]).

    `logits` is N x C (or N x 1 x C, N x C x 1 x 1 ...); `labels` N integers in 0..C-1.
    top5 is None with fewer than 5 classes; top1/top5 are None for zero samples.
    """
    acc = _Classification()
    acc.add(logits, labels)
    return acc.result()


def fidelity_metrics(reference: list[np.ndarray], candidate: list[np.ndarray]) -> FidelityScores:
    """Fidelity of `candidate` to `reference`, both lists of model outputs (axis 0 = sample).

    Returns {"count", "cosine_mean", "cosine_min", "sqnr_db", "max_abs_error",
    "top1_agreement", "nonfinite_samples"}; see the module docstring for the rules.
    """
    acc = _Fidelity()
    acc.add(reference, candidate)
    return acc.result()


class EvalAccumulator:
    """Streams batches and gives the figures the one-shot functions would give on all of them.

    `add(outputs, labels, reference)`: `outputs` is the model's output list for one batch
    (axis 0 = sample); `labels` (N integers) score its first output; `reference` is the
    reference model's output list for the same inputs. Labels and reference must be given
    for every batch or for none. Only running sums are kept, never the outputs.
    After `add` raises BadInput the accumulator may hold part of that batch: discard it.
    """

    def __init__(self) -> None:
        self._count = 0
        self._batches = 0
        self._labelled: bool | None = None
        self._referenced: bool | None = None
        self._classification = _Classification()
        self._fidelity = _Fidelity()

    @property
    def count(self) -> int:
        """Samples added so far."""
        return self._count

    def add(
        self,
        outputs: list[np.ndarray],
        labels: np.ndarray | None = None,
        reference: list[np.ndarray] | None = None,
    ) -> None:
        labelled = labels is not None
        referenced = reference is not None
        if self._labelled is not None and labelled != self._labelled:
            raise BadInput(
                f"batch {self._batches + 1} {'has' if labelled else 'lacks'} labels "
                "unlike the batches before",
                "give labels for every batch or for none",
            )
        if self._referenced is not None and referenced != self._referenced:
            raise BadInput(
                f"batch {self._batches + 1} {'has' if referenced else 'lacks'} reference "
                "outputs unlike the batches before",
                "give reference outputs for every batch or for none",
            )
        if len(outputs) == 0:
            raise BadInput("outputs has no arrays", "pass the model's outputs as a list")
        n = _samples(outputs[0], "outputs 0").shape[0]
        if labels is not None:
            self._classification.add(outputs[0], labels)
        if reference is not None:
            self._fidelity.add(reference, outputs)
        self._labelled, self._referenced = labelled, referenced
        self._count += n
        self._batches += 1

    def result(self) -> Evaluation:
        """{"count", "classification": scores | None, "fidelity": scores | None}."""
        return {
            "count": self._count,
            "classification": self._classification.result() if self._labelled else None,
            "fidelity": self._fidelity.result() if self._referenced else None,
        }
