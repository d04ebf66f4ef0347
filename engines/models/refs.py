"""Turn what a user types (a path, `demo:NAME`, `zoo:NAME[:pretrained]`) into an artifact."""

from __future__ import annotations

import json
from pathlib import Path

from engines import paths
from engines.errors import BadInput
from engines.models.artifacts import import_model
from engines.store.db import ArtifactRow, Store
from engines.workers import ProgressFn, run_task


def resolve(
    ref: str, store: Store, *, trust_code: bool = False, progress: ProgressFn | None = None
) -> ArtifactRow:
    if ref.startswith("demo:"):
        return _demo(ref.removeprefix("demo:"), store, progress)
    if ref.startswith("zoo:"):
        name, _, weights = ref.removeprefix("zoo:").partition(":")
        return _zoo(name, weights or "random", store)
    if ref.startswith("artifact:"):
        return store.artifact(int(ref.removeprefix("artifact:")))
    return import_model(ref, store, trust_code=trust_code)


def _demo(name: str, store: Store, progress: ProgressFn | None) -> ArtifactRow:
    from engines.models.demo import DEMOS, RECIPE_VERSION

    if name not in DEMOS:
        raise BadInput(f"unknown demo model {name!r}; available: {', '.join(DEMOS)}")
    from engines.runtimes.versions import module_version

    folder = paths.cache_dir() / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-r{RECIPE_VERSION}-torch{module_version('torch')}.pt2"
    if not path.is_file():
        run_task("build_demo", {"name": name, "out_path": str(path)}, progress=progress)
    # Our own recipe's output: trusted by construction.
    return import_model(path, store, name=name, trust_code=True, origin="demo")


def _zoo(name: str, weights: str, store: Store) -> ArtifactRow:
    from engines.models.zoo import PRETRAINED, RANDOM, descriptor

    if weights not in (RANDOM, PRETRAINED):
        raise BadInput(f"zoo:{name}:{weights}: weights must be 'random' or 'pretrained'")
    if not name.replace("_", "").isalnum():
        raise BadInput(f"zoo:{name} is not a torchvision model name")
    folder = paths.cache_dir() / "zoo"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{weights}.json"
    if not path.is_file():
        path.write_text(json.dumps(descriptor(name, weights), indent=2))
    label = f"zoo:{name}" + (" (pretrained)" if weights == PRETRAINED else " (random weights)")
    return import_model(Path(path), store, name=label, origin="zoo")
