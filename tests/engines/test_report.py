"""PDF reports built from stored runs: figures in the PDF's text match the store to the
printed precision, every page renders, many runs with long names stay inside the page,
text from models is escaped, and bad requests are clear errors that leave no file."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report_runs import MIB, add_run

from engines.floor.errors import BadInput
from engines.report.build import ReportRequest, build_report, write_report
from engines.store.db import Store

FAST = dict(warmup_runs=2, warmup_min_s=0.05, min_runs=30, min_s=0.1)
NUMBER = re.compile(r"(?<![\w.#])-?\d+(?:\.\d+)?(?![\w.])")


@pytest.fixture(scope="module")
def agent_store(tiny_models, tmp_path_factory):
    """A store with two runs the real agent made (tiny CNN on ONNX Runtime and LiteRT)."""
    from engines.floor.spec import RunPolicy
    from engines.pipeline.profile import ProfileRequest, profile

    home = tmp_path_factory.mktemp("agent-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EDGEBENCH_HOME", str(home))
        path = home / "runs.sqlite"
        ids = []
        with Store(path) as store:
            for model, runtime in (
                (tiny_models.onnx, "onnxruntime"),
                (tiny_models.tflite, "litert"),
            ):
                request = ProfileRequest(
                    model=str(model), runtime=runtime, threads=1, policy=RunPolicy(**FAST)
                )
                stored = [e for e in profile(request, store) if e["type"] == "stored"]
                assert stored and stored[0]["status"] == "ok"
                ids.append(stored[0]["run_id"])
    return path, ids


def _text(pdf: Path, *flags: str) -> str:
    return subprocess.run(
        ["pdftotext", *flags, str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout


def _page_count(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    line = next(x for x in info.stdout.splitlines() if x.startswith("Pages:"))
    return int(line.split()[1])


def _close_to_printed(printed: str, stored: float) -> bool:
    """`printed` is `stored` rounded to the digits it shows."""
    decimals = len(printed.split(".")[1]) if "." in printed else 0
    return abs(float(printed) - stored) <= 0.5 * 10**-decimals + 1e-12


def _summary_row(text: str, position: int) -> list[str]:
    """The numbers on the first line of the summary table's row `#position`."""
    for line in text.splitlines():
        if line.strip().startswith(f"#{position} "):
            return NUMBER.findall(line)
    raise AssertionError(f"no summary row #{position} in:\n{text[:3000]}")


def test_figures_in_the_pdf_match_runs_from_the_agent(agent_store, tmp_path):
    path, ids = agent_store
    out = tmp_path / "report.pdf"
    with Store(path) as store:
        final = write_report(
            ReportRequest(run_ids=tuple(ids), out=out, json_out=tmp_path / "report.json"), store
        )
        runs = [store.run(i) for i in ids]
    assert final["path"] == str(out) and final["runs"] == ids
    first_page = _text(out, "-layout", "-f", "1", "-l", "1")
    for position, run in enumerate(runs, start=1):
        numbers = _summary_row(first_page, position)
        st, result = run.statistics, run.result
        assert numbers[0] == str(run.id)
        # run id, p50, p90, p99, mean, std, CV %, inf/s, load, first, memory, size, samples
        expected = [st["p50_ms"], st["p90_ms"], st["p99_ms"], st["mean_ms"], st["std_ms"]]
        for printed, value in zip(numbers[1:6], expected, strict=True):
            assert _close_to_printed(printed, value), (printed, value)
        assert _close_to_printed(numbers[6], st["cv"] * 100)
        assert _close_to_printed(numbers[7], st["throughput_per_s"])
        assert _close_to_printed(numbers[8], result["load_ms"])
        assert _close_to_printed(numbers[9], result["first_ms"])
        assert numbers[-1] == str(st["count"])
    whole = _text(out)
    assert "Executive summary" in whole and "Methodology" in whole
    assert "nearest-rank" in whole and "Reproducibility" in whole
    for run in runs:
        assert f"edgebench profile artifact:{run.artifact_id} --runtime {run.runtime}" in whole
    # the JSON companion carries the same stored numbers, unrounded
    payload = json.loads((tmp_path / "report.json").read_text())
    assert [r["p50_ms"] for r in payload["runs"]] == [r.statistics["p50_ms"] for r in runs]


def test_every_page_renders(agent_store, tmp_path):
    path, ids = agent_store
    out = tmp_path / "r.pdf"
    with Store(path) as store:
        final = write_report(ReportRequest(run_ids=tuple(ids), out=out), store)
    subprocess.run(["pdftoppm", "-png", "-r", "30", str(out), str(tmp_path / "page")], check=True)
    pngs = sorted(tmp_path.glob("page-*.png"))
    assert len(pngs) == final["pages"] == _page_count(out) >= 4
    assert all(p.stat().st_size > 1000 for p in pngs)
    text = _text(out)
    assert text.count("EdgeBench report") == final["pages"]  # the header on every page
    for n in range(1, final["pages"] + 1):
        assert f"page {n} of {final['pages']}" in text


def _many_runs(store, count: int = 12) -> list[int]:
    long = "efficientnet_b0 · prune-structured-50 · distill · quantize-static per-channel " * 2
    ids = []
    for n in range(count):
        ids.append(
            add_run(
                store,
                f"{long}variant {n}",
                runtime=("onnxruntime", "litert", "torch")[n % 3],
                device=("local", "raspberry-pi-5-with-a-long-profile-name")[n % 2],
                p50_ms=0.02 * (1.7**n),
                size_bytes=(40 - 3 * n) * MIB,
                top1=0.75 - 0.004 * n,
                seed=n + 1,
                count=200 + 100 * n,
            )
        )
    return ids


def test_twelve_runs_with_long_names_stay_inside_the_page(store, tmp_path):
    ids = _many_runs(store)
    out = tmp_path / "many.pdf"
    final = write_report(ReportRequest(run_ids=tuple(ids), out=out), store)
    assert final["pages"] == _page_count(out)
    bbox = _text(out, "-bbox")
    pages = re.findall(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', bbox, re.S)
    assert len(pages) == final["pages"]
    words = 0
    for width, height, body in pages:
        for x0, y0, x1, y1 in re.findall(
            r'<word xMin="([\d.-]+)" yMin="([\d.-]+)" xMax="([\d.-]+)" yMax="([\d.-]+)"', body
        ):
            words += 1
            assert float(x0) >= 0 and float(x1) <= float(width) - 20, (x0, x1, width)
            assert float(y0) >= 0 and float(y1) <= float(height), (y0, y1, height)
    assert words > 2000
    text = _text(out)
    # all 12 rows, and both devices in the executive summary
    for position in range(1, 13):
        assert f"#{position}" in text
    assert "raspberry-pi-5-with-a-long-profile-name" in text


def test_markup_in_model_names_is_escaped(store, tmp_path):
    evil = "<b>bold</b> & <font size=40>big</font> <a href='x'>link</a> ]]>"
    ids = [add_run(store, evil, seed=1), add_run(store, "plain", seed=2, device="<i>dev</i>")]
    out = tmp_path / "evil.pdf"
    write_report(ReportRequest(run_ids=tuple(ids), out=out, title="<title> & more"), store)
    text = _text(out)
    flat = " ".join(text.split())
    assert "<b>bold</b> &" in flat and "<font size=40>big</font>" in flat
    assert "<i>dev</i>" in flat and "<title> & more" in flat


def test_no_runs_unknown_or_failed_runs_are_clear_errors(store, tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "x.pdf"
    with pytest.raises(BadInput, match="at least one run"):
        write_report(ReportRequest(run_ids=(), out=out), store)
    good = add_run(store, "ok", seed=1)
    with pytest.raises(BadInput, match="no run with id 4242") as caught:
        write_report(ReportRequest(run_ids=(good, 4242), out=out), store)
    assert "edgebench runs list" in caught.value.details
    failed = store.add_run(
        artifact_id=None, model_label="m", runtime="litert", device="local", spec={},
        error={"message": "crashed"},
    )  # fmt: skip
    with pytest.raises(BadInput, match="no results"):
        write_report(ReportRequest(run_ids=(good, failed), out=out), store)
    with pytest.raises(BadInput, match=r"\.pdf"):
        write_report(ReportRequest(run_ids=(good,), out=folder / "x.txt"), store)
    assert list(folder.iterdir()) == []


def test_written_atomically(store, tmp_path, monkeypatch):
    ids = [add_run(store, "a", seed=1)]
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "report.pdf"
    out.write_bytes(b"the previous report")

    def broken(*_args, **_kwargs):
        Path(_args[0]).write_bytes(b"%PDF-half")
        raise RuntimeError("disk full")

    monkeypatch.setattr("engines.report.document.render", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        write_report(ReportRequest(run_ids=tuple(ids), out=out), store)
    assert out.read_bytes() == b"the previous report"
    assert [p.name for p in folder.iterdir()] == ["report.pdf"]


def test_progress_events_and_cancel(store, tmp_path):
    import threading

    ids = [add_run(store, "a", seed=1), add_run(store, "b", seed=2)]
    events = list(build_report(ReportRequest(run_ids=tuple(ids), out=tmp_path / "r.pdf"), store))
    fractions = [e["fraction"] for e in events if e["type"] == "progress"]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert events[-1]["type"] == "report"
    cancel = threading.Event()
    cancel.set()
    from engines.floor.errors import Cancelled

    with pytest.raises(Cancelled):
        list(build_report(ReportRequest(run_ids=tuple(ids), out=tmp_path / "c.pdf"), store, cancel))
    assert not (tmp_path / "c.pdf").exists()


def test_methodology_and_readme_define_peak_rss_alike():
    """The report's methodology and the README give peak_rss the same definition."""
    from engines.report.methodology import DEFINITIONS

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    memory_bullet = next(b for b in DEFINITIONS.split("\n- ") if "`peak_rss`" in b)
    assert "the highest of all readings" in " ".join(memory_bullet.split())
    assert "the highest of all readings" in " ".join(readme.split())


def test_input_flags_reproduce_new_and_old_specs():
    from engines.report.repro import input_flags

    new = {
        "inputs": {
            "shapes": {"x": [1, 3, 48, 320]},
            "dims": {"seq": 8},
            "values": {"sr": "16000"},
            "data_path": "/data/sample.npz",
        }
    }
    assert input_flags(new) == [
        "--input-shape",
        "x=1,3,48,320",
        "--dim",
        "seq=8",
        "--input",
        "sr=16000",
        "--inputs",
        "/data/sample.npz",
    ]
    # a run stored before InputSpec kept only its shapes
    assert input_flags({"input_shapes": {"tokens": [2, 5]}}) == ["--input-shape", "tokens=2,5"]
    from engines.floor.spec import BenchSpec

    old = BenchSpec.from_dict(
        {
            "model": {"path": "m.onnx", "format": "onnx"},
            "runtime": "onnxruntime",
            "input_shapes": {"tokens": [2, 5]},
        }
    )
    assert old.inputs.shapes == {"tokens": [2, 5]}
