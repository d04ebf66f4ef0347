"""The report's sections as platypus flowables: title block, executive summary, summary
and baseline tables, charts, one section per run, methodology and reproducibility.

Everything that came from a model, a device or a user goes through `layout.text` or
`escape` before it reaches Paragraph markup.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    KeepTogether,
    PageBreak,
    Paragraph,
    Spacer,
    Table,
)

from engines.floor.stats import CV_WARN, MIN_SAMPLES_P90, MIN_SAMPLES_P99
from engines.floor.units import ms, percent, size
from engines.report import charts
from engines.report.collect import ReportRun
from engines.report.figures import accuracy, change_vs, numbers
from engines.report.layout import CONTENT_WIDTH_PT, STYLES, grid, markup, text
from engines.report.methodology import DEFINITIONS, MACS, SOURCE
from engines.report.repro import commands, input_flags
from engines.report.summary import DeviceChoice

BEST_FILL = colors.HexColor("#d9f2dd")


def _tag(position: int) -> str:
    return f"#{position + 1}"


def title_block(
    title: str,
    date_utc: str,
    version: str,
    items: Sequence[ReportRun],
    baseline: ReportRun,
    max_drop_pt: float,
    kind: str,
) -> list[Flowable]:
    models = list(dict.fromkeys(i.run.model_label for i in items))
    devices = list(dict.fromkeys(i.run.device for i in items))
    tools = sorted({str((i.run.environment or {}).get("tool_version") or "?") for i in items})
    facts = [
        ["generated", f"{date_utc} (UTC)"],
        ["tool", f"EdgeBench {version}; runs recorded by EdgeBench {', '.join(tools)}"],
        ["models", "; ".join(models)],
        ["runs", f"{len(items)} ({', '.join(str(i.run.id) for i in items)})"],
        ["devices", ", ".join(devices)],
        ["baseline", f"run {baseline.run.id}: {baseline.label}"],
        ["accuracy constraint", _constraint_words(max_drop_pt, kind)],
    ]
    return [
        markup(escape(title), "title"),
        markup("Latency, memory and accuracy of model variants, measured with EdgeBench", "body"),
        Spacer(1, 8),
        grid(
            [["", ""], *facts],
            [110, CONTENT_WIDTH_PT - 110],
            header_rows=1,
            extra=[
                ("BACKGROUND", (0, 0), (-1, 0), colors.white),
                ("LINEBELOW", (0, 0), (-1, 0), 0, colors.white),
            ],
        ),
    ]


def _constraint_words(max_drop_pt: float, kind: str) -> str:
    what = {"top1": "top-1 accuracy", "cosine": "fidelity (cosine x 100)"}.get(kind)
    if not what:
        return f"at most {max_drop_pt:g} pt below the reference (no run was evaluated)"
    return f"{what} at most {max_drop_pt:g} percentage points below the device's reference run"


def executive_summary(
    choices: Sequence[DeviceChoice], items: Sequence[ReportRun], max_drop_pt: float, kind: str
) -> list[Flowable]:
    position = {id(i): n for n, i in enumerate(items)}
    out: list[Flowable] = [markup("Executive summary", "h1")]
    out.append(
        markup(
            "For each device: the fastest run (lowest p50 latency) whose accuracy is within "
            f"{max_drop_pt:g} percentage points of that device's reference run, with its speed-up "
            "(reference p50 / chosen p50) and size ratio (reference model size / chosen model "
            "size). The reference is the baseline where it ran on the device, else the source "
            "model (no compression step) with the best accuracy.",
            "body",
        )
    )
    out.append(Spacer(1, 4))
    head = [
        "device",
        "choose",
        "reference",
        "p50 reference → chosen",
        "speed-up",
        "size ratio",
        "accuracy change",
    ]
    rows: list[list[Any]] = [[text(h, "head") for h in head]]
    notes: list[Flowable] = []
    for choice in choices:
        best, ref = choice.best, choice.reference
        b, r = numbers(best.run), numbers(ref.run)
        delta = choice.accuracy_delta_pt
        rows.append(
            [
                text(choice.device, "cell_bold"),
                text(
                    f"{_tag(position[id(best)])} run {best.run.id}: {best.run.model_label} on "
                    f"{best.run.runtime}",
                    "cell_bold",
                ),
                text(
                    f"{_tag(position[id(ref)])} run {ref.run.id}: {ref.run.model_label} on "
                    f"{ref.run.runtime}"
                ),
                text(f"{ms(r['p50_ms'])} → {ms(b['p50_ms'])} ms", "num"),
                text(f"{choice.speedup:.2f}x" if choice.speedup else "-", "num_bold"),
                text(f"{choice.size_ratio:.2f}x" if choice.size_ratio else "-", "num"),
                text("-" if delta is None else f"{delta:+.2f} pt", "num"),
            ]
        )
        if choice.note:
            notes.append(markup(f"<b>{escape(choice.device)}</b>: {escape(choice.note)}.", "small"))
        for item, why in choice.excluded:
            notes.append(
                markup(
                    f"<b>{escape(choice.device)}</b>: left out {_tag(position[id(item)])} run "
                    f"{item.run.id} ({escape(item.run.model_label)} on "
                    f"{escape(item.run.runtime)}): "
                    f"{escape(why)}.",
                    "small",
                )
            )
    out.append(grid(rows, [80, 210, 170, 110, 55, 55, 90]))
    out += [Spacer(1, 4), *notes]
    return out


def _best_positions(values: Sequence[float | None], lower_is_better: bool) -> set[int]:
    present = [v for v in values if v is not None]
    if len(present) < 2 or min(present) == max(present):
        return set()
    best = min(present) if lower_is_better else max(present)
    return {n for n, v in enumerate(values) if v == best}


#: (key, header with unit, width pt, format, lower is better)
_COLUMNS: tuple[tuple[str, str, float, Any, bool | None], ...] = (
    ("p50_ms", "p50 (ms)", 42, ms, True),
    ("p90_ms", "p90 (ms)", 42, ms, True),
    ("p99_ms", "p99 (ms)", 42, ms, True),
    ("mean_ms", "mean ± std (ms)", 70, None, True),
    ("cv", "CV", 34, lambda v: percent(v), True),
    ("throughput_per_s", "inf/s", 48, lambda v: f"{v:.1f}", False),
    ("load_ms", "load (ms)", 42, ms, True),
    ("first_ms", "first inference (ms)", 46, ms, True),
    ("peak_rss_delta_bytes", "peak memory delta", 50, size, True),
    ("model_file_bytes", "model size", 50, size, True),
    ("count", "samples", 38, lambda v: f"{v:.0f}", None),
)


def summary_table(items: Sequence[ReportRun], baseline: ReportRun, kind: str) -> list[Flowable]:
    all_numbers = [numbers(i.run) for i in items]
    accuracies = [accuracy(i.run, kind) for i in items]
    fixed = sum(c[2] for c in _COLUMNS) + 22 + 28 + 62
    label_pt = CONTENT_WIDTH_PT - fixed
    head = [text("#", "head"), text("run", "head_num"), text("model · runtime · device", "head")]
    head += [text(c[1], "head_num") for c in _COLUMNS]
    head.append(text("top-1" if kind == "top1" else "fidelity (cosine)", "head_num"))
    rows: list[list[Any]] = [head]
    best = {
        c[0]: _best_positions([n[c[0]] for n in all_numbers], bool(c[4]))
        for c in _COLUMNS
        if c[4] is not None
    }
    best["accuracy"] = _best_positions([a.value if a else None for a in accuracies], False)
    extra: list[tuple[Any, ...]] = []
    for position, (item, n, acc) in enumerate(zip(items, all_numbers, accuracies, strict=True)):
        label = item.label + (" (baseline)" if item is baseline else "")
        row: list[Any] = [
            text(_tag(position), "cell_bold"),
            text(item.run.id, "num"),
            text(label, "cell_bold" if item is baseline else "cell"),
        ]
        for column, (key, _h, _w, fmt, _lower) in enumerate(_COLUMNS, start=3):
            value = n[key]
            if key == "mean_ms":
                shown = "-" if value is None else f"{ms(value)} ± {ms(n['std_ms'])}"
            else:
                shown = "-" if value is None else fmt(value)
            is_best = position in best.get(key, set())
            row.append(text(shown, "num_bold" if is_best else "num"))
            if is_best:
                extra.append(
                    ("BACKGROUND", (column, position + 1), (column, position + 1), BEST_FILL)
                )
        is_best = position in best["accuracy"]
        row.append(text(acc.text if acc else "-", "num_bold" if is_best else "num"))
        if is_best:
            extra.append(("BACKGROUND", (-1, position + 1), (-1, position + 1), BEST_FILL))
        rows.append(row)
    widths = [22, 28, label_pt, *(c[2] for c in _COLUMNS), 62]
    return [
        markup("Summary", "h1"),
        markup(
            "One row per run, figures as stored. Latencies are per inference; the best "
            "value of each column is bold on green. Percentiles are nearest-rank; std is "
            "the population std; CV = std / mean; throughput = batch / mean.",
            "body",
        ),
        Spacer(1, 4),
        grid(rows, widths, extra=extra),
    ]


def baseline_table(items: Sequence[ReportRun], baseline: ReportRun, kind: str) -> list[Flowable]:
    head = [
        "#",
        "run",
        "model · runtime · device",
        "p50",
        "p99",
        "mean",
        "throughput",
        "peak memory delta",
        "model size",
        "accuracy" if kind == "top1" else "fidelity",
    ]
    rows: list[list[Any]] = [[text(h, "head" if n < 3 else "head_num") for n, h in enumerate(head)]]
    for position, item in enumerate(items):
        if item is baseline:
            continue
        change = change_vs(item.run, baseline.run, kind)
        rows.append(
            [text(_tag(position), "cell_bold"), text(item.run.id, "num"), text(item.label)]
            + [
                text(v, "num")
                for v in (
                    change.p50,
                    change.p99,
                    change.mean,
                    change.throughput,
                    change.peak_memory,
                    change.model_size,
                    change.accuracy,
                )
            ]
        )
    if len(rows) == 1:
        return []
    fixed = 22 + 28 + 7 * 68
    return [
        CondPageBreak(120),
        markup("Against the baseline", "h2"),
        markup(
            f"Each run set against the baseline, run {baseline.run.id} "
            f"({escape(baseline.label)}): factors are always at least 1 and the word says "
            "which way; accuracy changes are in percentage points (top-1) or in cosine.",
            "body",
        ),
        Spacer(1, 4),
        grid(rows, [22, 28, CONTENT_WIDTH_PT - fixed, *[68] * 7]),
    ]


def chart_section(items: Sequence[ReportRun], kind: str) -> list[Flowable]:
    width = CONTENT_WIDTH_PT
    out: list[Flowable] = [Spacer(1, 10), CondPageBreak(300), markup("Charts", "h1")]
    out.append(
        KeepTogether(
            [
                markup("Latency distributions", "h2"),
                markup(
                    "Every timed inference of each run: the shape is the density of the samples "
                    "from the fastest run up to p99; thick bar: p50, thin bar: p99, line: on to "
                    "the slowest run.",
                    "small",
                ),
                charts.distributions(items, width),
            ]
        )
    )
    out.append(
        KeepTogether(
            [
                markup("p50 and p99 latency per device and variant", "h2"),
                charts.latency_bars(items, width),
            ]
        )
    )
    scatter = charts.pareto(items, kind, width)
    words = "top-1 accuracy" if kind == "top1" else "fidelity (cosine to the FP32 model)"
    if scatter is None:
        out.append(markup("Latency against accuracy", "h2"))
        out.append(
            markup(
                "No run in this report was evaluated, so there is no "
                "latency-vs-accuracy chart. Evaluate a run with "
                "<font name='Courier'>edgebench evaluate</font>.",
                "body",
            )
        )
    else:
        out.append(
            KeepTogether(
                [
                    markup("Latency against accuracy (Pareto)", "h2"),
                    markup(
                        f"p50 latency against {words}, for the runs that were evaluated. Outlined "
                        "points, joined by the dashed line, form the Pareto frontier: no other run "
                        "is both faster and more accurate.",
                        "small",
                    ),
                    scatter,
                ]
            )
        )
    return out


def _scalar(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "yes", False: "no", None: "-"}[value]
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _compact(value: Any, depth: int = 0, ordered: bool = False) -> str:
    """Settings and records in words: `key: value` pairs, numbers to 6 digits, nested
    records one level deep, long lists of records counted rather than spelled out."""
    if isinstance(value, dict):
        if not value:
            return "-"
        if depth >= 2:
            return "{…}"
        pairs = value.items() if ordered else sorted(value.items())
        return "; ".join(f"{k}: {_compact(v, depth + 1)}" for k, v in pairs)
    if isinstance(value, (list, tuple)):
        if len(value) > 3 and any(isinstance(v, (dict, list)) for v in value):
            return f"[{len(value)} items]"
        if depth >= 2 and any(isinstance(v, dict) for v in value):
            return f"[{len(value)} records]"
        return "[" + ", ".join(_compact(v, depth + 1) for v in value) + "]"
    return _scalar(value)


def _pairs(title: str, pairs: Sequence[tuple[str, Any]], width: float) -> Flowable:
    rows = [[text(title, "head"), ""]] + [
        [text(k, "cell_bold"), text(_compact(v))] for k, v in pairs
    ]
    return grid(rows, [112, width - 112], extra=[("SPAN", (0, 0), (1, 0))])


def _warnings(item: ReportRun) -> list[str]:
    stats = item.run.statistics or {}
    notes = [str(w) for w in stats.get("warnings") or []]
    cv, count = stats.get("cv"), stats.get("count")
    if isinstance(cv, (int, float)) and cv > CV_WARN and not any("CV" in w for w in notes):
        notes.append(f"CV is {cv:.0%} (> {CV_WARN:.0%}): compare medians, not means")
    if isinstance(count, int) and count < MIN_SAMPLES_P99 and not any("p99" in w for w in notes):
        notes.append(f"p99 rests on {count} samples; {MIN_SAMPLES_P99} are needed")
    if isinstance(count, int) and count < MIN_SAMPLES_P90 and not any("p90" in w for w in notes):
        notes.append(f"p90 rests on {count} samples; {MIN_SAMPLES_P90} are needed")
    if len(item.samples_ms) != count:
        notes.append(f"{len(item.samples_ms)} raw samples are stored for {count} timed runs")
    return notes


def run_section(position: int, item: ReportRun) -> list[Flowable]:
    run, spec = item.run, item.run.spec
    result, env = run.result or {}, run.environment or {}
    stats = run.statistics or {}
    half = (CONTENT_WIDTH_PT - 12) / 2
    model = spec.get("model") or {}
    spec_pairs = [
        ("model", run.model_label),
        ("format", model.get("format")),
        ("model sha256", model.get("sha256")),
        ("runtime", run.runtime),
        ("threads", spec.get("threads")),
        ("batch", spec.get("batch")),
        ("accelerator", spec.get("accelerator")),
        ("run policy", spec.get("policy")),
        ("input shapes", result.get("input_shapes") or spec.get("input_shapes")),
        ("inputs asked for", " ".join(input_flags(spec)) or "synthetic (seeded)"),
        ("input defaults", "; ".join(result.get("input_notes") or []) or None),
        (
            "samples",
            f"{stats.get('count')} timed, {(result.get('warmup') or {}).get('runs')} warm-up",
        ),
        ("median 95% CI", " - ".join(ms(v) for v in stats.get("median_ci95_ms") or []) + " ms"),
        ("recorded", run.created_at),
    ]
    runtime_pairs = sorted((result.get("runtime_options") or {}).items())
    env_keys = (
        "hostname",
        "os",
        "machine",
        "cpu_model",
        "logical_cores",
        "physical_cores",
        "isa_flags",
        "cpu_governor",
        "cpu_temperature_c",
        "python",
        "numpy",
        "runtime_versions",
        "tool_version",
    )
    env_pairs = [("device", run.device)] + [(k, env.get(k)) for k in env_keys if k in env]
    env_pairs += [
        (k, v)
        for k, v in sorted(env.items())
        if k not in env_keys
        and k not in ("tool", "runtime", "threads", "accelerator", "model_sha256")
    ]
    left = [
        _pairs("Spec", spec_pairs, half),
        Spacer(1, 6),
        _pairs("Runtime options", runtime_pairs or [("options", "-")], half),
    ]
    right = [_pairs("Environment and device", env_pairs, half)]
    columns = Table([[left, right]], colWidths=[half + 12, half], hAlign="LEFT")
    columns.setStyle(
        [
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ("RIGHTPADDING", (0, 0), (-1, -1), 0),
        ]
    )
    out: list[Flowable] = [
        CondPageBreak(200),
        markup(f"{_tag(position)} · run {run.id}: {escape(item.label)}", "h2"),
        columns,
    ]
    lineage = [["step", "artifact", "name", "format", "size", "settings"]]
    for artifact in item.lineage:
        stored = {k: v for k, v in (artifact.step_settings or {}).items() if k != "key"}
        # The step's own settings first, what it reported (parity, sizes) last.
        settings = dict(
            sorted(stored.items(), key=lambda kv: (kv[0] != "settings", kv[0] == "report", kv[0]))
        )
        lineage.append(
            [
                artifact.step or "source model",
                str(artifact.id),
                artifact.name,
                artifact.format,
                size(artifact.size_bytes),
                _compact(settings or None, ordered=True),
            ]
        )
    out += [
        markup("Compression lineage", "h3"),
        grid(lineage, [90, 42, 150, 72, 52, CONTENT_WIDTH_PT - 406]),
    ]
    evaluation = result.get("evaluation") or {}
    if evaluation:
        out += [
            markup("Accuracy", "h3"),
            _pairs("Evaluation", sorted(evaluation.items()), CONTENT_WIDTH_PT),
        ]
    notes = _warnings(item)
    out.append(markup("Warnings", "h3"))
    if notes:
        out += [Paragraph(escape(n), STYLES["bullet"], bulletText="•") for n in notes]
    else:
        out.append(markup("none: CV within 10% and enough samples for p99", "small"))
    return out


def _definition_markup(line: str) -> str:
    """Markdown `code` in the quoted definitions as Courier, everything else escaped."""
    parts = re.split(r"`([^`]*)`", line)
    return "".join(
        f"<font name='Courier'>{escape(p)}</font>" if n % 2 else escape(p)
        for n, p in enumerate(parts)
    )


def _bullets(markdown: str) -> list[str]:
    items: list[str] = []
    for line in markdown.splitlines():
        if line.startswith("- "):
            items.append(line[2:].strip())
        elif items and line.strip():
            items[-1] += " " + line.strip()
        elif line.strip():
            items.append(line.strip())
    return items


def methodology() -> list[Flowable]:
    out: list[Flowable] = [PageBreak(), markup("Methodology", "h1")]
    out.append(
        markup(
            f"The definitions every figure in this report follows, as stated in {escape(SOURCE)}:",
            "body",
        )
    )
    out += [
        Paragraph(_definition_markup(b), STYLES["bullet"], bulletText="•")
        for b in _bullets(DEFINITIONS)
    ]
    out.append(markup("MACs", "h3"))
    out += [markup(_definition_markup(b), "body") for b in _bullets(MACS)]
    return out


def reproducibility(items: Sequence[ReportRun]) -> list[Flowable]:
    out: list[Flowable] = [CondPageBreak(160), markup("Reproducibility", "h1")]
    out.append(
        markup(
            "The commands that re-create each run on the same store (artifact ids "
            "refer to it) with the same runtime, threads, batch, shapes and run "
            "policy. Lines starting with # are notes.",
            "body",
        )
    )
    for position, item in enumerate(items):
        block = [markup(f"{_tag(position)} · run {item.run.id}: {escape(item.label)}", "h3")]
        block += [markup(escape(line), "code") for line in commands(item)]
        out.append(KeepTogether(block))
    return out
