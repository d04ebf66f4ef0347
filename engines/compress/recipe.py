"""Recipes: ordered compression steps with typed settings, and their validation.

A preset (profiles/presets/*.toml) is a named recipe with words for a person. A recipe
has torch steps first (pruning, low-rank, distillation), then at most one precision step
(INT8 dynamic, INT8 static, FP16), which is realised for the target format.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from engines.compress.base import parse_settings
from engines.compress.catalogue import PRECISION_STEPS, step_class
from engines.floor.errors import BadInput


@dataclass(frozen=True)
class RecipeStep:
    step: str
    settings: dict[str, Any] = field(default_factory=dict)

    def key(self, data_key: str = "") -> str:
        """Stable identity of this step with these settings (and data), for caching."""
        text = json.dumps({"step": self.step, "settings": self.settings, "data": data_key})
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Recipe:
    name: str
    steps: tuple[RecipeStep, ...]
    label: str = ""
    description: str = ""
    applies_to: str = ""
    typical: str = ""
    needs_data: bool = False

    @property
    def torch_steps(self) -> tuple[RecipeStep, ...]:
        return tuple(s for s in self.steps if s.step not in PRECISION_STEPS)

    @property
    def precision_step(self) -> RecipeStep | None:
        found = [s for s in self.steps if s.step in PRECISION_STEPS]
        return found[0] if found else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def validate(recipe: Recipe, where: str = "") -> Recipe:
    """Check step names, settings and order; errors name the step and the field."""
    prefix = f"{where}: " if where else ""
    if not recipe.steps:
        raise BadInput(f"{prefix}recipe {recipe.name!r} has no steps")
    seen_precision = False
    for index, recipe_step in enumerate(recipe.steps):
        location = f"{prefix}steps[{index}]."
        try:
            cls = step_class(recipe_step.step)
        except BadInput as exc:
            raise BadInput(f"{location}step: {exc.message}", exc.details) from None
        parse_settings(cls, recipe_step.settings, where=location)
        if seen_precision:
            raise BadInput(
                f"{location}step {recipe_step.step!r} comes after a precision step",
                "quantize-dynamic, quantize-static and fp16 must be the last step",
            )
        seen_precision = recipe_step.step in PRECISION_STEPS
    return recipe


def single_step(step: str, settings: dict[str, Any] | None = None) -> Recipe:
    """A one-step recipe, e.g. for `edgebench export --int8`."""
    return validate(Recipe(name=step, steps=(RecipeStep(step, dict(settings or {})),)))


def fp32() -> Recipe:
    """The baseline: no compression step (a plain FP32 export for the target)."""
    return Recipe(name="fp32", steps=(), label="FP32 baseline", description="the source model")
