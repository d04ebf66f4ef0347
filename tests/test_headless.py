"""The engine works without Qt installed, and the cold CLI stays light (fresh interpreters)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

HEADLESS = textwrap.dedent(
    """
    import importlib, importlib.abc, pkgutil, sys, tempfile
    from pathlib import Path

    BLOCKED = ("PySide6", "pyqtgraph", "shiboken6")

    class NoQt(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"{name} is blocked: the engine must run without Qt")
            return None

    sys.meta_path.insert(0, NoQt())
    for name in BLOCKED:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
        else:
            raise SystemExit(f"blocker failed: {name} imported")

    import engines
    imported = []
    for info in pkgutil.walk_packages(engines.__path__, "engines."):
        importlib.import_module(info.name)
        imported.append(info.name)

    from engines.floor.stats import summarize
    stats = summarize([1.0, 2.0, 3.0, 4.0])
    assert stats["p50_ms"] == 3.0, stats

    from engines.store.db import Store
    with tempfile.TemporaryDirectory() as tmp:
        with Store(Path(tmp) / "r.sqlite") as store:
            run_id = store.add_run(artifact_id=None, model_label="m", runtime="onnxruntime",
                                   device="local", spec={}, result={"statistics": stats},
                                   samples_ms=[1.0, 2.0, 3.0, 4.0])
            assert store.samples(run_id) == [1.0, 2.0, 3.0, 4.0]
            assert store.run(run_id).statistics == stats

    qt = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    print("MODULES", len(imported))
    print("QT", qt)
    """
)


def _python(code: str, timeout: float = 180) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_engine_imports_and_works_without_qt():
    proc = _python(HEADLESS)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if " " in line)
    expected = sum(1 for p in (ROOT / "engines").rglob("*.py"))  # every module and package
    assert int(lines["MODULES"]) >= expected - 1, lines  # minus engines/__init__ itself
    assert lines["QT"] == "[]"


def test_cold_cli_does_not_import_torch():
    proc = _python("import app.cli, sys; print('torch' in sys.modules)")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


def test_cli_parser_builds_without_heavy_imports():
    code = (
        "import sys\n"
        "from app.cli import build_parser\n"
        "build_parser().parse_args(['runs', 'list'])\n"
        "heavy = [m for m in ('torch', 'onnx', 'onnxruntime', 'ai_edge_litert', 'PySide6')"
        " if m in sys.modules]\n"
        "print(heavy)\n"
    )
    proc = _python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
