"""Android facts from `adb` output: the device list, `getprop` and the info script.

Pure parsing (no adb, no I/O), so every figure can be checked against recorded output.
Device output is untrusted: it is capped, parsed strictly, and a line that does not fit
is skipped rather than guessed at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from engines.bench.environment import ISA_FLAGS

#: Bytes of device output we read at most for one answer (getprop dumps are ~100 KB).
MAX_OUTPUT_BYTES = 4 << 20

#: States `adb devices` prints (adb's ConnectionStateToString); "no permissions" has words.
STATES = (
    "device",
    "offline",
    "unauthorized",
    "authorizing",
    "connecting",
    "bootloader",
    "recovery",
    "rescue",
    "sideload",
    "host",
    "detached",
    "unknown",
    "no permissions",
)

_DEVICE_LINE = re.compile(
    r"^(?P<serial>\S.*?)\s+(?P<state>"
    + "|".join(re.escape(s) for s in STATES)
    + r")(?=\s|$)(?P<rest>.*)$"
)
_HOST_PORT = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$")
_ATTR = re.compile(r"(?<!\S)(usb|product|model|device|transport_id):(\S+)")

TCPIP_WARNING = (
    "connected over TCP ({serial}): with `adb tcpip` the connection is not encrypted, so "
    "models, results and a root-capable shell travel in the clear and anyone on the "
    "network can reach adbd; prefer USB, or Android 11+ Wireless debugging (paired, TLS)"
)


@dataclass(frozen=True)
class AdbListedDevice:
    """One line of `adb devices -l`."""

    serial: str
    state: str
    #: "usb", "emulator", "tcpip" (host:port: plain adb over TCP), "tls" (mDNS wireless
    #: debugging, paired and encrypted), "mdns" (mDNS legacy tcpip, unencrypted), "unknown".
    transport: str
    model: str = ""
    product: str = ""
    device: str = ""
    usb: str = ""
    transport_id: int | None = None
    details: dict[str, str] = field(default_factory=dict)

    @property
    def unencrypted_tcp(self) -> bool:
        return self.transport in ("tcpip", "mdns")

    @property
    def ready(self) -> bool:
        return self.state == "device"

    def to_dict(self) -> dict[str, Any]:
        return {
            "serial": self.serial,
            "state": self.state,
            "transport": self.transport,
            "model": self.model,
            "product": self.product,
            "device": self.device,
            "usb": self.usb,
            "transport_id": self.transport_id,
            "unencrypted_tcp": self.unencrypted_tcp,
        }


def classify_serial(serial: str, usb: str = "") -> str:
    """How adb reaches a device, from its serial (and the `usb:` attribute if listed)."""
    if serial.endswith(("._adb-tls-connect._tcp", "._adb-tls-connect._tcp.")):
        return "tls"
    if serial.endswith(("._adb._tcp", "._adb._tcp.")):
        return "mdns"
    if _HOST_PORT.match(serial):
        return "tcpip"
    if re.fullmatch(r"emulator-\d+", serial):
        return "emulator"
    if usb or re.fullmatch(r"[A-Za-z0-9._-]+", serial):
        return "usb"
    return "unknown"


def tcpip_warning(serial: str) -> str:
    return TCPIP_WARNING.format(serial=serial)


def parse_devices(text: str) -> list[AdbListedDevice]:
    """Parse `adb devices -l`: daemon chatter and the header are skipped."""
    devices = []
    for raw in text[:MAX_OUTPUT_BYTES].replace("\r", "").splitlines():
        line = raw.strip()
        if not line or line.startswith("*") or line.startswith("List of devices"):
            continue
        match = _DEVICE_LINE.match(line)
        if not match:
            continue
        attrs = dict(_ATTR.findall(match["rest"]))
        tid = attrs.get("transport_id", "")
        serial = match["serial"].strip()
        devices.append(
            AdbListedDevice(
                serial=serial,
                state=match["state"],
                transport=classify_serial(serial, attrs.get("usb", "")),
                model=attrs.get("model", ""),
                product=attrs.get("product", ""),
                device=attrs.get("device", ""),
                usb=attrs.get("usb", ""),
                transport_id=int(tid) if tid.isdigit() else None,
                details=attrs,
            )
        )
    return devices


_PROP = re.compile(
    r"^\[(?P<key>[^\]\n]+)\]: \[(?P<value>.*?)\](?=[ \t]*(?:\n\[[^\]\n]+\]: \[|\n*\Z))",
    re.MULTILINE | re.DOTALL,
)


def parse_getprop(text: str) -> dict[str, str]:
    """Parse `getprop` (`[key]: [value]` per property; a value may span lines or hold `]`)."""
    text = text[:MAX_OUTPUT_BYTES].replace("\r\n", "\n")
    return {m["key"]: m["value"] for m in _PROP.finditer(text)}


# --- the info script: one `adb shell` call that prints everything info() needs ---------

SECTION_MARK = "__EDGEBENCH_SECTION__"
SECTIONS = ("getprop", "cpuinfo", "meminfo", "nproc", "uname", "governor", "thermal")

#: Constant shell text (no user strings); run as `sh -c INFO_SCRIPT`. Each section is
#: introduced by a marker line; a command that fails leaves its section empty.
INFO_SCRIPT = "; ".join(
    [
        f"echo {SECTION_MARK} getprop",
        "getprop 2>/dev/null",
        f"echo {SECTION_MARK} cpuinfo",
        "cat /proc/cpuinfo 2>/dev/null",
        f"echo {SECTION_MARK} meminfo",
        "cat /proc/meminfo 2>/dev/null",
        f"echo {SECTION_MARK} nproc",
        "nproc 2>/dev/null",
        f"echo {SECTION_MARK} uname",
        "uname -n 2>/dev/null; uname -r 2>/dev/null; uname -m 2>/dev/null",
        f"echo {SECTION_MARK} governor",
        "cat /sys/devices/system/cpu/cpu0/cpufreq/scaling_governor 2>/dev/null",
        f"echo {SECTION_MARK} thermal",
        "for z in /sys/class/thermal/thermal_zone*; do "
        'echo "$(cat $z/type 2>/dev/null) $(cat $z/temp 2>/dev/null)"; done',
        f"echo {SECTION_MARK} end",
    ]
)


def split_sections(text: str) -> dict[str, str]:
    """The info script's output as {section: text}; unknown markers are ignored."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text[:MAX_OUTPUT_BYTES].replace("\r", "").split("\n"):
        if line.startswith(SECTION_MARK + " "):
            name = line[len(SECTION_MARK) + 1 :].strip()
            current = sections.setdefault(name, []) if name in SECTIONS else None
            continue
        if current is not None:
            current.append(line)
    return {name: "\n".join(lines).strip("\n") for name, lines in sections.items()}


def parse_cpuinfo(text: str) -> tuple[dict[str, str], int]:
    """First value of each `key : value` field (lower-case keys) and the processor count."""
    fields: dict[str, str] = {}
    processors = 0
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip().lower()
        if key == "processor":
            processors += 1
        fields.setdefault(key, value.strip())
    return fields, processors


def parse_meminfo_total(text: str) -> int | None:
    match = re.search(r"^MemTotal:\s+(\d+)\s*kB", text, re.MULTILINE)
    return int(match[1]) * 1024 if match else None


_CPU_ZONE = re.compile(r"cpu|soc|tsens|mtktscpu|x86_pkg_temp|big|little|cluster", re.I)


def parse_thermal(text: str) -> float | None:
    """Hottest CPU-like thermal zone in degrees C (zones report millidegrees, a few degrees)."""
    temps = []
    for line in text.splitlines():
        kind, _, raw = line.strip().rpartition(" ")
        if not kind or not _CPU_ZONE.search(kind) or not re.fullmatch(r"-?\d+", raw):
            continue
        value = int(raw)
        celsius = value / 1000.0 if abs(value) >= 1000 else float(value)
        if 0 < celsius < 150:
            temps.append(celsius)
    return max(temps) if temps else None


def android_os(props: dict[str, str]) -> str | None:
    """ "Android 14 (API 34)"; None when getprop said neither."""
    release = props.get("ro.build.version.release")
    sdk = props.get("ro.build.version.sdk")
    if not release and not sdk:
        return None
    return f"Android {release or '?'} (API {sdk or '?'})"


def cpu_model(props: dict[str, str], cpu: dict[str, str]) -> str | None:
    """The SoC name where Android says it (12+), else what /proc/cpuinfo or the board says."""
    soc = " ".join(
        v for v in (props.get("ro.soc.manufacturer"), props.get("ro.soc.model")) if v
    ).strip()
    return (
        soc
        or cpu.get("hardware")
        or cpu.get("model name")
        or props.get("ro.board.platform")
        or props.get("ro.hardware")
        or None
    )


def android_info(sections: dict[str, str]) -> dict[str, Any]:
    """The info dict (keys like the SSH probe's) from the info script's sections."""
    props = parse_getprop(sections.get("getprop", ""))
    cpu, processors = parse_cpuinfo(sections.get("cpuinfo", ""))
    uname = [line.strip() for line in sections.get("uname", "").splitlines() if line.strip()]
    nproc = sections.get("nproc", "").strip()
    flags = set((cpu.get("features") or cpu.get("flags") or "").split())
    governor = sections.get("governor", "").strip() or None
    return {
        "hostname": uname[0] if len(uname) > 0 else props.get("net.hostname"),
        "kernel": uname[1] if len(uname) > 1 else None,
        "machine": uname[2] if len(uname) > 2 else None,
        "abi": props.get("ro.product.cpu.abi"),
        "abi_list": [a for a in props.get("ro.product.cpu.abilist", "").split(",") if a],
        "cpu_model": cpu_model(props, cpu),
        "logical_cores": int(nproc) if nproc.isdigit() else (processors or None),
        "ram_bytes": parse_meminfo_total(sections.get("meminfo", "")),
        "os": android_os(props),
        "android_release": props.get("ro.build.version.release"),
        "api_level": int(props["ro.build.version.sdk"])
        if props.get("ro.build.version.sdk", "").isdigit()
        else None,
        "build_fingerprint": props.get("ro.build.fingerprint"),
        "board": props.get("ro.product.board") or props.get("ro.board.platform") or None,
        "model": props.get("ro.product.model"),
        "device": props.get("ro.product.device"),
        "manufacturer": props.get("ro.product.manufacturer"),
        "brand": props.get("ro.product.brand"),
        "isa_flags": sorted(flags.intersection(ISA_FLAGS)),
        "cpu_governor": governor,
        "cpu_temperature_c": parse_thermal(sections.get("thermal", "")),
    }


__all__ = [
    "INFO_SCRIPT",
    "STATES",
    "TCPIP_WARNING",
    "AdbListedDevice",
    "android_info",
    "android_os",
    "classify_serial",
    "parse_cpuinfo",
    "parse_devices",
    "parse_getprop",
    "parse_meminfo_total",
    "parse_thermal",
    "split_sections",
    "tcpip_warning",
]
