"""The Devices page driven through its real widgets: built-ins, adding and validating a
device, removing with confirmation, a connection test against a real sshd (unknown host
key, fingerprints, accept, info and setup check), a changed key refused, adb devices."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from conftest import save_screenshot
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from app.device_facts import info_rows
from app.pages.devices import DevicesPage
from engines.devices.host_keys import known_hosts_file
from profiles.devices import all_devices, save_device

TEST_TIMEOUT_MS = 60_000
ADB_LIST = Path(__file__).resolve().parents[1] / "support" / "adb" / "adb_devices_l.txt"
needs_sshd = pytest.mark.skipif(
    not shutil.which("ssh") or not Path("/usr/sbin/sshd").exists(),
    reason="needs OpenSSH (client and server)",
)


@pytest.fixture
def page(qtbot, workspace):
    widget = DevicesPage(workspace)
    qtbot.addWidget(widget)
    widget.resize(1180, 760)
    widget.show()
    return widget


def _names(page: DevicesPage) -> list[str]:
    return [page.table.item(r, 0).text() for r in range(page.table.rowCount())]


def _click(qtbot, button) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def _fingerprint(pub: Path) -> str:
    out = subprocess.run(["ssh-keygen", "-lf", str(pub)], capture_output=True, text=True)
    return out.stdout.split()[1]


def _wait_tested(qtbot, page: DevicesPage) -> None:
    qtbot.waitUntil(lambda: not page.is_testing(), timeout=TEST_TIMEOUT_MS)


def test_builtins_are_listed_and_cannot_be_edited_or_removed(page):
    assert _names(page)[:2] == ["local-cpu  (built-in)", "local-cuda  (built-in)"]
    assert page.table.item(0, 2).text().startswith("this machine")
    assert page.selected_name() == "local-cpu"
    assert not page.save_button.isEnabled() and not page.remove_button.isEnabled()
    assert not page.form.name.isEnabled()
    assert page.builtin_note.isVisible()
    assert page.remove() is False


def test_a_new_ssh_device_is_validated_inline_then_saved(page, qtbot, workspace):
    _click(qtbot, page.new_button)
    page.form.name.setText("pi 5")  # a space: not a valid name
    page.form.host.setText("pi5.local")
    _click(qtbot, page.save_button)
    assert page.form.error.isVisible() and "name" in page.form.error.text()
    assert "pi 5" not in all_devices()

    page.form.name.setText("pi5")
    page.form.host.setText("-oProxyCommand=evil")  # never an ssh option
    _click(qtbot, page.save_button)
    assert "connection.host" in page.form.error.text()

    page.form.host.setText("pi5.local")
    page.form.user.setText("pi")
    page.form.port.setValue(2222)
    page.form.ssh_options.setText("ProxyJump=bastion")
    page.form.runtime_boxes["onnxruntime"].setChecked(True)
    page.form.threads.setValue(4)
    with qtbot.waitSignal(workspace.devices_changed):
        _click(qtbot, page.save_button)
    assert not page.form.error.isVisible()
    saved = all_devices()["pi5"]
    assert saved.connection.host == "pi5.local" and saved.connection.port == 2222
    assert saved.connection.ssh_options == ("ProxyJump=bastion",)
    assert saved.runtimes == ("onnxruntime",) and saved.threads == 4
    assert "pi5" in _names(page) and page.selected_name() == "pi5"
    assert page.table.item(page.table.currentRow(), 2).text() == "ssh pi@pi5.local:2222"
    assert page.save_button.isEnabled() and page.remove_button.isEnabled()

    # Editing keeps one file under the name.
    page.form.notes.setText("on the bench shelf")
    _click(qtbot, page.save_button)
    assert all_devices()["pi5"].notes == "on the bench shelf"
    save_screenshot(page, "devices-page-form")


@pytest.mark.parametrize("answer", [QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes])
def test_remove_asks_first(page, monkeypatch, answer):
    from engines.devices.profile import DeviceProfile, SshConnection

    save_device(DeviceProfile("board", "ssh", SshConnection(host="board.lan")))
    page.refresh()
    page.select_device("board")
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a) or answer)
    page.remove()
    assert asked and "board" in asked[0][2]
    assert ("board" in all_devices()) == (answer == QMessageBox.StandardButton.No)


def test_device_text_is_escaped_in_the_remove_question(page, monkeypatch):
    from engines.devices.profile import AdbConnection, DeviceProfile

    save_device(DeviceProfile("phone", "adb", AdbConnection(serial="<b>x</b>")))
    page.refresh()
    page.select_device("phone")
    asked = []
    monkeypatch.setattr(
        QMessageBox, "question", lambda *a, **k: asked.append(a) or QMessageBox.StandardButton.No
    )
    page.remove()
    assert "&lt;b&gt;x&lt;/b&gt;" in asked[0][2] and "<b>x</b>" not in asked[0][2]


def test_info_rows_read_like_a_spec_sheet():
    rows = dict(
        info_rows(
            {
                "device": "pi5",
                "address": "ssh pi@pi5",
                "board": "Raspberry Pi 5 Model B Rev 1.0",
                "machine": "aarch64",
                "cpu_model": "Cortex-A76",
                "physical_cores": 4,
                "logical_cores": 4,
                "ram_bytes": 8 * 2**30,
                "os": "Debian GNU/Linux 12 (bookworm)",
                "kernel": "6.6.31",
                "python": "3.11.2",
                "python_executable": "/usr/bin/python3",
                "cpu_temperature_c": 51.2,
                "modules": {"numpy": "1.26.4", "onnxruntime": "1.18.0", "torch": None},
            }
        )
    )
    assert rows["Architecture"] == "aarch64"
    assert rows["Cores"] == "4 physical, 4 logical"
    assert rows["RAM"] == "8.0 GiB"
    assert rows["OS"] == "Debian GNU/Linux 12 (bookworm) (kernel 6.6.31)"
    assert rows["Python"] == "3.11.2 at /usr/bin/python3"
    assert rows["Runtimes"] == "onnxruntime 1.18.0, numpy 1.26.4"
    assert rows["Temperature"] == "51.2 °C"


def test_local_cpu_connection_test_shows_info_and_checks(page, qtbot):
    page.select_device("local-cpu")
    _click(qtbot, page.test_button)
    assert page.busy.isVisible() and page.cancel_button.isEnabled()
    _wait_tested(qtbot, page)
    facts = {page.info_table.item(r, 0).text() for r in range(page.info_table.rowCount())}
    assert {"Architecture", "CPU", "Cores", "RAM", "OS", "Python", "Runtimes"} <= facts
    checks = [page.checks.item(r, 1).text() for r in range(page.checks.rowCount())]
    assert checks[:2] == ["python", "numpy"] and "onnxruntime" in checks
    assert page.checks.item(0, 0).text() == "✓"
    assert not page.busy.isVisible() and page.test_button.isEnabled()


@needs_sshd
def test_ssh_connection_test_asks_about_the_host_key_then_shows_the_device(
    page, qtbot, monkeypatch, ssh_server, tmp_path
):
    from engines.devices.ssh import SshDevice

    profile = ssh_server.profile(tmp_path / "device cache", name="loopback")
    save_device(profile)
    page.refresh()
    page.select_device("loopback")
    expected = _fingerprint(Path(f"{ssh_server.host_key}.pub"))
    asked: list[str] = []

    def answer(_parent, title, text, *args, **kwargs):
        asked.append(text)
        # Nothing is stored while the user is still reading the fingerprint.
        assert not known_hosts_file().exists()
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", answer)
    try:
        _click(qtbot, page.test_button)
        qtbot.waitUntil(lambda: bool(asked), timeout=TEST_TIMEOUT_MS)
        assert expected in asked[0] and "ED25519" in asked[0]
        # Accepted: stored, and the test ran again by itself.
        qtbot.waitUntil(lambda: page.checks.rowCount() > 0, timeout=TEST_TIMEOUT_MS)
        _wait_tested(qtbot, page)
        assert expected.split(":")[1][:10] in _known_keys_fingerprints()
        facts = dict(
            (page.info_table.item(r, 0).text(), page.info_table.item(r, 1).text())
            for r in range(page.info_table.rowCount())
        )
        assert facts["Device"] == "loopback"
        assert facts["Address"].startswith("ssh ") and str(ssh_server.port) in facts["Address"]
        assert "onnxruntime" in facts["Runtimes"] and "numpy" in facts["Runtimes"]
        assert facts["Python"].endswith(profile.connection.python)
        checks = {
            page.checks.item(r, 1).text(): page.checks.item(r, 0).text()
            for r in range(page.checks.rowCount())
        }
        assert checks["python"] == "✓" and checks["numpy"] == "✓" and checks["onnxruntime"] == "✓"
        assert "ready" in page.test_status.text()
        save_screenshot(page, "devices-page")
    finally:
        SshDevice(profile).close()  # the shared connection's master, if one is left


def _known_keys_fingerprints() -> str:
    out = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(known_hosts_file())],
        capture_output=True,
        text=True,
    )
    return out.stdout


@needs_sshd
def test_declining_the_host_key_stores_nothing(page, qtbot, monkeypatch, ssh_server, tmp_path):
    from engines.devices.ssh import SshDevice

    profile = ssh_server.profile(tmp_path / "c", name="loopback")
    save_device(profile)
    page.refresh()
    page.select_device("loopback")
    asked = []
    monkeypatch.setattr(
        QMessageBox, "question", lambda *a, **k: asked.append(a) or QMessageBox.StandardButton.No
    )
    try:
        _click(qtbot, page.test_button)
        qtbot.waitUntil(lambda: bool(asked) and not page.is_testing(), timeout=TEST_TIMEOUT_MS)
        assert not known_hosts_file().exists()
        assert "not accepted" in page.test_status.text()
        assert page.info_table.rowCount() == 0
    finally:
        SshDevice(profile).close()


@needs_sshd
def test_a_changed_host_key_is_refused_with_no_way_around(
    page, qtbot, monkeypatch, ssh_server, tmp_path
):
    from support.sshd import keygen

    from engines.devices.ssh import SshDevice

    other = keygen(tmp_path / "other_host_key")
    key_type, key = Path(f"{other}.pub").read_text().split(" ")[:2]
    known_hosts_file().parent.mkdir(parents=True, exist_ok=True)
    known_hosts_file().write_text(f"[127.0.0.1]:{ssh_server.port} {key_type} {key}\n")
    profile = ssh_server.profile(tmp_path / "c", name="loopback")
    save_device(profile)
    page.refresh()
    page.select_device("loopback")
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: pytest.fail("asked to trust"))
    try:
        _click(qtbot, page.test_button)
        _wait_tested(qtbot, page)
        box = page._error_box
        assert box is not None and box.isVisible()
        assert "CHANGED" in box.text() and box.textFormat() == Qt.TextFormat.PlainText
        assert [b.text() for b in box.buttons()] != ["Yes", "No"]
        assert "CHANGED" in page.test_status.text()
        box.close()
    finally:
        SshDevice(profile).close()


def test_an_unreachable_device_is_a_readable_message(page, qtbot):
    _click(qtbot, page.new_button)
    page.form.name.setText("nowhere")
    page.form.host.setText("127.0.0.1")
    page.form.port.setValue(1)  # nothing listens there
    _click(qtbot, page.test_button)
    _wait_tested(qtbot, page)
    text = page.test_status.text()
    assert "nowhere" in text and "Traceback" not in text
    assert page.info_table.rowCount() == 0


def test_find_adb_devices_lists_them_and_warns_about_tcpip(page, qtbot, tmp_path):
    fake = tmp_path / "adb"
    fake.write_text(f"#!/bin/sh\ncat '{ADB_LIST}'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    _click(qtbot, page.new_button)
    page.form.kind.setCurrentText("adb")
    page.form.adb.setText(str(fake))
    _click(qtbot, page.form.find_button)
    qtbot.waitUntil(lambda: page.form.found.count() > 0, timeout=10_000)
    qtbot.waitUntil(lambda: page.form.find_button.isEnabled(), timeout=10_000)
    texts = [page.form.found.item(i).text() for i in range(page.form.found.count())]
    assert any(t.startswith("0a388e93") and "usb" in t for t in texts)
    assert any("192.168.1.50:5555" in t and "unencrypted" in t for t in texts)
    assert any(t.startswith("R3CR90XXXXXX") and "unauthorized" in t for t in texts)
    assert "192.168.1.50:5555" in page.form.found_note.text()
    item = next(
        page.form.found.item(i)
        for i in range(page.form.found.count())
        if page.form.found.item(i).text().startswith("0a388e93")
    )
    rect = page.form.found.visualItemRect(item)
    qtbot.mouseClick(page.form.found.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert page.form.serial.text() == "0a388e93"
    page.form.name.setText("nexus7")
    _click(qtbot, page.save_button)
    saved = all_devices()["nexus7"]
    assert saved.kind == "adb" and saved.connection.serial == "0a388e93"
    QApplication.processEvents()
    save_screenshot(page, "devices-page-adb")


def test_adb_missing_is_a_readable_message(page, qtbot, tmp_path):
    _click(qtbot, page.new_button)
    page.form.kind.setCurrentText("adb")
    page.form.adb.setText(str(tmp_path / "no-adb-here"))
    _click(qtbot, page.form.find_button)
    qtbot.waitUntil(lambda: page.form.find_button.isEnabled(), timeout=10_000)
    assert "adb was not found" in page.form.found_note.text()


def test_a_broken_device_file_is_named_and_the_rest_are_listed(qtbot, workspace):
    from engines.floor import paths
    from profiles.devices import user_dir

    paths.config_dir(create=True)
    user_dir().mkdir(parents=True, exist_ok=True)
    (user_dir() / "broken.toml").write_text("name = 'broken'\nkind = 12\n")
    widget = DevicesPage(workspace)
    qtbot.addWidget(widget)
    widget.show()
    names = [widget.table.item(r, 0).text() for r in range(widget.table.rowCount())]
    assert any(n.startswith("local-cpu") for n in names)
    assert widget.list_error.isVisible() and "broken.toml" in widget.list_error.text()
    assert "off until its file is fixed" in widget.list_error.text()


def test_a_proxy_command_needs_the_local_commands_box(page, qtbot, workspace):
    """Found by driving the page: a command's spaces stay in its option, and a
    ProxyCommand is saved only once "Local commands" is ticked."""
    from profiles.devices import all_devices

    _click(qtbot, page.new_button)
    page.form.name.setText("relay")
    page.form.host.setText("pi5.local")
    page.form.ssh_options.setText("ProxyJump=bastion ProxyCommand=nc %h %p")
    _click(qtbot, page.save_button)
    assert "runs a command on this machine" in page.form.error.text()
    assert "relay" not in all_devices()
    page.form.allow_local_command.setChecked(True)
    with qtbot.waitSignal(workspace.devices_changed):
        _click(qtbot, page.save_button)
    saved = all_devices()["relay"].connection
    assert saved.ssh_options == ("ProxyJump=bastion", "ProxyCommand=nc %h %p")
    assert saved.allow_local_command
