"""torchvision architectures by name, with seeded random weights when offline.

A zoo artifact is a small JSON descriptor (name, weights, seed, input shape), so the same
module can be rebuilt bit-for-bit in the agent and in an export worker.

Random weights alone make activations vanish through deep BatchNorm networks (default
running statistics), which leaves logits near 1e-9: useless for quantization and fidelity.
So random-weight modules get their BatchNorm statistics estimated on a few seeded noise
batches: activations keep a realistic scale, and the module is still seeded and exact.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DEFAULT_INPUT = [1, 3, 224, 224]
INPUT_SIZES = {"inception_v3": [1, 3, 299, 299]}
RANDOM = "random"
PRETRAINED = "pretrained"
#: Version of the random-weight recipe, part of the descriptor (and so of its sha256).
RANDOM_RECIPE = 2
BN_BATCHES = 2
BN_BATCH_SIZE = 4


def descriptor(name: str, weights: str = RANDOM, seed: int = 0) -> dict[str, Any]:
    return {
        "zoo": name,
        "weights": weights,
        "seed": seed,
        "input_shape": INPUT_SIZES.get(name, DEFAULT_INPUT),
        "input_name": "input",
        **({"random_recipe": RANDOM_RECIPE} if weights == RANDOM else {}),
        "note": (
            "random weights (seeded, BatchNorm statistics estimated on seeded noise): "
            "realistic latency and activation scales, meaningless predictions"
            if weights == RANDOM
            else "pretrained torchvision weights"
        ),
    }


def read_descriptor(path: str | Path) -> dict[str, Any]:
    data = json.loads(Path(path).read_text())
    if not isinstance(data, dict) or "zoo" not in data:
        raise ValueError(f"{path} is not a zoo descriptor")
    return data


def available_names() -> list[str]:
    import torchvision

    return sorted(torchvision.models.list_models(module=torchvision.models))


def build_module(desc: dict[str, Any]) -> Any:
    """The eval-mode nn.Module a descriptor names. Pretrained weights need the internet."""
    import torch
    import torchvision

    from engines.floor.errors import BadInput

    name = desc["zoo"]
    if name not in torchvision.models.list_models(module=torchvision.models):
        raise BadInput(
            f"zoo:{name} is not a torchvision classification model",
            "known names include mobilenet_v2, resnet18, efficientnet_b0, "
            "mobilenet_v3_small, squeezenet1_1",
        )
    if desc.get("weights") == PRETRAINED:
        try:
            model = torchvision.models.get_model(name, weights="DEFAULT")
        except Exception as exc:  # URLError, HTTPError, SSL errors all mean the same here
            raise BadInput(
                f"pretrained weights for {name} could not be downloaded: {exc}",
                "pretrained weights need the internet once (they are then cached by "
                f"torchvision); offline, use zoo:{name} for seeded random weights",
            ) from exc
    else:
        torch.manual_seed(int(desc.get("seed", 0)))
        model = torchvision.models.get_model(name, weights=None)
        if int(desc.get("random_recipe", 1)) >= 2:
            _estimate_batchnorm(model, desc)
    return model.eval()


def _estimate_batchnorm(model: Any, desc: dict[str, Any]) -> None:
    """Running mean/var from seeded N(0,1) batches (cumulative average, no weight change)."""
    import torch

    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
    generator = torch.Generator().manual_seed(int(desc.get("seed", 0)) + 1)
    shape = [BN_BATCH_SIZE, *desc["input_shape"][1:]]
    model.train()
    with torch.no_grad():
        for _ in range(BN_BATCHES):
            model(torch.randn(shape, generator=generator))
    model.eval()
