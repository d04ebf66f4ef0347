"""The agent as one file for a device: a deterministic zip of the engine package.

`python3 agent-<sha>.zip` runs the benchmark agent; `python3 agent-<sha>.zip probe`
prints what the device has (stdlib only). The zip's bytes depend only on the sources, so
its sha256 names it on the device and an unchanged agent is never uploaded twice.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from engines.floor.atomic import write_atomically

ENGINES_DIR = Path(__file__).resolve().parents[1]
_FIXED_TIME = (2020, 1, 1, 0, 0, 0)

MAIN = '''"""EdgeBench agent bundle: `probe` prints the device's facts, otherwise run one spec."""
import sys

if len(sys.argv) > 1 and sys.argv[1] == "probe":
    from engines.devices.probe import main
else:
    from engines.bench.agent import main
sys.exit(main())
'''


@dataclass(frozen=True)
class Bundle:
    path: Path
    sha256: str
    size_bytes: int


def _sources() -> list[tuple[str, bytes]]:
    files = sorted(p for p in ENGINES_DIR.rglob("*.py") if "__pycache__" not in p.parts)
    entries = [(f"engines/{p.relative_to(ENGINES_DIR).as_posix()}", p.read_bytes()) for p in files]
    return [("__main__.py", MAIN.encode()), *entries]


def build_bundle(out_dir: Path) -> Bundle:
    """Write (or reuse) `agent-<sha>.zip` in `out_dir`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in _sources():
            info = zipfile.ZipInfo(name, _FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    data = buffer.getvalue()
    sha = hashlib.sha256(data).hexdigest()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"agent-{sha[:16]}.zip"
    if not path.is_file() or path.stat().st_size != len(data):
        write_atomically(path, lambda tmp: tmp.write_bytes(data))
    return Bundle(path, sha, len(data))
