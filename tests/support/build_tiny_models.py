"""Build the tiny real models the suite shares (run as a script in a child process).

Runs out of the test process on purpose: torch.onnx, torch.export and litert_torch pull in
heavy native libraries and threads we do not want inside pytest.

Model: Conv2d(3->4, 3x3, pad 1) + ReLU + Flatten + Linear(256->10) on a 1x3x8x8 input.
MACs by hand: conv 4*8*8 outputs * 3*3*3 = 6912; linear 10 * 256 = 2560; total 9472.
Parameters: 4*3*3*3 + 4 + 10*256 + 10 = 2682.

Usage: python build_tiny_models.py OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 8 * 8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.conv(x)).flatten(1))


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model = Tiny().eval()
    x = torch.randn(1, 3, 8, 8)

    batch = torch.export.Dim("batch", min=1, max=64)
    program = torch.onnx.export(
        model,
        (x,),
        dynamo=True,
        input_names=["input"],
        dynamic_shapes={"x": {0: batch}},
        verbose=False,
    )
    program.save(str(out / "tiny.onnx"))

    torch.export.save(torch.export.export(model, (x,)), str(out / "tiny.pt2"))
    torch.jit.save(torch.jit.trace(model, x), str(out / "tiny_script.pt"))
    torch.save(model.state_dict(), str(out / "tiny_state_dict.pt"))

    import litert_torch

    litert_torch.convert(model, (x,)).export(str(out / "tiny.tflite"))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
