"""Devices from the shell: `edgebench devices list|add|remove|trust|test|info|find`.

`--device NAME` on profile, evaluate and sweep opens devices through `open_device`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

from app.formatting import table
from engines.floor.errors import EXIT_OK, EXIT_RUN_FAILED, BadInput

StoreFn = Callable[[argparse.Namespace], Any]


@contextmanager
def opened(name: str | None):  # type: ignore[no-untyped-def]
    """The named device (default local-cpu), its shared connection closed afterwards."""
    from engines.devices.profile import open_device
    from profiles.devices import get_device

    device = open_device(get_device(name or "local-cpu"))
    try:
        yield device
    finally:
        device.close()


def device_names(text: str | None) -> list[str]:
    """`--device a,b`: names in order, checked to exist (BadInput names the unknown one)."""
    from profiles.devices import get_device

    names = [n.strip() for n in (text or "local-cpu").split(",") if n.strip()]
    for name in names:
        get_device(name)
    return names


# ---------------------------------------------------------------------------- commands


def cmd_list(args: argparse.Namespace) -> int:
    from profiles.devices import all_devices, broken_devices

    devices = all_devices()
    for path, problem in broken_devices().items():
        print(
            f"warning: {problem.message} (device {path.stem!r} is off until the file is "
            "fixed; the others work)",
            file=sys.stderr,
        )
    if args.json:
        print(json.dumps({n: d.to_dict() | {"builtin": d.builtin} for n, d in devices.items()}))
        return EXIT_OK
    rows = [
        [
            d.name,
            d.kind,
            d.describe(),
            ",".join(d.runtimes) or "any",
            "built-in" if d.builtin else d.source,
        ]
        for d in devices.values()
    ]
    print(table(["device", "kind", "where", "runtimes", "profile"], rows))
    return EXIT_OK


def _connection_settings(args: argparse.Namespace, kind: str) -> dict[str, Any]:
    pairs: dict[str, Any] = {}
    if kind == "ssh":
        if not args.host:
            raise BadInput(
                "an SSH device needs --host (a host name, address or ~/.ssh/config alias)"
            )
        pairs = {
            "host": args.host,
            "user": args.user,
            "port": args.port,
            "identity_file": args.identity_file,
            "python": args.python,
            "cache_dir": args.cache_dir,
            "ssh_options": args.ssh_option or None,
            "allow_local_command": True if args.allow_local_command else None,
        }
    elif kind == "adb":
        pairs = {
            "serial": args.serial,
            "adb": args.adb,
            "mode": args.mode,
            "python": args.python,
            "benchmark_model": args.benchmark_model,
            "work_dir": args.work_dir,
        }
    return {k: v for k, v in pairs.items() if v not in (None, "")}


def cmd_add(args: argparse.Namespace) -> int:
    from profiles.devices import parse_profile, save_device

    kind = args.kind or ("adb" if args.serial or args.mode else "ssh")
    data: dict[str, Any] = {
        "name": args.name,
        "kind": kind,
        "connection": _connection_settings(args, kind),
    }
    if args.runtimes:
        data["runtimes"] = [r.strip() for r in args.runtimes.split(",") if r.strip()]
    if args.threads:
        data["threads"] = args.threads
    if args.notes:
        data["notes"] = args.notes
    profile = parse_profile(data, f"device {args.name!r}")
    path = save_device(profile, replace=args.replace)
    print(f"saved {profile.name} ({profile.describe()}) to {path}")
    if kind == "ssh":
        print(f"next: edgebench devices test {profile.name}")
    return EXIT_OK


def cmd_remove(args: argparse.Namespace) -> int:
    from profiles.devices import remove_device

    path = remove_device(args.name)
    print(f"removed {args.name} ({path}); its stored runs are kept")
    return EXIT_OK


def _ask(question: str) -> bool:
    if not sys.stdin.isatty():
        return False
    try:
        return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:
        return False


def trust(name: str, fingerprint: str | None, interactive: bool = True) -> bool:
    """Show the device's host keys; store them on a matching --fingerprint or a yes."""
    from engines.devices.host_keys import accept, scan
    from profiles.devices import get_device

    profile = get_device(name)
    if profile.kind != "ssh":
        raise BadInput(f"device {name!r} is a {profile.kind} device: it has no host key")
    keys = scan(profile.connection)  # type: ignore[arg-type]
    print(f"{name} ({profile.describe()}) offers these host keys:")
    for key in keys:
        print(f"  {key.key_type:8} {key.fingerprint}")
    if fingerprint:
        path = accept(keys, fingerprint)
        print(f"the fingerprint matches; stored in {path}")
        return True
    print("compare them with the device's own: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub")
    if interactive and _ask("Trust this device?"):
        path = accept(keys)
        print(f"stored in {path}")
        return True
    print(
        f"not trusted; without a terminal pass --fingerprint: edgebench devices trust {name} "
        f"--fingerprint {keys[0].fingerprint if keys else 'SHA256:...'}"
    )
    return False


def cmd_trust(args: argparse.Namespace) -> int:
    return EXIT_OK if trust(args.name, args.fingerprint) else EXIT_RUN_FAILED


def _with_trust(name: str, call: Callable[[], Any]) -> Any:
    """Run `call`; on an unknown host key offer to trust it (terminals only), then retry."""
    from engines.devices.host_keys import UnknownHostKey

    try:
        return call()
    except UnknownHostKey as exc:
        if not sys.stdin.isatty():
            raise
        print(exc.message, file=sys.stderr)
        if not trust(name, None):
            raise
        return call()


def cmd_test(args: argparse.Namespace) -> int:
    from engines.devices.setup import ready

    with opened(args.name) as device:
        checks = _with_trust(args.name, device.setup_check)
    if args.json:
        print(
            json.dumps(
                {
                    "device": args.name,
                    "ready": ready(checks),
                    "checks": [c.to_dict() for c in checks],
                },
                indent=2,
            )
        )
        return EXIT_OK if ready(checks) else EXIT_RUN_FAILED
    rows = [
        ["ok" if c.ok else ("MISSING" if c.required else "missing"), c.what, c.detail, c.fix]
        for c in checks
    ]
    print(table(["", "check", "found", "to fix"], rows))
    if ready(checks):
        print(
            f"{args.name} is ready: edgebench profile MODEL --runtime RUNTIME --device {args.name}"
        )
        return EXIT_OK
    print(f"{args.name} is not ready: run the commands under 'to fix' on the device")
    return EXIT_RUN_FAILED


def cmd_info(args: argparse.Namespace) -> int:
    with opened(args.name) as device:
        info = _with_trust(args.name, device.info)
    if args.json:
        print(json.dumps(info, indent=2, default=str))
    else:
        from app.device_facts import info_rows

        print(table(["fact", "value"], [list(row) for row in info_rows(info)]))
    return EXIT_OK


def cmd_find(args: argparse.Namespace) -> int:
    from engines.devices.adb import list_devices

    found = list_devices(args.adb)
    if args.json:
        print(json.dumps([d.to_dict() for d in found], indent=2))
        return EXIT_OK
    if not found:
        print("no Android devices: connect one over USB and allow debugging (adb devices)")
        return EXIT_OK
    print(
        table(
            ["serial", "state", "transport", "model"],
            [[d.serial, d.state, d.transport, d.model] for d in found],
        )
    )
    from engines.devices.android import tcpip_warning

    for device in found:
        if device.unencrypted_tcp:
            print(f"warning: {tcpip_warning(device.serial)}")
    return EXIT_OK


# ---------------------------------------------------------------------------- parser


def add_device_flag(p: argparse.ArgumentParser, many: bool = False) -> None:
    p.add_argument(
        "--device",
        help="device profile to run on (default local-cpu; see: edgebench devices list)"
        + ("; comma-separated for several" if many else ""),
    )


def add_commands(sub: Any) -> None:
    devices = sub.add_parser("devices", help="device profiles: list, add, test, info, trust")
    dsub = devices.add_subparsers(dest="devices_command", required=True)

    p = dsub.add_parser("list", help="every device profile")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = dsub.add_parser("add", help="add an SSH (--host) or Android (--kind adb) device")
    p.add_argument("name", help="a short name: letters, digits, '.', '_' or '-'")
    p.add_argument("--kind", choices=["ssh", "adb"], help="default: ssh, or adb with --serial")
    p.add_argument("--host", help="SSH: host name, address or ~/.ssh/config alias")
    p.add_argument("--user", help="SSH: login (default: from ~/.ssh/config or yours)")
    p.add_argument("--port", type=int, help="SSH: port (default: from ~/.ssh/config or 22)")
    p.add_argument("--identity-file", help="SSH: private key (default: your agent and keys)")
    p.add_argument("--python", help="Python on the device (ssh default python3)")
    p.add_argument("--cache-dir", help="SSH: folder on the device (default ~/.cache/edgebench)")
    p.add_argument(
        "--ssh-option",
        action="append",
        metavar="KEY=VALUE",
        help="SSH: extra ssh -o option, e.g. ProxyJump=bastion (repeatable)",
    )
    p.add_argument(
        "--allow-local-command",
        action="store_true",
        help="SSH: allow ssh options that run a command on this machine (ProxyCommand, "
        "LocalCommand, KnownHostsCommand, Match exec); only for a profile you trust",
    )
    p.add_argument("--serial", help="ADB: device serial (default: the only device)")
    p.add_argument("--adb", help="ADB: path of the adb binary")
    p.add_argument("--mode", choices=["python", "benchmark_model"], help="ADB: how runs happen")
    p.add_argument("--benchmark-model", help="ADB: path of benchmark_model on the device")
    p.add_argument("--work-dir", help="ADB: folder on the device")
    p.add_argument("--runtimes", help="preferred runtimes, comma-separated")
    p.add_argument("--threads", type=int, help="threads to use on this device")
    p.add_argument("--notes", help="free text shown with the device")
    p.add_argument("--replace", action="store_true", help="overwrite a device of this name")
    p.set_defaults(func=cmd_add)

    p = dsub.add_parser("remove", help="delete a device profile (its runs are kept)")
    p.add_argument("name")
    p.set_defaults(func=cmd_remove)

    p = dsub.add_parser("trust", help="show an SSH device's host key and accept it")
    p.add_argument("name")
    p.add_argument("--fingerprint", help="accept only if the device offers this SHA256:... key")
    p.set_defaults(func=cmd_trust)

    p = dsub.add_parser("test", help="connect and check what the device has and needs")
    p.add_argument("name")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_test)

    p = dsub.add_parser("info", help="architecture, CPU, cores, RAM, OS, Python, runtimes")
    p.add_argument("name")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_info)

    p = dsub.add_parser("find", help="Android devices attached to adb")
    p.add_argument("--adb", default="adb", help="path of the adb binary")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_find)
