"""Typed errors every front end can turn into a message and an exit code."""

from __future__ import annotations

from typing import Any

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_RUN_FAILED = 3
#: Ctrl-C: 128 + SIGINT, as shells report it.
EXIT_INTERRUPTED = 130


class EdgeBenchError(Exception):
    """Base error: `message` is for a person, `details` for the expandable part."""

    exit_code = EXIT_RUN_FAILED

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class BadInput(EdgeBenchError):
    """The user gave something we cannot use: a file, a flag, a model reference."""

    exit_code = EXIT_BAD_INPUT


class TrustRequired(BadInput):
    """The model contains code; it runs only when the user says they trust it."""


class RunFailed(EdgeBenchError):
    """Work started and failed: a worker crashed, hung, or reported an error."""

    exit_code = EXIT_RUN_FAILED

    def __init__(
        self, message: str, details: str = "", error: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, details)
        self.error = error or {}


class DeviceUnreachable(RunFailed):
    """The device could not be reached or logged in to; nothing ran there. Every device
    kind ends such a run the same way: an `unreachable` error event before the agent."""


class Cancelled(EdgeBenchError):
    """The user stopped the work; nothing it was making is kept."""

    exit_code = EXIT_RUN_FAILED
