"""Pruning steps for torch models: zero the smallest weights, or remove whole channels.

`MagnitudePrune` zeroes the weights of smallest magnitude with torch.nn.utils.prune and
makes the zeros permanent. The model keeps its shape, so a dense runtime runs it exactly as
fast as before; what it gains is compressibility (a sparse format, or zip).

`StructuredPrune` removes whole output channels / features with the torch-pruning
library, which follows the dependencies between layers (a conv's output channels are the
next batch norm's features and the next conv's input channels; both branches of a residual
add must lose the same channels). The model really gets smaller and faster, and usually
needs fine-tuning (the "distill" step) to win back accuracy.

Both run inside a worker process and import torch there.
"""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING, Any

from engines.compress.base import Step, StepContext, setting
from engines.floor.errors import BadInput, RunFailed

if TYPE_CHECKING:
    import torch
    from torch import nn

#: What the magnitude step reports about speed, so nobody expects a faster model.
DENSE_RUNTIME_NOTE = (
    "unstructured sparsity does not make dense runtimes (ONNX Runtime, TFLite, PyTorch) any "
    "faster: the zeros are still multiplied; it helps storage size after sparse encoding or "
    "compression, and speed only on sparse kernels or hardware"
)
SPARSE_METHOD = (
    "bitmask (1 bit per weight of a pruned tensor) + nonzero values as fp32; "
    "parameters of tensors that were not pruned stay dense fp32; buffers not counted"
)


def layer_types() -> tuple[type, ...]:
    """The module types both pruning and factorisation work on: convolutions and linears."""
    from torch import nn

    return (nn.modules.conv._ConvNd, nn.Linear)


def require_module_layers(model: Any, step_name: str) -> None:
    """Refuse models whose layers are not nn.Conv*/nn.Linear modules (exported graphs).

    A structural step rewrites modules; a torch.export graph's layers are plain containers
    of parameters called from aten ops, so there is nothing it could rewrite.
    """
    import torch

    if isinstance(model, torch.nn.Module) and any(is_layer(m) for m in model.modules()):
        return
    what = (
        "an exported torch graph (.pt2) whose layers are aten calls, not nn.Conv2d/nn.Linear "
        "modules"
        if isinstance(model, torch.fx.GraphModule)
        else f"a {type(model).__name__} without nn.Conv/nn.Linear layers"
    )
    raise BadInput(
        f"{step_name} needs the model's nn.Module (demo: and zoo: models), not an exported "
        f"graph: this model is {what}",
        "Structural steps rewrite nn.Conv2d / nn.Linear modules. Load the model from its "
        "Python definition (a demo: or zoo: reference), or use a non-structural step such as "
        "prune-magnitude or quantisation on exported graphs.",
    )


# ------------------------------------------------------------------ magnitude (unstructured)


def _weight_owners(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, module) of every layer whose `weight` magnitude pruning should touch.

    Conv/Linear modules when the model has them. An exported graph has none (its layers
    are plain containers), so there we take every module that owns a `weight` parameter of
    two or more dimensions: those are the conv/linear weights; norms' weights are 1-D.
    A weight shared by two modules is pruned once.
    """
    found = [
        (name, m) for name, m in model.named_modules() if is_layer(m) and own_weight(m) is not None
    ]
    if not found:
        found = []
        for name, m in model.named_modules():
            weight = own_weight(m)
            if weight is not None and weight.dim() >= 2:
                found.append((name, m))
    seen: set[int] = set()
    unique = []
    for name, m in found:
        if id(own_weight(m)) not in seen:
            seen.add(id(own_weight(m)))
            unique.append((name, m))
    return unique


def is_layer(module: Any) -> bool:
    """True for conv (any dimension, transposed too) and linear modules."""
    return isinstance(module, layer_types())


def own_weight(module: nn.Module) -> torch.Tensor | None:
    """The module's own `weight` parameter (not a submodule's), or None."""
    return module._parameters.get("weight")


def _weight(module: nn.Module) -> torch.Tensor:
    weight = own_weight(module)
    assert weight is not None
    return weight


def _sparsity_report(
    model: nn.Module, targets: list[tuple[str, nn.Module]], settings: MagnitudePrune.Settings
) -> dict[str, Any]:
    """Measured sparsity per layer and overall, and the dense vs sparse storage estimate."""
    layers: dict[str, dict[str, Any]] = {}
    pruned_numel = pruned_zeros = sparse_bytes = 0
    for name, module in targets:
        weight = _weight(module)
        numel = weight.numel()
        nonzero = int(weight.count_nonzero())
        layers[name or "<model>"] = {
            "params": numel,
            "nonzero": nonzero,
            "sparsity": (numel - nonzero) / numel if numel else 0.0,
        }
        pruned_numel += numel
        pruned_zeros += numel - nonzero
        sparse_bytes += math.ceil(numel / 8) + 4 * nonzero
    parameters = sum(p.numel() for p in model.parameters())
    nonzero_parameters = sum(int(p.count_nonzero()) for p in model.parameters())
    dense_bytes = 4 * parameters
    sparse_bytes += 4 * (parameters - pruned_numel)  # the untouched tensors stay dense
    return {
        "sparsity_requested": settings.sparsity,
        "scope": settings.scope,
        "sparsity_achieved": pruned_zeros / pruned_numel if pruned_numel else 0.0,
        "pruned_weights": pruned_numel,
        "layers": layers,
        "parameters": parameters,
        "nonzero_parameters": nonzero_parameters,
        "dense_bytes": dense_bytes,
        "sparse_bytes_estimate": sparse_bytes,
        "compression_ratio_estimate": dense_bytes / sparse_bytes if sparse_bytes else 1.0,
        "method": SPARSE_METHOD,
        "note": DENSE_RUNTIME_NOTE,
    }


class MagnitudePrune(Step):
    name = "prune-magnitude"
    label = "Magnitude pruning (unstructured)"
    description = (
        "Sets the conv/linear weights of smallest absolute value to zero (L1 magnitude), "
        "across the whole model or layer by layer, and makes the zeros permanent."
    )
    kinds = ("torch",)
    effect = (
        "smaller after sparse encoding or zip; no speed-up on dense runtimes; accuracy drops "
        "as sparsity rises"
    )

    class Settings(Step.Settings):
        sparsity: float = setting(
            0.5,
            "fraction of the conv/linear weights set to zero",
            minimum=0.0,
            maximum=0.99,
            widget="ratio",
        )
        scope: str = setting(
            "global",
            "global: rank all weights together (layers end up with different sparsity); "
            "layer: the same sparsity in every layer",
            choices=("global", "layer"),
        )

    def run(
        self, model: Any, settings: MagnitudePrune.Settings, ctx: StepContext
    ) -> tuple[Any, dict[str, Any]]:
        from torch.nn.utils import prune

        ctx.check_cancel()
        pruned = copy.deepcopy(model)  # the caller's model (often the reference) stays intact
        targets = _weight_owners(pruned)
        if not targets:
            raise BadInput(f"{self.name}: the model has no conv or linear weights to prune")
        ctx.progress(f"pruning {len(targets)} weight tensors to {settings.sparsity:.0%}", 0.1)
        if settings.scope == "global":
            prune.global_unstructured(
                [(m, "weight") for _, m in targets],
                pruning_method=prune.L1Unstructured,
                amount=settings.sparsity,
            )
        else:
            for _, module in targets:
                ctx.check_cancel()
                prune.l1_unstructured(module, "weight", amount=settings.sparsity)
        # remove() folds weight_orig * weight_mask into a plain `weight` parameter and drops
        # the mask and its forward hook: the zeros become ordinary values in the state dict.
        for _, module in targets:
            prune.remove(module, "weight")
        ctx.progress("pruning done", 1.0)
        return pruned, _sparsity_report(pruned, targets, settings)


# ------------------------------------------------------------------ structured (channels)


def _tensors_in(value: Any) -> list[torch.Tensor]:
    """Every tensor in a (possibly nested) model output."""
    import torch

    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in _tensors_in(item)]
    return []


def _call(model: nn.Module, example: tuple[Any, ...]) -> Any:
    return model(*example)


def output_layers(model: nn.Module, example: tuple[Any, ...]) -> list[nn.Module]:
    """The conv/linear layers whose outputs reach the model output without another layer.

    Their output channels are the model's output shape, so they must never be pruned. Found
    by walking the autograd graph back from the outputs and stopping at each layer's own
    output node (recorded by forward hooks), the same trick torch-pruning traces with.
    """
    import torch

    by_grad_fn: dict[Any, nn.Module] = {}

    def record(module: nn.Module, _inputs: Any, output: Any) -> None:
        if isinstance(output, torch.Tensor) and output.grad_fn is not None:
            by_grad_fn[output.grad_fn] = module

    hooks = [m.register_forward_hook(record) for m in model.modules() if is_layer(m)]
    try:
        with torch.enable_grad():
            outputs = _tensors_in(_call(model, example))
    finally:
        for hook in hooks:
            hook.remove()
    found: list[nn.Module] = []
    seen: set[Any] = set()
    stack = [t.grad_fn for t in outputs if t.grad_fn is not None]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if node in by_grad_fn:
            if by_grad_fn[node] not in found:
                found.append(by_grad_fn[node])
            continue
        stack.extend(nxt for nxt, _ in node.next_functions if nxt is not None)
    return found


def example_inputs(ctx: StepContext, step_name: str) -> tuple[Any, ...]:
    """The inputs to trace with: ctx.example_inputs, else the first calibration sample."""
    import numpy as np
    import torch

    if ctx.example_inputs:
        return tuple(ctx.example_inputs)
    if ctx.calibration is not None and len(ctx.calibration):
        return (torch.from_numpy(np.asarray(ctx.calibration[:1], dtype=np.float32)),)
    raise BadInput(f"{step_name} needs an example input to trace the model with")


def _channels(model: nn.Module) -> dict[str, tuple[int, int]]:
    """(input, output) channels / features of every conv and linear layer, by name."""
    from torch import nn

    out: dict[str, tuple[int, int]] = {}
    for name, m in model.named_modules():
        if isinstance(m, nn.Linear):
            out[name] = (m.in_features, m.out_features)
        elif isinstance(m, nn.modules.conv._ConvNd):
            out[name] = (m.in_channels, m.out_channels)
    return out


def _macs_params(model: nn.Module, example: tuple[Any, ...]) -> tuple[int, int]:
    import torch_pruning as tp

    macs, params = tp.utils.count_ops_and_params(model, example)
    return int(macs), int(params)


def _output_shapes(model: nn.Module, example: tuple[Any, ...]) -> list[list[int]]:
    import torch

    with torch.no_grad():
        return [list(t.shape) for t in _tensors_in(_call(model, example))]


def _kept_modules(model: nn.Module, names: list[str], step_name: str) -> list[nn.Module]:
    modules = dict(model.named_modules())
    unknown = [n for n in names if n not in modules or n == ""]
    if unknown:
        layers = [n for n, m in modules.items() if is_layer(m)]
        raise BadInput(
            f"{step_name}.keep_layers: no module named {unknown[0]!r}",
            f"conv/linear modules of this model: {', '.join(layers[:40])}",
        )
    return [modules[n] for n in names]


def _pruner_class() -> Any:
    """BasePruner (torch-pruning >= 1.5); MetaPruner is its older name."""
    import torch_pruning as tp

    return getattr(tp.pruner, "BasePruner", None) or tp.pruner.MetaPruner


def _prune_groups(
    model: nn.Module,
    example: tuple[Any, ...],
    settings: StructuredPrune.Settings,
    never_touch: list[nn.Module],
    outputs: list[nn.Module],
    ctx: StepContext,
) -> int:
    """Run torch-pruning once; returns how many groups were left alone for keep_layers."""
    import torch
    import torch_pruning as tp

    pruner = _pruner_class()(
        model,
        example_inputs=example[0] if len(example) == 1 else list(example),
        importance=tp.importance.MagnitudeImportance(p=1 if settings.importance == "l1" else 2),
        pruning_ratio=settings.ratio,
        # ignored layers keep their output channels; the output layers must, to keep the
        # output shape. Their input channels may still shrink with the layer before them.
        ignored_layers=outputs + never_touch,
        round_to=settings.round_to if settings.round_to > 1 else None,
    )
    # A kept layer must not change at all, input channels included, so a group that
    # would cut into it (the previous layer's output channels) is skipped entirely.
    untouchable = {id(sub) for m in never_touch for sub in m.modules()}
    skipped = 0
    with torch.no_grad():
        for group in pruner.step(interactive=True):
            ctx.check_cancel()
            if any(id(dep.target.module) in untouchable for dep, _ in group):
                skipped += 1
                continue
            group.prune()
    return skipped


class StructuredPrune(Step):
    name = "prune-structured"
    label = "Channel pruning (structured)"
    description = (
        "Removes the least important output channels of conv layers and features of linear "
        "layers (torch-pruning), keeping every dependent layer consistent: batch norms, "
        "residual additions, concatenations, flatten into linear."
    )
    kinds = ("torch",)
    effect = "fewer MACs and parameters, really faster; accuracy drops until fine-tuned"
    structural = True

    class Settings(Step.Settings):
        ratio: float = setting(
            0.3,
            "fraction of the channels removed from every prunable layer",
            minimum=0.0,
            maximum=0.9,
            widget="ratio",
        )
        importance: str = setting(
            "l1",
            "how a channel's importance is measured: L1 or L2 norm of its weights across "
            "all the layers it couples",
            choices=("l1", "l2"),
        )
        keep_layers: list[str] = setting(
            [],
            "module names never pruned (as in model.named_modules()); the layers that "
            "produce the model output are always kept",
        )
        round_to: int = setting(
            1,
            "keep channel counts a multiple of this (8 or 16 suits many accelerators)",
            minimum=1,
            maximum=256,
            unit="channels",
        )

    def run(
        self, model: Any, settings: StructuredPrune.Settings, ctx: StepContext
    ) -> tuple[Any, dict[str, Any]]:
        import torch

        ctx.check_cancel()
        require_module_layers(model, self.name)
        example = example_inputs(ctx, self.name)
        pruned = copy.deepcopy(model)
        was_training = pruned.training
        pruned.eval()  # tracing must not update batch-norm statistics
        never_touch = _kept_modules(pruned, list(settings.keep_layers), self.name)
        # torch-pruning traces through grad_fn, which frozen parameters would not have.
        grad_flags = {n: p.requires_grad for n, p in pruned.named_parameters()}
        for p in pruned.parameters():
            p.requires_grad_(True)
        outputs = output_layers(pruned, example)
        shapes_before = _output_shapes(pruned, example)
        macs_before, params_before = _macs_params(pruned, example)
        channels_before = _channels(pruned)
        ctx.progress("tracing layer dependencies", 0.2)
        with torch.enable_grad():
            skipped = _prune_groups(pruned, example, settings, never_touch, outputs, ctx)
        ctx.progress("measuring the pruned model", 0.8)
        for n, p in pruned.named_parameters():
            p.requires_grad_(grad_flags.get(n, True))
        pruned.eval()  # torch-pruning's tracing already set eval; measure in eval too
        shapes_after = _output_shapes(pruned, example)
        if shapes_after != shapes_before:
            raise RunFailed(
                f"{self.name}: pruning changed the output shape from {shapes_before} to "
                f"{shapes_after}; add the output layer's name to keep_layers"
            )
        macs_after, params_after = _macs_params(pruned, example)
        pruned.train(was_training)
        names = {id(m): n for n, m in pruned.named_modules()}
        report = {
            "ratio": settings.ratio,
            "importance": settings.importance,
            "round_to": settings.round_to,
            "macs_before": macs_before,
            "macs_after": macs_after,
            "macs_unit": "multiply-accumulates for one forward pass on the example input "
            f"(batch {_batch(example)}), counted by torch_pruning.utils.count_ops_and_params",
            "macs_kept_fraction": macs_after / macs_before if macs_before else 1.0,
            "params_before": params_before,
            "params_after": params_after,
            "params_kept_fraction": params_after / params_before if params_before else 1.0,
            "layers": _channel_changes(channels_before, _channels(pruned)),
            "output_layers_kept": [names.get(id(m), "?") for m in outputs],
            "keep_layers": list(settings.keep_layers),
            "groups_skipped_for_keep_layers": skipped,
            "output_shapes": shapes_after,
        }
        ctx.progress("structured pruning done", 1.0)
        return pruned, report


def _batch(example: tuple[Any, ...]) -> int | str:
    first = example[0] if example else None
    shape = getattr(first, "shape", None)
    return int(shape[0]) if shape else "?"


def _channel_changes(
    before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]
) -> dict[str, dict[str, int]]:
    """Channels in/out before and after, for every layer that changed."""
    return {
        name: {
            "in_before": before[name][0],
            "in_after": after[name][0],
            "out_before": before[name][1],
            "out_after": after[name][1],
        }
        for name in before
        if name in after and before[name] != after[name]
    }
