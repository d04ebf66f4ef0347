"""Compression presets: the TOML files in profiles/presets/ and in the user config dir.

Each file is a named recipe with the words a person reads in the wizard. Files are
validated when loaded; an error names the file and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engines.compress.recipe import Recipe, RecipeStep, validate
from engines.floor.errors import BadInput
from profiles.toml_files import read_toml

BUILTIN_DIR = Path(__file__).parent / "presets"
TEXT_FIELDS = ("label", "description", "applies_to", "typical")
ALLOWED = {"name", "steps", "needs_data", *TEXT_FIELDS}


def user_dir() -> Path:
    from engines.floor import paths

    return paths.config_dir() / "presets"


def parse_preset(data: dict[str, Any], where: str) -> Recipe:
    unknown = sorted(set(data) - ALLOWED)
    if unknown:
        raise BadInput(
            f"{where}: unknown field {unknown[0]!r}", f"fields: {', '.join(sorted(ALLOWED))}"
        )
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise BadInput(f"{where}: field 'name' must be non-empty text")
    for text_field in TEXT_FIELDS:
        if text_field in data and not isinstance(data[text_field], str):
            raise BadInput(f"{where}: field {text_field!r} must be text")
    if not isinstance(data.get("needs_data", False), bool):
        raise BadInput(f"{where}: field 'needs_data' must be true or false")
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise BadInput(f"{where}: field 'steps' must be a list of [[steps]] tables")
    steps = []
    for index, raw in enumerate(raw_steps):
        if not isinstance(raw, dict) or not isinstance(raw.get("step"), str):
            raise BadInput(f"{where}: steps[{index}].step must be the name of a step")
        extra = sorted(set(raw) - {"step", "settings"})
        if extra:
            raise BadInput(f"{where}: steps[{index}]: unknown field {extra[0]!r}")
        settings = raw.get("settings", {})
        if not isinstance(settings, dict):
            raise BadInput(f"{where}: steps[{index}].settings must be a table")
        steps.append(RecipeStep(raw["step"], dict(settings)))
    recipe = Recipe(
        name=name.strip(),
        steps=tuple(steps),
        needs_data=bool(data.get("needs_data", False)),
        **{k: " ".join(str(data.get(k, "")).split()) for k in TEXT_FIELDS},
    )
    return validate(recipe, where)


def load_file(path: Path) -> Recipe:
    data = read_toml(path)
    return parse_preset(data, str(path))


def _files() -> list[Path]:
    folders = [BUILTIN_DIR, user_dir()]
    return [p for folder in folders if folder.is_dir() for p in sorted(folder.glob("*.toml"))]


def all_presets() -> dict[str, Recipe]:
    """Built-in presets, then user presets (a user preset may replace a built-in one)."""
    return {recipe.name: recipe for recipe in map(load_file, _files())}


def get_preset(name: str) -> Recipe:
    presets = all_presets()
    if name == "fp32":
        from engines.compress.recipe import fp32

        return fp32()
    try:
        return presets[name]
    except KeyError:
        raise BadInput(
            f"unknown preset {name!r}",
            f"presets: {', '.join(sorted(presets))} (list them with: edgebench presets)",
        ) from None
