"""Device profiles (validation, saving), the remote quoting function, the agent bundle and
the ssh command line: the parts of devices that need no device."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engines.devices.bundle import build_bundle
from engines.devices.profile import DeviceProfile, SshConnection
from engines.devices.remote import shell_command
from engines.devices.ssh import ssh_argv
from engines.floor.errors import BadInput
from profiles.devices import all_devices, get_device, parse_profile, save_device, user_dir


def _ssh(**connection) -> dict:
    return {"name": "pi5", "kind": "ssh", "connection": {"host": "pi.local", **connection}}


def test_builtins_load_and_local_cuda_asks_for_cuda():
    devices = all_devices()
    assert devices["local-cpu"].builtin and devices["local-cpu"].kind == "local"
    assert devices["local-cuda"].connection.accelerator == "cuda"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({**_ssh(), "kind": "serial"}, "kind must be one of local, ssh, adb"),
        ({**_ssh(), "colour": "red"}, "unknown field 'colour'"),
        (_ssh(port=70000), "connection.port must be a whole number"),
        (_ssh(port="22"), "connection.port must be a whole number"),
        (_ssh(pasword="x"), "connection.pasword is not a setting of ssh devices"),
        (_ssh(host="-oProxyCommand=x"), "is not a host name"),
        (_ssh(host="pi local"), "is not a host name"),
        (_ssh(user="pi; rm -rf /"), "is not a user name"),
        (_ssh(ssh_options=["StrictHostKeyChecking"]), "list of 'Key=Value'"),
        ({**_ssh(), "runtimes": ["tensorrt"]}, "unknown runtime 'tensorrt'"),
        ({**_ssh(), "threads": 0}, "threads must be a whole number >= 1"),
        ({**_ssh(), "name": "../evil"}, "name '../evil' must be"),
        ({"name": "p", "kind": "adb", "connection": {"mode": "telnet"}}, "connection.mode"),
        (_ssh(keepalive_count=0), "connection.keepalive_count must be a whole number (1-100)"),
        (_ssh(ssh_options=["ProxyCommand=nc %h %p"]), "runs a command on this machine"),
        (_ssh(ssh_options=["LocalCommand=touch x"]), "runs a command on this machine"),
        (_ssh(ssh_options=["Match=exec true"]), "runs a command on this machine"),
        (_ssh(ssh_options=["PermitLocalCommand=yes"]), "allow_local_command = true"),
        ({"name": "p", "kind": "ssh", "connection": {}}, "connection.host is required"),
    ],
)
def test_bad_profiles_name_the_field(data, message):
    with pytest.raises(BadInput, match=re.escape(message)):
        parse_profile(data, "pi5.toml")


def test_local_commands_run_only_on_a_device_that_allows_them():
    allowed = parse_profile(
        _ssh(ssh_options=["ProxyCommand=nc %h %p"], allow_local_command=True), "pi5.toml"
    )
    assert allowed.connection.ssh_options == ("ProxyCommand=nc %h %p",)
    assert parse_profile(_ssh(ssh_options=["ProxyJump=bastion"]), "pi5.toml")  # no command


def test_the_connection_rules_hold_wherever_a_connection_is_made():
    """The rules live on the engine's connection classes (pydantic dataclasses), so a
    profile built in code is checked as a file is."""
    import dataclasses

    import pydantic

    from engines.devices.profile import AdbConnection, SshConnection

    good = SshConnection(host="pi5.local", ssh_options=["ProxyJump=bastion"])  # type: ignore[arg-type]
    assert good.ssh_options == ("ProxyJump=bastion",)
    for bad in ({"port": 70000}, {"host": "-oProxyCommand=x"}, {"user": "a b"}, {"port": "22"}):
        with pytest.raises(pydantic.ValidationError):
            dataclasses.replace(good, **bad)
    with pytest.raises(pydantic.ValidationError):
        AdbConnection(mode="telnet")  # type: ignore[arg-type]


def test_save_round_trips_and_refuses_clashes(edgebench_home):
    profile = parse_profile(
        {
            **_ssh(user="pi", port=2222, ssh_options=["ProxyJump=bastion"]),
            "notes": 'bench "A"\nshelf 2',
            "runtimes": ["onnxruntime"],
            "threads": 4,
        },
        "x",
    )
    path = save_device(profile)
    assert path.parent == user_dir() and not list(path.parent.glob(".*tmp*"))
    loaded = get_device("pi5")
    assert (loaded.connection, loaded.notes, loaded.runtimes, loaded.threads) == (
        profile.connection,
        profile.notes,
        profile.runtimes,
        profile.threads,
    )
    with pytest.raises(BadInput, match="exists already"):
        save_device(profile)
    save_device(profile, replace=True)
    builtin_named = DeviceProfile("local-cpu", "ssh", SshConnection(host="h"))
    with pytest.raises(BadInput, match="built-in"):
        save_device(builtin_named)


def test_a_malformed_user_file_names_itself(edgebench_home):
    user_dir().mkdir(parents=True, exist_ok=True)
    broken = user_dir() / "broken.toml"
    broken.write_text('name = "x"\nkind = ssh\n')
    from profiles.devices import broken_devices

    assert "local-cpu" in all_devices()  # the others still work
    (problem,) = broken_devices().values()
    assert re.search(r"broken\.toml: not valid TOML", problem.message)


WORDS = st.text(min_size=1).filter(lambda t: "\x00" not in t and not t.startswith("~"))


@given(st.lists(WORDS, min_size=1, max_size=5))
def test_shell_command_keeps_every_word(words):
    """Whatever the words (quotes, $(...), newlines, globs), a real shell sees them as-is
    (a leading ~/ is the one thing the device's shell expands: tested below)."""
    line = shell_command(["printf", "%s\\0", *words])
    out = subprocess.run(["sh", "-c", line], capture_output=True, check=True).stdout
    assert out.decode("utf-8", "surrogateescape").split("\0")[:-1] == words


def test_home_prefixed_paths_expand_on_the_device_only(tmp_path):
    line = shell_command(["printf", "%s", "~/edge bench/$(id)"])
    out = subprocess.run(
        ["sh", "-c", line], capture_output=True, env={"HOME": "/home/pi"}, check=True
    )
    assert out.stdout.decode() == "/home/pi/edge bench/$(id)"


def test_the_bundle_is_deterministic_and_runs_the_probe(tmp_path):
    import json
    import sys

    first = build_bundle(tmp_path / "a")
    second = build_bundle(tmp_path / "b")
    assert first.sha256 == second.sha256 and first.path.name == second.path.name
    names = zipfile.ZipFile(first.path).namelist()
    assert "__main__.py" in names and "engines/bench/agent.py" in names
    probe = subprocess.run(
        [sys.executable, "-I", str(first.path), "probe"], capture_output=True, check=True
    )
    facts = json.loads(probe.stdout)
    assert facts["python"] == ".".join(map(str, sys.version_info[:3]))
    assert facts["modules"]["numpy"]


def test_ssh_always_checks_host_keys_and_never_asks_for_passwords():
    argv = ssh_argv(SshConnection(host="pi.local", ssh_options=("ProxyJump=bastion",)))
    options = [argv[i + 1] for i, word in enumerate(argv) if word == "-o"]
    assert "StrictHostKeyChecking=yes" in options and "BatchMode=yes" in options
    assert not [o for o in options if o.lower().startswith("stricthostkeychecking=no")]
    assert argv[-2:] == ["--", "pi.local"] and "ProxyJump=bastion" in options
    assert any(o.startswith("ServerAliveInterval=") for o in options)
    known = next(o for o in options if o.startswith("UserKnownHostsFile="))
    assert "~/.ssh/known_hosts" in known and str(Path("known_hosts")) in known


def test_a_profiles_threads_are_the_devices_default():
    from engines.devices.profile import LocalConnection, open_device

    local = open_device(DeviceProfile("bench", "local", LocalConnection(), threads=3))
    assert local.default_threads() == 3
    from engines.bench.environment import host_threads

    assert open_device(all_devices()["local-cpu"]).default_threads() == host_threads()


def test_editing_a_profile_keeps_the_users_comments(edgebench_home):
    """A profile edited from the Devices page or `devices add --replace` keeps what the
    user wrote around the values: comments, order, layout."""
    user_dir().mkdir(parents=True, exist_ok=True)
    path = user_dir() / "pi5.toml"
    path.write_text(
        "# the Pi on the shelf\n"
        'name = "pi5"  # short, for --device\n'
        'kind = "ssh"\n'
        "threads = 2  # tuned by hand\n"
        "\n[connection]\n# through the bastion\n"
        'host = "pi.local"\n'
        "port = 22\n",
        encoding="utf-8",
    )
    edited = dataclasses.replace(get_device("pi5"), threads=4)
    save_device(edited, replace=True)
    text = path.read_text(encoding="utf-8")
    for comment in ("# the Pi on the shelf", "# short, for --device", "# through the bastion"):
        assert comment in text
    assert "threads = 4  # tuned by hand" in text
    assert get_device("pi5").threads == 4


def test_one_broken_device_file_turns_off_that_device_only(edgebench_home):
    from engines.floor import paths
    from profiles.devices import all_devices, broken_devices, get_device, user_dir

    paths.config_dir(create=True)
    user_dir().mkdir(parents=True, exist_ok=True)
    (user_dir() / "pi5.toml").write_text('name = "pi5"\nkind = "ssh"\n[connection]\nhost = "x"\n')
    (user_dir() / "broken.toml").write_text('name = "broken"\nkind = "ssh"\n[connection\n')
    assert {"local-cpu", "local-cuda", "pi5"} <= set(all_devices())
    assert [p.name for p in broken_devices()] == ["broken.toml"]
    assert get_device("local-cpu").name == "local-cpu"  # local runs are not stopped
    with pytest.raises(BadInput, match="'broken' is off until its file is fixed"):
        get_device("broken")
