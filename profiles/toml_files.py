"""Reading a profile's TOML file, with errors that name the file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from engines.floor.errors import BadInput

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


def read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot be read: {exc.strerror}") from None


def parse_toml(text: str) -> dict[str, Any]:
    return tomllib.loads(text)
