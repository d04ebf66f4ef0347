"""Looking after a damaged results database: check it, copy it, and recover what can be
read into a new one. None of these writes to the damaged file.

- `check`: SQLite's `integrity_check`, the schema version, row counts and pending runs;
- `backup`: SQLite's online backup API, a page-by-page copy of the file as it is;
- `recover`: a fresh store with every row that can still be read, table by table (rows
  in damaged pages are skipped and counted); the damaged file is kept beside it as
  `NAME.damaged-STAMP`, and the recovered one takes its place.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from engines.store.errors import StoreError, StoreMissing
from engines.store.pending import pending_files

#: Copied in this order (parents before children: the foreign keys hold).
TABLES = ("artifacts", "runs", "samples", "memory_samples", "id_high_water")
#: Tables read run by run (samples has no rowid): the rows of each recovered run.
PER_RUN = ("samples", "memory_samples")
CHUNK_ROWS = 1000


@dataclass
class Health:
    path: Path
    findings: list[str]
    schema_version: int | None
    rows: dict[str, int | None] = field(default_factory=dict)
    pending_runs: int = 0

    @property
    def ok(self) -> bool:
        return self.findings == ["ok"]


def _open_read_only(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise StoreMissing(f"{path} does not exist", "nothing to check: nothing is stored yet")
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)


def check(path: Path) -> Health:
    """What is wrong with the database at `path` (read only)."""
    findings: list[str]
    version: int | None = None
    rows: dict[str, int | None] = {}
    try:
        db = _open_read_only(path)
    except sqlite3.Error as exc:
        return Health(path, [f"cannot be opened: {exc}"], None)
    try:
        try:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            rows_said = db.execute("PRAGMA integrity_check").fetchall()
            findings = [line for r in rows_said for line in str(r[0]).splitlines() if line]
        except sqlite3.Error as exc:
            findings = [f"not a readable SQLite database: {exc}"]
        for table in TABLES:
            try:
                rows[table] = int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            except sqlite3.Error:
                rows[table] = None
    finally:
        db.close()
    if path.stat().st_size == 0:
        findings = ["the file is empty (0 bytes)"]
    return Health(path, findings, version, rows, len(pending_files(path)))


def backup(path: Path, out: Path) -> Path:
    """A copy of the database through SQLite's backup API; `out` must not exist."""
    if out.exists():
        raise StoreError(f"{out} already exists", "choose a new file name for the backup")
    source = _open_read_only(path)
    try:
        target = sqlite3.connect(out)
        try:
            source.backup(target)
        finally:
            target.close()
    except sqlite3.Error as exc:
        out.unlink(missing_ok=True)
        raise StoreError(
            f"the backup of {path} failed: {exc}", "try edgebench store recover"
        ) from None
    finally:
        source.close()
    return out


@dataclass
class Recovery:
    recovered: dict[str, int]
    lost: dict[str, int]
    damaged_copy: Path
    store: Path


def recover(path: Path) -> Recovery:
    """Copy every readable row into a new store and put it in the damaged one's place."""
    from engines.store.db import Store

    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    fresh = path.with_name(f".{path.name}.recovering-{os.getpid()}")
    fresh.unlink(missing_ok=True)
    recovered: dict[str, int] = {}
    lost: dict[str, int] = {}
    old = _open_read_only(path)
    try:
        with Store(fresh) as new:
            target = new._db
            target.execute("PRAGMA foreign_keys=OFF")
            for table in TABLES:
                columns = [r[1] for r in target.execute(f"PRAGMA table_info({table})").fetchall()]
                if table in PER_RUN:
                    run_ids = [r[0] for r in target.execute("SELECT id FROM runs").fetchall()]
                    recovered[table], lost[table] = _copy_per_run(
                        old, target, table, columns, run_ids
                    )
                else:
                    recovered[table], lost[table] = _copy(old, target, table, columns)
    finally:
        old.close()
    damaged = path.with_name(f"{path.name}.damaged-{stamp}")
    os.replace(path, damaged)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            os.replace(side, damaged.with_name(damaged.name + suffix))
    os.replace(fresh, path)
    return Recovery(recovered, lost, damaged, path)


def _copy_per_run(
    old: sqlite3.Connection,
    new: sqlite3.Connection,
    table: str,
    columns: list[str],
    run_ids: list[int],
) -> tuple[int, int]:
    """(rows copied, runs whose rows could not be read) for a table keyed by run_id."""
    names = ", ".join(columns)
    insert = f"INSERT OR IGNORE INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})"
    copied = failed = 0
    new.execute("BEGIN")
    for run_id in run_ids:
        try:
            rows = old.execute(f"SELECT {names} FROM {table} WHERE run_id = ?", (run_id,))
            batch = [tuple(r) for r in rows.fetchall()]
        except sqlite3.Error:
            failed += 1
            continue
        new.executemany(insert, batch)
        copied += len(batch)
    new.execute("COMMIT")
    return copied, failed


def _copy(
    old: sqlite3.Connection, new: sqlite3.Connection, table: str, columns: list[str]
) -> tuple[int, int]:
    """(rows copied, rows that could not be read) for one table, chunk by chunk, row by
    row inside a chunk that fails."""
    try:
        present = {r[1] for r in old.execute(f"PRAGMA table_info({table})").fetchall()}
        high = old.execute(f"SELECT max(rowid) FROM {table}").fetchone()[0] or 0
    except sqlite3.Error:
        return 0, 0
    wanted = [c for c in columns if c in present]
    names = ", ".join(wanted)
    insert = f"INSERT OR IGNORE INTO {table} ({names}) VALUES ({', '.join('?' * len(wanted))})"
    copied = failed = 0
    new.execute("BEGIN")
    for start in range(0, int(high) + 1, CHUNK_ROWS):
        query = f"SELECT {names} FROM {table} WHERE rowid BETWEEN ? AND ?"
        try:
            rows = old.execute(query, (start, start + CHUNK_ROWS - 1)).fetchall()
        except sqlite3.Error:
            rows = []
            for rowid in range(start, start + CHUNK_ROWS):
                try:
                    rows.extend(old.execute(query, (rowid, rowid)).fetchall())
                except sqlite3.Error:
                    failed += 1
        for row in rows:
            try:
                new.execute(insert, tuple(row))
                copied += 1
            except sqlite3.Error:
                failed += 1
    new.execute("COMMIT")
    return copied, failed
