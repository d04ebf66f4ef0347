"""The compression wizard: model, preset, settings, run, result.

The build runs `build_variant` in a workspace job (its own store connection, its own
thread); nothing is stored until it has finished, so Cancel leaves the store as it was.
The wizard lives inside the Compress page; `python -m app.wizard` opens it alone.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont, QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from app.formatting import size
from app.pages.models import (
    ID_ROLE,
    artifact_tree,
    fill_artifact_tree,
    format_name,
    key_figures,
    parity_of,
)
from app.widgets.settings_form import SettingsForm
from app.worker import EventWorker
from app.workspace import Workspace

MODEL_PAGE, PRESET_PAGE, SETTINGS_PAGE, RUN_PAGE, RESULT_PAGE = range(5)
TARGETS = (("onnx", "ONNX"), ("tflite", "TFLite"), ("torch", "PyTorch (.pt2)"))
DATA_HELP = (
    "An .npz file (x, optional labels y), a folder of images, digits / digits-train, or "
    "synthetic:N (random inputs: they check the conversion, not accuracy). Leave it empty "
    "for the model's own default."
)
#: Calibration data is loaded up to this many samples unless a step asks for more.
CALIBRATION_LIMIT = 512


# ----------------------------------------------------------------------------- jobs


def build_events(request: Any, db_path: Path, cancel: threading.Event) -> Iterator[dict[str, Any]]:
    """The pipeline's variant build, in the job's thread on its own store connection."""
    from engines.pipeline.build import build

    yield from build(request, db_path, cancel)


def evaluate_events(
    source_id: int,
    variant_id: int,
    db_path: Path,
    data: str | None = None,
    cancel: threading.Event | None = None,
) -> Iterator[dict[str, Any]]:
    """The pipeline's source-and-variant evaluation, with the job's own store connection."""
    from engines.pipeline.evaluate import evaluate_variant
    from engines.store.db import Store

    with Store(db_path) as store:
        yield from evaluate_variant(source_id, variant_id, store, data, cancel)


# ----------------------------------------------------------------------------- helpers


def _muted(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet("color: palette(placeholder-text);")
    return label


def _bold(text: str = "", scale: float = 1.0) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setWeight(QFont.Weight.DemiBold)
    font.setPointSizeF(font.pointSizeF() * scale)
    label.setFont(font)
    label.setWordWrap(True)
    return label


def _warning(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setStyleSheet(
        "background: rgba(220, 120, 0, 0.12); border: 1px solid rgba(220, 120, 0, 0.6);"
        "border-radius: 4px; padding: 6px;"
    )
    label.setVisible(bool(text))
    return label


def model_problem(artifact: Any) -> str | None:
    """Why no preset can start from this model, or None."""
    from engines.compress.build import model_kind

    kind = model_kind(artifact.format)
    if kind is None:
        return (
            f"a {format_name(artifact.format)} model: compression starts from a PyTorch "
            "(.pt2, demo:, zoo:) or ONNX model"
        )
    if kind == "tflite":
        return "no compression step applies to TFLite models; compress the source model"
    return None


# ----------------------------------------------------------------------------- pages


class ModelPage(QWizardPage):
    def __init__(self, wizard: CompressionWizard) -> None:
        super().__init__()
        self.setTitle("Choose the model to compress")
        self.setSubTitle("Imported models and the variants made from them.")
        self._wizard = wizard
        layout = QVBoxLayout(self)
        self.tree = artifact_tree()
        self.hint = _muted(
            "Import models on the Models page (File ▸ Open model…, or drop a file on the window)."
        )
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.hint)
        self.items: dict[int, QTreeWidgetItem] = {}
        self.tree.currentItemChanged.connect(lambda *_: self.completeChanged.emit())

    def initializePage(self) -> None:
        self.refresh()

    def refresh(self) -> None:
        wanted = self.selected_id() or self._wizard.source_id
        with self._wizard.workspace.store() as store:
            rows = store.artifacts(limit=5000)
        self.items = fill_artifact_tree(self.tree, rows)
        for row in rows:
            problem = model_problem(row)
            if problem:
                item = self.items[row.id]
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)
                item.setToolTip(0, f"{row.name}: {problem}")
        if wanted in self.items:
            self.tree.setCurrentItem(self.items[wanted])
        self.completeChanged.emit()

    def selected_id(self) -> int | None:
        item = self.tree.currentItem()
        if item is None or not item.flags() & Qt.ItemFlag.ItemIsEnabled:
            return None
        return int(item.data(0, ID_ROLE))

    def select(self, artifact_id: int) -> None:
        if artifact_id not in self.items:
            self.refresh()
        if artifact_id in self.items:
            self.tree.setCurrentItem(self.items[artifact_id])

    def isComplete(self) -> bool:
        return self.selected_id() is not None

    def validatePage(self) -> bool:
        self._wizard.source_id = self.selected_id()
        return self._wizard.source_id is not None


class PresetPage(QWizardPage):
    def __init__(self, wizard: CompressionWizard) -> None:
        super().__init__()
        self.setTitle("Choose a preset")
        self.setSubTitle("A preset is a recipe of compression steps; adjust its settings next.")
        self._wizard = wizard
        row = QHBoxLayout(self)
        self.list = QListWidget()
        self.list.setMinimumWidth(230)
        self.list.setMaximumWidth(300)
        self.list.setStyleSheet("QListWidget::item { padding: 6px 8px; }")
        row.addWidget(self.list)
        row.addSpacing(8)
        right = QVBoxLayout()
        right.setSpacing(10)
        row.addLayout(right, 1)
        self.heading = _bold(scale=1.3)
        self.steps = _muted()
        self.description = QLabel()
        self.description.setWordWrap(True)
        facts = QFormLayout()
        facts.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        facts.setVerticalSpacing(6)
        self.applies = QLabel()
        self.typical = QLabel()
        self.data_need = QLabel()
        for label in (self.applies, self.typical, self.data_need):
            label.setWordWrap(True)
        facts.addRow("Works on:", self.applies)
        facts.addRow("Usually:", self.typical)
        facts.addRow("Data:", self.data_need)
        self.problem = _warning()
        right.addWidget(self.heading)
        right.addWidget(self.steps)
        right.addWidget(self.description)
        right.addLayout(facts)
        right.addWidget(self.problem)

        output = QGroupBox("Output")
        output.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        form = QFormLayout(output)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.target = QComboBox()
        for key, text in TARGETS:
            self.target.addItem(text, key)
        self.target.setToolTip("The file format of the variant")
        form.addRow("Target format:", self.target)
        data_row = QHBoxLayout()
        self.calibration = QLineEdit()
        self.calibration.setClearButtonEnabled(True)
        self.calibration.setToolTip(DATA_HELP)
        file_button = QToolButton()
        file_button.setText("File…")
        file_button.setToolTip("Choose an .npz file")
        folder_button = QToolButton()
        folder_button.setText("Folder…")
        folder_button.setToolTip("Choose a folder of images")
        data_row.addWidget(self.calibration, 1)
        data_row.addWidget(file_button)
        data_row.addWidget(folder_button)
        # The note sits in the same cell as the path: a wrapped label on a row of its own
        # gets a tall, mostly empty row from QFormLayout.
        data_cell = QVBoxLayout()
        data_cell.setSpacing(4)
        data_cell.addLayout(data_row)
        self.data_note = _muted(DATA_HELP)
        data_cell.addWidget(self.data_note)
        form.addRow("Calibration data:", data_cell)
        right.addWidget(output)
        right.addStretch(1)

        self.list.currentRowChanged.connect(self._show_preset)
        self.target.currentIndexChanged.connect(self._check)
        self.calibration.textChanged.connect(self._check)
        file_button.clicked.connect(self._pick_file)
        folder_button.clicked.connect(self._pick_folder)

    def initializePage(self) -> None:
        wizard = self._wizard
        self.source = wizard.source_artifact()
        if self.list.count() == 0:
            self._fill()
        self._restrict_targets()
        self._show_preset(self.list.currentRow())

    def _fill(self) -> None:
        for name, recipe in self._wizard.presets.items():
            item = QListWidgetItem(recipe.label or name)
            item.setData(ID_ROLE, name)
            item.setToolTip(f"preset {name}")
            self.list.addItem(item)
        if self._wizard.presets_error:
            self.problem.setText(self._wizard.presets_error)
            self.problem.setVisible(True)
        self.list.setCurrentRow(0)

    def _restrict_targets(self) -> None:
        """An ONNX model can only become ONNX: the other targets are greyed out."""
        from engines.compress.build import model_kind

        kind = model_kind(self.source.format) if self.source else None
        model = self.target.model()
        assert isinstance(model, QStandardItemModel)  # a QComboBox's own model
        for index, (key, _) in enumerate(TARGETS):
            allowed = kind != "onnx" or key == "onnx"
            flags = model.item(index).flags()
            enabled = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
            model.item(index).setFlags(flags | enabled if allowed else flags & ~enabled)
        if not model.item(self.target.currentIndex()).isEnabled():
            self.target.setCurrentIndex(0)

    def select(self, name: str) -> None:
        for row in range(self.list.count()):
            if self.list.item(row).data(ID_ROLE) == name:
                self.list.setCurrentRow(row)
                return
        raise KeyError(f"no preset {name!r}")

    def preset_name(self) -> str | None:
        item = self.list.currentItem()
        return None if item is None else str(item.data(ID_ROLE))

    def _show_preset(self, row: int) -> None:
        name = self.preset_name()
        recipe = self._wizard.presets.get(name) if name else None
        if recipe is None:
            return
        from engines.compress.catalogue import step_class

        self.heading.setText(recipe.label or recipe.name)
        self.steps.setText(
            f"preset {recipe.name} · steps: " + " → ".join(s.step for s in recipe.steps)
        )
        self.description.setText(recipe.description)
        self.applies.setText(recipe.applies_to or "-")
        self.typical.setText(recipe.typical or "-")
        needs = recipe.needs_data or any(step_class(s.step).needs_data for s in recipe.steps)
        self.needs_data = needs
        self.data_need.setText(
            "needs calibration data (below)" if needs else "no calibration data needed"
        )
        self._check()
        self.completeChanged.emit()

    def _check(self) -> None:
        """Say up front when the preset will not apply; the build gives the final word."""
        from engines.compress.build import default_data, model_kind
        from engines.compress.catalogue import PRECISION_STEPS, step_class

        name = self.preset_name()
        recipe = self._wizard.presets.get(name) if name else None
        if recipe is None or self.source is None:
            return
        kind = model_kind(self.source.format)
        problems = []
        for recipe_step in recipe.steps:
            if recipe_step.step not in PRECISION_STEPS and kind:
                reason = step_class(recipe_step.step).applies_to(kind)
                if reason:
                    problems.append(reason)
        if self.target.currentData() == "torch" and recipe.precision_step:
            problems.append("this preset makes an ONNX or TFLite model: choose one of those")
        default = default_data(self.source, "calibration")
        if self.needs_data:
            self.calibration.setPlaceholderText(
                f"default: {default}" if default else "required: choose your own data"
            )
            if not default and not self.calibration.text().strip():
                problems.append(
                    f"{self.source.name} has no default calibration data: choose a file or "
                    "folder of inputs like the ones it will see (or synthetic:N to try it)"
                )
        else:
            self.calibration.setPlaceholderText("not needed by this preset")
        self.problem.setText("\n".join(f"⚠ {p}" for p in problems))
        self.problem.setVisible(bool(problems))

    def _pick_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Calibration data", "", "Arrays (*.npz);;All files (*)"
        )
        if path:
            self.calibration.setText(path)

    def _pick_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder of calibration images")
        if path:
            self.calibration.setText(path)

    def isComplete(self) -> bool:
        return self.preset_name() is not None

    def validatePage(self) -> bool:
        self._wizard.preset_name = self.preset_name()
        self._wizard.target = str(self.target.currentData())
        self._wizard.calibration = self.calibration.text().strip()
        return self.isComplete()


class SettingsPage(QWizardPage):
    def __init__(self, wizard: CompressionWizard) -> None:
        super().__init__()
        self.setTitle("Adjust the settings")
        self.setSubTitle("Each step of the preset, starting from the preset's values.")
        self._wizard = wizard
        self.setButtonText(QWizard.WizardButton.NextButton, "Compress")
        layout = QVBoxLayout(self)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        layout.addWidget(self.scroll_area, 1)
        bottom = QHBoxLayout()
        self.error = _warning()
        reset = QPushButton("Reset to preset")
        reset.setToolTip("Put back the values the preset starts from")
        reset.clicked.connect(self.reset)
        bottom.addWidget(self.error, 1)
        bottom.addStretch(0)
        bottom.addWidget(reset, 0, Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignRight)
        layout.addLayout(bottom)
        self.forms: list[SettingsForm] = []
        self._built_for: str | None = None

    def initializePage(self) -> None:
        self.error.setVisible(False)
        if self._built_for == self._wizard.preset_name:
            return  # keep what the person changed when they come back to the same preset
        from engines.compress.catalogue import step_class

        recipe = self._wizard.presets[str(self._wizard.preset_name)]
        content = QWidget()
        column = QVBoxLayout(content)
        column.setSpacing(12)
        self.forms = []
        for index, recipe_step in enumerate(recipe.steps, start=1):
            cls = step_class(recipe_step.step)
            box = QGroupBox(f"{index}. {cls.label}")
            box_layout = QVBoxLayout(box)
            about = _muted(" ".join(filter(None, (cls.description, cls.effect))))
            box_layout.addWidget(about)
            form = SettingsForm(cls, recipe_step.settings)
            box_layout.addWidget(form)
            column.addWidget(box)
            self.forms.append(form)
        column.addStretch(1)
        self.scroll_area.setWidget(content)
        self._built_for = self._wizard.preset_name

    def reset(self) -> None:
        for form in self.forms:
            form.reset()

    def validatePage(self) -> bool:
        from engines.floor.errors import BadInput

        try:
            for form in self.forms:
                form.settings()
        except BadInput as exc:
            self.error.setText(f"⚠ {exc.message}")
            self.error.setVisible(True)
            return False
        return True


class RunPage(QWizardPage):
    def __init__(self, wizard: CompressionWizard) -> None:
        super().__init__()
        self.setTitle("Compressing")
        self.setSubTitle("Nothing is stored until the variant is complete.")
        self._wizard = wizard
        layout = QVBoxLayout(self)
        self.summary = _bold()
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        status_row = QHBoxLayout()
        self.status = QLabel("starting…")
        self.status.setWordWrap(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the build; nothing is stored (Esc)")
        self.cancel_button.clicked.connect(wizard.cancel_run)
        status_row.addWidget(self.status, 1)
        status_row.addWidget(self.cancel_button)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(2000)
        self.log.setPlaceholderText("progress messages")
        self.error = _warning()
        self.details_button = QToolButton()
        self.details_button.setText("Show details")
        self.details_button.setCheckable(True)
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setVisible(False)
        self.details_button.toggled.connect(self._toggle_details)
        layout.addWidget(self.summary)
        layout.addWidget(self.progress)
        layout.addLayout(status_row)
        layout.addWidget(self.error)  # above the log: the first thing read after a failure
        layout.addWidget(self.details_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.details, 1)
        layout.addWidget(self.log, 1)
        self._last_task = ""
        self._last_fraction = -1.0
        self.failure: dict[str, Any] | None = None

    def initializePage(self) -> None:
        self.log.clear()
        self.failure = None
        self._show_error(None)
        self._last_task, self._last_fraction = "", -1.0
        self.progress.setRange(0, 0)
        self.status.setText("starting…")
        self.cancel_button.setEnabled(True)
        self._wizard.start_build()

    def cleanupPage(self) -> None:
        self._wizard.cancel_run()  # Back while running stops the build

    def isComplete(self) -> bool:
        return self._wizard.variant_id is not None and not self._wizard.is_running()

    def on_event(self, event: dict[str, Any]) -> None:
        if event.get("type") != "progress":
            return
        message = str(event.get("message") or "")
        fraction = event.get("fraction")
        self.status.setText(message)
        if isinstance(fraction, (int, float)):
            self.progress.setRange(0, 1000)
            self.progress.setValue(round(float(fraction) * 1000))
        else:
            self.progress.setRange(0, 0)  # busy: this part has no measure of its own
        # The log keeps a line per task and per 10% of it, like the command line.
        task = message.split(":")[0]
        stepped = isinstance(fraction, float) and fraction - self._last_fraction >= 0.1
        if task != self._last_task or stepped or fraction == 1.0:
            suffix = f" ({fraction:.0%})" if isinstance(fraction, (int, float)) else ""
            self.log.appendPlainText(f"{message}{suffix}")
            self._last_task = task
            self._last_fraction = fraction if isinstance(fraction, float) else -1.0

    def on_done(self) -> None:
        self.cancel_button.setEnabled(False)
        self.progress.setRange(0, 1000)
        self.progress.setValue(1000)
        self.status.setText("done")
        self.completeChanged.emit()

    def on_failed(self, error: dict[str, Any]) -> None:
        self.failure = error
        self.cancel_button.setEnabled(False)
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        if error.get("error_type") == "cancelled":
            self.status.setText("Cancelled. Nothing was stored.")
            self.log.appendPlainText("cancelled")
        else:
            self.status.setText("The variant could not be made.")
            self._show_error(error)
        self.completeChanged.emit()

    def _show_error(self, error: dict[str, Any] | None) -> None:
        message = "" if error is None else str(error.get("message") or "failed")
        details = "" if error is None else str(error.get("details") or "")
        if message:
            message = f"⚠ {message}\n\nGo Back to choose another preset or change the settings."
        self.error.setText(message)
        self.error.setVisible(bool(message))
        self.details.setPlainText(details)
        self.details_button.setVisible(bool(details))
        self.details_button.setChecked(False)

    def _toggle_details(self, shown: bool) -> None:
        self.details.setVisible(shown)
        self.details_button.setText("Hide details" if shown else "Show details")


class ResultPage(QWizardPage):
    def __init__(self, wizard: CompressionWizard) -> None:
        super().__init__()
        self.setTitle("Variant ready")
        self.setSubTitle("Stored with its lineage; it is on the Models page under its source.")
        self._wizard = wizard
        self.setButtonText(QWizard.WizardButton.FinishButton, "Compress another")
        layout = QVBoxLayout(self)
        self.heading = _bold(scale=1.2)
        layout.addWidget(self.heading)
        self.figures_box = QGroupBox("Figures")
        self.figures = QFormLayout(self.figures_box)
        self.figures.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        layout.addWidget(self.figures_box)
        self.notes = _muted()
        layout.addWidget(self.notes)

        evaluation_box = QGroupBox("Accuracy / fidelity")
        evaluation_layout = QHBoxLayout(evaluation_box)
        self.evaluation = QLabel()
        self.evaluation.setWordWrap(True)
        self.evaluate_button = QPushButton("Evaluate")
        self.evaluate_button.setToolTip(
            "Run the source and the variant on evaluation data (no timing): accuracy when the "
            "data has labels, agreement with the source otherwise"
        )
        self.evaluate_button.clicked.connect(wizard.evaluate)
        evaluation_layout.addWidget(self.evaluation, 1)
        evaluation_layout.addWidget(self.evaluate_button, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(evaluation_box)

        buttons = QHBoxLayout()
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Save the variant's file where you choose")
        self.profile_button = QPushButton("Profile this variant")
        self.profile_button.setToolTip("Measure the variant against its source on the Profile page")
        self.models_button = QPushButton("Show in Models")
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.profile_button)
        buttons.addWidget(self.models_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.saved = _muted()
        layout.addWidget(self.saved)
        layout.addStretch(1)
        self.export_button.clicked.connect(wizard.export_dialog)
        self.profile_button.clicked.connect(wizard.profile_variant)
        self.models_button.clicked.connect(wizard.show_in_models)
        #: The numbers shown, for tests and for anyone reading the page programmatically.
        self.numbers: dict[str, Any] = {}
        self.values: dict[str, QLabel] = {}

    def initializePage(self) -> None:
        self.saved.setText("")
        self.evaluation.setText(
            "Not measured yet. Evaluate runs both models on the evaluation data (the demo's "
            "test digits, or seeded random inputs) and compares them."
        )
        self.evaluate_button.setEnabled(True)
        self.show_outcome()

    def _add(self, name: str, text: str, tooltip: str = "") -> None:
        value = QLabel(text)
        value.setWordWrap(True)
        value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        value.setToolTip(tooltip)
        self.values[name] = value
        self.figures.addRow(f"{name}:", value)

    def value(self, name: str) -> str:
        return self.values[name].text()

    def show_outcome(self) -> None:
        wizard = self._wizard
        outcome = wizard.outcome or {}
        while self.figures.rowCount():
            self.figures.removeRow(0)
        self.values = {}
        with wizard.workspace.store() as store:
            variant = store.artifact(int(outcome["artifact_id"]))
            source = store.artifact(int(outcome["source_id"]))
        reports = list(outcome.get("reports") or [])
        from engines.report.figures import size_change

        with wizard.workspace.store() as store:
            change = size_change(variant, store)
        self.heading.setText(variant.name)
        self._add("Variant", f"{format_name(variant.format)}, artifact {variant.id}", variant.path)
        self._add("Made from", f"{source.name} ({format_name(source.format)})")
        before = change.before_bytes if change else source.size_bytes
        after = change.after_bytes if change else variant.size_bytes
        ratio = change.ratio if change else None
        exact = f"{before:,} → {after:,} bytes (external weights included)"
        self._add("Size", change.text if change else size(after), exact)
        parity = next(
            (p for r in reversed(reports) if (p := parity_of(r.get("report") or {}))), None
        )
        self.numbers = {"size_before": before, "size_after": after, "size_ratio": ratio}
        if parity:
            cosine, max_abs = parity["cosine"], parity["max_abs_error"]
            verdict = {True: "passed", False: "failed"}.get(parity["passed"], "")
            self._add(
                "Parity with source",
                f"cosine {cosine:.5f}, max abs error {max_abs:.4g}"
                + (f" ({verdict})" if verdict else ""),
                "outputs of the variant vs the FP32 model on a few inputs; 1.0 is identical",
            )
            self.numbers.update(cosine=cosine, max_abs_error=max_abs)
        notes: list[str] = []
        for report in reports:
            for name, text in key_figures(report):
                if name not in ("Size", "Parity with source"):
                    prefix = f"{report.get('step', '?')}: " if len(reports) > 1 else ""
                    self._add(f"{prefix}{name}", text)
            figures = report.get("report") or {}
            notes += [str(n) for n in figures.get("notes") or []]
            if figures.get("note"):
                notes.append(str(figures["note"]))
            if report.get("cached"):
                notes.append(f"{report.get('step')}: reused from an earlier identical build")
        self.notes.setText("\n".join(f"• {n}" for n in notes))
        self.notes.setVisible(bool(notes))

    def show_evaluation(self, results: dict[str, dict[str, Any]]) -> None:
        source = results.get("source", {}).get("evaluation") or {}
        variant = results.get("variant", {}).get("evaluation") or {}
        data = results.get("variant", {}).get("data", "")
        labelled = variant.get("classification") is not None
        kind = "labelled samples" if labelled else "samples without labels (fidelity only)"
        lines = [f"Data: {data}, {variant.get('count', '?')} {kind}"]
        top1 = [(e.get("classification") or {}).get("top1") for e in (source, variant)]
        if top1[0] is not None and top1[1] is not None:
            delta = (top1[1] - top1[0]) * 100
            lines.append(f"top-1 accuracy {top1[0]:.2%} → {top1[1]:.2%} ({delta:+.2f} points)")
            self.numbers["accuracy_delta_points"] = delta
        fidelity = variant.get("fidelity") or {}
        if fidelity:
            agreement = fidelity.get("top1_agreement")
            text = f"Agreement with the source: cosine mean {fidelity.get('cosine_mean', 0):.5f}"
            if agreement is not None:
                text += f", same top-1 class on {agreement:.1%} of inputs"
            lines.append(text)
            self.numbers["fidelity_cosine_mean"] = fidelity.get("cosine_mean")
        self.evaluation.setText("\n".join(lines))
        self.evaluate_button.setEnabled(True)


# ----------------------------------------------------------------------------- wizard


class CompressionWizard(QWizard):
    """Make a compressed variant of a stored model, step by step."""

    #: A new variant's artifact id (after the store has it).
    variant_made = Signal(int)

    def __init__(self, workspace: Workspace, embedded: bool = True) -> None:
        super().__init__()
        self.workspace = workspace
        self.embedded = embedded
        if embedded:
            self.setWindowFlags(Qt.WindowType.Widget)
            self.setOption(QWizard.WizardOption.NoCancelButton, True)
        self.setWindowTitle("Compress a model")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.source_id: int | None = workspace.current_artifact_id
        self.preset_name: str | None = None
        self.target = "onnx"
        self.calibration = ""
        self.job: EventWorker | None = None
        self.evaluation_job: EventWorker | None = None
        self.outcome: dict[str, Any] | None = None
        self._evaluations: dict[str, dict[str, Any]] = {}
        self.presets, self.presets_error = self._load_presets()
        self.model_page = ModelPage(self)
        self.preset_page = PresetPage(self)
        self.settings_page = SettingsPage(self)
        self.run_page = RunPage(self)
        self.result_page = ResultPage(self)
        for page_id, page in enumerate(
            (self.model_page, self.preset_page, self.settings_page, self.run_page, self.result_page)
        ):
            self.setPage(page_id, page)
        self.setStartId(MODEL_PAGE)

    @staticmethod
    def _load_presets() -> tuple[dict[str, Any], str]:
        from engines.floor.errors import BadInput
        from profiles.presets import BUILTIN_DIR, load_file

        presets: dict[str, Any] = {}
        errors = []
        # One broken user preset must not hide the others: load file by file.
        from profiles.presets import user_dir

        for folder in (BUILTIN_DIR, user_dir()):
            for path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
                try:
                    recipe = load_file(path)
                except BadInput as exc:
                    errors.append(exc.message)
                    continue
                presets[recipe.name] = recipe
        return presets, "\n".join(f"⚠ {e}" for e in errors)

    # ------------------------------------------------------------------ driving

    def open_for(self, artifact_id: int | None = None) -> None:
        """Start over at the first page with this model selected (when it can be)."""
        if self.is_running():
            return
        if artifact_id is not None:
            self.source_id = artifact_id
        self.restart()
        self.model_page.refresh()
        if self.source_id is not None:
            self.model_page.select(self.source_id)

    def select_model(self, artifact_id: int) -> None:
        self.model_page.select(artifact_id)

    def select_preset(self, name: str) -> None:
        self.preset_page.select(name)

    def set_target(self, target: str) -> None:
        self.preset_page.target.setCurrentIndex(self.preset_page.target.findData(target))

    def set_calibration(self, data: str) -> None:
        self.preset_page.calibration.setText(data)

    def forms(self) -> list[SettingsForm]:
        return list(self.settings_page.forms)

    def source_artifact(self) -> Any:
        if self.source_id is None:
            return None
        with self.workspace.store() as store:
            return store.artifact(self.source_id)

    def recipe(self) -> Any:
        """The chosen preset with the settings from the forms."""
        from dataclasses import replace

        from engines.compress.recipe import RecipeStep

        recipe = self.presets[str(self.preset_name)]
        forms = self.settings_page.forms
        if len(forms) != len(recipe.steps):
            return recipe
        steps = tuple(
            RecipeStep(s.step, form.values()) for s, form in zip(recipe.steps, forms, strict=True)
        )
        return replace(recipe, steps=steps)

    def request(self) -> Any:
        from engines.compress.build import VariantRequest

        recipe = self.recipe()
        wanted = [int(s.settings.get("max_calibration_samples") or 0) for s in recipe.steps]
        return VariantRequest(
            model=f"artifact:{self.source_id}",
            recipe=recipe,
            target=self.target,
            calibration=self.calibration or None,
            calibration_limit=max([CALIBRATION_LIMIT, *wanted]),
        )

    # ------------------------------------------------------------------ the build

    @property
    def variant_id(self) -> int | None:
        return None if self.outcome is None else int(self.outcome["artifact_id"])

    def is_running(self) -> bool:
        return self.job is not None and self.job.is_running()

    def start_build(self) -> EventWorker:
        self.cancel_run()
        self.outcome = None
        request = self.request()
        source = self.source_artifact()
        self.run_page.summary.setText(
            f"{source.name} → {request.recipe.label or request.recipe.name}, "
            f"{dict(TARGETS)[request.target]}"
        )
        db_path = self.workspace.db_path

        def connect(worker: EventWorker) -> None:
            # Before the thread starts, so even a build that fails at once is heard.
            # Bound methods, not lambdas: PySide runs a lambda in the emitting (job's)
            # thread, while a QObject's method is queued to the GUI thread.
            self.job = worker
            worker.event.connect(self._on_build_event)
            worker.finished.connect(self._on_build_finished)
            worker.failed.connect(self._on_build_failed)

        job = self.workspace.start_job(
            lambda cancel: build_events(request, db_path, cancel),
            f"compress {source.name} ({request.recipe.name})",
            connect=connect,
        )
        QTimer.singleShot(0, self._sync_buttons)
        return job

    def cancel_run(self) -> None:
        if self.is_running() and self.job is not None:
            self.run_page.status.setText("cancelling…")
            self.job.cancel()

    def _on_build_event(self, event: dict[str, Any]) -> None:
        if self.sender() is not self.job:
            return  # a cancelled build's last events
        if event.get("type") == "variant":
            self.outcome = event
        self.run_page.on_event(event)

    def _on_build_finished(self) -> None:
        job = self.sender()
        if job is not self.job or self.job is None:
            return
        self.run_page.on_done()
        self._sync_buttons()
        if self.outcome is not None:
            self.workspace.artifacts_changed.emit()
            self.variant_made.emit(self.variant_id)
            if self.currentId() == RUN_PAGE:
                self.next()

    def _on_build_failed(self, error: dict[str, Any]) -> None:
        if self.sender() is not self.job or self.job is None:
            return
        self.outcome = None
        self.run_page.on_failed(error)
        self._sync_buttons()

    def _sync_buttons(self) -> None:
        """No Back while a build runs (QWizard re-enables it on every page change)."""
        if self.currentId() == RUN_PAGE:
            self.button(QWizard.WizardButton.BackButton).setEnabled(not self.is_running())

    # ------------------------------------------------------------------ after the build

    def evaluate(self) -> EventWorker | None:
        if self.outcome is None or (self.evaluation_job and self.evaluation_job.is_running()):
            return None
        source_id, variant_id = int(self.outcome["source_id"]), int(self.outcome["artifact_id"])
        db_path = self.workspace.db_path
        self._evaluations = {}
        page = self.result_page
        page.evaluate_button.setEnabled(False)
        page.evaluation.setText("Evaluating the source and the variant…")

        def connect(worker: EventWorker) -> None:
            self.evaluation_job = worker
            worker.event.connect(self._on_evaluation_event)
            worker.finished.connect(self._on_evaluation_finished)
            worker.failed.connect(self._on_evaluation_failed)

        return self.workspace.start_job(
            lambda cancel: evaluate_events(source_id, variant_id, db_path, cancel=cancel),
            "evaluate variant",
            connect=connect,
        )

    def _on_evaluation_event(self, event: dict[str, Any]) -> None:
        if event.get("type") == "evaluation":
            self._evaluations[event["which"]] = event
        elif event.get("type") == "progress":
            self.result_page.evaluation.setText(str(event.get("message")) + "…")

    def _on_evaluation_finished(self) -> None:
        self.result_page.show_evaluation(self._evaluations)
        self.workspace.runs_changed.emit()

    def _on_evaluation_failed(self, error: dict[str, Any]) -> None:
        page = self.result_page
        page.evaluation.setText(f"⚠ {error.get('message')}")
        page.evaluation.setToolTip(str(error.get("details") or ""))
        page.evaluate_button.setEnabled(True)

    def export_to(self, destination: str | Path) -> Path:
        """Copy the variant's file (and any external data) to `destination` atomically."""
        from engines.models.artifacts import copy_out

        with self.workspace.store() as store:
            variant = store.artifact(int(self.variant_id or 0))
        dest = copy_out(variant, destination)
        self.result_page.saved.setText(f"Saved to {dest}")
        return dest

    def export_dialog(self) -> None:
        if self.variant_id is None:
            return
        with self.workspace.store() as store:
            variant = store.artifact(self.variant_id)
        suffix = Path(variant.path).suffix
        path, _ = QFileDialog.getSaveFileName(
            self, "Export the variant", Path(variant.path).name, f"Model (*{suffix})"
        )
        if path:
            try:
                self.export_to(path)
            except OSError as exc:
                self.result_page.saved.setText(f"⚠ Could not save {path}: {exc.strerror}")

    def profile_variant(self) -> None:
        if self.outcome is not None:
            ids = [int(self.outcome["artifact_id"]), int(self.outcome["source_id"])]
            self.workspace.profile_requested.emit(ids)

    def show_in_models(self) -> None:
        if self.variant_id is None:
            return
        self.workspace.set_current_artifact(self.variant_id)
        window = self.window()
        if hasattr(window, "show_page"):
            window.show_page("Models")

    # ------------------------------------------------------------------ QDialog

    def accept(self) -> None:
        """ "Compress another": start over with the same model, staying on the page."""
        if not self.embedded:
            super().accept()
            return
        self.open_for(self.source_id)

    def reject(self) -> None:
        """Esc cancels a running build; an embedded wizard never hides itself."""
        if self.is_running():
            self.cancel_run()
        elif not self.embedded:
            super().reject()


def main() -> int:
    import tempfile

    from PySide6.QtWidgets import QApplication

    from engines.floor import paths

    app = QApplication.instance() or QApplication(sys.argv[:1])
    db = paths.db_path() if len(sys.argv) < 2 else Path(sys.argv[1])
    workspace = Workspace(db if db else Path(tempfile.mkdtemp()) / "store.sqlite")
    wizard = CompressionWizard(workspace, embedded=False)
    wizard.resize(900, 640)
    wizard.show()
    return int(app.exec())


if __name__ == "__main__":
    raise SystemExit(main())
