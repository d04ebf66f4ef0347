"""Presets and recipes: the shipped TOML files load; a malformed file names its field."""

from __future__ import annotations

from pathlib import Path

import pytest

from engines.compress.base import describe_settings, parse_settings
from engines.compress.catalogue import STEPS, step_class
from engines.compress.recipe import Recipe, RecipeStep, validate
from engines.floor.errors import BadInput
from profiles.presets import BUILTIN_DIR, all_presets, get_preset, load_file, user_dir

EXPECTED = {
    "int8-dynamic",
    "int8-static",
    "fp16",
    "prune-50",
    "prune-structured-30",
    "prune-structured-50",
    "prune-structured-30+distill+int8",
    "lowrank-50",
}


def test_every_builtin_preset_loads_with_words_for_a_person():
    presets = all_presets()
    assert set(presets) >= EXPECTED
    for recipe in presets.values():
        assert recipe.label and len(recipe.description) > 40, recipe.name
        assert recipe.applies_to and recipe.typical, recipe.name
    balanced = presets["prune-structured-30+distill+int8"]
    assert [s.step for s in balanced.steps] == ["prune-structured", "distill", "quantize-static"]
    assert balanced.precision_step == RecipeStep("quantize-static", {})
    assert [s.step for s in balanced.torch_steps] == ["prune-structured", "distill"]


def test_every_catalogue_step_loads_and_describes_its_settings():
    for name in STEPS:
        cls = step_class(name)
        assert cls.name == name and cls.label and cls.description
        for described in describe_settings(cls):
            assert described["description"], (name, described["name"])


def test_step_settings_are_pydantic_models_with_their_rules_in_the_schema():
    """The settings' rules live in pydantic fields: the JSON schema a form could be built
    from carries the bounds and choices, unknown keys are refused and values are frozen."""
    import pydantic

    from engines.compress.base import StepSettings

    for name in STEPS:
        settings = step_class(name).Settings
        assert issubclass(settings, StepSettings), name
        assert settings.model_json_schema().get("additionalProperties") is False, name
    schema = step_class("prune-structured").Settings.model_json_schema()["properties"]
    assert schema["ratio"]["minimum"] == 0.0 and schema["ratio"]["maximum"] == 0.9
    assert schema["importance"]["choices"] == ["l1", "l2"]
    made = step_class("prune-structured").Settings()
    with pytest.raises(pydantic.ValidationError):
        made.ratio = 0.5  # type: ignore[misc]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('name = "x"\nsteps = []\n', "'steps'"),
        ('name = "x"\ncolour = 1\n[[steps]]\nstep = "fp16"\n', "'colour'"),
        ('name = "x"\n[[steps]]\nstep = "quantise"\n', "steps[0].step"),
        (
            'name = "x"\n[[steps]]\nstep = "prune-magnitude"\n[steps.settings]\nsparsity = 1.5\n',
            "sparsity = 1.5 is above the maximum",
        ),
        (
            'name = "x"\n[[steps]]\nstep = "prune-magnitude"\n'
            '[steps.settings]\nsparsity = "half"\n',
            "sparsity: expected a number",
        ),
        (
            'name = "x"\n[[steps]]\nstep = "fp16"\n[steps.settings]\nkeep_types = true\n',
            "unknown setting 'keep_types'",
        ),
        (
            'name = "x"\n[[steps]]\nstep = "fp16"\n[[steps]]\nstep = "distill"\n',
            "after a precision",
        ),
        ('name = 3\n[[steps]]\nstep = "fp16"\n', "'name'"),
        ("name = \n", "not valid TOML"),
    ],
)
def test_a_malformed_preset_file_names_the_field(tmp_path, text, words):
    path = _write(tmp_path, text)
    with pytest.raises(BadInput) as err:
        load_file(path)
    assert words in err.value.message
    assert str(path) in err.value.message


def test_a_user_preset_works_like_a_builtin_one():
    folder = user_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mine.toml").write_text(
        'name = "prune-70"\nlabel = "Mine"\ndescription = "mine"\n'
        '[[steps]]\nstep = "prune-magnitude"\n[steps.settings]\nsparsity = 0.7\n'
    )
    recipe = get_preset("prune-70")
    assert recipe.steps == (RecipeStep("prune-magnitude", {"sparsity": 0.7}),)
    assert "int8-static" in all_presets()  # built-ins still there


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(BadInput) as err:
        get_preset("int9")
    assert "int9" in err.value.message and "int8-static" in err.value.details


def test_settings_are_typed_and_bounded():
    cls = step_class("quantize-static")
    settings = parse_settings(cls, {"per_channel": False, "max_calibration_samples": 16})
    assert settings.per_channel is False and settings.max_calibration_samples == 16
    with pytest.raises(BadInput, match="calibrate_method"):
        parse_settings(cls, {"calibrate_method": "guess"})
    with pytest.raises(BadInput, match="whole number"):
        parse_settings(cls, {"max_calibration_samples": 1.5})


def test_recipe_keys_change_with_settings_and_data():
    a = RecipeStep("prune-magnitude", {"sparsity": 0.5})
    b = RecipeStep("prune-magnitude", {"sparsity": 0.6})
    assert a.key() == RecipeStep("prune-magnitude", {"sparsity": 0.5}).key()
    assert a.key() != b.key() and a.key("digits") != a.key("synthetic")
    with pytest.raises(BadInput, match="no steps"):
        validate(Recipe("empty", ()))


def test_builtin_dir_is_packaged_data():
    assert BUILTIN_DIR.is_dir() and len(list(BUILTIN_DIR.glob("*.toml"))) >= len(EXPECTED)
