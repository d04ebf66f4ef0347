"""What can go wrong with the results database, as typed errors with a message, a hint and
an exit code: SQLite's own exceptions never reach a user as a traceback.

`translated(exc, path)` turns an `sqlite3.Error` into one of these by SQLite's error code.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from engines.floor.errors import EXIT_BAD_INPUT, EXIT_RUN_FAILED, BadInput, EdgeBenchError

RECOVERY = "edgebench store check | backup PATH | recover"


class StoreError(EdgeBenchError):
    """The results database could not be used."""

    exit_code = EXIT_RUN_FAILED


class StoreCorrupt(StoreError, BadInput):
    """The file is not a healthy SQLite database: nothing is written to it."""

    exit_code = EXIT_BAD_INPUT


class NewerSchema(StoreError, BadInput):
    """The database was written by a newer EdgeBench."""

    exit_code = EXIT_BAD_INPUT


class StoreReadOnly(StoreError, BadInput):
    """The database (or its folder) cannot be written: reading still works."""

    exit_code = EXIT_BAD_INPUT


class StoreFull(StoreError):
    """The disk (or a file-size limit) stopped a write."""


class StoreLocked(StoreError):
    """Another process held the write lock for longer than we wait."""


class StoreMissing(StoreError, BadInput):
    """A command that only reads found no database: nothing has been stored yet."""

    exit_code = EXIT_BAD_INPUT


#: Our own mistakes (a constraint, a bad statement): raised as they are, not as the store's.
PROGRAMMING_ERRORS = (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError)


def translated(exc: sqlite3.Error, path: Path) -> StoreError:
    """The typed error for an SQLite exception raised on the database at `path`."""
    code = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    if code.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in text:
        return StoreCorrupt(
            f"{path} is damaged ({text}); nothing was written to it",
            f"see what can be saved: {RECOVERY}",
        )
    if code.startswith("SQLITE_READONLY") or "readonly" in text:
        return StoreReadOnly(
            f"{path} cannot be written ({text}): check the permissions of the file and its folder",
            "or point --db / EDGEBENCH_DB at a writable file",
        )
    if code in ("SQLITE_FULL", "SQLITE_IOERR_WRITE") or "disk is full" in text:
        return StoreFull(
            f"the disk holding {path} is full or refused the write ({text}); nothing was "
            "half-written",
            "free some space; a measured run that could not be stored is kept beside the "
            "store and imported the next time it opens",
        )
    if code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
        return StoreLocked(
            f"{path} is locked by another process ({text})",
            "wait for the other EdgeBench to finish its write, then try again",
        )
    if code.startswith("SQLITE_CANTOPEN"):
        return StoreReadOnly(
            f"{path} cannot be opened ({text}): check that its folder exists and is writable",
            "or point --db / EDGEBENCH_DB at another file",
        )
    return StoreError(f"the results database {path} failed: {text}", f"SQLite said {code}")


class Connection(sqlite3.Connection):
    """An SQLite connection whose errors are typed store errors (`translated`), for every
    statement and every fetch."""

    store_path: Path = Path()

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return self.cursor(Cursor).execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        return self.cursor(Cursor).executemany(sql, parameters)


class Cursor(sqlite3.Cursor):
    def _path(self) -> Path:
        return getattr(self.connection, "store_path", Path())

    def execute(self, sql: str, parameters: Any = (), /) -> Cursor:
        try:
            return super().execute(sql, parameters)
        except PROGRAMMING_ERRORS:
            raise
        except sqlite3.Error as exc:
            raise translated(exc, self._path()) from None

    def executemany(self, sql: str, parameters: Any, /) -> Cursor:
        try:
            return super().executemany(sql, parameters)
        except PROGRAMMING_ERRORS:
            raise
        except sqlite3.Error as exc:
            raise translated(exc, self._path()) from None

    def fetchone(self) -> object:
        try:
            return super().fetchone()
        except PROGRAMMING_ERRORS:
            raise
        except sqlite3.Error as exc:
            raise translated(exc, self._path()) from None

    def fetchall(self) -> list[object]:
        try:
            return super().fetchall()
        except PROGRAMMING_ERRORS:
            raise
        except sqlite3.Error as exc:
            raise translated(exc, self._path()) from None
