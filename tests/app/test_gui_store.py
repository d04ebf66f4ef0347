"""The app on a store it cannot use says so and exits with the CLI's code, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.gui import main


def test_the_app_refuses_an_empty_store_with_its_reason(
    qtbot: object, edgebench_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = edgebench_home / "results.sqlite"
    db.write_bytes(b"")
    assert main(["--no-check"]) == 2
    err = capsys.readouterr().err
    assert "is empty (0 bytes)" in err and "Traceback" not in err
    assert db.stat().st_size == 0  # left as it was
