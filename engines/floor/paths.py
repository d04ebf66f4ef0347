"""Where EdgeBench keeps its files: the user data dir, overridable for tests and CI."""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "EDGEBENCH_HOME"
DB_ENV = "EDGEBENCH_DB"


def data_dir(create: bool = True) -> Path:
    """The root of everything we store: `$EDGEBENCH_HOME` or the platform's user data dir
    (made when missing, unless `create` is False: a command that only reads makes nothing)."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        path = Path(override).expanduser()
    else:
        import platformdirs

        path = Path(platformdirs.user_data_dir("edgebench", appauthor=False))
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir(create: bool = False) -> Path:
    """User presets, device profiles and known host keys live here
    (`$EDGEBENCH_HOME/config` when set). Reading makes nothing; `create` makes it private
    to the user (0700: it holds the device keys we trust)."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        path = Path(override).expanduser() / "config"
    else:
        import platformdirs

        path = Path(platformdirs.user_config_dir("edgebench", appauthor=False))
    if create:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.chmod(0o700)
    return path


def db_path() -> Path:
    """The results database: `$EDGEBENCH_DB`, else `results.sqlite` in the data dir."""
    override = os.environ.get(DB_ENV)
    return Path(override).expanduser() if override else data_dir(create=False) / "results.sqlite"


def artifacts_dir() -> Path:
    path = data_dir() / "artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir() -> Path:
    """Rebuildable things: the trained demo model, zoo exports."""
    path = data_dir() / "cache"
    path.mkdir(parents=True, exist_ok=True)
    return path
