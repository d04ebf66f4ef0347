"""Before Qt starts: can it open a window here? If not, say what is missing and how to fix it.

Qt aborts the process when its platform plugin cannot load, with a hint that is often wrong
(it names xcb-cursor0 when the gap is libxcb-icccm4). This check runs first, with the
standard library only: is there a display at all, and does `ldd` find every library of Qt's
widgets module and of the platform plugin it would use. It answers in the user's words with
the one install line for Debian/Ubuntu and for Fedora.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

#: Platforms that need no display server (screenshots, CI, remote framebuffers).
HEADLESS_PLATFORMS = {"offscreen", "minimal", "minimalegl", "vnc", "linuxfb", "eglfs"}

#: soname -> (Debian/Ubuntu package, Fedora package) for what Qt 6's xcb and widgets need.
PACKAGES: dict[str, tuple[str, str]] = {
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-glx.so.0": ("libxcb-glx0", "libxcb"),
    "libxcb-xinput.so.0": ("libxcb-xinput0", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl"),
    "libGLX.so.0": ("libglx0", "libglvnd-glx"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libgthread-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libSM.so.6": ("libsm6", "libSM"),
    "libICE.so.6": ("libice6", "libICE"),
    "libwayland-client.so.0": ("libwayland-client0", "libwayland-client"),
    "libwayland-cursor.so.0": ("libwayland-cursor0", "libwayland-cursor"),
    "libwayland-egl.so.1": ("libwayland-egl1", "libwayland-egl"),
}

NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.MULTILINE)
CLI_HINT = (
    "Everything the window does, the command line does too: .venv/bin/edgebench --help "
    "(for example: edgebench profile demo:digits-cnn)."
)


@dataclass
class QtCheck:
    """The verdict: `ok`, or the reason in words and what to run about it."""

    ok: bool
    platform: str
    reason: str = ""
    missing: list[str] = field(default_factory=list)

    def message(self) -> str:
        if self.ok:
            return f"Qt can open a window here (platform plugin: {self.platform})."
        lines = [f"EdgeBench cannot open its window: {self.reason}"]
        if self.missing:
            lines.append("Missing: " + ", ".join(self.missing))
            lines.extend(install_lines(self.missing))
            lines.append("Then run `make run` again.")
        lines.append(CLI_HINT)
        return "\n".join(lines)


def missing_libraries(ldd_output: str) -> list[str]:
    """The sonames `ldd` printed as "not found", each once, in order."""
    return list(dict.fromkeys(NOT_FOUND.findall(ldd_output)))


def install_lines(missing: list[str]) -> list[str]:
    """The one install line for Debian/Ubuntu and for Fedora; unknown sonames are named."""
    known = [name for name in missing if name in PACKAGES]
    unknown = [name for name in missing if name not in PACKAGES]
    lines = []
    if known:
        debian = " ".join(dict.fromkeys(PACKAGES[name][0] for name in known))
        fedora = " ".join(dict.fromkeys(PACKAGES[name][1] for name in known))
        lines.append(f"  Debian/Ubuntu: sudo apt-get install {debian}")
        lines.append(f"  Fedora:        sudo dnf install {fedora}")
    if unknown:
        lines.append(
            "  Also install the package that provides: "
            + ", ".join(unknown)
            + " (Debian: apt-file search NAME; Fedora: dnf provides '*/NAME')"
        )
    return lines


def ldd_missing(library: Path) -> list[str] | None:
    """Libraries `library` needs that the loader cannot find; None when ldd cannot tell."""
    ldd = shutil.which("ldd")
    if ldd is None or not library.is_file():
        return None
    try:
        out = subprocess.run(
            [ldd, str(library)], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return missing_libraries(out.stdout + out.stderr)


def pyside_dir() -> Path | None:
    """Where PySide6 is installed, found without importing it (importing loads Qt)."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def wanted_platforms(env: dict[str, str]) -> list[str]:
    """The platform plugins Qt will try, in order (QT_QPA_PLATFORM, else the session's)."""
    explicit = env.get("QT_QPA_PLATFORM", "").strip()
    if explicit:
        return [p.split(":")[0].strip() for p in explicit.split(";") if p.strip()]
    if env.get("XDG_SESSION_TYPE") == "wayland" and env.get("WAYLAND_DISPLAY"):
        return ["wayland", "xcb"]
    return ["xcb"]


def x_server_answers(display: str, timeout_s: float = 1.0) -> bool | None:
    """Whether a local X server listens for `display` (":0", "unix:1.0"); None if remote."""
    match = re.fullmatch(r"(?:unix)?:(\d+)(?:\.\d+)?", display.strip())
    if match is None:
        return None  # host:N (ssh -X, TCP): Qt finds out itself
    path = f"/tmp/.X11-unix/X{match.group(1)}"
    for address in ("\0" + path, path):  # Linux servers also listen on the abstract name
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout_s)
            try:
                sock.connect(address)
                return True
            except OSError:
                continue
    return False


def plugin_file(platforms_dir: Path, platform: str) -> Path | None:
    matches = sorted(platforms_dir.glob(f"libq{platform}*.so"))
    exact = platforms_dir / f"libq{platform}.so"
    return exact if exact.is_file() else (matches[0] if matches else None)


def check(env: dict[str, str] | None = None, qt_dir: Path | None = None) -> QtCheck:
    """Can Qt open a window with this environment? Cheap (one ldd per library)."""
    env = dict(os.environ if env is None else env)
    platforms = wanted_platforms(env)
    first = platforms[0] if platforms else "xcb"
    if not sys.platform.startswith("linux") or any(p in HEADLESS_PLATFORMS for p in platforms):
        return QtCheck(True, first)
    base = qt_dir or pyside_dir()
    widgets = sorted(base.glob("QtWidgets*.so")) if base else []
    missing = (ldd_missing(widgets[0]) or []) if widgets else []
    reasons: list[str] = []
    for platform in platforms:
        if platform == "wayland" and not env.get("WAYLAND_DISPLAY"):
            reasons.append("WAYLAND_DISPLAY is not set")
            continue
        if platform == "xcb":
            display = env.get("DISPLAY", "")
            if not display:
                reasons.append("there is no display (DISPLAY is not set)")
                continue
            if x_server_answers(display) is False:
                reasons.append(f"no X server answers on DISPLAY={display}")
                continue
        plugin = plugin_file(base / "Qt" / "plugins" / "platforms", platform) if base else None
        plugin_missing = (ldd_missing(plugin) or []) if plugin else []
        gaps = list(dict.fromkeys(missing + plugin_missing))
        if not gaps:
            return QtCheck(True, platform)
        return QtCheck(
            False,
            platform,
            f"Qt's {platform} platform plugin needs system libraries that are not installed.",
            gaps,
        )
    if missing:
        also = f" (and {'; '.join(reasons)})" if reasons else ""
        return QtCheck(
            False,
            first,
            f"Qt's widgets need system libraries that are not installed{also}.",
            missing,
        )
    return QtCheck(
        False,
        first,
        "; ".join(reasons)
        + ".\nStart it from a desktop session (or `ssh -X`), or, for screenshots without a "
        "display, with QT_QPA_PLATFORM=offscreen.",
    )
