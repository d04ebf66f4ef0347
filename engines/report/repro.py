"""The `edgebench` commands that re-create a stored run, built from what the store kept:
the run's spec (runtime, threads, batch, policy, shapes, evaluation) and its model's
lineage (source model, compression steps). The flags mirror app/cli.py's parsers."""

from __future__ import annotations

import re
import shlex
from typing import Any

from engines.floor.spec import RunPolicy
from engines.report.collect import ReportRun
from engines.store.db import ArtifactRow

_DEFAULT = RunPolicy()


def source_ref(root: ArtifactRow) -> str:
    """What a user types for the source model: demo:NAME, zoo:NAME[:pretrained], or the
    stored copy (artifact:ID) for a file only this machine has."""
    if root.source == "demo":
        return f"demo:{root.name}"
    if root.source == "zoo":
        name = root.name.removeprefix("zoo:").split(" ")[0]
        return f"zoo:{name}:pretrained" if "(pretrained)" in root.name else f"zoo:{name}"
    return f"artifact:{root.id}"


def _number(value: float) -> str:
    return f"{value:g}"


def input_flags(spec: dict[str, Any]) -> list[str]:
    """The --input-shape/--dim/--input/--inputs flags that reproduce a run's inputs."""
    asked = spec.get("inputs") or {}
    shapes = asked.get("shapes") or spec.get("input_shapes") or {}
    words: list[str] = []
    for name, dims in sorted(shapes.items()):
        words += ["--input-shape", f"{name}={','.join(str(d) for d in dims)}"]
    for name, size in sorted((asked.get("dims") or {}).items()):
        words += ["--dim", f"{name}={size}"]
    for name, value in sorted((asked.get("values") or {}).items()):
        words += ["--input", f"{name}={value}"]
    if asked.get("data_path"):
        words += ["--inputs", str(asked["data_path"])]
    return words


def policy_flags(policy: dict[str, Any]) -> list[str]:
    """Run-policy flags that differ from the CLI's defaults (profile: 50 runs, 2 s)."""
    flags: list[str] = []
    pairs = (
        ("--runs", "min_runs", _DEFAULT.min_runs),
        ("--min-seconds", "min_s", _DEFAULT.min_s),
        ("--max-seconds", "max_s", _DEFAULT.max_s),
        ("--warmup", "warmup_runs", _DEFAULT.warmup_runs),
        ("--warmup-seconds", "warmup_min_s", _DEFAULT.warmup_min_s),
    )
    for flag, key, default in pairs:
        value = policy.get(key)
        if value is not None and value != default:
            flags += [flag, _number(value)]
    return flags


def data_ref(description: str) -> str:
    """The --data value an evaluation's stored description came from (DATA if unknown)."""
    if description.startswith("scikit-learn digits, train split"):
        return "digits-train"
    if description.startswith("scikit-learn digits"):
        return "digits"
    found = re.match(r"(\d+) synthetic samples", description)
    if found:
        return f"synthetic:{found.group(1)}"
    found = re.match(
        r"\d+ (?:labelled )?(?:samples|images) from (.+?)(?:,| \(| resized|$)", description
    )
    return found.group(1) if found else "DATA"


def _quote(words: list[str]) -> str:
    return " ".join(shlex.quote(w) for w in words)


def _device_flags(device: str) -> list[str]:
    """`--device NAME` for a run on a named device; none for this machine's own."""
    from engines.devices import local

    own = {"local", getattr(local, "DEFAULT_NAME", "local")}
    return [] if device in own else ["--device", device]


def matching_preset(step_names: list[str]) -> str:
    """The preset whose steps are these (a TFLite precision step ends in -tflite), or ""."""
    wanted = [name.removesuffix("-tflite") for name in step_names]
    try:
        from profiles.presets import all_presets

        presets = all_presets()
    except Exception:  # a malformed user preset must not stop a report
        return ""
    for name, recipe in presets.items():
        if [s.step for s in recipe.steps] == wanted:
            return name
    return ""


def compression_steps(item: ReportRun) -> list[ArtifactRow]:
    return [a for a in item.lineage if a.source == "compress"]


def commands(item: ReportRun) -> list[str]:
    """Shell lines (comments start with #) that rebuild the model and re-run the run."""
    run, spec = item.run, item.run.spec
    lines: list[str] = []
    root = item.lineage[0] if item.lineage else None
    steps = compression_steps(item)
    if root is None:
        model = "MODEL"
        lines.append("# the model of this run is no longer in the store")
    elif steps:
        timed = item.lineage[-1]
        chain = " → ".join(a.step or "?" for a in steps)
        lines.append(f"# variant of {source_ref(root)} built by: {chain}")
        preset = matching_preset([a.step or "" for a in steps])
        target = timed.format if timed.format in ("onnx", "tflite") else "torch"
        if preset:
            words = ["edgebench", "compress", source_ref(root), "--preset", preset]
            lines.append(_quote([*words, "--to", target]) + f"   # -> artifact:{timed.id}")
        else:
            lines.append("# no preset has these steps; the settings are under Lineage")
        model = f"artifact:{timed.id}"
    else:
        model = source_ref(root)
        if model.startswith("artifact:"):
            lines.append(f"# {model} is the stored copy of the file {root.name}")
    threads = spec.get("threads")
    common = ["--runtime", run.runtime, *(["--threads", str(threads)] if threads else [])]
    evaluate = spec.get("evaluate") or {}
    if spec.get("measure", True):
        words = ["edgebench", "profile", model, *common]
        if spec.get("batch", 1) != 1:
            words += ["--batch", str(spec["batch"])]
        if spec.get("accelerator", "cpu") != "cpu":
            words += ["--accelerator", str(spec["accelerator"])]
        words += input_flags(spec)
        words += policy_flags(spec.get("policy") or {})
        words += _device_flags(run.device)
        lines.append(_quote(words))
    if evaluate:
        words = ["edgebench", "evaluate", model, "--data"]
        words.append(data_ref(str(evaluate.get("description") or "")))
        words += common
        if evaluate.get("limit"):
            words += ["--limit", str(evaluate["limit"])]
        words += _device_flags(run.device)
        lines.append(_quote(words))
    return lines
