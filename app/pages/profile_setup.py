"""The Profile page's left column: models, runtimes, devices, threads and the run policy."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.formatting import size
from app.pages.profile_inputs import InputsBox
from app.pages.profile_jobs import (
    DEFAULT_DEVICE,
    FAILED_COLOUR,
    RUNTIMES,
    runtimes_for,
)
from engines.floor.spec import RunPolicy
from engines.store.db import ArtifactRow

# ---------------------------------------------------------------------- choosing


class SetupPanel(QWidget):
    """What to run: models × runtimes × devices, threads, run policy and optional
    evaluation data."""

    def __init__(self) -> None:
        super().__init__()
        self._formats: dict[int, str] = {}
        self._inputs_of: dict[int, list[dict]] = {}
        self._base_policy = RunPolicy()

        self.models = QListWidget()
        self.models.setToolTip("Check the models to profile; variants sit under their source")
        self.models.itemChanged.connect(self._update_runtimes)
        models_box = QGroupBox("Models")
        QVBoxLayout(models_box).addWidget(self.models)

        self.runtime_boxes: dict[str, QCheckBox] = {}
        runtime_box = QGroupBox("Runtimes")
        runtime_layout = QHBoxLayout(runtime_box)
        for name in RUNTIMES:
            box = QCheckBox(name)
            box.setChecked(name == "onnxruntime")
            self.runtime_boxes[name] = box
            runtime_layout.addWidget(box)
        runtime_layout.addStretch(1)

        self.devices = QListWidget()
        self.devices.setToolTip(
            "Check where to run: each device runs one job at a time, different devices "
            "run at once. Add devices on the Devices page."
        )
        self.devices.setMaximumHeight(92)
        self.device_runtimes: dict[str, tuple[str, ...]] = {}
        self.devices_error = QLabel()
        self.devices_error.setTextFormat(Qt.TextFormat.PlainText)
        self.devices_error.setWordWrap(True)
        self.devices_error.setStyleSheet(f"color: {FAILED_COLOUR};")
        self.devices_error.setVisible(False)
        devices_box = QGroupBox("Devices")
        devices_layout = QVBoxLayout(devices_box)
        devices_layout.addWidget(self.devices)
        devices_layout.addWidget(self.devices_error)

        self.threads = QSpinBox()
        self.threads.setRange(0, max(256, os.cpu_count() or 1))
        self.threads.setSpecialValueText("each device's default")
        self.threads.setToolTip(
            "Threads for the runtime; lowest: each device's own default (its profile's "
            "threads, else its physical cores)"
        )
        self.warmup_runs = QSpinBox()
        self.warmup_runs.setRange(0, 100_000)
        self.warmup_runs.setToolTip("Warm-up lasts until both this many runs and 0.5 s are met")
        self.min_runs = QSpinBox()
        self.min_runs.setRange(1, 1_000_000)
        self.min_runs.setToolTip("Measuring lasts until both the runs and the seconds are met")
        self.min_s = QDoubleSpinBox()
        self.min_s.setRange(0.0, 150.0)
        self.min_s.setDecimals(1)
        self.min_s.setSuffix(" s")
        self.min_s.setToolTip(self.min_runs.toolTip() + " (capped at 150 s)")
        self.evaluate = QLineEdit()
        self.evaluate.setPlaceholderText("auto: the data the model knows")
        self.evaluate.setToolTip(
            "Also measure accuracy on this data (digits, synthetic:32, a folder, an .npz): "
            "top-1/top-5 where labels exist and fidelity to the FP32 source model (cosine, "
            "SQNR, top-1 agreement). Empty: the data the model knows (the demo's digits; "
            "for a variant, fidelity to its FP32 source). off: latency and memory only."
        )
        settings_box = QGroupBox("Settings")
        form = QFormLayout(settings_box)
        form.addRow("Threads", self.threads)
        form.addRow("Warm-up runs", self.warmup_runs)
        form.addRow("Runs, at least", self.min_runs)
        form.addRow("Seconds, at least", self.min_s)
        form.addRow("Evaluate on", self.evaluate)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(models_box, 1)
        layout.addWidget(runtime_box)
        layout.addWidget(devices_box)
        self.inputs = InputsBox()
        layout.addWidget(self.inputs)
        layout.addWidget(settings_box)
        # 0 is "each device's default": the device resolves it, as in the CLI.
        self.threads.setValue(0)
        self.set_policy(self._base_policy)
        self.refresh_devices()

    # ------------------------------------------------------------------ devices

    def refresh_devices(self) -> None:
        """Re-read the device profiles, keeping what was checked (local-cpu at first)."""
        from profiles.devices import all_devices

        checked = set(self.checked_devices()) or {DEFAULT_DEVICE}
        try:
            profiles = all_devices()
            self.devices_error.setVisible(False)
        except Exception as exc:  # a broken profile file: say so, keep this machine
            profiles = {}
            self.devices_error.setText(getattr(exc, "message", str(exc)))
            self.devices_error.setVisible(True)
        self.device_runtimes = {name: p.runtimes for name, p in profiles.items()}
        self.devices.blockSignals(True)
        self.devices.clear()
        shown: dict[str, Any] = dict(profiles) or {DEFAULT_DEVICE: None}
        for name, device in shown.items():
            where = device.describe() if device is not None else "this machine (cpu)"
            item = QListWidgetItem(f"{name}  ·  {where}")
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            state = Qt.CheckState.Checked if name in checked else Qt.CheckState.Unchecked
            item.setCheckState(state)
            tip = where
            unusable = _unusable(device)
            if unusable:
                # Greyed with the reason: a device that cannot run is never queued.
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)
                item.setCheckState(Qt.CheckState.Unchecked)
                item.setText(f"{name}  ·  unavailable here")
                tip = f"{where}\n{unusable}"
            if device is not None and device.runtimes:
                tip += f"\nruns only: {', '.join(device.runtimes)}"
            if device is not None and device.notes:
                tip += f"\n{device.notes}"
            item.setToolTip(tip)
            self.devices.addItem(item)
        self.devices.blockSignals(False)

    def checked_devices(self) -> list[str]:
        return [
            str(item.data(Qt.ItemDataRole.UserRole))
            for item in map(self.devices.item, range(self.devices.count()))
            if item.checkState() == Qt.CheckState.Checked
            and item.flags() & Qt.ItemFlag.ItemIsEnabled
        ]

    def select_devices(self, names: Sequence[str]) -> None:
        wanted = set(names)
        for item in map(self.devices.item, range(self.devices.count())):
            checked = str(item.data(Qt.ItemDataRole.UserRole)) in wanted
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)

    # ------------------------------------------------------------------ models

    def set_artifacts(self, artifacts: Sequence[ArtifactRow], checked: set[int]) -> None:
        """Fill the list, variants under their source, keeping `checked` checked."""
        self.models.blockSignals(True)
        self.models.clear()
        self._formats = {a.id: a.format for a in artifacts}
        self._inputs_of = {a.id: list((a.inspection or {}).get("inputs") or []) for a in artifacts}
        for artifact, depth in _tree_order(artifacts):
            prefix = "    " * depth + ("↳ " if depth else "")
            item = QListWidgetItem(f"{prefix}{artifact.name}  ·  {artifact.format}")
            item.setData(Qt.ItemDataRole.UserRole, artifact.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            state = Qt.CheckState.Checked if artifact.id in checked else Qt.CheckState.Unchecked
            item.setCheckState(state)
            item.setToolTip(
                f"artifact {artifact.id}: {artifact.format}, {size(artifact.size_bytes)}"
                + (f"\nmade by {artifact.step}" if artifact.step else "")
                + f"\nruns on: {', '.join(runtimes_for(artifact.format)) or 'no runtime'}"
            )
            self.models.addItem(item)
        self.models.blockSignals(False)
        self._update_runtimes()

    def checked_ids(self) -> list[int]:
        return [
            int(item.data(Qt.ItemDataRole.UserRole))
            for item in map(self.models.item, range(self.models.count()))
            if item.checkState() == Qt.CheckState.Checked
        ]

    def select(self, artifact_ids: Sequence[int], runtimes: Sequence[str] | None = None) -> None:
        wanted = set(artifact_ids)
        for item in map(self.models.item, range(self.models.count())):
            checked = int(item.data(Qt.ItemDataRole.UserRole)) in wanted
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        if runtimes is not None:
            for name, box in self.runtime_boxes.items():
                box.setChecked(name in runtimes)

    def checked_runtimes(self) -> list[str]:
        return [n for n, box in self.runtime_boxes.items() if box.isChecked() and box.isEnabled()]

    def _update_runtimes(self) -> None:
        """Offer only runtimes that some checked model can go to."""
        checked = self.checked_ids()
        self.inputs.set_inputs([d for i in checked for d in self._inputs_of.get(i, [])])
        usable = {rt for i in checked for rt in runtimes_for(self._formats.get(i, ""))}
        for name, box in self.runtime_boxes.items():
            box.setEnabled(not checked or name in usable)

    # ------------------------------------------------------------------ settings

    def policy(self) -> RunPolicy:
        return dataclasses.replace(
            self._base_policy,
            warmup_runs=self.warmup_runs.value(),
            min_runs=self.min_runs.value(),
            min_s=self.min_s.value(),
        )

    def set_policy(self, policy: RunPolicy) -> None:
        """Show `policy`; its fields without a control (warm-up seconds, caps) are kept."""
        self._base_policy = policy
        self.warmup_runs.setValue(policy.warmup_runs)
        self.min_runs.setValue(policy.min_runs)
        self.min_s.setValue(policy.min_s)

    def evaluate_data(self) -> str | None:
        """The evaluation data the runs use: AUTO when empty, None for "off"."""
        from engines.pipeline.profile import AUTO

        text = self.evaluate.text().strip()
        if text.lower() in ("off", "none", "no"):
            return None
        return text or AUTO

    def request(self, model: str, runtime: str, fault: str | None = None) -> Any:
        """The pipeline request these settings make for one model and runtime: with the
        page's defaults, the same one `edgebench profile MODEL --runtime R` makes."""
        from engines.pipeline.profile import ProfileRequest

        return ProfileRequest(
            model=model,
            runtime=runtime,
            threads=self.threads.value() or None,
            policy=self.policy(),
            inputs=self.inputs.input_spec(),
            evaluate_data=self.evaluate_data(),
            fault=fault,
        )


def _unusable(device: Any) -> str | None:
    """Why a device profile cannot run here, when that is known without connecting: a
    local CUDA profile on a machine without an NVIDIA driver."""
    if device is None or device.kind != "local":
        return None
    if getattr(device.connection, "accelerator", "cpu") != "cuda":
        return None
    from engines.devices.local import cuda_driver_missing

    return cuda_driver_missing()


def _tree_order(artifacts: Sequence[ArtifactRow]) -> list[tuple[ArtifactRow, int]]:
    """Sources first, each followed by its variants (depth-first), with their depth."""
    ids = {a.id for a in artifacts}
    children: dict[int | None, list[ArtifactRow]] = {}
    for artifact in artifacts:
        parent = artifact.parent_id if artifact.parent_id in ids else None
        children.setdefault(parent, []).append(artifact)
    ordered: list[tuple[ArtifactRow, int]] = []

    def walk(parent: int | None, depth: int) -> None:
        for artifact in children.get(parent, []):
            ordered.append((artifact, depth))
            walk(artifact.id, depth + 1)

    walk(None, 0)
    return ordered
