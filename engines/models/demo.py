"""Demo content that works offline: `digits-cnn`, trained by our own recipe in a few seconds.

The recipe trains a small CNN on scikit-learn's bundled 8x8 digits (1,797 images, no
download), seeded, and saves it as a torch.export program with its test accuracy. The
result is cached per recipe version and torch version.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from engines.floor.atomic import write_atomically
from engines.floor.errors import BadInput

RECIPE_VERSION = 2
DEMOS = {
    "digits-cnn": "small CNN on scikit-learn's 8x8 digits, trained here in a few seconds; "
    "real labelled accuracy",
}
EPOCHS = 30
SEED = 0


def digits_split() -> tuple[Any, Any, Any, Any]:
    """Train/test split of the digits set, scaled to [0, 1], shaped N x 1 x 8 x 8."""
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    y = digits.target.astype(np.int64)
    split = train_test_split(x, y, test_size=0.25, random_state=SEED, stratify=y)
    return cast("tuple[Any, Any, Any, Any]", tuple(split))


def digits_cnn() -> Any:
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 4 * 4, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    )


def training_message(epoch: int) -> str:
    return f"training the demo model: epoch {epoch} of {EPOCHS}"


def train_digits_cnn(progress: Callable[..., None]) -> tuple[Any, float]:
    """Train on one thread: on a 2-core machine the default thread count made this tiny
    model's 30 epochs take 100 s instead of 4 s once anything else used a core."""
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    progress("loading scikit-learn's digits", None)
    x_train, x_test, y_train, y_test = digits_split()
    model = digits_cnn()
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    generator = torch.Generator().manual_seed(SEED)
    for epoch in range(EPOCHS):
        model.train()
        order = torch.randperm(len(xt), generator=generator)
        for start in range(0, len(xt), 64):
            idx = order[start : start + 64]
            optimiser.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            optimiser.step()
        progress(training_message(epoch + 1), (epoch + 1) / EPOCHS)
    model.eval()
    with torch.inference_mode():
        predicted = model(torch.from_numpy(x_test)).argmax(1).numpy()
    return model, float((predicted == y_test).mean())


def build_demo(payload: dict[str, Any], progress: Callable[..., None]) -> dict[str, Any]:
    """Worker task: train and save a demo model; payload {"name", "out_path"}."""
    progress("starting PyTorch", None)
    import torch

    name = payload["name"]
    if name != "digits-cnn":
        raise BadInput(f"unknown demo model {name!r}; available: {', '.join(DEMOS)}")
    model, accuracy = train_digits_cnn(progress)
    progress("saving the demo model", None)
    program = torch.export.export(model, (torch.zeros(1, 1, 8, 8),))
    out = Path(payload["out_path"])
    write_atomically(out, lambda tmp: torch.export.save(program, str(tmp)))
    from engines.models.artifacts import sha256_file

    meta = {
        "demo": name,
        # What we built: a cached file is trusted (it holds code) only while it has this.
        "sha256": sha256_file(out),
        "recipe_version": RECIPE_VERSION,
        "test_accuracy_top1": accuracy,
        "test_samples": 450,
        "epochs": EPOCHS,
        "seed": SEED,
        "torch": torch.__version__,
        "preprocessing": {"layout": "NCHW", "size": [8, 8], "scale": "pixel / 16"},
    }
    text = json.dumps(meta, indent=2)
    write_atomically(out.with_suffix(".json"), lambda tmp: tmp.write_text(text))
    return meta
