"""Commands for a device's shell, built in one place: every argument is quoted.

Remote file names are ours (hash-based); user strings reach a device only as quoted
arguments, never as shell text.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence


def quote(word: str) -> str:
    """shlex.quote, except that a leading `~/` is left for the device's shell to expand."""
    if word == "~":
        return '"$HOME"'
    if word.startswith("~/"):
        rest = word[2:]
        return '"$HOME"/' + shlex.quote(rest) if rest else '"$HOME"/'
    return shlex.quote(word)


def shell_command(*commands: Sequence[str]) -> str:
    """One shell line: each command's words quoted, commands joined with `&&`."""
    if not commands or any(not command for command in commands):
        raise ValueError("a remote command needs at least one word")
    return " && ".join(" ".join(quote(word) for word in command) for command in commands)
