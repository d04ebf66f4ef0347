"""The Devices page's form: one device profile's settings, for SSH and for Android."""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engines.devices.profile import ADB_MODES, AdbConnection, DeviceProfile, SshConnection

RUNTIMES = ("onnxruntime", "litert", "torch")
FAILED_COLOUR = QColor("#d62728")
OPTIONAL_COLOUR = QColor("#b8860b")
#: Device text shown in a label is cut here (it may be anything a device prints).
MAX_SHOWN_CHARS = 1200


def _split_options(text: str) -> list[str]:
    """`ProxyJump=bastion ProxyCommand=nc %h %p` -> two options: a word without `=`
    belongs to the option before it (a command's arguments)."""
    options: list[str] = []
    for word in re.split(r"[\s,]+", text.strip()):
        if not word:
            continue
        if "=" not in word and options:
            options[-1] += f" {word}"
        else:
            options.append(word)
    return options


def shorten(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_SHOWN_CHARS else text[:MAX_SHOWN_CHARS] + " …"


def plain_label(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


# ---------------------------------------------------------------------- the form


class DeviceForm(QGroupBox):
    """Name, kind, the connection settings of that kind, preferred runtimes, threads and
    notes. `data()` is the dict `profiles.devices.parse_profile` validates."""

    def __init__(self) -> None:
        super().__init__("Device")
        self.name = QLineEdit(placeholderText="e.g. pi5 (letters, digits, . _ -)")
        self.kind = QComboBox()
        self.kind.addItems(("ssh", "adb"))
        self.kind.setToolTip("ssh: a Linux board with Python; adb: an Android device")

        self.host = QLineEdit(placeholderText="host name, address or ~/.ssh/config alias")
        self.user = QLineEdit(placeholderText="from ~/.ssh/config")
        self.port = QSpinBox()
        self.port.setRange(0, 65535)
        self.port.setSpecialValueText("from ~/.ssh/config (22)")
        self.identity_file = QLineEdit(placeholderText="your ssh-agent and default keys")
        self.ssh_python = QLineEdit("python3")
        self.ssh_python.setToolTip("The interpreter on the device that runs the agent")
        self.cache_dir = QLineEdit("~/.cache/edgebench")
        self.cache_dir.setToolTip("Folder on the device for the agent and models")
        self.ssh_options = QLineEdit(placeholderText="e.g. ProxyJump=bastion")
        self.ssh_options.setToolTip(
            "Extra ssh -o Key=Value options, separated by spaces; words without = belong to "
            "the option before them (ProxyCommand=nc %h %p)"
        )
        self.allow_local_command = QCheckBox("ssh options may run commands on this machine")
        self.allow_local_command.setToolTip(
            "ProxyCommand, LocalCommand, KnownHostsCommand and Match exec run a command here, "
            "not on the device. Tick this only for a profile you trust."
        )
        adb_defaults = AdbConnection()
        self.serial = QLineEdit(placeholderText="empty: the only device attached")
        self.adb = QLineEdit(adb_defaults.adb)
        self.adb.setToolTip("The adb binary (Android platform-tools)")
        self.mode = QComboBox()
        self.mode.addItems(ADB_MODES)
        self.mode.setToolTip(
            "python: a Python on the device (e.g. Termux) runs the agent; benchmark_model: "
            "LiteRT's benchmark_model binary, which you push to the device"
        )
        self.adb_python = QLineEdit(adb_defaults.python)
        self.benchmark_model = QLineEdit(adb_defaults.benchmark_model)
        self.work_dir = QLineEdit(adb_defaults.work_dir)
        self.find_button = QPushButton("Find devices")
        self.find_button.setToolTip("List the devices `adb devices -l` shows; click one to use it")
        self.found = QListWidget()
        self.found.setMaximumHeight(120)
        self.found.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.found.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.found.setVisible(False)
        self.found.itemClicked.connect(self._use_found)
        self.found_note = plain_label()
        self.found_note.setStyleSheet("font-size: 8pt;")
        self.found_note.setVisible(False)
        serial_field = QWidget()
        serial_column = QVBoxLayout(serial_field)
        serial_column.setContentsMargins(0, 0, 0, 0)
        serial_row = QHBoxLayout()
        serial_row.addWidget(self.serial, 1)
        serial_row.addWidget(self.find_button)
        serial_column.addLayout(serial_row)
        serial_column.addWidget(self.found)
        serial_column.addWidget(self.found_note)

        self.runtime_boxes: dict[str, QCheckBox] = {}
        runtimes_widget = QWidget()
        runtimes_row = QHBoxLayout(runtimes_widget)
        runtimes_row.setContentsMargins(0, 0, 0, 0)
        for name in RUNTIMES:
            box = QCheckBox(name)
            self.runtime_boxes[name] = box
            runtimes_row.addWidget(box)
        runtimes_row.addStretch(1)
        runtimes_widget.setToolTip("Runtimes to use on this device (none checked: any it has)")
        self.threads = QSpinBox()
        self.threads.setRange(0, 1024)
        self.threads.setSpecialValueText("physical cores")
        self.notes = QLineEdit(placeholderText="what a colleague should know")

        # One form, so every field lines up; the rows of the other kind are hidden.
        self.rows = QFormLayout()
        self.rows.addRow("Name", self.name)
        self.rows.addRow("Kind", self.kind)
        self.ssh_fields: list[QWidget] = [
            self.host,
            self.user,
            self.port,
            self.identity_file,
            self.ssh_python,
            self.cache_dir,
            self.ssh_options,
            self.allow_local_command,
        ]
        for label, field in zip(
            (
                "Host",
                "User",
                "Port",
                "Identity file",
                "Python",
                "Cache folder",
                "ssh options",
                "Local commands",
            ),
            self.ssh_fields,
            strict=True,
        ):
            self.rows.addRow(label, field)
        self.adb_fields: list[QWidget] = [
            serial_field,
            self.adb,
            self.mode,
            self.adb_python,
            self.benchmark_model,
            self.work_dir,
        ]
        for label, field in zip(
            ("Serial", "adb", "Mode", "Python path", "benchmark_model", "Work folder"),
            self.adb_fields,
            strict=True,
        ):
            self.rows.addRow(label, field)
        self.rows.addRow("Runtimes", runtimes_widget)
        self.rows.addRow("Threads", self.threads)
        self.rows.addRow("Notes", self.notes)
        self.kind.currentTextChanged.connect(self._show_kind)
        layout = QVBoxLayout(self)
        layout.addLayout(self.rows)
        self._show_kind("ssh")
        self.error = plain_label()
        self.error.setStyleSheet(f"color: {FAILED_COLOUR.name()};")
        self.error.setVisible(False)
        layout.addWidget(self.error)
        layout.addStretch(1)

    # ------------------------------------------------------------------ values

    def clear(self) -> None:
        """A new device: ssh's defaults and no host (a connection needs one to be made)."""
        defaults = SshConnection(host="host")
        self.show_profile(DeviceProfile(name="", kind="ssh", connection=defaults), editable=True)
        self.host.clear()

    def show_profile(self, profile: DeviceProfile, editable: bool) -> None:
        self.name.setText(profile.name)
        c = profile.connection
        if isinstance(c, SshConnection):
            self.kind.setCurrentIndex(0)
            self.host.setText(c.host)
            self.user.setText(c.user)
            self.port.setValue(c.port or 0)
            self.identity_file.setText(c.identity_file)
            self.ssh_python.setText(c.python)
            self.cache_dir.setText(c.cache_dir)
            self.ssh_options.setText(" ".join(c.ssh_options))
            self.allow_local_command.setChecked(c.allow_local_command)
        elif isinstance(c, AdbConnection):
            self.kind.setCurrentIndex(1)
            self.serial.setText(c.serial)
            self.adb.setText(c.adb)
            self.mode.setCurrentText(c.mode)
            self.adb_python.setText(c.python)
            self.benchmark_model.setText(c.benchmark_model)
            self.work_dir.setText(c.work_dir)
        for name, box in self.runtime_boxes.items():
            box.setChecked(name in profile.runtimes)
        self.threads.setValue(profile.threads or 0)
        self.notes.setText(profile.notes)
        self.notes.setToolTip(profile.notes)
        # Built-ins (this machine) have no connection settings to show or change.
        self._show_kind(profile.kind)
        for widget in (self.name, self.kind, self.threads, self.notes):
            widget.setEnabled(editable)
        for box in self.runtime_boxes.values():
            box.setEnabled(editable)
        self.set_error("")

    def _show_kind(self, kind: str) -> None:
        self.rows.setRowVisible(self.kind, kind != "local")
        for field in self.ssh_fields:
            self.rows.setRowVisible(field, kind == "ssh")
        for field in self.adb_fields:
            self.rows.setRowVisible(field, kind == "adb")

    def data(self) -> dict[str, Any]:
        kind = self.kind.currentText()
        connection: dict[str, Any]
        if kind == "ssh":
            connection = {"host": self.host.text().strip()}
            for key, widget in (("user", self.user), ("identity_file", self.identity_file)):
                if widget.text().strip():
                    connection[key] = widget.text().strip()
            if self.port.value():
                connection["port"] = self.port.value()
            connection["python"] = self.ssh_python.text().strip() or "python3"
            connection["cache_dir"] = self.cache_dir.text().strip() or "~/.cache/edgebench"
            options = _split_options(self.ssh_options.text())
            if options:
                connection["ssh_options"] = options
            if self.allow_local_command.isChecked():
                connection["allow_local_command"] = True
        else:
            connection = {
                "serial": self.serial.text().strip(),
                "adb": self.adb.text().strip() or "adb",
                "mode": self.mode.currentText(),
                "python": self.adb_python.text().strip(),
                "benchmark_model": self.benchmark_model.text().strip(),
                "work_dir": self.work_dir.text().strip(),
            }
        data: dict[str, Any] = {
            "name": self.name.text().strip(),
            "kind": kind,
            "connection": connection,
            "runtimes": [n for n, box in self.runtime_boxes.items() if box.isChecked()],
        }
        if self.threads.value():
            data["threads"] = self.threads.value()
        if self.notes.text().strip():
            data["notes"] = self.notes.text().strip()
        return data

    def profile(self) -> DeviceProfile:
        """The form as a validated profile; BadInput names the field that is wrong."""
        from profiles.devices import parse_profile

        return parse_profile(self.data(), "device")

    def set_error(self, message: str) -> None:
        self.error.setText(shorten(message))
        self.error.setVisible(bool(message))

    # ------------------------------------------------------------------ adb list

    def show_found(self, devices: list[Any]) -> None:
        self.found.clear()
        warnings = []
        for device in devices:
            how = [device.transport]
            if device.unencrypted_tcp:
                how.append("unencrypted")
            if not device.ready:
                how.append(device.state)
            model = device.model.replace("_", " ")
            item = QListWidgetItem(f"{device.serial}  ({', '.join(how)})  {model}".strip())
            item.setToolTip(
                f"{device.serial}: {device.state}, {device.transport}"
                + (f", {model} ({device.product})" if model else "")
            )
            item.setData(Qt.ItemDataRole.UserRole, device.serial)
            if device.unencrypted_tcp:
                item.setForeground(OPTIONAL_COLOUR)
                warnings.append(device.serial)
            if not device.ready:
                item.setForeground(FAILED_COLOUR)
            self.found.addItem(item)
        self.found.setVisible(bool(devices))
        if not devices:
            note = "adb lists no device: plug one in with USB debugging on, or adb connect it."
        elif warnings:
            from engines.devices.android import tcpip_warning

            note = tcpip_warning(", ".join(warnings))
        else:
            note = "Click a device to use its serial."
        self.show_found_note(note)

    def show_found_note(self, text: str) -> None:
        self.found_note.setText(shorten(text))
        self.found_note.setVisible(bool(text))

    def _use_found(self, item: QListWidgetItem) -> None:
        self.serial.setText(str(item.data(Qt.ItemDataRole.UserRole)))
