"""`edgebench`: every engine capability from the shell, so it runs in CI.

Exit codes: 0 ok, 2 bad input, 3 run failed. Heavy libraries load only inside commands.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from typing import Any

from app.formatting import count, ms, size, table
from engines.floor.errors import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_RUN_FAILED,
    BadInput,
    EdgeBenchError,
)

# ---------------------------------------------------------------------------- helpers


def _store(args: argparse.Namespace) -> Any:
    """The results store. Commands that only read (`read_only` in their defaults) never
    create one: with nothing stored yet they get `StoreMissing`."""
    from engines.store.db import Store

    if args.db:
        os.environ["EDGEBENCH_DB"] = args.db
    from engines.floor import paths

    return Store(paths.db_path(), create=not getattr(args, "read_only", False))


class ExactParser(argparse.ArgumentParser):
    """No abbreviated options: `--input sr=16000` must never be taken as `--input-shape`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)


class Progress:
    """A tqdm bar on a terminal; one line per phase when stderr is a log (CI)."""

    def __init__(self, label: str, enabled: bool = True) -> None:
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.label = label
        self.bar: Any = None
        self.phase = ""
        self.preparing = ""

    def __call__(self, event: dict[str, Any]) -> None:
        if not self.enabled:
            return
        kind = event["type"]
        if kind == "log":
            self._line(event["message"])
        elif kind == "preparing":
            # Import, demo training, export, data: one line per step, as it happens.
            message = str(event.get("message") or "")
            if message and message != self.preparing:
                self.preparing = message
                fraction = event.get("fraction")
                self._line(message if fraction is None else f"{message} ({fraction:.0%})")
        elif kind == "phase":
            self.phase = event["phase"]
            if self.tty:
                self._ensure_bar()
                self.bar.set_description(f"{self.label} {self.phase}")
                if self.phase == "measure":
                    self.bar.n = 0
                    self.bar.refresh()
            else:
                self._line(f"{self.label}: {self.phase}")
        elif kind == "progress" and self.tty and event["phase"] == "measure":
            self._ensure_bar()
            self.bar.n = round(100 * event["fraction"])
            self.bar.set_postfix_str(f"{event['done']} runs")
        elif kind in ("result", "error"):
            self.close()

    def _ensure_bar(self) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(
                total=100,
                file=sys.stderr,
                leave=False,
                unit="%",
                bar_format="{desc} |{bar}| {percentage:3.0f}% {postfix} [{elapsed}<{remaining}]",
            )

    def _line(self, message: str) -> None:
        if self.bar is not None:
            self.bar.write(message, file=sys.stderr)
        else:
            print(message, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _policy(args: argparse.Namespace) -> Any:
    from engines.floor.spec import RunPolicy

    policy = RunPolicy(
        warmup_runs=args.warmup,
        warmup_min_s=args.warmup_seconds,
        min_runs=args.runs,
        min_s=args.min_seconds,
        max_s=args.max_seconds,
    )
    try:
        policy.validate()
    except ValueError as exc:
        raise BadInput(f"run policy: {exc}") from None
    return policy


def phase_timeouts(given: list[str]) -> dict[str, float]:
    """`--phase-timeout load=60 --phase-timeout first=30` -> {"load": 60.0, "first": 30.0}."""
    budgets = {}
    for text in given:
        phase, _, seconds = text.partition("=")
        try:
            budgets[phase.strip()] = float(seconds)
        except ValueError:
            raise BadInput(
                f"--phase-timeout {text!r}: expected PHASE=SECONDS, e.g. load=60"
            ) from None
    return budgets


def _run_profile(
    store: Any, request: Any, show_progress: bool, device: Any = None
) -> dict[str, Any]:
    """Drive one profile; returns the outcome (result event, error event, run id)."""
    from engines.pipeline.profile import profile

    where = f" on {device.name}" if device is not None and device.kind != "local" else ""
    bar = Progress(f"{request.model} on {request.runtime}{where}", show_progress)
    outcome: dict[str, Any] = {"model": request.model, "runtime": request.runtime}
    events: Iterator[dict[str, Any]] = profile(request, store, device)
    try:
        for event in events:
            bar(event)
            if event["type"] == "spec":
                outcome["device"] = event.get("device")
                outcome["model_label"] = event["model_label"]
                outcome["model_file_bytes"] = event["model_file_bytes"]
                outcome["threads"] = json.loads(event["spec"])["threads"]
            elif event["type"] in ("result", "error"):
                outcome[event["type"]] = event
            elif event["type"] == "stored":
                outcome["run_id"] = event["run_id"]
            elif event["type"] == "pending":
                print(f"warning: {event['message']}", file=sys.stderr)
    finally:
        bar.close()
    return outcome


def _summary_rows(result: dict[str, Any], outcome: dict[str, Any]) -> list[list[str]]:
    from engines.floor.figures import run_summary

    st, mem = result["statistics"], result["memory"]
    env = result["environment"]
    return [
        ["model", outcome.get("model_label", outcome["model"])],
        ["runtime", f"{outcome['runtime']} {env['runtime_versions']}"],
        ["options", json.dumps(result["runtime_options"])],
        ["inputs", json.dumps(result["input_shapes"])],
        *[["input default", note] for note in result.get("input_notes") or []],
        ["samples", f"{st['count']} timed runs (+{result['warmup']['runs']} warm-up)"],
        # The catalogue's figures (engines.floor.figures): the names and formats of the
        # Profile page, Compare and the report.
        *[[line.label, line.text] for line in run_summary(result)],
        ["min / max", f"{ms(st['min_ms'])} / {ms(st['max_ms'])} ms"],
        [
            "peak memory",
            f"{size(mem['peak_rss_bytes'])} (before load {size(mem['rss_before_load_bytes'])})",
        ],
        ["CPU", f"{env['cpu_model']} ({env['logical_cores']} logical cores)"],
    ]


def _print_error(error: dict[str, Any], verbose: bool = False) -> None:
    """One line: what failed, in which phase, and the runtime's own message; the trace
    only with --verbose (a stored run keeps it: edgebench runs show ID)."""
    print(
        f"error ({error.get('error_type')}, phase {error.get('phase')}): {error['message']}",
        file=sys.stderr,
    )
    details = (error.get("details") or "").strip()
    if details and verbose:
        print(
            "details (last lines):\n  " + "\n  ".join(details.splitlines()[-12:]), file=sys.stderr
        )
        return
    hint = details.splitlines()[0] if details else ""
    if hint and not hint.startswith("Traceback"):
        print(f"  {hint}", file=sys.stderr)
    if "Traceback" in details:
        print("  (the full trace: rerun with --verbose)", file=sys.stderr)


# ---------------------------------------------------------------------------- commands


def profile_request(args: argparse.Namespace) -> Any:
    """The pipeline request `edgebench profile` makes of its flags (the GUI's Profile page
    makes the same one of its defaults: tests/app hold them equal)."""
    from app.cli_inputs import input_spec
    from engines.pipeline.profile import AUTO, ProfileRequest

    evaluate = None if args.no_evaluate else (args.evaluate or AUTO)
    return ProfileRequest(
        model=args.model,
        runtime=args.runtime,
        threads=args.threads,
        batch=args.batch,
        accelerator=args.accelerator,
        policy=_policy(args),
        inputs=input_spec(args),
        trust_code=args.trust_code,
        keep_run=not args.no_store,
        fault=os.environ.get("EDGEBENCH_TEST_FAULT") or None,
        evaluate_data=evaluate,
        evaluate_limit=args.evaluate_limit,
        memory_limit_bytes=_memory_limit(getattr(args, "memory_limit", None)),
    )


def _memory_limit(gib: float | None) -> int | None:
    """`--memory-limit GIB` in bytes (0 stays 0: no cap); None leaves the default."""
    if gib is None:
        return None
    if gib < 0:
        raise BadInput(f"--memory-limit {gib:g}: expected GiB, 0 or more (0: no limit)")
    return int(gib * 2**30)


def cmd_profile(args: argparse.Namespace) -> int:
    request = profile_request(args)
    from app.cli_devices import opened

    with _store(args) as store, opened(args.device) as device:
        if args.phase_timeout:
            device.budgets = device.budgets.with_overrides(phase_timeouts(args.phase_timeout))
        outcome = _run_profile(store, request, show_progress=True, device=device)
    return _print_profile(args, outcome)


def _print_profile(args: argparse.Namespace, outcome: dict[str, Any]) -> int:
    if "result" not in outcome:
        error = outcome.get("error", {"message": "no result", "error_type": "unknown"})
        if args.json:
            print(json.dumps({"ok": False, "error": error, "run_id": outcome.get("run_id")}))
        _print_error(error, args.verbose)
        return EXIT_BAD_INPUT if error.get("error_type") == "bad_input" else EXIT_RUN_FAILED
    result = outcome["result"]
    if args.json:
        print(
            json.dumps(
                {
                    "ok": True,
                    "run_id": outcome.get("run_id"),
                    "model": outcome.get("model_label"),
                    "runtime": outcome["runtime"],
                    "device": outcome.get("device"),
                    **{k: v for k, v in result.items() if k != "type"},
                },
                indent=2,
            )
        )
    else:
        print(table(["figure", "value"], _summary_rows(result, outcome)))
        for warning in result["statistics"]["warnings"]:
            print(f"note: {warning}")
        if outcome.get("run_id"):
            print(f"stored as run {outcome['run_id']} (edgebench runs show {outcome['run_id']})")
    return EXIT_OK


def _rerun(args: argparse.Namespace) -> int:
    """`runs rerun ID`: the stored spec again (device, runtime, threads, inputs, policy,
    evaluation data), stored as a new run."""
    from app.cli_devices import opened
    from engines.pipeline.profile import ProfileRequest

    if args.id is None:
        raise BadInput("runs rerun needs a run id", "edgebench runs list shows them")
    with _store(args) as store:
        run = store.run(args.id)
        if run.artifact_id is None:
            raise BadInput(f"run {run.id} has no stored model to run again")
        request = ProfileRequest.replaying(run, store)
    args.json = getattr(args, "json", False)
    print(f"running run {run.id} again on {run.device or 'local-cpu'}", file=sys.stderr)
    device_name = "local-cpu" if run.device in ("", "local") else run.device
    with _store(args) as store, opened(device_name) as device:
        outcome = _run_profile(store, request, show_progress=True, device=device)
    return _print_profile(args, outcome)


def cmd_demo(args: argparse.Namespace) -> int:
    from engines.pipeline.profile import ProfileRequest
    from engines.runtimes.registry import all_runtimes

    rows, failures, payload = [], 0, []
    threads_used: int | None = args.threads
    with _store(args) as store:
        for runtime in all_runtimes():
            if not runtime.available().ok:
                rows.append([runtime.name, "unavailable", runtime.available().reason] + [""] * 6)
                continue
            request = ProfileRequest(
                model=args.model, runtime=runtime.name, threads=args.threads, policy=_policy(args)
            )
            outcome = _run_profile(store, request, show_progress=True)
            if "result" not in outcome:
                failures += 1
                _print_error(outcome["error"], args.verbose)
                rows.append([runtime.name, "failed", outcome["error"]["message"][:40]] + [""] * 6)
                continue
            r = outcome["result"]
            st = r["statistics"]
            threads_used = outcome.get("threads", threads_used)
            payload.append({"runtime": runtime.name, "run_id": outcome.get("run_id"), **r})
            rows.append(
                [
                    runtime.name,
                    ms(st["p50_ms"]),
                    ms(st["p99_ms"]),
                    f"{ms(st['mean_ms'])} ± {ms(st['std_ms'])}",
                    f"{st['throughput_per_s']:.0f}",
                    ms(r["load_ms"]),
                    ms(r["first_ms"]),
                    size(r["memory"]["peak_rss_delta_bytes"]),
                    size(r["memory"]["model_file_bytes"]),
                ]
            )
    if args.json:
        print(json.dumps(payload, indent=2))
    else:
        print(f"{args.model}: latency in ms, {threads_used or 'the device default'} threads")
        print(
            table(
                [
                    "runtime",
                    "p50",
                    "p99",
                    "mean ± std",
                    "inf/s",
                    "load_ms",
                    "first_ms",
                    "peak_rss_delta",
                    "model size",
                ],
                rows,
            )
        )
    return EXIT_RUN_FAILED if failures else EXIT_OK


def cmd_inspect(args: argparse.Namespace) -> int:
    from app.cli_resolve import resolve_shown

    with _store(args) as store:
        artifact = resolve_shown(args.model, store, trust_code=args.trust_code)
    info = dict(artifact.inspection or {})
    if args.json:
        print(
            json.dumps(
                {
                    "artifact_id": artifact.id,
                    "name": artifact.name,
                    "sha256": artifact.sha256,
                    **info,
                },
                indent=2,
            )
        )
        return EXIT_OK
    macs = info.get("macs") or {}
    print(
        f"{artifact.name}  [{info.get('format')}]  sha256 {artifact.sha256[:16]}…  "
        f"artifact {artifact.id}"
    )
    print(f"file size   {size(info.get('file_bytes'))}")
    print(f"parameters  {count(info.get('parameters'))}")
    if info.get("forward_schema"):
        print(f"forward     {info['forward_schema']}")
    if macs:
        print(f"MACs        {count(macs.get('macs'))}  ({macs.get('unit')}; {macs.get('method')})")
        uncounted = macs.get("uncounted") or {}
        if uncounted:
            listed = ", ".join(f"{n} x{k}" for n, k in sorted(uncounted.items()))
            print(f"            not counted (the figure is a lower bound): {listed}")
    for label in ("inputs", "outputs"):
        rows = [[t["name"], str(t["shape"]), t["dtype"]] for t in info.get(label, [])]
        if rows:
            print(f"\n{label}:\n" + table(["name", "shape", "dtype"], rows))
    hist = info.get("op_histogram") or {}
    if hist:
        print("\nops:\n" + table(["op", "count"], list(hist.items())[:25]))
    if info.get("note"):
        print(f"\nnote: {info['note']}")
    return EXIT_OK


def cmd_runtimes(args: argparse.Namespace) -> int:
    from engines.runtimes.registry import all_runtimes

    rows, payload = [], []
    for runtime in all_runtimes():
        availability = runtime.available()
        accelerators = runtime.accelerators() if availability.ok else {}
        payload.append(
            {
                "name": runtime.name,
                "available": availability.ok,
                "reason": availability.reason,
                "version": availability.version,
                "formats": list(runtime.formats),
                "accelerators": accelerators,
            }
        )
        rows.append(
            [
                runtime.name,
                "available" if availability.ok else "unavailable",
                availability.version or "-",
                ", ".join(runtime.formats),
                availability.reason,
            ]
        )
        for name, status in accelerators.items():
            rows.append(["", f"  {name}", "", "", status])
    if args.json:
        print(json.dumps(payload, indent=2))
    else:
        print(table(["runtime", "status", "version", "formats", "why / details"], rows))
    return EXIT_OK


def cmd_runs(args: argparse.Namespace) -> int:
    if args.action == "rerun":
        return _rerun(args)
    from engines.store.errors import StoreMissing

    args.read_only = True
    try:
        opened = _store(args)
    except StoreMissing as exc:
        if args.action != "list":
            raise
        print("[]" if args.json else f"no runs yet ({exc.message})")
        return EXIT_OK
    with opened as store:
        if args.action == "list":
            runs = store.runs(limit=args.limit, model=args.model, runtime=args.runtime)
            if args.json:
                print(
                    json.dumps(
                        [
                            {
                                "id": r.id,
                                "created_at": r.created_at,
                                "model": r.model_label,
                                "runtime": r.runtime,
                                "device": r.device,
                                "status": r.status,
                                "statistics": r.statistics,
                            }
                            for r in runs
                        ],
                        indent=2,
                    )
                )
                return EXIT_OK
            rows = [
                [
                    r.id,
                    r.created_at[:19].replace("T", " "),
                    r.model_label,
                    r.runtime,
                    r.device,
                    r.status,
                    ms((r.statistics or {}).get("p50_ms")),
                    ms((r.statistics or {}).get("p99_ms")),
                    (r.statistics or {}).get("count", "-"),
                ]
                for r in runs
            ]
            print(
                table(
                    [
                        "id",
                        "created (UTC)",
                        "model",
                        "runtime",
                        "device",
                        "status",
                        "p50 ms",
                        "p99 ms",
                        "samples",
                    ],
                    rows,
                )
            )
            return EXIT_OK
        if args.id is None:
            raise BadInput("runs show needs a run id: edgebench runs show ID")
        run = store.run(args.id)
        samples = store.samples(run.id)
        if args.json:
            print(
                json.dumps(
                    {
                        **run.__dict__,
                        "samples_ms": samples,
                        "memory_trace": store.memory_trace(run.id),
                    },
                    indent=2,
                )
            )
            return EXIT_OK
        print(
            f"run {run.id}  {run.created_at}  {run.model_label} on {run.runtime} "
            f"({run.device})  status {run.status}"
        )
        if run.status == "ok" and run.result and run.statistics and run.memory:
            result = {
                **run.result,
                "statistics": run.statistics,
                "memory": run.memory,
                "environment": run.environment,
            }
            print(
                table(
                    ["figure", "value"],
                    _summary_rows(result, {"model": run.model_label, "runtime": run.runtime}),
                )
            )
            print(f"{len(samples)} raw samples stored (edgebench runs show {run.id} --json)")
        elif run.error:
            _print_error(run.error, verbose=True)
    return EXIT_OK


# ---------------------------------------------------------------------------- parser


def _evaluate_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--evaluate",
        metavar="DATA",
        help="also measure accuracy on DATA (digits, synthetic[:N], a folder, an .npz); "
        "default: the data the model knows (the demo's digits; for a variant, fidelity to "
        "its FP32 source), none for a model that came without data",
    )
    p.add_argument("--evaluate-limit", type=int, help="evaluate at most N samples")
    p.add_argument("--no-evaluate", action="store_true", help="measure latency and memory only")


def _policy_flags(p: argparse.ArgumentParser, runs: int = 50, min_s: float = 2.0) -> None:
    p.add_argument(
        "--threads",
        type=int,
        help="threads for the runtime (default: the device's own: its profile's threads, "
        "else its physical cores)",
    )
    p.add_argument("--runs", type=int, default=runs, help=f"minimum timed runs (default {runs})")
    p.add_argument(
        "--min-seconds",
        type=float,
        default=min_s,
        help=f"minimum measuring time; runs go on until both are met (default {min_s})",
    )
    p.add_argument("--max-seconds", type=float, default=150.0, help="cap on measuring time")
    p.add_argument("--warmup", type=int, default=5, help="minimum warm-up runs (default 5)")
    p.add_argument("--warmup-seconds", type=float, default=0.5, help="minimum warm-up time")


def build_parser() -> argparse.ArgumentParser:
    from app.cli_devices import add_commands as add_devices
    from app.cli_devices import add_device_flag
    from app.cli_inputs import add_input_flags
    from engines import __version__

    parser = ExactParser(
        prog="edgebench",
        description="Compress, export and profile models for edge devices.",
        epilog="MODEL is a file (.onnx, .tflite, .pt2, TorchScript), demo:digits-cnn, "
        "zoo:NAME (torchvision architecture, random weights; zoo:NAME:pretrained needs "
        "the internet), or artifact:ID (a stored model or variant).",
    )
    parser.add_argument("--version", action="version", version=f"edgebench {__version__}")
    parser.add_argument("--db", help="results database (default: $EDGEBENCH_DB or user data dir)")
    parser.add_argument(
        "--verbose", "-v", action="store_true", help="print a failed run's full details (trace)"
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=ExactParser)

    p = sub.add_parser("profile", help="measure latency and memory of MODEL on one runtime")
    p.add_argument("model")
    p.add_argument("--runtime", required=True, help="onnxruntime | litert | torch")
    _policy_flags(p)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--accelerator", default="cpu", choices=["cpu", "cuda"])
    add_input_flags(p)
    p.add_argument("--json", action="store_true", help="print the full result as JSON")
    p.add_argument(
        "--memory-limit",
        type=float,
        metavar="GIB",
        help="the agent's memory cap in GiB (default: 80%% of the device's memory, or "
        "EDGEBENCH_MEMORY_LIMIT_GIB; 0: no cap)",
    )
    p.add_argument(
        "--phase-timeout",
        action="append",
        metavar="PHASE=SECONDS",
        help="how long a phase may take before the run counts as hung, e.g. load=60 "
        "(repeatable; phases: start verify load first warmup measure evaluate finish; "
        "default load: 60 s + 120 s per GiB of model)",
    )
    p.add_argument("--no-store", action="store_true", help="do not record the run")
    p.add_argument(
        "--trust-code",
        action="store_true",
        help="allow model files that contain code (TorchScript, .pt2, pickles)",
    )
    _evaluate_flags(p)
    add_device_flag(p)
    p.set_defaults(func=cmd_profile)

    p = sub.add_parser("demo", help="profile the demo model on every available runtime")
    p.add_argument("--model", default="demo:digits-cnn")
    _policy_flags(p, runs=50, min_s=1.0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("inspect", help="import MODEL and show its signature, size, MACs, ops")
    p.add_argument("model")
    p.add_argument("--json", action="store_true")
    p.add_argument("--trust-code", action="store_true")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("runtimes", help="list runtimes, whether each is usable and why")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_runtimes)

    p = sub.add_parser(
        "runs", help="stored runs: list, show one, or rerun one exactly as it was specified"
    )
    p.add_argument("action", choices=["list", "show", "rerun"])
    p.add_argument("id", nargs="?", type=int)
    p.add_argument("--model", help="filter: model name contains")
    p.add_argument("--runtime", help="filter: runtime")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_runs)

    from app.cli_compress import add_commands

    add_commands(sub, _store)
    add_devices(sub)
    from app.cli_report import add_commands as add_report

    add_report(sub, _store)
    from app.cli_store import add_commands as add_store

    add_store(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except EdgeBenchError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        hint = (exc.details or "").strip().splitlines()[:1]
        if hint and not hint[0].startswith("Traceback"):  # a hint, never a bare trace line
            print(f"  {hint[0]}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        # Ctrl-C: the shell's convention (128 + SIGINT); a run stopped half-way is never
        # stored (the pipeline stores only finished runs).
        print("cancelled", file=sys.stderr)
        return EXIT_INTERRUPTED
    except PermissionError as exc:
        print(f"error: permission denied: {exc.filename or exc}", file=sys.stderr)
        print(
            "  check who owns it and its mode, or use another --db / EDGEBENCH_HOME",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        # The reader went away (`edgebench runs list | head`): that is not an error of ours.
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
