"""Forward-only schema migrations, numbered by `PRAGMA user_version`."""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: artifacts with lineage, runs, raw latency samples
    """
    CREATE TABLE artifacts (
        id INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        format TEXT NOT NULL,
        path TEXT NOT NULL,
        size_bytes INTEGER NOT NULL,
        source TEXT NOT NULL,
        parent_id INTEGER REFERENCES artifacts(id) ON DELETE SET NULL,
        step TEXT,
        step_settings_json TEXT,
        inspection_json TEXT,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        artifact_id INTEGER REFERENCES artifacts(id) ON DELETE SET NULL,
        model_label TEXT NOT NULL,
        runtime TEXT NOT NULL,
        device TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('ok', 'failed', 'cancelled')),
        spec_json TEXT NOT NULL,
        environment_json TEXT,
        statistics_json TEXT,
        memory_json TEXT,
        result_json TEXT,
        error_json TEXT,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE TABLE samples (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        latency_ms REAL NOT NULL,
        PRIMARY KEY (run_id, idx)
    ) WITHOUT ROWID;
    """,
    # 2: the memory trace behind peak_rss, and the indexes the History page filters on
    """
    CREATE TABLE memory_samples (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        t_s REAL NOT NULL,
        rss_bytes INTEGER NOT NULL
    );
    CREATE INDEX memory_samples_run ON memory_samples(run_id);
    CREATE INDEX runs_created ON runs(created_at);
    CREATE INDEX runs_artifact ON runs(artifact_id);
    CREATE INDEX artifacts_parent ON artifacts(parent_id);
    """,
    # 3: an artifact is its model file plus its external-data files. `sha256` becomes the
    # identity of that whole set; `file_sha256` is the model file's own hash (what the
    # agent checks) and `files_json` lists every file with its hash, for verify().
    """
    ALTER TABLE artifacts ADD COLUMN file_sha256 TEXT;
    ALTER TABLE artifacts ADD COLUMN files_json TEXT;
    UPDATE artifacts SET file_sha256 = sha256 WHERE file_sha256 IS NULL;
    CREATE INDEX artifacts_file_sha ON artifacts(file_sha256);
    """,
    # 4: run ids are never given out twice. SQLite reuses the highest rowid after it is
    # deleted, so an old report's "run 7" could name a new measurement; the high-water
    # mark of every id ever handed out is kept here instead (no table rebuild: samples
    # cascade from runs).
    """
    CREATE TABLE id_high_water (name TEXT PRIMARY KEY, last_id INTEGER NOT NULL);
    INSERT INTO id_high_water (name, last_id) SELECT 'runs', COALESCE(MAX(id), 0) FROM runs;
    """,
]

LATEST = len(MIGRATIONS)
