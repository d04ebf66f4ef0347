"""Progress reaches a front end while the work runs, not replayed after it."""

from __future__ import annotations

import threading

import pytest

from engines.floor.errors import Cancelled
from engines.workers import progress_as_log, progress_events


def test_each_progress_call_arrives_before_the_work_goes_on() -> None:
    cancel = threading.Event()
    seen_by_consumer = threading.Event()

    def work(progress):
        progress("step 1", 0.5)
        # Replayed progress would deadlock here: the consumer sees "step 1" only at the end.
        if not seen_by_consumer.wait(timeout=10):
            raise AssertionError("the consumer did not hear step 1 while the work ran")
        progress("step 2", 1.0)
        return "result"

    stream = progress_events(work, cancel)
    first = next(stream)
    assert first == {"type": "progress", "message": "step 1", "fraction": 0.5}
    seen_by_consumer.set()
    assert next(stream)["message"] == "step 2"
    with pytest.raises(StopIteration) as done:
        next(stream)
    assert done.value.value == "result"


def test_the_works_error_reaches_the_consumer() -> None:
    def work(progress):
        progress("about to fail", None)
        raise Cancelled("stopped by the user")

    stream = progress_events(work, threading.Event())
    assert next(stream)["message"] == "about to fail"
    with pytest.raises(Cancelled, match="stopped by the user"):
        next(stream)


def test_leaving_the_stream_early_cancels_and_waits_for_the_work() -> None:
    cancel = threading.Event()
    ended = threading.Event()

    def work(progress):
        progress("working", None)
        cancel.wait(timeout=20)
        ended.set()
        return None

    stream = progress_events(work, cancel)
    next(stream)
    stream.close()
    assert cancel.is_set() and ended.is_set()


def test_as_log_events_the_value_still_comes_back() -> None:
    def inner():
        yield {"type": "progress", "message": "hello", "fraction": None}
        return 42

    def outer():
        value = yield from progress_as_log(inner())
        yield {"type": "value", "value": value}

    assert list(outer()) == [
        {"type": "log", "level": "info", "message": "hello"},
        {"type": "value", "value": 42},
    ]
