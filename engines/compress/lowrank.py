"""Low-rank factorisation of a torch model's linear and conv layers (truncated SVD).

A weight matrix W (n x m) is replaced by two thinner factors B (n x r) and A (r x m) from
its SVD, W ≈ U_r S_r V_r^T = (U_r sqrt(S_r)) (sqrt(S_r) V_r^T), splitting the singular
values evenly so neither factor has a much larger range (kinder to later quantisation).

  Linear(m -> n)            -> Sequential(Linear(m -> r, no bias), Linear(r -> n, bias))
  Conv2d(c_in -> c_out, kxk) -> Sequential(Conv2d(c_in -> r, kxk, same stride/padding/
                               dilation, no bias), Conv2d(r -> c_out, 1x1, bias))

For a conv, W is the (c_out) x (c_in * k * k) matrix of its flattened filters, so m is
c_in*k*k. The pair costs r*(m+n) weights instead of m*n: a saving only when r is well
below m*n/(m+n). Runs in a worker process and imports torch there.
"""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING, Any

from engines.compress.base import Step, StepContext, setting
from engines.compress.prune import own_weight, require_module_layers

if TYPE_CHECKING:
    import torch
    from torch import nn


def _rank(ratio: float, full: int) -> int:
    # round first so 0.3 * 10 (= 3.0000000000000004) gives 3, not 4
    return max(1, min(full, math.ceil(round(ratio * full, 9))))


def _matrix(layer: nn.Module) -> torch.Tensor:
    """The layer's weight as an (out) x (in * kernel) float64 matrix, for an accurate SVD."""
    import torch

    weight = own_weight(layer)
    assert weight is not None  # only called on Linear / Conv2d
    return weight.detach().reshape(weight.shape[0], -1).to(torch.float64)


def _factors(w: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor, float]:
    """(B, A, relative Frobenius error) with B @ A the best rank-`rank` approximation of w."""
    import torch

    u, s, vh = torch.linalg.svd(w, full_matrices=False)
    root = s[:rank].sqrt()
    first = root[:, None] * vh[:rank]  # r x m
    second = u[:, :rank] * root[None, :]  # n x r
    # Eckart-Young: the error of the best rank-r approximation is the dropped singular values
    total = float(s.square().sum())
    error = math.sqrt(float(s[rank:].square().sum()) / total) if total > 0 else 0.0
    return second, first, error


def _factorised_linear(layer: nn.Linear, second: torch.Tensor, first: torch.Tensor) -> nn.Module:
    import torch
    from torch import nn

    w = layer.weight
    rank = first.shape[0]
    has_bias = layer.bias is not None
    a = nn.Linear(layer.in_features, rank, bias=False, device=w.device, dtype=w.dtype)
    b = nn.Linear(rank, layer.out_features, bias=has_bias, device=w.device, dtype=w.dtype)
    with torch.no_grad():
        a.weight.copy_(first.to(w.dtype))
        b.weight.copy_(second.to(w.dtype))
        if layer.bias is not None and b.bias is not None:
            b.bias.copy_(layer.bias)
    return nn.Sequential(a, b)


def _pair(values: tuple[int, ...]) -> tuple[int, int]:
    """A Conv2d attribute (always two ints) typed as Conv2d's constructor wants it."""
    return values[0], values[1]


def _factorised_conv(layer: nn.Conv2d, second: torch.Tensor, first: torch.Tensor) -> nn.Module:
    import torch
    from torch import nn

    w = layer.weight
    rank = first.shape[0]
    a = nn.Conv2d(
        layer.in_channels,
        rank,
        _pair(layer.kernel_size),
        stride=_pair(layer.stride),
        padding=layer.padding if isinstance(layer.padding, str) else _pair(layer.padding),
        dilation=_pair(layer.dilation),
        bias=False,
        padding_mode=layer.padding_mode,
        device=w.device,
        dtype=w.dtype,
    )
    b = nn.Conv2d(
        rank, layer.out_channels, 1, bias=layer.bias is not None, device=w.device, dtype=w.dtype
    )
    with torch.no_grad():
        a.weight.copy_(first.to(w.dtype).reshape(a.weight.shape))
        b.weight.copy_(second.to(w.dtype).reshape(b.weight.shape))
        if layer.bias is not None and b.bias is not None:
            b.bias.copy_(layer.bias)
    return nn.Sequential(a, b)


def _skip_reason(layer: nn.Module, wanted: str) -> str | None:
    """Why a conv/linear layer of this model is not a candidate at all, or None."""
    from torch import nn

    if isinstance(layer, nn.Linear):
        return None if wanted in ("linear", "all") else "layers = 'conv'"
    if wanted == "linear":
        return "layers = 'linear'"
    if type(layer) is not nn.Conv2d:
        return f"{type(layer).__name__} is not factorised (only Conv2d and Linear)"
    if layer.groups != 1:
        return f"grouped convolution (groups={layer.groups})"
    return None


def _replace(model: nn.Module, name: str, new: nn.Module) -> nn.Module:
    """Put `new` where module `name` was; returns the (possibly new) root."""
    if not name:
        return new
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)
    return model


class LowRank(Step):
    name = "lowrank"
    label = "Low-rank factorisation (SVD)"
    description = (
        "Splits large linear and conv layers into two thinner layers from a truncated SVD "
        "of their weights, keeping the largest singular values."
    )
    kinds = ("torch",)
    effect = "fewer parameters and MACs in big layers; accuracy drops as the rank falls"
    structural = True

    class Settings(Step.Settings):
        rank_ratio: float = setting(
            0.5,
            "rank kept, as a fraction of the layer's full rank min(in, out): "
            "r = ceil(rank_ratio * min(in, out))",
            minimum=0.05,
            maximum=1.0,
            widget="ratio",
        )
        layers: str = setting(
            "all",
            "which layers to factorise",
            choices=("linear", "conv", "all"),
        )
        min_features: int = setting(
            16,
            "skip layers whose smaller weight dimension (features, or conv c_in*k*k vs "
            "c_out) is below this",
            minimum=1,
            unit="features",
        )
        only_if_smaller: bool = setting(
            True,
            "factorise a layer only when the two factors have fewer weights than the "
            "original: r*(in+out) < in*out",
        )

    def run(
        self, model: Any, settings: LowRank.Settings, ctx: StepContext
    ) -> tuple[Any, dict[str, Any]]:
        from torch import nn

        ctx.check_cancel()
        require_module_layers(model, self.name)
        new_model: nn.Module = copy.deepcopy(model)
        params_before = sum(p.numel() for p in new_model.parameters())
        candidates = [
            (name, m)
            for name, m in new_model.named_modules()
            if isinstance(m, (nn.Linear, nn.modules.conv._ConvNd))
        ]
        done: dict[str, dict[str, Any]] = {}
        skipped: dict[str, str] = {}
        for i, (name, layer) in enumerate(candidates):
            ctx.check_cancel()
            ctx.progress(f"factorising {name or 'model'}", i / len(candidates))
            reason = _skip_reason(layer, settings.layers)
            if reason is None:
                result = self._factorise(layer, settings)
                if isinstance(result, str):
                    reason = result
                else:
                    replacement, figures = result
                    new_model = _replace(new_model, name, replacement)
                    done[name or "<model>"] = figures
            if reason is not None:
                skipped[name or "<model>"] = reason
        params_after = sum(p.numel() for p in new_model.parameters())
        ctx.progress("factorisation done", 1.0)
        report = {
            "rank_ratio": settings.rank_ratio,
            "layers": done,
            "layers_factorised": len(done),
            "skipped": skipped,
            "params_before": params_before,
            "params_after": params_after,
            "params_kept_fraction": params_after / params_before if params_before else 1.0,
            "error_measure": "relative Frobenius error ||W - B A|| / ||W|| of each weight",
        }
        return new_model, report

    @staticmethod
    def _factorise(
        layer: nn.Module, settings: LowRank.Settings
    ) -> tuple[nn.Module, dict[str, Any]] | str:
        """(replacement, figures) for one layer, or the reason it is left as it is."""
        from torch import nn

        w = _matrix(layer)
        n, m = w.shape
        full = min(n, m)
        if full < settings.min_features:
            return f"smaller dimension {full} is below min_features {settings.min_features}"
        rank = _rank(settings.rank_ratio, full)
        dense, factored = n * m, rank * (n + m)
        if settings.only_if_smaller and factored >= dense:
            return (
                f"rank {rank} would not save weights: r*(in+out) = {factored} >= in*out = {dense}"
            )
        second, first, error = _factors(w, rank)
        if isinstance(layer, nn.Linear):
            replacement = _factorised_linear(layer, second, first)
        else:
            assert isinstance(layer, nn.Conv2d)
            replacement = _factorised_conv(layer, second, first)
        replacement.train(layer.training)
        return replacement, {
            "type": type(layer).__name__,
            "matrix": [n, m],
            "rank": rank,
            "full_rank": full,
            "relative_error": error,
            "params_before": sum(p.numel() for p in layer.parameters()),
            "params_after": sum(p.numel() for p in replacement.parameters()),
        }
