"""torchvision architectures by name, with seeded random weights when offline.

A zoo artifact is a small JSON descriptor (name, weights, seed, input shape), so the same
module can be rebuilt bit-for-bit in the agent and in an export worker.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DEFAULT_INPUT = [1, 3, 224, 224]
INPUT_SIZES = {"inception_v3": [1, 3, 299, 299]}
RANDOM = "random"
PRETRAINED = "pretrained"


def descriptor(name: str, weights: str = RANDOM, seed: int = 0) -> dict[str, Any]:
    return {
        "zoo": name,
        "weights": weights,
        "seed": seed,
        "input_shape": INPUT_SIZES.get(name, DEFAULT_INPUT),
        "input_name": "input",
        "note": (
            "random weights (seeded): realistic latency, meaningless predictions"
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

    from engines.errors import BadInput

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
    return model.eval()
