"""Variants from the shell: `edgebench compress|export|evaluate|variants|sweep|presets`."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from app.formatting import ms, size, table
from engines.floor.errors import EXIT_OK, EXIT_RUN_FAILED, BadInput

StoreFn = Callable[[argparse.Namespace], Any]


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _drive(events: Iterator[dict[str, Any]], final: str) -> dict[str, Any]:
    """Print progress to stderr (a line per task, and per 10% of it); return `final`."""
    last_task, last_fraction = "", -1.0
    outcome: dict[str, Any] = {}
    for event in events:
        kind = event["type"]
        if kind == final:
            outcome = event
        elif kind in ("progress", "log", "preparing") and event.get("message"):
            message = str(event["message"])
            task = message.split(":")[0]
            fraction = event.get("fraction")
            step = isinstance(fraction, float) and fraction - last_fraction >= 0.1
            if task != last_task or step or fraction == 1.0:
                suffix = f" ({fraction:.0%})" if isinstance(fraction, float) else ""
                _say(f"  {message}{suffix}")
                last_task = task
                last_fraction = fraction if isinstance(fraction, float) else -1.0
    return outcome


def _write_out(artifact: Any, out: str) -> Path:
    from engines.models.artifacts import copy_out

    return copy_out(artifact, out)


def _report_lines(reports: list[dict[str, Any]]) -> list[str]:
    lines = []
    for report in reports:
        figures = report.get("report") or {}
        parity = figures.get("parity") or {}
        outputs = parity.get("outputs") or []
        bits = [report.get("step", "?") + (" (cached)" if report.get("cached") else "")]
        for key in ("sparsity", "macs_before", "macs_after", "size_ratio", "epochs_run"):
            if key in figures and figures[key] is not None:
                value = figures[key]
                bits.append(f"{key} {value:.3g}" if isinstance(value, float) else f"{key} {value}")
        if outputs:
            bits.append(f"parity cosine {min(o['cosine'] for o in outputs):.5f}")
        lines.append("  " + ", ".join(bits))
        # What the step changed or warns about (a slower variant, INT8 that did not take,
        # an opset upgraded first) is shown in text mode too, not only in --json.
        lines.extend(f"    note: {note}" for note in figures.get("notes") or [])
    return lines


def cmd_compress(args: argparse.Namespace, open_store: StoreFn) -> int:
    from app.cli_inputs import input_spec
    from engines.compress.build import VariantRequest
    from engines.pipeline.build import build
    from profiles.presets import get_preset

    recipe = get_preset(args.preset)
    request = VariantRequest(
        model=args.model,
        recipe=recipe,
        target=args.to,
        calibration=args.calib,
        trust_code=args.trust_code,
        inputs=input_spec(args),
    )
    with open_store(args) as store:
        outcome = _drive(build(request, store, threading.Event()), "variant")
        artifact = store.artifact(outcome["artifact_id"])
        written = _write_out(artifact, args.out) if args.out else None
    if args.json:
        print(
            json.dumps(
                {
                    "artifact_id": artifact.id,
                    "name": artifact.name,
                    "format": artifact.format,
                    "path": str(written or artifact.path),
                    "size_bytes": artifact.size_bytes,
                    "reports": outcome["reports"],
                },
                indent=2,
            )
        )
        return EXIT_OK
    print(
        f"{artifact.name}: artifact {artifact.id}, {artifact.format}, {size(artifact.size_bytes)}"
    )
    print("\n".join(_report_lines(outcome["reports"])))
    print(f"written to {written}" if written else f"stored at {artifact.path}")
    print(f"profile it: edgebench profile artifact:{artifact.id} --runtime ...")
    return EXIT_OK


def cmd_export(args: argparse.Namespace, open_store: StoreFn) -> int:
    from engines.compress.build import VariantRequest
    from engines.compress.recipe import single_step
    from engines.pipeline.build import build

    modes = [m for m in ("int8", "dynamic_int8", "fp16") if getattr(args, m)]
    if len(modes) > 1:
        raise BadInput("choose one of --int8, --dynamic-int8 and --fp16")
    step = {"int8": "quantize-static", "dynamic_int8": "quantize-dynamic", "fp16": "fp16"}
    with open_store(args) as store:
        if modes:
            request = VariantRequest(
                model=args.model,
                recipe=single_step(step[modes[0]]),
                target=args.to,
                calibration=args.calib,
                trust_code=args.trust_code,
            )
            outcome = _drive(build(request, store, threading.Event()), "variant")
            artifact = store.artifact(outcome["artifact_id"])
            reports = outcome["reports"]
        else:
            artifact, reports = _export_plain(args, store)
        written = _write_out(artifact, args.out) if args.out else None
    if args.json:
        print(
            json.dumps(
                {
                    "artifact_id": artifact.id,
                    "path": str(written or artifact.path),
                    "reports": reports,
                },
                indent=2,
            )
        )
        return EXIT_OK
    print(
        f"{artifact.name}: artifact {artifact.id}, {artifact.format}, {size(artifact.size_bytes)}"
    )
    print("\n".join(_report_lines(reports)))
    print(f"written to {written}" if written else f"stored at {artifact.path}")
    return EXIT_OK


def _export_plain(args: argparse.Namespace, store: Any) -> tuple[Any, list[dict[str, Any]]]:
    from engines.pipeline.build import export

    events = export(
        args.model,
        args.to,
        store,
        trust_code=args.trust_code,
        opset=args.opset,
        dynamic_batch=args.dynamic_batch,
    )
    while True:
        try:
            event = next(events)
        except StopIteration as done:
            artifact = done.value
            break
        _say(f"  {event.get('message', '')}")
    settings = artifact.step_settings or {}
    return artifact, [{"step": artifact.step, "report": {"parity": settings.get("parity")}}]


def _default_runtime(fmt: str) -> str:
    from engines.pipeline.evaluate import RUNTIME_FOR_FORMAT

    return RUNTIME_FOR_FORMAT.get(fmt, "torch")


def cmd_evaluate(args: argparse.Namespace, open_store: StoreFn) -> int:
    from app.cli_devices import opened
    from app.cli_inputs import input_spec
    from app.cli_resolve import resolve_shown
    from engines.pipeline.profile import ProfileRequest, profile

    with open_store(args) as store, opened(args.device) as device:
        artifact = resolve_shown(args.variant, store, trust_code=args.trust_code)
        runtime = args.runtime or _default_runtime(artifact.format)
        request = ProfileRequest(
            model=f"artifact:{artifact.id}",
            runtime=runtime,
            threads=args.threads,
            measure=False,
            inputs=input_spec(args),
            evaluate_data=args.data,
            evaluate_limit=args.limit,
        )
        outcome: dict[str, Any] = {}
        for event in profile(request, store, device):
            if event["type"] in ("result", "error", "stored"):
                outcome[event["type"]] = event
            elif event["type"] == "log":
                _say(f"  {event['message']}")
    if "result" not in outcome:
        error = outcome.get("error", {"message": "no result"})
        _say(f"error ({error.get('error_type')}, phase {error.get('phase')}): {error['message']}")
        return EXIT_RUN_FAILED
    evaluation = outcome["result"]["evaluation"] or {}
    if args.json:
        print(
            json.dumps(
                {
                    "artifact_id": artifact.id,
                    "runtime": runtime,
                    "device": device.name,
                    "run_id": outcome.get("stored", {}).get("run_id"),
                    "evaluation": evaluation,
                },
                indent=2,
            )
        )
        return EXIT_OK
    print(f"{artifact.name} on {runtime}, {device.name}: {evaluation.get('data')}")
    print(table(["figure", "value"], evaluation_rows(evaluation)))
    return EXIT_OK


def evaluation_rows(evaluation: dict[str, Any]) -> list[list[str]]:
    rows = [["samples", str(evaluation.get("count"))]]
    classification = evaluation.get("classification") or {}
    if classification:
        rows.append(["top-1 accuracy", f"{classification['top1']:.2%}"])
        if classification.get("top5") is not None:
            rows.append(["top-5 accuracy", f"{classification['top5']:.2%}"])
    fidelity = evaluation.get("fidelity") or {}
    if fidelity:
        rows += [
            [
                "cosine (mean / min)",
                f"{_num(fidelity.get('cosine_mean'), '.5f')} / "
                f"{_num(fidelity.get('cosine_min'), '.5f')}",
            ],
            ["SQNR", f"{_num(fidelity.get('sqnr_db'), '.1f')} dB"],
            ["max abs error", _num(fidelity.get("max_abs_error"), ".4g")],
        ]
        if fidelity.get("top1_agreement") is not None:
            rows.append(["top-1 agreement with FP32", f"{fidelity['top1_agreement']:.2%}"])
        if fidelity.get("nonfinite_samples"):
            rows.append(["samples with NaN/inf outputs", str(fidelity["nonfinite_samples"])])
    return rows


def _num(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def cmd_variants(args: argparse.Namespace, open_store: StoreFn) -> int:
    from app.cli_resolve import resolve_shown
    from engines.compress.build import root_of

    with open_store(args) as store:
        root = root_of(resolve_shown(args.model, store, trust_code=args.trust_code), store)
        tree = _tree(store, root)
    if args.json:
        print(json.dumps(tree, indent=2))
        return EXIT_OK
    for depth, node in _walk(tree):
        indent = "  " * depth + ("└─ " if depth else "")
        step = f"  [{node['step']}]" if node["step"] else ""
        print(
            f"{indent}{node['id']}: {node['name']} ({node['format']}, "
            f"{size(node['size_bytes'])}){step}"
        )
    return EXIT_OK


def _tree(store: Any, artifact: Any) -> dict[str, Any]:
    return {
        "id": artifact.id,
        "name": artifact.name,
        "format": artifact.format,
        "size_bytes": artifact.size_bytes,
        "step": artifact.step,
        "settings": (artifact.step_settings or {}).get("settings"),
        "children": [_tree(store, child) for child in store.children(artifact.id)],
    }


def _walk(node: dict[str, Any], depth: int = 0) -> Iterator[tuple[int, dict[str, Any]]]:
    yield depth, node
    for child in node["children"]:
        yield from _walk(child, depth + 1)


def cmd_sweep(args: argparse.Namespace, open_store: StoreFn) -> int:
    from app.cli_inputs import input_spec
    from engines.floor.spec import RunPolicy
    from engines.pipeline.sweep import SweepRequest, sweep
    from profiles.presets import get_preset

    recipes = tuple(get_preset(name.strip()) for name in args.presets.split(",") if name.strip())
    runtimes = tuple(r.strip() for r in args.runtimes.split(",") if r.strip())
    policy = RunPolicy(min_runs=args.runs, min_s=args.min_seconds)
    request = SweepRequest(
        model=args.model,
        recipes=recipes,
        runtimes=runtimes,
        calibration=args.calib,
        evaluate_data=args.data,
        evaluate_limit=args.limit,
        threads=args.threads,
        policy=policy,
        trust_code=args.trust_code,
        inputs=input_spec(args),
    )
    from contextlib import ExitStack

    from app.cli_devices import device_names, opened

    names = device_names(args.device)
    with open_store(args) as store, ExitStack() as stack:
        devices = [stack.enter_context(opened(name)) for name in names]
        outcome = _drive(sweep(request, store, threading.Event(), devices), "done")
    rows = outcome.get("rows", [])
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
    else:
        print(
            f"{args.model}: evaluated on {outcome.get('evaluation_data')}; "
            "speed-up and size ratio vs FP32 on the same runtime and device"
            + (
                f"; 'vs {names[0]}' is p50 over the same variant's p50 on {names[0]}"
                if len(names) > 1
                else ""
            )
        )
        columns = [*SWEEP_COLUMNS[:2], "device", *SWEEP_COLUMNS[2:]]
        cells = [_with_device(r, sweep_cells(r)) for r in rows]
        if len(names) > 1:
            columns.insert(5, f"vs {names[0]}")
        else:
            cells = [c[:5] + c[6:] for c in cells]
        print(table(columns, cells))
        for line in sweep_warnings(rows):
            print(f"note: {line}")
    failed = [r for r in rows if "error" in r]
    for row in failed:
        _say(f"{row['variant']} on {row['runtime']}, {row['device']}: {row['error']['message']}")
    return EXIT_RUN_FAILED if failed else EXIT_OK


SWEEP_COLUMNS = [
    "variant",
    "runtime",
    "p50 ms",
    "p99 ms",
    "speed-up",
    "size",
    "size ratio",
    "accuracy",
    "Δ accuracy",
    "run",
]


def sweep_warnings(rows: list[dict[str, Any]]) -> list[str]:
    """What a reader of the table must not miss, in text mode too: a variant slower than
    its FP32 model, and each build step's own notes (INT8 that did not take, ...)."""
    lines = []
    for row in rows:
        where = f"{row['variant']} on {row['runtime']}, {row.get('device', 'local-cpu')}"
        speedup = row.get("speedup")
        if speedup is not None and speedup < 1.0:
            lines.append(f"{where} is slower than FP32 ({speedup:.2f}x)")
        for report in row.get("reports") or []:
            for note in (report.get("report") or {}).get("notes") or []:
                if note not in lines:
                    lines.append(f"{where}: {note}")
    return list(dict.fromkeys(lines))


def sweep_cells(row: dict[str, Any]) -> list[str]:
    if "error" in row:
        return [row["variant"], row["runtime"], "failed", "", "", "", "", "", "", ""]
    baseline = row["variant"] == "fp32"
    kind = row.get("accuracy_kind")
    accuracy = row.get("accuracy")
    if accuracy is None:
        shown = "-"
    elif kind == "top1":
        shown = f"top-1 {accuracy:.2%}"
    else:
        shown = f"cos {accuracy:.4f}"
    delta = row.get("accuracy_delta")
    if delta is None:
        delta_text = "baseline" if baseline else "-"
    elif kind == "top1":
        delta_text = f"{delta * 100:+.2f} pt"
    else:
        delta_text = f"{delta:+.4f}"
    return [
        row["variant"],
        row["runtime"],
        ms(row.get("p50_ms")),
        ms(row.get("p99_ms")),
        "1.00x (baseline)" if baseline else _ratio(row.get("speedup")),
        size(row.get("size_bytes")),
        "1.00x" if baseline else _ratio(row.get("size_ratio")),
        shown,
        delta_text,
        str(row.get("run_id", "-")),
    ]


def _with_device(row: dict[str, Any], cells: list[str]) -> list[str]:
    """Insert the device and the p50 ratio to the first device after p99."""
    ratio = row.get("vs_first_device")
    vs_first = f"{ratio:.2f}x" if ratio else ("1.00x" if "error" not in row else "")
    return [*cells[:2], row.get("device", ""), *cells[2:4], vs_first, *cells[4:]]


def _ratio(value: float | None) -> str:
    return f"{value:.2f}x" if value else "-"


def cmd_presets(args: argparse.Namespace, open_store: StoreFn) -> int:
    from engines.compress.catalogue import step_class
    from profiles.presets import all_presets

    presets = all_presets()
    if args.json:
        print(json.dumps({n: r.to_dict() for n, r in presets.items()}, indent=2))
        return EXIT_OK
    width = min(100, shutil.get_terminal_size((100, 20)).columns)
    for recipe in presets.values():
        steps = " → ".join(step_class(s.step).label for s in recipe.steps)
        print(f"{recipe.name}: {recipe.label}")
        print(f"  steps: {steps}")
        for label, text in (
            ("what", recipe.description),
            ("for", recipe.applies_to),
            ("usually", recipe.typical),
        ):
            if text:
                print(
                    textwrap.fill(
                        text, width, initial_indent=f"  {label}: ", subsequent_indent="    "
                    )
                )
    return EXIT_OK


def add_commands(sub: Any, open_store: StoreFn) -> None:
    """Register the compression commands on the main parser's sub-parsers."""
    from app.cli_devices import add_device_flag
    from app.cli_inputs import add_input_flags

    def bind(fn: Callable[[argparse.Namespace, StoreFn], int]) -> Callable[..., int]:
        return lambda args: fn(args, open_store)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--json", action="store_true", help="print the result as JSON")
        p.add_argument(
            "--trust-code",
            action="store_true",
            help="allow model files that contain code (TorchScript, .pt2, pickles)",
        )

    data_help = "digits, digits-train, synthetic[:N], an image folder, or an .npz (x, y)"
    p = sub.add_parser("compress", help="apply a compression preset to MODEL")
    p.add_argument("model")
    p.add_argument("--preset", required=True, help="preset name (see: edgebench presets)")
    p.add_argument(
        "--to",
        default="onnx",
        choices=["onnx", "tflite", "torch"],
        help="format of the variant (default onnx)",
    )
    p.add_argument("--calib", help=f"calibration / training data: {data_help}")
    p.add_argument("--out", help="also write the variant to this path")
    add_input_flags(p, data=False)
    common(p)
    p.set_defaults(func=bind(cmd_compress))

    p = sub.add_parser("export", help="export a PyTorch MODEL to ONNX or TFLite, checked")
    p.add_argument("model")
    p.add_argument("--to", required=True, choices=["onnx", "tflite"])
    p.add_argument("--int8", action="store_true", help="INT8 static (needs --calib or a demo)")
    p.add_argument("--dynamic-int8", action="store_true", help="INT8 weights, dynamic range")
    p.add_argument("--fp16", action="store_true", help="FP16 weights")
    p.add_argument("--calib", help=f"calibration data for --int8: {data_help}")
    p.add_argument("--opset", type=int, default=18, help="ONNX opset (default 18)")
    p.add_argument("--dynamic-batch", action="store_true", help="ONNX: a symbolic batch axis")
    p.add_argument("--out", help="also write the file to this path")
    common(p)
    p.set_defaults(func=bind(cmd_export))

    p = sub.add_parser("evaluate", help="accuracy / fidelity of a model or variant on data")
    p.add_argument("variant", help="a model reference or artifact:ID")
    p.add_argument("--data", required=True, help=data_help)
    p.add_argument("--runtime", help="default: the runtime of the variant's format")
    p.add_argument("--limit", type=int, help="evaluate at most N samples")
    p.add_argument("--threads", type=int)
    add_input_flags(p, values=False, data=False)
    add_device_flag(p)
    common(p)
    p.set_defaults(func=bind(cmd_evaluate))

    p = sub.add_parser("variants", help="the variant tree (lineage) of MODEL")
    p.add_argument("model")
    common(p)
    p.set_defaults(func=bind(cmd_variants))

    p = sub.add_parser("sweep", help="build, profile and evaluate presets x runtimes")
    p.add_argument("model")
    p.add_argument("--presets", required=True, help="comma-separated preset names")
    p.add_argument("--runtimes", default="onnxruntime", help="comma-separated runtimes")
    p.add_argument("--calib", help=f"calibration / training data: {data_help}")
    p.add_argument("--data", help=f"evaluation data (default: the model's own): {data_help}")
    p.add_argument("--limit", type=int, help="evaluate at most N samples")
    p.add_argument("--threads", type=int)
    p.add_argument("--runs", type=int, default=50, help="minimum timed runs per variant")
    p.add_argument("--min-seconds", type=float, default=1.0, help="minimum measuring time")
    add_input_flags(p)
    add_device_flag(p, many=True)
    common(p)
    p.set_defaults(func=bind(cmd_sweep))

    p = sub.add_parser("presets", help="list compression presets with their descriptions")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=bind(cmd_presets))
