"""The front ends call the pipeline: no module in app/ runs an engine chain itself.

An engine chain is resolve -> prepare -> build/export/run -> store. Its entry points below
the pipeline are named here; a call to one of them from app/ fails the test, because the
pipeline's own functions (engines/pipeline) are the ones the CLI and the GUI call.
"""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app"
#: Engine steps below the pipeline that only engines/pipeline chains, and what to call.
CHAIN_STEPS = {
    "build_variant": "engines.pipeline.build.build",
    "export_fp32": "engines.pipeline.build.export",
    "add_run": "engines.pipeline.profile.profile",
}


def _calls(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in CHAIN_STEPS:
                found.append((str(name), node.lineno))
    return found


def test_no_app_module_chains_engine_steps():
    offenders = {
        str(path.relative_to(APP.parent)): calls
        for path in sorted(APP.rglob("*.py"))
        if (calls := _calls(path))
    }
    assert offenders == {}, {
        where: [f"{name} (line {line}): call {CHAIN_STEPS[name]}" for name, line in calls]
        for where, calls in offenders.items()
    }


def test_the_check_sees_a_chain_call(tmp_path):
    """The check can fail: a module calling build_variant is caught."""
    module = tmp_path / "page.py"
    module.write_text("def go(r, s):\n    return engine.build_variant(r, s)\n")
    assert _calls(module) == [("build_variant", 2)]
