"""`make setup` says what it does and takes torch from the index a user names."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def _setup_recipe(**variables: str) -> str:
    """The commands `make setup` would run from scratch (-n: printed, not run)."""
    args = ["make", "-n", "-B", "setup", *(f"{k}={v}" for k, v in variables.items())]
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=True).stdout


def test_torch_comes_from_the_named_index_first_with_the_projects_pins() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    pins = re.findall(r'"(torch(?:vision)?==[^"]+)"', pyproject)
    assert sorted(pins) == ["torch==2.14.1", "torchvision==0.29.1"]
    recipe = _setup_recipe(EDGEBENCH_TORCH_INDEX="https://download.pytorch.org/whl/cpu")
    index_line = f'--index-url "https://download.pytorch.org/whl/cpu" {" ".join(pins)}'
    assert index_line in recipe
    assert recipe.index(index_line) < recipe.index('pip install -e ".[dev]"')


def test_without_an_index_pip_installs_everything_from_the_default_one() -> None:
    recipe = _setup_recipe()
    assert 'if [ -n "" ]' in recipe  # the torch-index step is skipped
    assert "--quiet" not in recipe  # pip's own progress is shown
    assert "== setup: installing EdgeBench" in recipe and "== setup done" in recipe
