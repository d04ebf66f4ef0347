"""Where EdgeBench keeps its files: the user data dir, overridable for tests and CI."""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "EDGEBENCH_HOME"
DB_ENV = "EDGEBENCH_DB"


def data_dir() -> Path:
    """The root of everything we store: `$EDGEBENCH_HOME` or the platform's user data dir."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        path = Path(override).expanduser()
    else:
        import platformdirs

        path = Path(platformdirs.user_data_dir("edgebench", appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    """User presets and device profiles live here (`$EDGEBENCH_HOME/config` when set)."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        path = Path(override).expanduser() / "config"
    else:
        import platformdirs

        path = Path(platformdirs.user_config_dir("edgebench", appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def db_path() -> Path:
    """The results database: `$EDGEBENCH_DB`, else `results.sqlite` in the data dir."""
    override = os.environ.get(DB_ENV)
    return Path(override).expanduser() if override else data_dir() / "results.sqlite"


def artifacts_dir() -> Path:
    path = data_dir() / "artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir() -> Path:
    """Rebuildable things: the trained demo model, zoo exports."""
    path = data_dir() / "cache"
    path.mkdir(parents=True, exist_ok=True)
    return path
