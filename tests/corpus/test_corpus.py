"""Every path on every real model of the corpus works, or says why not; none fails.

One test per model, so the suite's workers share the corpus between them."""

from __future__ import annotations

import pytest

from corpus.models import CorpusModel, fetch
from corpus.run_corpus import run_table

# From the cache `make test` fills (make corpus-fetch); downloads only when it is empty.
MODELS = fetch()


def test_the_corpus_has_every_model() -> None:
    assert len(MODELS) == 24, [m.path.name for m in MODELS]


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.path.name)
def test_no_path_fails_on(model: CorpusModel) -> None:
    rows = run_table([model], timeout_s=300)
    failures = [row for row in rows if row["result"] == "FAILURE"]
    assert not failures, failures
    # The paths that matter most work on every model they apply to.
    for row in rows:
        if row["path"] in ("inspect", "profile") and row["model"] != (
            "face_landmark_with_attention.tflite"  # MediaPipe's custom op: a refusal
        ):
            assert row["result"] == "works", row
