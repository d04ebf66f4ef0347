"""Compression presets: the TOML files in profiles/presets/ and in the user config dir.

Each file is a named recipe with the words a person reads in the wizard. Files are
validated when loaded by pydantic models (unknown fields refused, every field typed); an
error names the file and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engines.compress.recipe import Recipe, RecipeStep, validate
from engines.floor.errors import BadInput
from profiles.toml_files import read_toml

BUILTIN_DIR = Path(__file__).parent / "presets"
TEXT_FIELDS = ("label", "description", "applies_to", "typical")


def user_dir() -> Path:
    from engines.floor import paths

    return paths.config_dir() / "presets"


class PresetStep(BaseModel):
    """One [[steps]] table: a step of the catalogue and its settings (the step's own typed
    settings check those, with their bounds and words)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    step: str = Field(description="the name of a step (edgebench presets lists them)")
    settings: dict[str, Any] = Field(default_factory=dict)


class PresetFile(BaseModel):
    """A preset file as written: unknown fields are refused, every field is typed."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(min_length=1, description="how commands name it: --preset NAME")
    steps: list[PresetStep] = Field(min_length=1, description="[[steps]] tables, in order")
    needs_data: bool = Field(False, description="true when a step calibrates or trains")
    label: str = ""
    description: str = ""
    applies_to: str = ""
    typical: str = ""


def _first_problem(error: ValidationError) -> str:
    """The first problem in a person's words: the field as written in the file, and what
    is wrong with it ("field 'steps[0].step': Field required")."""
    problem = error.errors()[0]
    where = ""
    for part in problem["loc"]:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    if problem["type"] == "extra_forbidden":
        return f"unknown field {where!r}"
    return f"field {where!r}: {problem['msg']}"


def parse_preset(data: dict[str, Any], where: str) -> Recipe:
    try:
        parsed = PresetFile.model_validate(data)
    except ValidationError as exc:
        fields = ", ".join(PresetFile.model_fields)
        raise BadInput(f"{where}: {_first_problem(exc)}", f"fields: {fields}") from None
    name = parsed.name.strip()
    if not name:
        raise BadInput(f"{where}: field 'name' must be non-empty text")
    recipe = Recipe(
        name=name,
        steps=tuple(RecipeStep(s.step, dict(s.settings)) for s in parsed.steps),
        needs_data=parsed.needs_data,
        **{k: " ".join(str(getattr(parsed, k)).split()) for k in TEXT_FIELDS},
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
