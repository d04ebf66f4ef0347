"""Writing a file for the user atomically: a temp file beside it, fsync, rename.

A cancelled or failed write leaves the old file (or none) and no partial one.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def write_atomically(dst: Path, write: Callable[[Path], object]) -> None:
    """`write(tmp)` a temp file next to `dst`, fsync it, rename it to `dst`.

    The temp name keeps dst's suffix (some writers pick the format from it). On any
    failure, the temp file is removed and `dst` is untouched.
    """
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.stem}.{os.getpid()}.tmp{dst.suffix}")
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable; not every platform lets us open a folder
        fd = os.open(dst.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
