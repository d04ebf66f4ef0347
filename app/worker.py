"""Run an engine event generator off the GUI thread and deliver its events as Qt signals.

The engine's long work is a generator of events (ARCHITECTURE.md): each `yield` is a
streaming point and a place to stop. `EventWorker` iterates one in a QThread; signals are
queued to the GUI thread. Cancel sets the engine's cancel event, calls the extra cancel
hooks (a device's cancel), and closes the generator at its next event.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable, Iterator
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal

EventFactory = Callable[[threading.Event], Iterator[dict[str, Any]]]


class EventWorker(QObject):
    """One job: `event` per engine event, then exactly one of `finished` / `failed`."""

    event = Signal(object)  # type: ignore[assignment]  # a signal named for what it carries
    finished = Signal()
    failed = Signal(object)  # {"message", "details", "error_type"}

    def __init__(self, factory: EventFactory, label: str = "") -> None:
        super().__init__()
        self.label = label
        self._factory = factory
        self.cancel_event = threading.Event()
        self._cancel_hooks: list[Callable[[], None]] = []
        #: Set in the job's thread just before `finished`/`failed`, so a slot of either
        #: already sees the job as ended without waiting for its thread.
        self._ended = False
        self._started = False
        self._thread = QThread()
        self._thread.setObjectName(f"edgebench-job {label}")
        self.moveToThread(self._thread)
        self._thread.started.connect(self._run)

    def on_cancel(self, hook: Callable[[], None]) -> None:
        self._cancel_hooks.append(hook)

    @property
    def thread_finished(self) -> Any:
        """The job's thread has ended (after `finished`/`failed`): drop the last reference."""
        return self._thread.finished

    def start(self) -> None:
        self._started = True
        self._thread.start()

    def cancel(self) -> None:
        self.cancel_event.set()
        for hook in self._cancel_hooks:
            hook()

    def is_running(self) -> bool:
        """Started and not yet ended (its thread may still be winding down)."""
        return self._started and not self._ended

    def thread_running(self) -> bool:
        return self._thread.isRunning()

    def wait(self, timeout_ms: int = 30_000) -> bool:
        """Block until the thread has ended (used when the window closes)."""
        return self._thread.wait(timeout_ms)

    def _run(self) -> None:
        from engines.floor.errors import Cancelled, EdgeBenchError

        events: Any = None
        try:
            # Inside the try: a factory that fails at once is a failed job, never a silent one.
            events = self._factory(self.cancel_event)
            for item in events:
                self.event.emit(item)
                if self.cancel_event.is_set():
                    raise Cancelled("cancelled")
            self._end()
            self.finished.emit()
        except Cancelled:
            self._end(events)
            self.failed.emit({"error_type": "cancelled", "message": "cancelled", "details": ""})
        except EdgeBenchError as exc:
            self._end(events)
            self.failed.emit(
                {"error_type": type(exc).__name__, "message": exc.message, "details": exc.details}
            )
        except Exception as exc:  # a bug in our code: show it, keep the window alive
            self._end(events)
            self.failed.emit(
                {
                    "error_type": "internal",
                    "message": f"{type(exc).__name__}: {exc}",
                    "details": traceback.format_exc(),
                }
            )
        finally:
            self._ended = True
            self._thread.quit()

    def _end(self, events: Any = None) -> None:
        """Close the generator (its `finally` blocks stop agents and children) before the
        job says it has ended."""
        close = getattr(events, "close", None)
        if close is not None:
            close()
        self._ended = True
