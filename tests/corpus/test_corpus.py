"""Every path on every real model of the corpus works, or says why not; none fails."""

from __future__ import annotations

import pytest

from corpus.models import fetch
from corpus.run_corpus import run_table


@pytest.mark.slow
def test_no_corpus_row_is_a_failure() -> None:
    models = fetch()  # from the cache `make test` fills; downloads only when it is empty
    assert len(models) == 24, [m.path.name for m in models]
    rows = run_table(models, timeout_s=300)
    failures = [row for row in rows if row["result"] == "FAILURE"]
    assert not failures, failures
    # The paths that matter most work on every model they apply to.
    for row in rows:
        if row["path"] in ("inspect", "profile") and row["model"] != (
            "face_landmark_with_attention.tflite"  # MediaPipe's custom op: a refusal
        ):
            assert row["result"] == "works", row
