"""Runs that were measured but could not be stored (a full disk, a locked or read-only
database) wait as JSON files in a folder beside the store, and are imported the next time
the store opens writable: nothing measured is lost.

Each file holds the keyword arguments of `Store.add_run` as gzip-compressed JSON (a run's
samples and memory readings shrink several times: a nearly full disk may still take it),
written atomically.
"""

from __future__ import annotations

import gzip
import json
import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engines.floor.atomic import write_atomically

if TYPE_CHECKING:
    from engines.store.db import Store


def pending_dir(store_path: Path) -> Path:
    """`results.sqlite` -> `results.sqlite.pending/`."""
    return store_path.with_name(store_path.name + ".pending")


def keep_pending(store_path: Path, run: dict[str, Any]) -> Path:
    """Write one run (`Store.add_run`'s arguments) to the pending folder; its path."""
    folder = pending_dir(store_path)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    path = folder / f"run-{stamp}-{secrets.token_hex(4)}.json.gz"
    data = gzip.compress(json.dumps(run, allow_nan=True).encode(), mtime=0)
    write_atomically(path, lambda tmp: tmp.write_bytes(data))
    return path


def pending_files(store_path: Path) -> list[Path]:
    folder = pending_dir(store_path)
    return sorted(folder.glob("run-*.json.gz")) if folder.is_dir() else []


def import_pending(store: Store) -> list[int]:
    """Store every pending run (oldest first) and remove its file; the new run ids.

    A file that cannot be read is renamed `*.unreadable` and left for a person."""
    imported = []
    for path in pending_files(store.path):
        try:
            run = json.loads(gzip.decompress(path.read_bytes()))
            if not isinstance(run, dict):
                raise ValueError("not an object")
        except (OSError, ValueError, EOFError):
            path.rename(path.with_name(path.name + ".unreadable"))
            continue
        artifact_id = run.get("artifact_id")
        if artifact_id is not None and store.artifact_or_none(int(artifact_id)) is None:
            run["artifact_id"] = None  # the model was removed meanwhile: keep the run
        run["memory_trace"] = [tuple(pair) for pair in run.get("memory_trace", ())]
        imported.append(store.add_run(**run))
        path.unlink()
    return imported
