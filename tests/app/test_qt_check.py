"""The check before Qt starts: no display, missing system libraries, and the install lines."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app import gui, qt_check

LDD_DEBIAN_12 = """\
\tlinux-vdso.so.1 (0x00007ffd4e5f0000)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007efe9f3e4000)
\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007efe9e7ee000)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-util.so.1 => /lib/x86_64-linux-gnu/libxcb-util.so.1 (0x00007efe9e7e6000)
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-icccm.so.4 => not found
"""


def test_ldd_output_gives_each_missing_library_once() -> None:
    assert qt_check.missing_libraries(LDD_DEBIAN_12) == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    assert qt_check.missing_libraries("\tlibc.so.6 => /lib/libc.so.6 (0x1)\n") == []


def test_install_lines_name_the_debian_and_fedora_packages() -> None:
    lines = qt_check.install_lines(["libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libEGL.so.1"])
    assert lines[0] == "  Debian/Ubuntu: sudo apt-get install libxcb-icccm4 libxcb-keysyms1 libegl1"
    assert lines[1] == "  Fedora:        sudo dnf install xcb-util-wm xcb-util-keysyms libglvnd-egl"
    unknown = qt_check.install_lines(["libnothing.so.9"])
    assert len(unknown) == 1 and "libnothing.so.9" in unknown[0]


def test_no_display_says_so_and_points_to_the_cli(tmp_path: Path) -> None:
    verdict = qt_check.check({"PATH": "/usr/bin:/bin"}, qt_dir=tmp_path)
    assert not verdict.ok
    text = verdict.message()
    assert "there is no display (DISPLAY is not set)" in text
    assert "edgebench --help" in text and "QT_QPA_PLATFORM=offscreen" in text


def test_a_display_nobody_serves_is_named(tmp_path: Path) -> None:
    verdict = qt_check.check({"DISPLAY": ":987"}, qt_dir=tmp_path)
    assert not verdict.ok and "no X server answers on DISPLAY=:987" in verdict.message()


def test_offscreen_needs_no_display(tmp_path: Path) -> None:
    verdict = qt_check.check({"QT_QPA_PLATFORM": "offscreen"}, qt_dir=tmp_path)
    assert verdict.ok and verdict.platform == "offscreen"


def test_wayland_session_falls_back_to_xcb() -> None:
    env = {"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0"}
    assert qt_check.wanted_platforms(env) == ["wayland", "xcb"]
    assert qt_check.wanted_platforms({"QT_QPA_PLATFORM": "wayland;xcb"}) == ["wayland", "xcb"]
    assert qt_check.wanted_platforms({}) == ["xcb"]


def _shared_library(
    folder: Path, name: str, soname: str, links: list[Path], rpath: Path | None = None
) -> Path:
    source = folder / f"{name}.c"
    source.write_text(
        f"int {name.replace('-', '_').replace('.', '_')}_marker(void) {{ return 1; }}\n"
    )
    out = folder / name
    args = ["gcc", "-shared", "-fPIC", f"-Wl,-soname,{soname}", "-o", str(out), str(source)]
    args += ["-Wl,--no-as-needed", *[str(link) for link in links]]
    if rpath is not None:
        args.append(f"-Wl,-rpath,{rpath}")
    subprocess.run(args, check=True, capture_output=True)
    return out


@pytest.mark.skipif(
    not sys.platform.startswith("linux")
    or shutil.which("gcc") is None
    or shutil.which("ldd") is None,
    reason="needs Linux with gcc and ldd to build a library whose dependency is missing",
)
def test_a_plugin_whose_library_is_gone_gets_named_with_what_to_do(tmp_path: Path) -> None:
    """A real loader check: a fake Qt tree whose xcb plugin links a library we then delete."""
    build = tmp_path / "build"
    build.mkdir()
    gone = _shared_library(build, "libedgebench-gone.so.1", "libedgebench-gone.so.1", [])
    qt = tmp_path / "PySide6"
    platforms = qt / "Qt" / "plugins" / "platforms"
    platforms.mkdir(parents=True)
    _shared_library(qt, "QtWidgets.abi3.so", "QtWidgets.abi3.so", [])
    _shared_library(platforms, "libqxcb.so", "libqxcb.so", [gone], rpath=build)
    env = {"DISPLAY": "somehost:0"}  # a remote display: no local X server to ask
    # While the library is there (found through the plugin's RUNPATH), Qt could start.
    assert qt_check.check(env, qt_dir=qt).ok

    gone.unlink()
    verdict = qt_check.check(env, qt_dir=qt)
    assert not verdict.ok
    assert verdict.missing == ["libedgebench-gone.so.1"]
    text = verdict.message()
    assert "Qt's xcb platform plugin needs system libraries that are not installed" in text
    assert "Missing: libedgebench-gone.so.1" in text
    assert "package that provides: libedgebench-gone.so.1" in text


def test_edgebench_gui_refuses_to_start_qt_without_a_display(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "XDG_SESSION_TYPE"):
        monkeypatch.delenv(name, raising=False)
    assert gui.main(["demo:digits-cnn"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("EdgeBench cannot open its window: there is no display")
    assert "edgebench profile demo:digits-cnn" in err


def test_edgebench_gui_check_reports_a_usable_platform(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert gui.main(["--check"]) == 0
    assert "Qt can open a window here (platform plugin: offscreen)" in capsys.readouterr().out
