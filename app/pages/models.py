"""The Models page: every stored model as a tree of variants, and what is inside the one picked.

Roots are imported models; under each are the variants made from it (named by the step
that made them). The panel on the right shows the inspection: size, parameters, MACs,
inputs and outputs, the operators, and for a variant the step, its settings and figures.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.formatting import count, size
from app.widgets.op_histogram import OpHistogram
from app.workspace import Workspace

ID_ROLE = Qt.ItemDataRole.UserRole
FORMAT_NAMES = {
    "onnx": "ONNX",
    "tflite": "TFLite",
    "torchscript": "TorchScript",
    "torch-exported-program": "PyTorch (torch.export)",
    "torch-state-dict": "PyTorch state_dict",
    "torch-pickle": "PyTorch pickle",
    "zoo": "PyTorch (torchvision zoo)",
}
MODEL_FILTER = "Models (*.onnx *.tflite *.pt2 *.pt *.pth);;All files (*)"


# ----------------------------------------------------------------------------- words


def format_name(fmt: str) -> str:
    return FORMAT_NAMES.get(fmt, fmt)


def shape_text(shape: Any) -> str:
    """[batch, 3, 224, 224] -> "batch × 3 × 224 × 224"; unknown dims show as "?"."""
    if shape is None:
        return "unknown"
    if not isinstance(shape, (list, tuple)):
        return str(shape)
    if not shape:
        return "scalar"
    if list(shape) == ["*"]:
        return "not recorded"
    return " × ".join("?" if dim is None or dim == -1 else str(dim) for dim in shape)


def exact_count(n: float | None) -> str:
    """2682 -> "2,682"; 11689512 -> "11,689,512 (11.69 M)" (digits are hard to count)."""
    if n is None:
        return "-"
    exact = f"{int(n):,}"
    return exact if abs(n) < 1e6 else f"{exact} ({count(n)})"


def parity_of(report: dict[str, Any]) -> dict[str, Any] | None:
    """The parity block of a step's figures (precision steps) or of an export's settings."""
    parity = report.get("parity")
    if not isinstance(parity, dict):
        return None
    outputs = parity.get("outputs") or []
    cosine = parity.get("cosine")
    if cosine is None and outputs:
        cosine = min(o["cosine"] for o in outputs if o.get("cosine") is not None)
    max_abs = parity.get("max_abs_error")
    if max_abs is None and outputs:
        max_abs = max(o["max_abs_error"] for o in outputs if o.get("max_abs_error") is not None)
    return {"cosine": cosine, "max_abs_error": max_abs, "passed": parity.get("passed")}


def key_figures(entry: dict[str, Any]) -> list[tuple[str, str]]:
    """Headline figures of one step: its stored settings and "report" in a person's words."""
    figures = dict(entry.get("report") or {})
    if "parity" in entry and "parity" not in figures:
        figures["parity"] = entry["parity"]  # FP32 exports keep parity beside their settings
    rows: list[tuple[str, str]] = []
    # The variant's size is one figure against its source (engines.report.figures.
    # size_change), shown by the caller, never this step's own before/after.
    parity = parity_of(figures)
    if parity and parity["cosine"] is not None:
        verdict = {True: "passed", False: "failed"}.get(parity["passed"], "")
        text = f"cosine {parity['cosine']:.5f}"
        if parity["max_abs_error"] is not None:
            text += f", max abs error {parity['max_abs_error']:.3g}"
        rows.append(("Parity with source", f"{text} ({verdict})" if verdict else text))
    for key, label in (("macs", "MACs"), ("params", "Parameters")):
        before, after = figures.get(f"{key}_before"), figures.get(f"{key}_after")
        if before is not None and after is not None:
            kept = after / before if before else 1.0
            rows.append((label, f"{count(before)} → {count(after)} ({kept:.0%} kept)"))
    sparsity = figures.get("sparsity_achieved", figures.get("sparsity"))
    if isinstance(sparsity, (int, float)):
        rows.append(("Sparsity", f"{sparsity:.1%} of the prunable weights are zero"))
    if figures.get("compression_ratio_estimate"):
        rows.append(
            (
                "Sparse-encoded size",
                f"about {figures['compression_ratio_estimate']:.2f}× smaller than dense (estimate)",
            )
        )
    if figures.get("accuracy_before") is not None and figures.get("accuracy_after") is not None:
        rows.append(
            ("Accuracy", f"{figures['accuracy_before']:.2%} → {figures['accuracy_after']:.2%}")
        )
    if "int8_took" in figures:
        optimized = figures.get("optimized") or {}
        rows.append(
            (
                "INT8 compute ops",
                f"{optimized.get('quantized_total', 0)} run in INT8, "
                f"{optimized.get('float_total', 0)} in float",
            )
        )
    return rows


def settings_text(entry: dict[str, Any]) -> str:
    settings = entry.get("settings")
    if not isinstance(settings, dict):  # FP32 exports store their options at the top level
        settings = {k: v for k, v in entry.items() if k not in ("parity", "key", "report")}
    parts = []
    for name, value in settings.items():
        if isinstance(value, (list, tuple)):
            value = ", ".join(map(str, value)) or "none"
        elif isinstance(value, bool):
            value = "yes" if value else "no"
        parts.append(f"{name.replace('_', ' ')}: {value}")
    return "\n".join(parts) or "defaults"


def fill_artifact_tree(tree: QTreeWidget, rows: list[Any]) -> dict[int, QTreeWidgetItem]:
    """Put artifacts in a [Model, Format, Size] tree by lineage; returns id -> item.

    Roots are imported models; a variant sits under the model it was made from and is
    named by the step that made it (its full name is the tooltip).
    """
    by_id = {row.id: row for row in rows}
    children: dict[int | None, list[Any]] = {}
    for row in rows:
        children.setdefault(row.parent_id if row.parent_id in by_id else None, []).append(row)
    tree.clear()
    items: dict[int, QTreeWidgetItem] = {}

    def add(parent_item: QTreeWidgetItem | None, row: Any) -> None:
        label = row.name if parent_item is None else (row.step or row.name)
        item = QTreeWidgetItem([label, format_name(row.format), size(row.size_bytes)])
        item.setData(0, ID_ROLE, row.id)
        item.setToolTip(0, f"{row.name}\nartifact {row.id} · {row.path}")
        item.setTextAlignment(2, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if parent_item is None:
            tree.addTopLevelItem(item)
        else:
            parent_item.addChild(item)
        items[row.id] = item
        for child in children.get(row.id, []):
            add(item, child)

    for root in children.get(None, []):
        add(None, root)
    tree.expandAll()
    return items


def artifact_tree() -> QTreeWidget:
    tree = QTreeWidget()
    tree.setHeaderLabels(["Model", "Format", "Size"])
    tree.setUniformRowHeights(True)
    tree.setAlternatingRowColors(True)
    header = tree.header()
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(False)
    return tree


# ----------------------------------------------------------------------------- panel


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 1.35)
    font.setWeight(QFont.Weight.DemiBold)
    label.setFont(font)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class InspectionPanel(QWidget):
    """What one stored model is: summary, inputs and outputs, variant figures, operators."""

    def __init__(self) -> None:
        super().__init__()
        self._size: Any = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(12)
        self.title = _heading("No model selected")
        self.subtitle = QLabel("Open a model (Ctrl+O) or drop a file on the window.")
        self.subtitle.setWordWrap(True)
        self.subtitle.setStyleSheet("color: palette(placeholder-text);")
        layout.addWidget(self.title)
        layout.addWidget(self.subtitle)

        self.summary_box = QGroupBox("Summary")
        self.summary = QFormLayout(self.summary_box)
        self.summary.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.values: dict[str, QLabel] = {}
        for name in (
            "Format",
            "File size",
            "Parameters",
            "MACs",
            "Opset",
            "Producer",
            "Forward",
            "Note",
        ):
            value = QLabel("-")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setWordWrap(True)
            self.values[name] = value
            self.summary.addRow(f"{name}:", value)
        layout.addWidget(self.summary_box)

        self.variant_box = QGroupBox("Variant")
        self.variant = QFormLayout(self.variant_box)
        self.variant.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        layout.addWidget(self.variant_box)

        self.io_box = QGroupBox("Inputs and outputs")
        io_layout = QVBoxLayout(self.io_box)
        self.io_table = QTableWidget(0, 4)
        self.io_table.setHorizontalHeaderLabels(["", "Name", "Shape", "Type"])
        self.io_table.verticalHeader().setVisible(False)
        self.io_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.io_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.io_table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        header = self.io_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.ResizeToContents)
        io_layout.addWidget(self.io_table)
        layout.addWidget(self.io_box)

        self.ops_box = QGroupBox("Operators (most frequent first)")
        ops_layout = QVBoxLayout(self.ops_box)
        self.op_chart = OpHistogram()
        ops_layout.addWidget(self.op_chart)
        layout.addWidget(self.ops_box)
        layout.addStretch(1)
        for box in (self.summary_box, self.variant_box, self.io_box, self.ops_box):
            # Boxes keep their content's height; the stretch below takes what is left.
            box.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.show_artifact(None)

    def value(self, name: str) -> str:
        return self.values[name].text()

    def io_rows(self) -> list[tuple[str, str, str, str]]:
        return [
            tuple(self.io_table.item(r, c).text() for c in range(4))  # type: ignore[misc]
            for r in range(self.io_table.rowCount())
        ]

    def show_artifact(self, artifact: Any, parent: Any = None, size_change: Any = None) -> None:
        """Fill the panel from an ArtifactRow (None clears it); a variant's `size_change`
        (engines.report.figures) is its one size figure."""
        self._size = size_change
        for box in (self.summary_box, self.io_box, self.ops_box):
            box.setVisible(artifact is not None)
        self.variant_box.setVisible(artifact is not None and artifact.parent_id is not None)
        if artifact is None:
            self.title.setText("No model selected")
            self.subtitle.setText("Open a model (Ctrl+O) or drop a model file on the window.")
            return
        inspection = artifact.inspection or {}
        self.title.setText(artifact.name)
        self.subtitle.setText(
            f"artifact {artifact.id} · from {artifact.source} · added {artifact.created_at}"
        )
        self.subtitle.setToolTip(artifact.path)
        self._summary(artifact, inspection)
        self._io(inspection)
        self._variant(artifact, parent)
        self.op_chart.set_histogram(inspection.get("op_histogram") or {})

    def _summary(self, artifact: Any, inspection: dict[str, Any]) -> None:
        self.values["Format"].setText(format_name(artifact.format))
        external = int(inspection.get("external_data_bytes") or 0)
        file_text = f"{size(artifact.size_bytes)} ({artifact.size_bytes:,} bytes)"
        if external:
            file_text += f" + {size(external)} of external weights"
        self.values["File size"].setText(file_text)
        self.values["Parameters"].setText(exact_count(inspection.get("parameters")))
        macs = inspection.get("macs") or {}
        if macs.get("macs") is not None:
            unit = str(macs.get("unit") or "MACs")
            text = f"{exact_count(macs['macs'])} {unit.split()[0]}"
            uncounted = macs.get("uncounted") or {}
            if uncounted:
                text += f" at least: {sum(uncounted.values())} op(s) not counted"
            self.values["MACs"].setText(text)
            tip = f"{unit}\nHow it is counted: {macs.get('method', 'unknown')}"
            if macs.get("uncounted_ops"):
                tip += "\nNot counted: " + ", ".join(map(str, macs["uncounted_ops"]))
            self.values["MACs"].setToolTip(tip)
        else:
            self.values["MACs"].setText(str(macs.get("reason") or "not counted for this format"))
            self.values["MACs"].setToolTip("")
        opset = dict(inspection.get("opset") or {})
        main = {k: v for k, v in opset.items() if k in ("", "ai.onnx")}
        opset_text = ", ".join(f"ai.onnx {v}" for v in main.values())
        if len(opset) > len(main):
            opset_text += f" (+{len(opset) - len(main)} other domains)"
        domains = [f"{k or 'ai.onnx'}: {v}" for k, v in opset.items()]
        self.values["Opset"].setToolTip("\n".join(domains))
        for name, text in (
            ("Opset", opset_text),
            ("Producer", inspection.get("producer") or ""),
            ("Forward", inspection.get("forward_schema") or ""),
            ("Note", inspection.get("note") or ""),
        ):
            self.values[name].setText(str(text))
            self.values[name].setVisible(bool(text))
            self.summary.labelForField(self.values[name]).setVisible(bool(text))

    def _io(self, inspection: dict[str, Any]) -> None:
        rows = [("input", t) for t in inspection.get("inputs") or []]
        rows += [("output", t) for t in inspection.get("outputs") or []]
        self.io_table.setRowCount(len(rows))
        for r, (kind, tensor) in enumerate(rows):
            cells = (
                kind,
                str(tensor.get("name", "")),
                shape_text(tensor.get("shape")),
                str(tensor.get("dtype", "")),
            )
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c == 2:
                    item.setToolTip("named dimensions (like batch) can change at run time")
                self.io_table.setItem(r, c, item)
        height = self.io_table.horizontalHeader().height() + 4
        height += sum(self.io_table.rowHeight(r) for r in range(len(rows)))
        self.io_table.setFixedHeight(max(height, 60))

    def _variant(self, artifact: Any, parent: Any) -> None:
        while self.variant.rowCount():
            self.variant.removeRow(0)
        if artifact.parent_id is None:
            return
        entry = dict(artifact.step_settings or {})
        made_from = parent.name if parent is not None else f"artifact {artifact.parent_id}"
        rows = [("Made from", made_from), ("Step", artifact.step or "?")]
        rows.append(("Settings", settings_text(entry)))
        if entry.get("data"):
            rows.append(("Data", str(entry["data"]).split("|")[0]))
        change = self._size
        if change is not None:
            rows.append(("Size", f"{change.text} vs {change.source_name}"))
        rows += key_figures(entry)
        for name, text in rows:
            value = QLabel(text)
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.variant.addRow(f"{name}:", value)

    def variant_rows(self) -> dict[str, str]:
        out = {}
        for r in range(self.variant.rowCount()):
            label = self.variant.itemAt(r, QFormLayout.ItemRole.LabelRole).widget()
            field = self.variant.itemAt(r, QFormLayout.ItemRole.FieldRole).widget()
            out[label.text().rstrip(":")] = field.text()
        return out


# ----------------------------------------------------------------------------- page


class ModelsPage(QWidget):
    #: A path chosen with "Open model…" when the window has no open dialog of its own.
    open_requested = Signal(str)
    #: "Compress…" on this artifact id.
    compress_requested = Signal(int)

    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        self.workspace = workspace
        self.shown_artifact_id: int | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        bar = QHBoxLayout()
        self.open_button = QPushButton("Open model…")
        self.open_button.setToolTip("Import an .onnx, .tflite, .pt2 or .pt file (Ctrl+O)")
        self.compress_button = QPushButton("Compress…")
        self.compress_button.setToolTip("Make a smaller or faster variant of this model")
        self.profile_button = QPushButton("Profile")
        self.profile_button.setToolTip("Measure this model's latency and memory")
        bar.addWidget(self.open_button)
        bar.addStretch(1)
        bar.addWidget(self.compress_button)
        bar.addWidget(self.profile_button)
        layout.addLayout(bar)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        self.tree = artifact_tree()
        self.empty_hint = QLabel(
            "No models yet.\n\nOpen a model file (Ctrl+O), drop one on the window,\n"
            "or start the app with demo:digits-cnn."
        )
        self.empty_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_hint.setStyleSheet("color: palette(placeholder-text);")
        self._build_import_box()
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.import_box)
        left_layout.addWidget(self.tree)
        left_layout.addWidget(self.empty_hint)
        left_layout.addStretch(0)  # keeps the loading box at the top while the tree is hidden
        self.panel = InspectionPanel()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.panel)
        splitter.addWidget(left)
        splitter.addWidget(scroll)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([420, 640])
        layout.addWidget(splitter, 1)

        self.open_button.clicked.connect(self.open_model)
        self.compress_button.clicked.connect(self.compress_selected)
        self.profile_button.clicked.connect(self.profile_selected)
        self.tree.currentItemChanged.connect(self._on_current_item)
        workspace.artifacts_changed.connect(self.refresh)
        workspace.current_artifact_changed.connect(self.select_artifact)
        self.refresh()

    def _build_import_box(self) -> None:
        """What a running import (or the demo's training) is doing, with a Cancel button."""
        self.import_box = QGroupBox("Loading")
        box = QVBoxLayout(self.import_box)
        self.import_label = QLabel("")
        self.import_label.setWordWrap(True)
        self.import_bar = QProgressBar()
        self.import_bar.setRange(0, 0)
        self.import_cancel = QPushButton("Cancel")
        self.import_cancel.setToolTip("Stop loading this model (Esc stops every job)")
        self.import_cancel.clicked.connect(self.cancel_imports)
        row = QHBoxLayout()
        row.addWidget(self.import_bar, 1)
        row.addWidget(self.import_cancel)
        box.addWidget(self.import_label)
        box.addLayout(row)
        self.import_box.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.import_box.setVisible(False)
        self._import_jobs: dict[Any, str] = {}

    # ------------------------------------------------------------------ imports

    def import_started(self, job: Any, ref: str) -> None:
        self._import_jobs[job] = ref
        self.import_box.setTitle(f"Loading {ref}")
        self.import_label.setText("starting…")
        self.import_bar.setRange(0, 0)
        self._show_import_state()

    def import_progress(self, job: Any, message: str, fraction: float | None) -> None:
        """Show a job's latest step: "training the demo model: epoch 3 of 30"."""
        if job not in self._import_jobs:
            return
        self.import_box.setTitle(f"Loading {self._import_jobs[job]}")
        self.import_label.setText(message)
        if fraction is None:
            self.import_bar.setRange(0, 0)  # busy: this step has no measure of its own
        else:
            self.import_bar.setRange(0, 100)
            self.import_bar.setValue(round(100 * max(0.0, min(1.0, float(fraction)))))

    def import_ended(self, job: Any) -> None:
        self._import_jobs.pop(job, None)
        self._show_import_state()

    def cancel_imports(self) -> None:
        for job in list(self._import_jobs):
            job.cancel()
        self.import_label.setText("stopping…")

    def importing(self) -> bool:
        return bool(self._import_jobs)

    def _show_import_state(self) -> None:
        self.import_box.setVisible(self.importing())
        has_rows = bool(getattr(self, "_rows", None))
        self.empty_hint.setVisible(not has_rows and not self.importing())
        if self.importing() and self.shown_artifact_id is None:
            refs = ", ".join(self._import_jobs.values())
            self.panel.title.setText(f"Loading {refs}…")
            self.panel.subtitle.setText(
                "It appears here when it is ready. The first time, the demo model is trained "
                "on this machine (30 epochs, a few seconds)."
                if any(ref.startswith("demo:") for ref in self._import_jobs.values())
                else "It is copied into the model store and inspected in a separate process."
            )
        elif self.shown_artifact_id is None:
            self.panel.show_artifact(None)

    # ------------------------------------------------------------------ data

    def refresh(self) -> None:
        """Rebuild the tree from the store, keeping the selection."""
        with self.workspace.store() as store:
            rows = store.artifacts(limit=5000)
        self._rows = {row.id: row for row in rows}
        self.tree.blockSignals(True)
        self._items = fill_artifact_tree(self.tree, rows)
        self.tree.blockSignals(False)
        self.tree.setVisible(bool(rows))
        self._show_import_state()
        wanted = self.shown_artifact_id or self.workspace.current_artifact_id
        if wanted in self._items:
            self.select_artifact(wanted)
        elif rows and (first := self.tree.topLevelItem(0)) is not None:
            self.tree.setCurrentItem(first)
        else:
            self._show(None)

    def select_artifact(self, artifact_id: int) -> None:
        """Select (and show) an artifact; follows the workspace's current model."""
        if artifact_id not in self._items:
            self.refresh()  # made by a job whose artifacts_changed has not arrived yet
        item = self._items.get(artifact_id)
        if item is None:
            return
        if self.tree.currentItem() is not item:
            self.tree.setCurrentItem(item)  # -> _on_current_item
        elif self.shown_artifact_id != artifact_id:
            self._show(artifact_id)

    def _on_current_item(self, item: QTreeWidgetItem | None, _previous: object = None) -> None:
        if item is None:
            return
        artifact_id = int(item.data(0, ID_ROLE))
        self._show(artifact_id)
        if self.workspace.current_artifact_id != artifact_id:
            self.workspace.set_current_artifact(artifact_id)

    def _show(self, artifact_id: int | None) -> None:
        self.shown_artifact_id = artifact_id
        row = self._rows.get(artifact_id) if artifact_id is not None else None
        parent = self._rows.get(row.parent_id) if row and row.parent_id else None
        change = None
        if row is not None and row.parent_id is not None:
            from engines.report.figures import size_change

            with self.workspace.store() as store:
                change = size_change(row, store)
        self.panel.show_artifact(row, parent, change)
        if row is None and self.importing():
            self._show_import_state()
        for button in (self.compress_button, self.profile_button):
            button.setEnabled(row is not None)

    # ------------------------------------------------------------------ actions

    def open_model(self) -> None:
        window = self.window()
        dialog = getattr(window, "open_model_dialog", None)
        if callable(dialog):
            dialog()  # the window imports it in a job and asks for trust when needed
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open model", "", MODEL_FILTER)
        if path:
            self.open_requested.emit(path)

    def compress_selected(self) -> None:
        if self.shown_artifact_id is None:
            return
        self.compress_requested.emit(self.shown_artifact_id)
        window = self.window()
        page = getattr(window, "pages", {}).get("Compress")
        if page is not None and hasattr(page, "open_wizard"):
            window.show_page("Compress")  # type: ignore[attr-defined]
            page.open_wizard(self.shown_artifact_id)

    def profile_selected(self) -> None:
        if self.shown_artifact_id is not None:
            self.workspace.profile_requested.emit([self.shown_artifact_id])
