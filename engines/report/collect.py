"""Read the runs a report is about from the store: each run with its raw samples and the
lineage of the model it timed. Unknown, failed or missing runs are a BadInput that says
what to do."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engines.floor.errors import BadInput
from engines.store.db import ArtifactRow, RunRow, Store

#: Lineage deeper than this is a cycle in a damaged store, not a real chain of variants.
MAX_LINEAGE = 64


@dataclass(frozen=True)
class ReportRun:
    run: RunRow
    samples_ms: tuple[float, ...]
    #: The model's chain from the source model (first) to the artifact that was timed.
    lineage: tuple[ArtifactRow, ...]

    @property
    def label(self) -> str:
        """What a reader calls this run: model, runtime, device."""
        return f"{self.run.model_label} · {self.run.runtime} · {self.run.device}"


def lineage_of(store: Store, artifact_id: int | None) -> tuple[ArtifactRow, ...]:
    chain: list[ArtifactRow] = []
    current = artifact_id
    while current is not None and len(chain) < MAX_LINEAGE:
        try:
            artifact = store.artifact(current)
        except BadInput:  # the model was removed; the run still stands
            break
        chain.append(artifact)
        current = artifact.parent_id
    return tuple(reversed(chain))


def load_runs(store: Store, run_ids: Sequence[int]) -> list[ReportRun]:
    """The runs in the order given (duplicates dropped). Raises BadInput for none, for ids
    the store does not have, and for runs that did not finish."""
    ids = list(dict.fromkeys(int(i) for i in run_ids))
    if not ids:
        raise BadInput(
            "a report needs at least one run",
            "pass run ids (list them with: edgebench runs list)",
        )
    runs: list[RunRow] = []
    unknown: list[int] = []
    for run_id in ids:
        try:
            runs.append(store.run(run_id))
        except BadInput:
            unknown.append(run_id)
    if unknown:
        listed = ", ".join(str(i) for i in unknown)
        raise BadInput(
            f"no run with id {listed} in {store.path}",
            "list the stored runs with: edgebench runs list",
        )
    unfinished = [r for r in runs if r.status != "ok" or not r.statistics]
    if unfinished:
        listed = ", ".join(f"{r.id} ({r.status})" for r in unfinished)
        raise BadInput(
            f"run {listed} has no results to report",
            "a report covers finished runs; see why with: edgebench runs show ID",
        )
    return [
        ReportRun(run, tuple(store.samples(run.id)), lineage_of(store, run.artifact_id))
        for run in runs
    ]
