"""Turn what a user types (a path, `demo:NAME`, `zoo:NAME[:pretrained]`) into an artifact."""

from __future__ import annotations

import json
import threading
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

from engines.floor import paths
from engines.floor.atomic import write_atomically
from engines.floor.errors import BadInput
from engines.models.artifacts import import_model
from engines.store.db import ArtifactRow, Store
from engines.workers import ProgressFn, progress_events, run_task


def resolve(
    ref: str,
    store: Store,
    *,
    trust_code: bool = False,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> ArtifactRow:
    """The stored artifact for `ref`, importing (or training, for a demo) it first if needed.

    `progress(message, fraction)` hears each step as it happens (the demo's epochs, the
    inspection); setting `cancel` stops a worker that is still running.
    """
    if ref.startswith("demo:"):
        return _demo(ref.removeprefix("demo:"), store, progress, cancel)
    if ref.startswith("zoo:"):
        name, _, weights = ref.removeprefix("zoo:").partition(":")
        return _zoo(name, weights or "random", store, progress, cancel)
    if ref.startswith("artifact:"):
        return store.artifact(int(ref.removeprefix("artifact:")))
    return import_model(ref, store, trust_code=trust_code, progress=progress, cancel=cancel)


def resolving(
    ref: str,
    db_path: Path,
    *,
    trust_code: bool = False,
    cancel: threading.Event | None = None,
) -> Generator[dict[str, Any], None, ArtifactRow]:
    """`resolve` as a stream: progress events as they happen (the demo's epochs, the
    inspection); `artifact = yield from resolving(...)` gets the result. It works on its own
    connection to the store at `db_path`; closing the stream early cancels it."""
    from engines.store.db import Store as OpenStore

    stop = cancel or threading.Event()

    def work(progress: ProgressFn) -> ArtifactRow:
        with OpenStore(db_path) as store:
            return resolve(ref, store, trust_code=trust_code, progress=progress, cancel=stop)

    return (yield from progress_events(work, stop))


def resolve_events(
    ref: str, db_path: Path, *, trust_code: bool = False, cancel: threading.Event | None = None
) -> Iterator[dict[str, Any]]:
    """For a front end: progress events, then {"type": "artifact", "artifact_id", "name"}."""
    yield {"type": "progress", "message": f"opening {ref}", "fraction": None}
    artifact = yield from resolving(ref, db_path, trust_code=trust_code, cancel=cancel)
    yield {"type": "artifact", "artifact_id": artifact.id, "name": artifact.name}


def _demo(
    name: str, store: Store, progress: ProgressFn | None, cancel: threading.Event | None
) -> ArtifactRow:
    from engines.models.demo import DEMOS, RECIPE_VERSION

    if name not in DEMOS:
        raise BadInput(f"unknown demo model {name!r}; available: {', '.join(DEMOS)}")
    from engines.runtimes.versions import module_version

    folder = paths.cache_dir() / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-r{RECIPE_VERSION}-torch{module_version('torch')}.pt2"
    if path.is_file() and not _is_what_we_built(path):
        # A .pt2 holds code: a cached file that is not the one we built (replaced, or
        # from an older build that recorded no hash) is built again, never trusted.
        path.unlink()
    if not path.is_file():
        run_task(
            "build_demo",
            {"name": name, "out_path": str(path)},
            progress=progress,
            cancel=cancel,
        )
    # Our own recipe's output, checked by the hash recorded when we built it.
    if not _is_what_we_built(path):
        raise BadInput(f"the demo model built at {path} does not match its recorded hash")
    return import_model(
        path, store, name=name, trust_code=True, origin="demo", progress=progress, cancel=cancel
    )


def _is_what_we_built(path: Path) -> bool:
    """Whether a cached demo file has the sha256 its build recorded beside it."""
    from engines.models.artifacts import sha256_file

    try:
        recorded = json.loads(path.with_suffix(".json").read_text()).get("sha256")
    except (OSError, ValueError, AttributeError):
        return False
    return bool(recorded) and recorded == sha256_file(path)


def _zoo(
    name: str,
    weights: str,
    store: Store,
    progress: ProgressFn | None,
    cancel: threading.Event | None,
) -> ArtifactRow:
    from engines.runtimes.zoo import PRETRAINED, RANDOM, descriptor

    if weights not in (RANDOM, PRETRAINED):
        raise BadInput(f"zoo:{name}:{weights}: weights must be 'random' or 'pretrained'")
    if not name.replace("_", "").isalnum():
        raise BadInput(f"zoo:{name} is not a torchvision model name")
    folder = paths.cache_dir() / "zoo"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{weights}.json"
    if not path.is_file():
        text = json.dumps(descriptor(name, weights), indent=2)
        write_atomically(path, lambda tmp: tmp.write_text(text))
    label = f"zoo:{name}" + (" (pretrained)" if weights == PRETRAINED else " (random weights)")
    return import_model(
        Path(path), store, name=label, origin="zoo", progress=progress, cancel=cancel
    )
