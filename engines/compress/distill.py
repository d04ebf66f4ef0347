"""Knowledge distillation: fine-tune a compressed model (the student) to mimic the original.

The teacher is the FP32 reference model (ctx.reference), frozen. The student is trained
on the calibration inputs to match the teacher's softened class probabilities:

    soft = KL(softmax(teacher / T) || softmax(student / T)) * T^2
    loss = alpha * soft + (1 - alpha) * cross_entropy(student, labels)   (with labels)
    loss = soft                                                          (without)

T^2 keeps the soft gradients on the same scale whatever the temperature (Hinton et al.).
Typical use: after structured pruning or low-rank factorisation, to win back accuracy.

The student may be a plain nn.Module or the GraphModule of a torch.export program
(`.module()` of a .pt2). The latter refuses .train()/.eval() ("not supported yet"), and
its graph already fixes how dropout and batch norm behave (as captured at export, usually
inference behaviour), so such a student stays as it is and only its parameters get
gradients. Exported graphs are also often specialised to the batch size they were
exported with (a guard fails on any other); those are run per sample under torch.func.vmap,
which keeps them differentiable and batched. Runs in a worker process; imports torch there.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engines.compress.base import Step, StepContext, setting
from engines.floor.errors import BadInput

if TYPE_CHECKING:
    import torch
    from torch import nn

#: Monotonic clock for the time budget (tests replace it to cross the budget at will).
_clock: Callable[[], float] = time.monotonic

Forward = Callable[["torch.Tensor"], "torch.Tensor"]
#: How many samples are predicted at a time when no gradients are needed.
PREDICT_BATCH = 256


def _logits(output: Any) -> torch.Tensor:
    """The logits of a classifier's output: the tensor itself or the first of a tuple."""
    import torch

    if isinstance(output, (tuple, list)) and output:
        output = output[0]
    if not isinstance(output, torch.Tensor):
        raise BadInput(
            f"distill needs a classifier that returns logits; the model returned "
            f"{type(output).__name__}"
        )
    return output


def set_mode(module: nn.Module, training: bool) -> bool:
    """module.train(training); False when the module refuses.

    torch.export's `.module()` replaces train/eval with methods that raise
    NotImplementedError: its graph has no train/eval switch (the aten ops were captured
    in one mode), so leaving it as it is, is the only correct thing to do.
    """
    try:
        module.train(training)
    except NotImplementedError:
        return False
    return True


def batched_forward(module: nn.Module, probe: torch.Tensor) -> tuple[Forward, str]:
    """A forward that takes any batch size, and how it runs the module.

    Tries the module on a batch of two; an exported graph specialised to batch size 1
    fails its guard there, so it runs per sample under vmap (still one batched call with
    gradients), and as a last resort one sample at a time.
    """
    import torch

    probe = probe[:2]

    def whole(batch: torch.Tensor) -> torch.Tensor:
        return _logits(module(batch))

    def one(sample: torch.Tensor) -> torch.Tensor:
        return _logits(module(sample.unsqueeze(0))).squeeze(0)

    def looped(batch: torch.Tensor) -> torch.Tensor:
        return torch.stack([one(sample) for sample in batch])

    vmapped: Forward = torch.func.vmap(one)
    for forward, how in (
        (whole, "whole batches"),
        (vmapped, "vmap over single samples (the graph is specialised to batch size 1)"),
    ):
        try:
            with torch.no_grad():
                out = forward(probe)
        except Exception:  # a guard or shape error: try the next way
            continue
        if out.shape[0] == probe.shape[0]:
            return forward, how
    return looped, "one sample at a time"


def _predict(forward: Forward, x: torch.Tensor) -> torch.Tensor:
    import torch

    with torch.no_grad():
        chunks = [x[i : i + PREDICT_BATCH] for i in range(0, len(x), PREDICT_BATCH)]
        return torch.cat([forward(chunk) for chunk in chunks])


def _data(ctx: StepContext, device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Calibration inputs (float32) and labels (int64, or None) as tensors on `device`."""
    import numpy as np
    import torch

    if ctx.calibration is None or len(ctx.calibration) == 0:
        raise BadInput("distill needs training data: choose a data set with inputs")
    x = torch.from_numpy(np.ascontiguousarray(ctx.calibration, dtype=np.float32)).to(device)
    if ctx.labels is None:
        return x, None
    y = torch.from_numpy(np.asarray(ctx.labels).astype(np.int64).reshape(-1)).to(device)
    if len(y) != len(x):
        raise BadInput(f"distill: {len(y)} labels for {len(x)} inputs; they must match")
    return x, y


def _device(module: nn.Module) -> torch.device:
    import torch

    first = next(iter(module.parameters()), None)
    return first.device if first is not None else torch.device("cpu")


def distill_loss(
    student: torch.Tensor,
    teacher: torch.Tensor,
    labels: torch.Tensor | None,
    temperature: float,
    alpha: float,
) -> torch.Tensor:
    """alpha * KL(teacher/T || student/T) * T^2 + (1 - alpha) * CE(student, labels)."""
    import torch.nn.functional as F

    soft = F.kl_div(
        F.log_softmax(student / temperature, dim=1),
        F.log_softmax(teacher / temperature, dim=1),
        reduction="batchmean",
        log_target=True,
    ) * (temperature * temperature)
    if labels is None:
        return soft
    return alpha * soft + (1.0 - alpha) * F.cross_entropy(student, labels)


def _agreement(student: torch.Tensor, teacher: torch.Tensor) -> float:
    return float((student.argmax(1) == teacher.argmax(1)).float().mean())


def _accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return float((logits.argmax(1) == labels).float().mean())


@dataclass
class _Training:
    """What one training run works on; kept together so the epoch loop stays small."""

    forward: Forward
    optimiser: Any
    x: torch.Tensor
    y: torch.Tensor | None
    teacher: torch.Tensor
    generator: Any


def _epoch(run: _Training, settings: Distill.Settings, ctx: StepContext) -> float:
    """One pass over the data in shuffled batches; returns the mean loss per sample."""
    import torch

    order = torch.randperm(len(run.x), generator=run.generator).to(run.x.device)
    total, count = 0.0, 0
    for start in range(0, len(order), settings.batch_size):
        ctx.check_cancel()
        idx = order[start : start + settings.batch_size]
        if len(idx) == 1 and start > 0:
            continue  # a lone trailing sample: batch norm cannot train on a batch of one
        labels = run.y[idx] if run.y is not None else None
        loss = distill_loss(
            run.forward(run.x[idx]),
            run.teacher[idx],
            labels,
            settings.temperature,
            settings.alpha,
        )
        run.optimiser.zero_grad(set_to_none=True)
        loss.backward()
        run.optimiser.step()
        total += float(loss.detach()) * len(idx)
        count += len(idx)
    return total / count


class Distill(Step):
    name = "distill"
    label = "Knowledge distillation (fine-tune)"
    description = (
        "Fine-tunes the model to reproduce the original model's outputs on the data set "
        "(soft targets at a temperature), plus the labels when the data set has them."
    )
    kinds = ("torch",)
    effect = "wins back accuracy lost by pruning or factorisation; size and speed unchanged"
    needs_data = True

    class Settings(Step.Settings):
        epochs: int = setting(10, "passes over the data", minimum=1, maximum=500)
        temperature: float = setting(
            4.0,
            "softens both models' probabilities so the student also learns how the "
            "teacher ranks the wrong classes",
            minimum=1.0,
            maximum=20.0,
        )
        alpha: float = setting(
            0.7,
            "weight of the teacher's soft targets; 1 - alpha goes to the labels (when "
            "there are labels)",
            minimum=0.0,
            maximum=1.0,
            widget="ratio",
        )
        learning_rate: float = setting(1e-3, "Adam learning rate", minimum=1e-7, maximum=1.0)
        batch_size: int = setting(
            64, "samples per optimisation step", minimum=1, maximum=65536, unit="samples"
        )
        time_budget_s: float = setting(
            120.0,
            "stop after the epoch that passes this much training time",
            minimum=1.0,
            maximum=86400.0,
            unit="s",
        )
        seed: int = setting(0, "seed for the shuffling and any dropout", minimum=0)

    def run(
        self, model: Any, settings: Distill.Settings, ctx: StepContext
    ) -> tuple[Any, dict[str, Any]]:
        import torch

        ctx.check_cancel()
        if ctx.reference is None:
            raise BadInput("distill needs the original model as the teacher (no reference)")
        if not isinstance(model, torch.nn.Module):
            raise BadInput(f"distill needs a torch module, got {type(model).__name__}")
        student = copy.deepcopy(model)  # the caller's model stays as it was
        # fork_rng keeps the seed from leaking into the rest of the worker
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(settings.seed)
            report = self._distill(student, ctx.reference, settings, ctx)
        return student, report

    def _distill(
        self, student: nn.Module, teacher: nn.Module, settings: Distill.Settings, ctx: StepContext
    ) -> dict[str, Any]:
        import torch

        x, y = _data(ctx, _device(student))
        teacher_was_training = teacher.training
        set_mode(teacher, False)
        set_mode(student, False)
        teacher_forward, teacher_how = batched_forward(teacher, x.to(_device(teacher)))
        teacher_logits = _predict(teacher_forward, x.to(_device(teacher))).to(x.device)
        set_mode(teacher, teacher_was_training)
        student_forward, student_how = batched_forward(student, x)
        before = _predict(student_forward, x)
        _check_logits(before, teacher_logits, y)

        grad_flags = [(p, p.requires_grad) for p in student.parameters()]
        parameters = [p for p, _ in grad_flags if p.is_floating_point()]
        for p in parameters:
            p.requires_grad_(True)
        set_mode(student, True)
        run = _Training(
            forward=student_forward,
            optimiser=torch.optim.Adam(parameters, lr=settings.learning_rate),
            x=x,
            y=y,
            teacher=teacher_logits,
            generator=torch.Generator().manual_seed(settings.seed),
        )
        losses, stopped, seconds = self._train(run, settings, ctx)
        set_mode(student, False)
        for p, flag in grad_flags:
            p.requires_grad_(flag)
        after = _predict(student_forward, x)
        return _report(
            settings,
            losses=losses,
            stopped=stopped,
            seconds=seconds,
            before=before,
            after=after,
            teacher=teacher_logits,
            labels=y,
            modes={
                "student_forward": student_how,
                "teacher_forward": teacher_how,
                "student_train_mode": _mode_note(student),
            },
        )

    @staticmethod
    def _train(
        run: _Training, settings: Distill.Settings, ctx: StepContext
    ) -> tuple[list[float], bool, float]:
        """Epochs until done or past the time budget: (losses, stopped by budget, seconds)."""
        losses: list[float] = []
        start = _clock()
        for epoch in range(1, settings.epochs + 1):
            loss = _epoch(run, settings, ctx)
            losses.append(loss)
            ctx.progress(
                f"distilling: epoch {epoch}/{settings.epochs}, loss {loss:.4f}",
                epoch / settings.epochs,
            )
            if epoch < settings.epochs and _clock() - start >= settings.time_budget_s:
                return losses, True, _clock() - start
        return losses, False, _clock() - start


def _mode_note(student: nn.Module) -> str:
    import torch

    if isinstance(student, torch.fx.GraphModule):
        # The copy accepts train()/eval() (deepcopy drops the exported module's refusal),
        # but they only flip flags: the aten ops in the graph behave as at export time.
        return "graph module: dropout / batch norm behave as captured in the graph"
    return "train() during training, eval() after"


def _check_logits(student: torch.Tensor, teacher: torch.Tensor, labels: Any) -> None:
    if student.dim() != 2 or student.shape != teacher.shape:
        raise BadInput(
            "distill needs classifier logits (samples x classes) of the same shape from both "
            f"models; student gives {list(student.shape)}, teacher {list(teacher.shape)}"
        )
    if labels is not None and len(labels) and int(labels.max()) >= student.shape[1]:
        raise BadInput(
            f"distill: label {int(labels.max())} is out of range for {student.shape[1]} classes"
        )


def _report(
    settings: Distill.Settings,
    *,
    losses: list[float],
    stopped: bool,
    seconds: float,
    before: torch.Tensor,
    after: torch.Tensor,
    teacher: torch.Tensor,
    labels: torch.Tensor | None,
    modes: dict[str, str],
) -> dict[str, Any]:
    report: dict[str, Any] = {
        "epochs_requested": settings.epochs,
        "epochs_run": len(losses),
        "loss_per_epoch": losses,
        "stopped_by_budget": stopped,
        "time_budget_s": settings.time_budget_s,
        "train_seconds": seconds,
        "samples": len(teacher),
        "loss": "alpha * KL(teacher/T || student/T) * T^2 + (1 - alpha) * cross-entropy"
        if labels is not None
        else "KL(teacher/T || student/T) * T^2 (no labels, so alpha is unused)",
        "temperature": settings.temperature,
        "alpha": settings.alpha,
        "teacher_agreement_before": _agreement(before, teacher),
        "teacher_agreement_after": _agreement(after, teacher),
        "agreement_measure": "fraction of the training inputs where the student's top-1 "
        "class equals the teacher's",
        **modes,
    }
    if labels is not None:
        report["accuracy_before"] = _accuracy(before, labels)
        report["accuracy_after"] = _accuracy(after, labels)
    if stopped:
        report["note"] = (
            f"stopped after epoch {len(losses)} of {settings.epochs}: training passed the "
            f"time budget of {settings.time_budget_s:g} s"
        )
    return report
