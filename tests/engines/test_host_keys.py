"""Trusting a device's host key: re-trust replaces what was stored for that host, the file
and its folder are private, and the ssh socket folder must be our own."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from engines.devices.host_keys import HostKey, accept, known_hosts_file
from engines.floor.errors import BadInput


def _key(host: str, blob: str) -> HostKey:
    return HostKey(f"{host} ssh-ed25519 {blob}", "ED25519", f"SHA256:{blob[:8]}")


def test_trusting_a_host_again_replaces_its_old_key(edgebench_home: Path) -> None:
    accept([_key("[127.0.0.1]:2222", "OLDKEYAAAA"), _key("pi5.local", "PIKEYAAAAA")])
    accept([_key("[127.0.0.1]:2222", "NEWKEYAAAA")])
    lines = known_hosts_file().read_text().splitlines()
    assert "[127.0.0.1]:2222 ssh-ed25519 NEWKEYAAAA" in lines
    assert not any("OLDKEYAAAA" in line for line in lines)  # the replaced key is gone
    assert "pi5.local ssh-ed25519 PIKEYAAAAA" in lines  # other hosts are kept
    assert stat.S_IMODE(known_hosts_file().stat().st_mode) == 0o600
    assert stat.S_IMODE(known_hosts_file().parent.stat().st_mode) == 0o700


def test_a_socket_folder_that_is_not_ours_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engines.devices import ssh

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    folder = tmp_path / f"edgebench-ssh-{os.getuid()}"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)  # as another user's (or a careless umask's) shared folder
    with pytest.raises(BadInput, match="not a private folder"):
        ssh.control_dir()
    folder.chmod(0o700)
    assert ssh.control_dir() == folder
