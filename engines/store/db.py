"""The results store: SQLite (WAL) holding artifacts with lineage, runs and raw samples.

It fails safe. Every SQLite error is a typed store error (`engines.store.errors`). A new
database is made whole beside its place and linked in, so no process ever sees a
half-made one. An empty (0-byte) file or one that fails `quick_check` is refused and
never written to. Migrations read the schema version under the write lock. A read-only
file is opened read-only (reading works, writing says why it cannot). A measured run that
cannot be stored is kept as JSON in a pending folder beside the store (`pending.py`) and
imported the next time the store opens writable.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from engines.floor.errors import BadInput
from engines.store.errors import (
    RECOVERY,
    Connection,
    NewerSchema,
    StoreCorrupt,
    StoreMissing,
    StoreReadOnly,
)
from engines.store.migrations import LATEST, MIGRATIONS

__all__ = ["ArtifactRow", "NewerSchema", "RunRow", "Store"]


@dataclass(frozen=True)
class ArtifactRow:
    id: int
    sha256: str
    name: str
    format: str
    path: str
    size_bytes: int
    source: str
    parent_id: int | None
    step: str | None
    step_settings: dict[str, Any] | None
    inspection: dict[str, Any] | None
    created_at: str
    #: The model file's own sha256 (equal to `sha256` unless there is external data).
    file_sha256: str = ""
    #: External-data files stored beside the model: [{"path", "sha256", "bytes"}].
    data_files: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class RunRow:
    id: int
    artifact_id: int | None
    model_label: str
    runtime: str
    device: str
    status: str
    spec: dict[str, Any]
    environment: dict[str, Any] | None
    statistics: dict[str, Any] | None
    memory: dict[str, Any] | None
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    created_at: str


def _loads(text: str | None) -> Any:
    return json.loads(text) if text else None


def writable(path: Path) -> bool:
    """Whether this process may write the database file and its folder (the journal)."""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def _connect(path: Path, read_only: bool = False) -> Connection:
    if read_only:
        # A WAL database read from a folder we cannot write has no -shm to make:
        # `immutable` reads the file as it is (nobody can be writing it either).
        uri = f"file:{quote(str(path))}?mode=ro"
        db = _open(uri, path)
        try:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except StoreReadOnly:
            db.close()
            db = _open(uri + "&immutable=1", path)
        return db
    return _open(str(path), path)


def _open(target: str, path: Path) -> Connection:
    db = sqlite3.connect(
        target,
        isolation_level=None,
        timeout=10.0,
        factory=Connection,
        uri=target.startswith("file:"),
    )
    db.store_path = path
    db.row_factory = sqlite3.Row
    return db


def _create(path: Path) -> None:
    """A new database with the whole schema, made under a temporary name and linked into
    place: another process opening `path` meanwhile sees nothing or all of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.new-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        db = _open(str(temp), path)
        try:
            db.execute("BEGIN IMMEDIATE")
            tx = _Tx(db)
            for number, script in enumerate(MIGRATIONS, 1):
                tx.executescript_in_tx(script)
                db.execute(f"PRAGMA user_version = {number}")
            db.execute("COMMIT")
        finally:
            db.close()
        try:
            os.link(temp, path)  # fails if another process made it first: theirs is used
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links
            if not path.exists():
                os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


class Store:
    """One writer per database: the process that opens it. Writes use BEGIN IMMEDIATE.

    `create=False` is for commands that only read: a missing database is `StoreMissing`,
    and nothing is created."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if not self.path.exists():
            if not create:
                raise StoreMissing(
                    f"nothing is stored yet: {self.path} does not exist",
                    "profile a model first: edgebench profile demo:digits-cnn",
                )
            _create(self.path)
        elif self.path.is_file() and self.path.stat().st_size == 0:
            raise StoreCorrupt(
                f"{self.path} is empty (0 bytes): it was truncated, or it is not a "
                "database EdgeBench made; it was left as it is",
                "move it away (a new store is made in its place), or restore a backup",
            )
        self.writable = writable(self.path)
        self._db = _connect(self.path, read_only=not self.writable)
        try:
            self._refuse_newer()  # before WAL: a newer app's database is left untouched
            self._check_health()
            if self.writable:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA foreign_keys=ON")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self.migrate()
            elif self.schema_version < LATEST:
                raise StoreReadOnly(
                    f"{self.path} has schema version {self.schema_version} and cannot be "
                    f"upgraded to {LATEST}: it is read-only",
                    "make it writable once, or point --db / EDGEBENCH_DB at a copy",
                )
        except BaseException:
            self._db.close()
            raise
        if self.writable:
            from engines.store.pending import import_pending

            self.imported_pending = import_pending(self)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self, target: int = LATEST) -> None:
        """Forward migrations; the version is read again under the write lock, so two
        processes opening an old store never both apply the same migration."""
        self._refuse_newer()
        if self.schema_version >= target:
            return
        with self.transaction() as db:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            for number in range(version + 1, target + 1):
                db.executescript_in_tx(MIGRATIONS[number - 1])
                db.execute(f"PRAGMA user_version = {number}")

    def _refuse_newer(self) -> None:
        version = self.schema_version
        if version > LATEST:
            raise NewerSchema(
                f"{self.path} has schema version {version}; this EdgeBench knows up to {LATEST}",
                "upgrade EdgeBench, or point --db / EDGEBENCH_DB at another database",
            )

    def _check_health(self) -> None:
        """`PRAGMA quick_check`: a damaged database is refused before anything writes."""
        problems = [str(row[0]) for row in self._db.execute("PRAGMA quick_check").fetchall()]
        if problems != ["ok"]:
            raise StoreCorrupt(
                f"{self.path} is damaged (quick_check: {'; '.join(problems[:3])}); nothing "
                "was written to it",
                f"see what can be saved: {RECOVERY}",
            )

    def check(self) -> list[str]:
        """`PRAGMA integrity_check`'s findings (["ok"] for a healthy database)."""
        return [str(row[0]) for row in self._db.execute("PRAGMA integrity_check").fetchall()]

    @contextmanager
    def transaction(self) -> Iterator[_Tx]:
        if not self.writable:
            raise StoreReadOnly(
                f"{self.path} cannot be written: the file or its folder is read-only",
                "make it writable, or point --db / EDGEBENCH_DB at a writable file",
            )
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield _Tx(self._db)
        except BaseException:
            if self._db.in_transaction:  # SQLite may have rolled back itself (disk full)
                self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # artifacts ---------------------------------------------------------------------------

    def add_artifact(
        self,
        *,
        sha256: str,
        name: str,
        format: str,
        path: str,
        size_bytes: int,
        source: str,
        parent_id: int | None = None,
        step: str | None = None,
        step_settings: dict[str, Any] | None = None,
        inspection: dict[str, Any] | None = None,
        file_sha256: str | None = None,
        data_files: Iterable[dict[str, Any]] = (),
    ) -> ArtifactRow:
        """Insert, or return the existing row for the same content (sha256)."""
        existing = self.artifact_by_sha(sha256)
        if existing:
            if inspection and not existing.inspection:
                with self.transaction() as db:
                    db.execute(
                        "UPDATE artifacts SET inspection_json=? WHERE id=?",
                        (json.dumps(inspection), existing.id),
                    )
                return self.artifact(existing.id)
            return existing
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO artifacts (sha256, name, format, path, size_bytes, source, parent_id,"
                " step, step_settings_json, inspection_json, file_sha256, files_json)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    sha256,
                    name,
                    format,
                    path,
                    size_bytes,
                    source,
                    parent_id,
                    step,
                    json.dumps(step_settings) if step_settings is not None else None,
                    json.dumps(inspection) if inspection is not None else None,
                    file_sha256 or sha256,
                    json.dumps(list(data_files)),
                ),
            )
            new_id = int(cur.lastrowid or 0)
        return self.artifact(new_id)

    def _artifact_row(self, row: sqlite3.Row | None) -> ArtifactRow | None:
        if row is None:
            return None
        return ArtifactRow(
            id=row["id"],
            sha256=row["sha256"],
            name=row["name"],
            format=row["format"],
            path=row["path"],
            size_bytes=row["size_bytes"],
            source=row["source"],
            parent_id=row["parent_id"],
            step=row["step"],
            step_settings=_loads(row["step_settings_json"]),
            inspection=_loads(row["inspection_json"]),
            created_at=row["created_at"],
            file_sha256=row["file_sha256"] or row["sha256"],
            data_files=tuple(_loads(row["files_json"]) or ()),
        )

    def artifact(self, artifact_id: int) -> ArtifactRow:
        row = self._db.execute("SELECT * FROM artifacts WHERE id=?", (artifact_id,)).fetchone()
        found = self._artifact_row(row)
        if found is None:
            raise BadInput(f"no artifact with id {artifact_id}")
        return found

    def artifact_or_none(self, artifact_id: int) -> ArtifactRow | None:
        row = self._db.execute("SELECT * FROM artifacts WHERE id=?", (artifact_id,)).fetchone()
        return self._artifact_row(row)

    def artifact_by_sha(self, sha256: str) -> ArtifactRow | None:
        row = self._db.execute("SELECT * FROM artifacts WHERE sha256=?", (sha256,)).fetchone()
        return self._artifact_row(row)

    def artifacts_by_file_sha(self, file_sha256: str) -> list[ArtifactRow]:
        """Artifacts whose model file has this hash (their external data may differ)."""
        rows = self._db.execute(
            "SELECT * FROM artifacts WHERE file_sha256=? ORDER BY id", (file_sha256,)
        ).fetchall()
        return [a for a in map(self._artifact_row, rows) if a]

    def artifacts(self, limit: int = 500) -> list[ArtifactRow]:
        rows = self._db.execute("SELECT * FROM artifacts ORDER BY id LIMIT ?", (limit,)).fetchall()
        return [a for a in map(self._artifact_row, rows) if a]

    def children(self, artifact_id: int) -> list[ArtifactRow]:
        rows = self._db.execute(
            "SELECT * FROM artifacts WHERE parent_id=? ORDER BY id", (artifact_id,)
        ).fetchall()
        return [a for a in map(self._artifact_row, rows) if a]

    def child_by_step(self, artifact_id: int, step: str) -> ArtifactRow | None:
        row = self._db.execute(
            "SELECT * FROM artifacts WHERE parent_id=? AND step=? ORDER BY id DESC LIMIT 1",
            (artifact_id, step),
        ).fetchone()
        return self._artifact_row(row)

    # runs --------------------------------------------------------------------------------

    def add_run(
        self,
        *,
        artifact_id: int | None,
        model_label: str,
        runtime: str,
        device: str,
        spec: dict[str, Any],
        result: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
        samples_ms: Iterable[float] = (),
        memory_trace: Iterable[tuple[float, int]] = (),
        status: str | None = None,
    ) -> int:
        """Store a finished run and its raw samples in one transaction."""
        status = status or ("ok" if result else "failed")
        result = result or {}
        with self.transaction() as db:
            # Never an id that was ever used, even by a run deleted since (migration 4).
            high = db.execute("SELECT last_id FROM id_high_water WHERE name = 'runs'").fetchone()
            largest = db.execute("SELECT COALESCE(MAX(id), 0) FROM runs").fetchone()
            new_id = max(int(high[0]) if high else 0, int(largest[0])) + 1
            db.execute(
                "INSERT OR REPLACE INTO id_high_water (name, last_id) VALUES ('runs', ?)",
                (new_id,),
            )
            cur = db.execute(
                "INSERT INTO runs (id, artifact_id, model_label, runtime, device, status,"
                " spec_json, environment_json, statistics_json, memory_json, result_json,"
                " error_json) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    new_id,
                    artifact_id,
                    model_label,
                    runtime,
                    device,
                    status,
                    json.dumps(spec),
                    json.dumps(result.get("environment")) if result else None,
                    json.dumps(result.get("statistics")) if result else None,
                    json.dumps(result.get("memory")) if result else None,
                    json.dumps(
                        {
                            k: v
                            for k, v in result.items()
                            if k not in ("environment", "statistics", "memory")
                        }
                    )
                    if result
                    else None,
                    json.dumps(error) if error else None,
                ),
            )
            run_id = int(cur.lastrowid or 0)
            db.executemany(
                "INSERT INTO samples (run_id, idx, latency_ms) VALUES (?,?,?)",
                ((run_id, i, float(v)) for i, v in enumerate(samples_ms)),
            )
            db.executemany(
                "INSERT INTO memory_samples (run_id, t_s, rss_bytes) VALUES (?,?,?)",
                ((run_id, float(t), int(b)) for t, b in memory_trace),
            )
        return run_id

    def _run_row(self, row: sqlite3.Row) -> RunRow:
        return RunRow(
            id=row["id"],
            artifact_id=row["artifact_id"],
            model_label=row["model_label"],
            runtime=row["runtime"],
            device=row["device"],
            status=row["status"],
            spec=json.loads(row["spec_json"]),
            environment=_loads(row["environment_json"]),
            statistics=_loads(row["statistics_json"]),
            memory=_loads(row["memory_json"]),
            result=_loads(row["result_json"]),
            error=_loads(row["error_json"]),
            created_at=row["created_at"],
        )

    def run(self, run_id: int) -> RunRow:
        row = self._db.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is None:
            raise BadInput(f"no run with id {run_id}", "list runs with: edgebench runs list")
        return self._run_row(row)

    def runs(
        self, limit: int = 100, model: str | None = None, runtime: str | None = None
    ) -> list[RunRow]:
        query = "SELECT * FROM runs WHERE 1=1"
        args: list[Any] = []
        if model:
            query += " AND model_label LIKE ?"
            args.append(f"%{model}%")
        if runtime:
            query += " AND runtime = ?"
            args.append(runtime)
        query += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        return [self._run_row(r) for r in self._db.execute(query, args).fetchall()]

    def samples(self, run_id: int) -> list[float]:
        rows = self._db.execute(
            "SELECT latency_ms FROM samples WHERE run_id=? ORDER BY idx", (run_id,)
        ).fetchall()
        return [r[0] for r in rows]

    def memory_trace(self, run_id: int) -> list[tuple[float, int]]:
        rows = self._db.execute(
            "SELECT t_s, rss_bytes FROM memory_samples WHERE run_id=? ORDER BY t_s", (run_id,)
        ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def delete_run(self, run_id: int) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM runs WHERE id=?", (run_id,))

    def integrity_ok(self) -> bool:
        return bool(self._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok")


class _Tx:
    """The connection inside BEGIN IMMEDIATE; executescript would commit, so split it."""

    def __init__(self, db: Connection) -> None:
        self._db = db

    def execute(self, sql: str, args: Iterable[Any] = ()) -> sqlite3.Cursor:
        return self._db.execute(sql, tuple(args))

    def executemany(self, sql: str, rows: Iterable[tuple[Any, ...]]) -> sqlite3.Cursor:
        return self._db.executemany(sql, rows)

    def executescript_in_tx(self, script: str) -> None:
        for statement in script.split(";"):
            if statement.strip():
                self._db.execute(statement)
