"""The Devices page: where runs happen. The built-in devices and the user's SSH and ADB
devices, a form to add or edit one, and a connection test that shows what the device has
and exactly what to install.

Every call that reaches a device (info, setup check, `adb devices`) runs in a job. Text a
device sends is untrusted: it is shown in plain-text widgets, or escaped where a label
renders rich text. Host keys follow SECURITY.md: an unknown key is shown as fingerprints
and stored only on the user's yes; a changed key is refused with no way around it.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.device_facts import info_rows
from app.pages.device_form import (
    FAILED_COLOUR,
    OPTIONAL_COLOUR,
    DeviceForm,
    plain_label,
    shorten,
)
from app.worker import EventWorker
from app.workspace import Workspace
from engines.devices.profile import DeviceProfile
from engines.floor.errors import BadInput

OK_COLOUR = QColor("#2ca02c")

# ---------------------------------------------------------------------- jobs


def connection_test_events(device: Any) -> Iterator[dict[str, Any]]:
    """Info and setup check of an opened device (in the job's thread); closes it after.

    An unknown host key is not an error here but a question for the user, so it comes
    back as an event with the keys the device offered.
    """
    from engines.devices.host_keys import UnknownHostKey
    from engines.devices.setup import ready

    try:
        yield {"type": "progress", "message": f"connecting to {device.name}…"}
        try:
            info = device.info()
        except UnknownHostKey as exc:
            yield {"type": "unknown_host_key", "keys": list(exc.keys), "message": exc.message}
            return
        yield {"type": "info", "info": info}
        yield {"type": "progress", "message": "checking what is installed…"}
        checks = device.setup_check()
        yield {"type": "checks", "checks": [c.to_dict() for c in checks], "ready": ready(checks)}
    finally:
        device.close()


def adb_list_events(adb: str) -> Iterator[dict[str, Any]]:
    from engines.devices.adb import list_devices

    yield {"type": "adb_devices", "devices": list_devices(adb or "adb")}


# ---------------------------------------------------------------------- plain data


# ---------------------------------------------------------------------- the page


class DevicesPage(QWidget):
    """The device list, the form, and the connection test of the selected device.

    For tests and other pages: `refresh()`, `select_device(name)`, `new_device()`,
    `save()`, `remove()`, `test_connection()`, `find_adb_devices()`, `is_testing()`.
    """

    COLUMNS = ("Name", "Kind", "Where")

    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        self.workspace = workspace
        self.devices: dict[str, DeviceProfile] = {}
        self._editing: str | None = None  # the user device the form edits; None: a new one
        self._test_job: EventWorker | None = None
        self._find_job: EventWorker | None = None
        self._pending_keys: list[Any] | None = None
        self._test_profile: DeviceProfile | None = None
        self._error_box: QMessageBox | None = None

        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.list_error = plain_label()
        self.list_error.setStyleSheet(f"color: {FAILED_COLOUR.name()};")
        self.list_error.setVisible(False)
        self.new_button = QPushButton("New device")
        self.new_button.setToolTip("Add an SSH board or an Android device")
        self.new_button.clicked.connect(self.new_device)
        self.remove_button = QPushButton("Remove…")
        self.remove_button.setToolTip("Remove the selected device (built-ins stay)")
        self.remove_button.clicked.connect(self.remove)
        list_buttons = QHBoxLayout()
        list_buttons.addWidget(self.new_button)
        list_buttons.addWidget(self.remove_button)
        list_buttons.addStretch(1)
        list_box = QGroupBox("Devices")
        list_layout = QVBoxLayout(list_box)
        list_layout.addWidget(self.table, 1)
        list_layout.addWidget(self.list_error)
        list_layout.addLayout(list_buttons)

        self.form = DeviceForm()
        self.form.find_button.clicked.connect(self.find_adb_devices)
        self.save_button = QPushButton("Save")
        self.save_button.setToolTip("Check the settings and save the device")
        self.save_button.clicked.connect(self.save)
        self.builtin_note = plain_label()
        self.builtin_note.setVisible(False)
        form_column = QVBoxLayout()
        form_column.addWidget(self.form, 1)
        form_column.addWidget(self.builtin_note)
        form_column.addWidget(self.save_button, 0, Qt.AlignmentFlag.AlignRight)

        self.test_button = QPushButton("Test connection")
        self.test_button.setToolTip(
            "Connect, read what the device has, and check what it needs to run benchmarks"
        )
        self.test_button.clicked.connect(self.test_connection)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop waiting for the device")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_test)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumWidth(120)
        self.busy.setVisible(False)
        self.test_status = plain_label("Select a device and test its connection.")
        test_buttons = QHBoxLayout()
        test_buttons.addWidget(self.test_button)
        test_buttons.addWidget(self.cancel_button)
        test_buttons.addWidget(self.busy)
        test_buttons.addStretch(1)
        self.info_table = self._two_column_table(("Fact", "Value"))
        self.checks = QTableWidget(0, 3)
        self.checks.setHorizontalHeaderLabels(("", "Check", "What to do"))
        self.checks.verticalHeader().setVisible(False)
        self.checks.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.checks.setWordWrap(True)
        checks_header = self.checks.horizontalHeader()
        checks_header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        checks_header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        checks_header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        test_box = QGroupBox("Connection test")
        test_layout = QVBoxLayout(test_box)
        test_layout.addLayout(test_buttons)
        test_layout.addWidget(self.test_status)
        test_layout.addWidget(QLabel("What the device has"))
        test_layout.addWidget(self.info_table, 3)
        test_layout.addWidget(QLabel("Setup check"))
        test_layout.addWidget(self.checks, 2)

        layout = QHBoxLayout(self)
        layout.addWidget(list_box, 5)
        layout.addLayout(form_column, 6)
        layout.addWidget(test_box, 8)

        workspace.devices_changed.connect(self.refresh)
        self.refresh()
        self.select_device("local-cpu")

    @staticmethod
    def _two_column_table(headers: tuple[str, str]) -> QTableWidget:
        table = QTableWidget(0, 2)
        table.setHorizontalHeaderLabels(headers)
        table.verticalHeader().setVisible(False)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setWordWrap(True)
        header = table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        return table

    # ------------------------------------------------------------------ the list

    def refresh(self) -> None:
        """Re-read the device profiles, keeping the selection."""
        from profiles.devices import all_devices, broken_devices

        selected = self.selected_name()
        problems: list[str] = []
        try:
            self.devices = all_devices()
            # A broken file turns that device off, not the page: the others are listed.
            problems = [
                f"{exc.message}: that device is off until its file is fixed"
                for exc in broken_devices().values()
            ]
        except BadInput as exc:  # a built-in file that cannot be read
            problems = [f"{exc.message}\n{exc.details or ''}"]
        broken = bool(problems)
        self.list_error.setText("\n".join(shorten(p) for p in problems))
        self.list_error.setVisible(bool(broken))
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.devices))
        for row, profile in enumerate(self.devices.values()):
            name = profile.name + ("  (built-in)" if profile.builtin else "")
            cells = (name, profile.kind, profile.describe())
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, profile.name)
                item.setToolTip(profile.notes or text)
                self.table.setItem(row, column, item)
        self.table.blockSignals(False)
        if selected in self.devices:
            self.select_device(selected)

    def selected_name(self) -> str | None:
        rows = {index.row() for index in self.table.selectedIndexes()}
        if len(rows) != 1:
            return None
        item = self.table.item(rows.pop(), 0)
        return str(item.data(Qt.ItemDataRole.UserRole)) if item else None

    def select_device(self, name: str) -> None:
        names = list(self.devices)
        if name in names:
            self.table.selectRow(names.index(name))
            self._selection_changed()

    def _selection_changed(self) -> None:
        name = self.selected_name()
        profile = self.devices.get(name or "")
        if profile is None:
            return
        self._editing = None if profile.builtin else profile.name
        self.form.show_profile(profile, editable=not profile.builtin)
        self.form.setTitle(f"Device: {profile.name}")
        self.save_button.setEnabled(not profile.builtin)
        self.remove_button.setEnabled(not profile.builtin)
        self.builtin_note.setText(
            "A built-in device: it cannot be edited or removed." if profile.builtin else ""
        )
        self.builtin_note.setVisible(profile.builtin)
        self._clear_results()

    def new_device(self) -> None:
        self.table.clearSelection()
        self._editing = None
        self.form.clear()
        self.form.setTitle("New device")
        self.save_button.setEnabled(True)
        self.remove_button.setEnabled(False)
        self.builtin_note.setVisible(False)
        self._clear_results()
        self.form.name.setFocus()

    # ------------------------------------------------------------------ save / remove

    def save(self) -> bool:
        """Validate the form and write the device; an error shows next to the form."""
        from profiles.devices import remove_device, save_device

        try:
            profile = self.form.profile()
            renamed = self._editing is not None and profile.name != self._editing
            save_device(profile, replace=self._editing == profile.name)
            if renamed and self._editing is not None:
                remove_device(self._editing)
        except BadInput as exc:
            self.form.set_error(exc.message)
            return False
        except OSError as exc:
            self.form.set_error(f"could not write the device profile: {exc}")
            return False
        self.form.set_error("")
        self.workspace.devices_changed.emit()  # refreshes this page too
        self.select_device(profile.name)
        return True

    def remove(self) -> bool:
        from profiles.devices import remove_device

        name = self.selected_name()
        profile = self.devices.get(name or "")
        if profile is None or profile.builtin:
            return False
        answer = QMessageBox.question(
            self,
            "Remove device",
            f"<p>Remove the device <b>{html.escape(profile.name)}</b> "
            f"({html.escape(profile.describe())})?</p><p>Its stored runs stay.</p>",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return False
        try:
            remove_device(profile.name)
        except (BadInput, OSError) as exc:
            self.form.set_error(getattr(exc, "message", str(exc)))
            return False
        self.workspace.devices_changed.emit()
        self.select_device("local-cpu")
        return True

    # ------------------------------------------------------------------ connection test

    def is_testing(self) -> bool:
        return self._test_job is not None

    def _profile_to_test(self) -> DeviceProfile | None:
        """The selected built-in, or what the form says (so a device is tested before
        it is saved)."""
        name = self.selected_name()
        profile = self.devices.get(name or "")
        if profile is not None and profile.builtin:
            return profile
        try:
            profile = self.form.profile()
        except BadInput as exc:
            self.form.set_error(exc.message)
            return None
        self.form.set_error("")
        return profile

    def test_connection(self) -> EventWorker | None:
        if self.is_testing():
            return None
        profile = self._profile_to_test()
        if profile is None:
            return None
        from engines.devices.profile import open_device

        try:
            device = open_device(profile)
        except BadInput as exc:
            self._show_failure(exc.message, exc.details)
            return None
        self._clear_results()
        self._test_profile = profile
        self._pending_keys = None

        def connect(worker: EventWorker) -> None:
            # Bound methods of this page, never lambdas (CONTRIBUTING.md, GUI rules).
            worker.on_cancel(device.cancel)
            worker.event.connect(self._on_test_event)
            worker.finished.connect(self._on_test_finished)
            worker.failed.connect(self._on_test_failed)

        self._test_job = self.workspace.start_job(
            lambda _cancel: connection_test_events(device),
            f"test {profile.name}",
            connect=connect,
        )
        self._set_busy(True, f"Connecting to {profile.name} ({profile.describe()})…")
        return self._test_job

    def cancel_test(self) -> None:
        """Stop waiting: the job is told to stop and its late answers are ignored."""
        job = self._test_job
        if job is None:
            return
        job.cancel()
        self._test_job = None
        self._set_busy(False, "Cancelled.")

    def _on_test_event(self, event: dict[str, Any]) -> None:
        if self.sender() is not self._test_job:
            return  # a cancelled test answering late
        kind = event["type"]
        if kind == "progress":
            self.test_status.setText(str(event["message"]))
        elif kind == "info":
            self._show_info(event["info"])
        elif kind == "checks":
            self._show_checks(event["checks"], bool(event["ready"]))
        elif kind == "unknown_host_key":
            self._pending_keys = list(event["keys"])

    def _on_test_finished(self) -> None:
        if self.sender() is not self._test_job:
            return
        self._test_job = None
        self._set_busy(False, None)
        keys, self._pending_keys = self._pending_keys, None
        if keys is not None:
            self._ask_to_trust(keys)

    def _on_test_failed(self, error: dict[str, Any]) -> None:
        if self.sender() is not self._test_job:
            return
        self._test_job = None
        self._set_busy(False, None)
        message, details = str(error.get("message", "")), str(error.get("details") or "")
        if error.get("error_type") == "cancelled":
            self.test_status.setText("Cancelled.")
        elif error.get("error_type") == "ChangedHostKey":
            self._refuse_changed_key(message, details)
        else:
            self._show_failure(message, details if error.get("error_type") != "internal" else "")

    def _ask_to_trust(self, keys: list[Any]) -> None:
        """Show the fingerprints the device offered; store them only on Yes, then retry."""
        profile = self._test_profile
        if profile is None:
            return
        if not keys:
            self._show_failure(
                f"device {profile.name!r}: its host key is not known and it sent none",
                "accept its key once in a terminal (ssh HOST), then test again",
            )
            return
        listed = "".join(
            f"<li><tt>{html.escape(k.key_type)} {html.escape(k.fingerprint)}</tt></li>"
            for k in keys
        )
        text = (
            f"<p>EdgeBench has not connected to <b>{html.escape(profile.describe())}</b> "
            f"before. It offers these host keys:</p><ul>{listed}</ul>"
            "<p>Compare them with the device's own, read on the device itself:<br>"
            "<tt>ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub</tt></p>"
            "<p>Trust these keys and connect? Answer No if they differ: someone may be "
            "intercepting the connection.</p>"
        )
        answer = QMessageBox.question(self, "Unknown host key", text)
        if answer != QMessageBox.StandardButton.Yes:
            self.test_status.setText("Not connected: the host key was not accepted.")
            return
        from engines.devices.host_keys import accept

        try:
            accept(keys)
        except (BadInput, OSError) as exc:
            self._show_failure(getattr(exc, "message", str(exc)), "")
            return
        self.test_connection()

    def _refuse_changed_key(self, message: str, details: str) -> None:
        self.test_status.setText(shorten(message))
        self.test_status.setStyleSheet(f"color: {FAILED_COLOUR.name()};")
        box = QMessageBox(QMessageBox.Icon.Critical, "Host key changed: refusing", "")
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setText(shorten(message))
        box.setInformativeText(
            "EdgeBench will not connect to this device until the old key is removed. If the "
            "device was reinstalled, check its new key on the device, remove the old one "
            "(see the details), then test again."
        )
        box.setDetailedText(details)
        box.setStandardButtons(QMessageBox.StandardButton.Close)
        box.open()
        self._error_box = box  # keep it alive while it is open

    def _show_failure(self, message: str, details: str) -> None:
        text = message if not details else f"{message}\n\n{details}"
        self.test_status.setText(shorten(text))
        self.test_status.setStyleSheet(f"color: {FAILED_COLOUR.name()};")

    def _set_busy(self, busy: bool, status: str | None) -> None:
        self.busy.setVisible(busy)
        self.cancel_button.setEnabled(busy)
        self.test_button.setEnabled(not busy)
        if status is not None:
            self.test_status.setStyleSheet("")
            self.test_status.setText(status)

    def _clear_results(self) -> None:
        self.info_table.setRowCount(0)
        self.checks.setRowCount(0)
        self.test_status.setStyleSheet("")
        if not self.is_testing():
            self.test_status.setText("Test the connection to see what the device has.")

    def _show_info(self, info: dict[str, Any]) -> None:
        rows = info_rows(info)
        self.info_table.setRowCount(len(rows))
        for row, (fact, value) in enumerate(rows):
            for column, text in enumerate((fact, shorten(value))):
                item = QTableWidgetItem(text)  # plain text: device output is never markup
                item.setToolTip(text)
                if fact == "Warning":
                    item.setForeground(OPTIONAL_COLOUR)
                self.info_table.setItem(row, column, item)
        self.info_table.resizeRowsToContents()

    def _show_checks(self, checks: list[dict[str, Any]], is_ready: bool) -> None:
        self.checks.setRowCount(len(checks))
        for row, check in enumerate(checks):
            ok, required = bool(check["ok"]), bool(check.get("required", True))
            mark = QTableWidgetItem("✓" if ok else "✗")
            colour = OK_COLOUR if ok else FAILED_COLOUR if required else OPTIONAL_COLOUR
            mark.setForeground(colour)
            mark.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            what = check["what"] + ("" if required or ok else " (optional)")
            detail = shorten(str(check.get("detail", "")))
            todo = detail if ok else f"{detail}\nfix: {check.get('fix') or '-'}"
            for column, item in enumerate((mark, QTableWidgetItem(what), QTableWidgetItem(todo))):
                item.setToolTip(todo)
                self.checks.setItem(row, column, item)
        self.checks.resizeRowsToContents()
        name = self._test_profile.name if self._test_profile else "the device"
        if is_ready:
            self.test_status.setText(f"{name} is ready to run benchmarks.")
        else:
            self.test_status.setText(f"{name} is reachable but needs the fixes below.")

    # ------------------------------------------------------------------ adb devices

    def find_adb_devices(self) -> EventWorker | None:
        if self._find_job is not None:
            return None
        adb = self.form.adb.text().strip() or "adb"

        def connect(worker: EventWorker) -> None:
            worker.event.connect(self._on_find_event)
            worker.finished.connect(self._on_find_done)
            worker.failed.connect(self._on_find_failed)

        self._find_job = self.workspace.start_job(
            lambda _cancel: adb_list_events(adb), "adb devices", connect=connect
        )
        self.form.find_button.setEnabled(False)
        self.form.show_found_note("Asking adb…")
        return self._find_job

    def _on_find_event(self, event: dict[str, Any]) -> None:
        if event["type"] == "adb_devices":
            self.form.show_found(list(event["devices"]))

    def _on_find_done(self) -> None:
        self._find_job = None
        self.form.find_button.setEnabled(True)

    def _on_find_failed(self, error: dict[str, Any]) -> None:
        self._on_find_done()
        self.form.found.setVisible(False)
        self.form.show_found_note(str(error.get("message", "adb failed")))
