"""`edgebench report`: exit codes, companions, and reproducibility commands that the real
parser accepts with the run's own settings."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from app.cli import build_parser, main
from engines.floor.errors import EXIT_BAD_INPUT, EXIT_OK

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engines"))
from report_runs import add_run

FAST = ["--runs", "20", "--min-seconds", "0.1", "--warmup-seconds", "0.05", "--warmup", "2"]


def test_report_of_a_profiled_run(tiny_models, capsys, tmp_path):
    code = main(["profile", str(tiny_models.onnx), "--runtime", "onnxruntime", *FAST,
                 "--threads", "1", "--json"])  # fmt: skip
    run_id = json.loads(capsys.readouterr().out)["run_id"]
    out = tmp_path / "r.pdf"
    code = main(["report", str(run_id), "--out", str(out), "--json", "--csv", "--title", "T"])
    captured = capsys.readouterr()
    assert code == EXIT_OK, captured.err
    assert out.is_file() and (tmp_path / "r.json").is_file() and (tmp_path / "r.csv").is_file()
    payload = json.loads((tmp_path / "r.json").read_text())
    assert payload["title"] == "T" and payload["runs"][0]["run_id"] == run_id
    commands = [c for c in payload["runs"][0]["commands"] if c.startswith("edgebench profile")]
    assert len(commands) == 1
    args = build_parser().parse_args(shlex.split(commands[0])[1:])
    assert (args.runtime, args.threads, args.runs, args.min_seconds) == ("onnxruntime", 1, 20, 0.1)
    assert (args.warmup, args.warmup_seconds) == (2, 0.05)


def test_device_runs_name_their_device(capsys, tmp_path, edgebench_home):
    from engines.floor import paths
    from engines.store.db import Store

    with Store(paths.db_path()) as store:
        run_id = add_run(store, "m", device="pi5", seed=1)
    code = main(["report", str(run_id), "--out", str(tmp_path / "d.pdf"), "--json"])
    assert code == EXIT_OK, capsys.readouterr().err
    commands = json.loads((tmp_path / "d.json").read_text())["runs"][0]["commands"]
    assert any("--device pi5" in c for c in commands)


def test_bad_requests_exit_2_with_what_to_do(capsys, tmp_path):
    assert main(["report", "--out", str(tmp_path / "x.pdf")]) == EXIT_BAD_INPUT
    assert "edgebench runs list" in capsys.readouterr().err
    assert main(["report", "77", "--out", str(tmp_path / "x.pdf")]) == EXIT_BAD_INPUT
    assert "nothing is stored yet" in capsys.readouterr().err  # and no store was made
    from engines.floor import paths
    from engines.store.db import Store

    Store(paths.db_path()).close()
    assert main(["report", "77", "--out", str(tmp_path / "x.pdf")]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "no run with id 77" in err and "edgebench runs list" in err
    assert not (tmp_path / "x.pdf").exists()
