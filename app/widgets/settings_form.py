"""A form for one compression step's settings, built from `describe_settings`.

Each setting gets the widget its type and hints ask for: a slider with a percentage for
"ratio" settings, bounded spin boxes for numbers, a check box, a drop-down for choices, a
path with a picker for files. `values()` returns plain data that `parse_settings` accepts.

Preview: `python -m app.widgets.settings_form [step]` (default quantize-static).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engines.compress.base import Step, describe_settings, parse_settings
from engines.compress.catalogue import step_class

#: QSpinBox holds a C int; settings without a bound get the widest range it can show.
INT_LIMIT = 2**31 - 1
#: Floats without bounds: wide enough for any setting a person types.
FLOAT_LIMIT = 1e12
#: Ratio sliders move in steps of 0.1 percentage points.
RATIO_STEPS = 1000
#: Editors stop growing here: a drop-down a whole screen wide is hard to read.
EDITOR_MAX_WIDTH = 520


def label_for(name: str, unit: str = "") -> str:
    """`max_calibration_samples` -> "Max calibration samples"; `time_budget_s` -> "Time budget"
    when the unit (s) is shown beside the value anyway."""
    if unit and name.endswith(f"_{unit}"):
        name = name[: -len(unit) - 1]
    words = name.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def tooltip_for(field: dict[str, Any]) -> str:
    lines = [str(field.get("description", "")).strip()]
    low, high, unit = field.get("minimum"), field.get("maximum"), field.get("unit", "")
    if field.get("widget") == "ratio":
        low = None if low is None else f"{low:.0%}"
        high = None if high is None else f"{high:.0%}"
    if low is not None or high is not None:
        lines.append(
            f"Range: {low if low is not None else '…'} to "
            f"{high if high is not None else '…'} {unit}".rstrip()
        )
    if field.get("choices"):
        lines.append("Choices: " + ", ".join(field["choices"]))
    lines.append(f"Default: {_shown(field)}")
    return "\n".join(line for line in lines if line)


def _shown(field: dict[str, Any]) -> str:
    default = field.get("default")
    if field.get("widget") == "ratio" and isinstance(default, (int, float)):
        return f"{default:.1%}"
    if isinstance(default, (list, tuple)):
        return ", ".join(map(str, default)) or "(none)"
    return str(default)


class FloatSpinBox(QDoubleSpinBox):
    """A spin box that shows 0.001 and 1e-07 as such instead of padding fixed decimals."""

    def __init__(self) -> None:
        super().__init__()
        self.setDecimals(10)  # precision kept; the text is shortened in textFromValue
        self.setStepType(QAbstractSpinBox.StepType.AdaptiveDecimalStepType)

    def textFromValue(self, value: float) -> str:
        return f"{value:.6g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text.replace(self.suffix(), "").strip())
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> object:  # type: ignore[override]  # PySide takes a tuple
        from PySide6.QtGui import QValidator

        body = text.replace(self.suffix(), "").strip()
        if body in ("", "-", ".", "-.") or body.lower().endswith(("e", "e-", "e+")):
            return QValidator.State.Intermediate, text, pos
        try:
            value = float(body)
        except ValueError:
            return QValidator.State.Invalid, text, pos
        inside = self.minimum() <= value <= self.maximum()
        return (QValidator.State.Acceptable if inside else QValidator.State.Intermediate), text, pos


class RatioEditor(QWidget):
    """A 0..1 fraction as a slider and a percentage spin box that follow each other."""

    changed = Signal()

    def __init__(self, minimum: float = 0.0, maximum: float = 1.0) -> None:
        super().__init__()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(round(minimum * RATIO_STEPS), round(maximum * RATIO_STEPS))
        self.slider.setPageStep(RATIO_STEPS // 20)
        self.spin = QDoubleSpinBox()
        self.spin.setDecimals(1)
        self.spin.setRange(minimum * 100, maximum * 100)
        self.spin.setSuffix(" %")
        self.spin.setSingleStep(1.0)
        self.spin.setMinimumWidth(90)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.spin)
        self.slider.valueChanged.connect(self._from_slider)
        self.spin.valueChanged.connect(self._from_spin)

    def value(self) -> float:
        return round(self.spin.value() / 100, 6)

    def set_value(self, value: float) -> None:
        self.spin.setValue(float(value) * 100)

    def _from_slider(self, steps: int) -> None:
        if round(self.spin.value() * RATIO_STEPS / 100) != steps:
            self.spin.setValue(steps * 100 / RATIO_STEPS)

    def _from_spin(self, percent: float) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(round(percent * RATIO_STEPS / 100))
        self.slider.blockSignals(False)
        self.changed.emit()


class PathEditor(QWidget):
    """A path typed or picked with "…"."""

    changed = Signal()

    def __init__(self, caption: str) -> None:
        super().__init__()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.edit = QLineEdit()
        self.edit.setPlaceholderText("path to a file")
        button = QToolButton()
        button.setText("…")
        button.setToolTip("Choose a file")
        button.clicked.connect(self._pick)
        layout.addWidget(self.edit, 1)
        layout.addWidget(button)
        self._caption = caption
        self.edit.textChanged.connect(self.changed)

    def value(self) -> str:
        return self.edit.text().strip()

    def set_value(self, value: str) -> None:
        self.edit.setText(str(value or ""))

    def _pick(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self._caption, self.value())
        if path:
            self.edit.setText(path)


@dataclass
class _Field:
    description: dict[str, Any]
    widget: QWidget
    get: Callable[[], Any]
    put: Callable[[Any], None]


def _editor(field: dict[str, Any], on_change: Callable[[], None]) -> _Field:
    """The widget for one described setting, with its getter and setter."""
    kind, low, high = field["type"], field.get("minimum"), field.get("maximum")
    unit = f" {field['unit']}" if field.get("unit") else ""
    if field.get("widget") == "ratio":
        ratio = RatioEditor(0.0 if low is None else low, 1.0 if high is None else high)
        ratio.changed.connect(on_change)
        return _Field(field, ratio, ratio.value, ratio.set_value)
    if field.get("widget") == "file":
        path = PathEditor(label_for(field["name"]))
        path.changed.connect(on_change)
        return _Field(field, path, path.value, path.set_value)
    if field.get("choices"):
        combo = QComboBox()
        combo.addItems([str(c) for c in field["choices"]])
        combo.currentIndexChanged.connect(on_change)
        return _Field(field, combo, combo.currentText, lambda v: combo.setCurrentText(str(v)))
    if kind == "bool":
        check = QCheckBox()
        check.toggled.connect(on_change)
        return _Field(field, check, check.isChecked, lambda v: check.setChecked(bool(v)))
    if kind == "int":
        spin = QSpinBox()
        spin.setRange(
            -INT_LIMIT if low is None else math.ceil(low),
            INT_LIMIT if high is None else math.floor(high),
        )
        spin.setSuffix(unit)
        spin.setGroupSeparatorShown(True)
        spin.valueChanged.connect(on_change)
        return _Field(field, spin, spin.value, lambda v: spin.setValue(int(v)))
    if kind == "float":
        number = FloatSpinBox()
        number.setRange(-FLOAT_LIMIT if low is None else low, FLOAT_LIMIT if high is None else high)
        number.setSuffix(unit)
        number.valueChanged.connect(on_change)
        return _Field(field, number, number.value, lambda v: number.setValue(float(v)))
    line = QLineEdit()
    line.textChanged.connect(on_change)
    if kind in ("list", "tuple"):
        # Lists of names (e.g. layers to keep) are typed comma-separated.
        line.setPlaceholderText("comma-separated; empty for none")
        return _Field(
            field,
            line,
            lambda: [part.strip() for part in line.text().split(",") if part.strip()],
            lambda v: line.setText(", ".join(map(str, v or []))),
        )
    return _Field(field, line, lambda: line.text(), lambda v: line.setText(str(v)))


class SettingsForm(QWidget):
    """Typed editors for one step; starts from the step's defaults updated by `values`."""

    changed = Signal()

    def __init__(
        self,
        step: str | type[Step],
        values: dict[str, Any] | None = None,
        show_descriptions: bool = True,
    ) -> None:
        super().__init__()
        self.step = step_class(step) if isinstance(step, str) else step
        self.fields: dict[str, _Field] = {}
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        form.setVerticalSpacing(10)
        for described in describe_settings(self.step):
            field = _editor(described, lambda *_: self.changed.emit())
            tip = tooltip_for(described)
            field.widget.setToolTip(tip)
            field.widget.setMaximumWidth(EDITOR_MAX_WIDTH)
            label = QLabel(label_for(described["name"], described.get("unit", "")) + ":")
            label.setToolTip(tip)
            label.setBuddy(field.widget)
            form.addRow(label, self._with_description(field.widget, described, show_descriptions))
            self.fields[described["name"]] = field
        if not self.fields:
            form.addRow(QLabel("This step has no settings."))
        self.initial = {**self.defaults(), **dict(values or {})}
        self.set_values(self.initial)

    @staticmethod
    def _with_description(widget: QWidget, field: dict[str, Any], show: bool) -> QWidget:
        if not show or not field.get("description"):
            return widget
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(widget)
        note = QLabel(str(field["description"]))
        note.setWordWrap(True)
        note.setObjectName("settingDescription")
        note.setStyleSheet("color: palette(placeholder-text); font-size: 9pt;")
        column.addWidget(note)
        return box

    def defaults(self) -> dict[str, Any]:
        return {name: f.description.get("default") for name, f in self.fields.items()}

    def values(self) -> dict[str, Any]:
        """Every setting's current value, as plain data for `parse_settings`."""
        return {name: f.get() for name, f in self.fields.items()}

    def changed_values(self) -> dict[str, Any]:
        """Only the settings that differ from the step's defaults (for a short recipe)."""
        defaults = self.defaults()
        return {k: v for k, v in self.values().items() if v != defaults.get(k)}

    def set_values(self, values: dict[str, Any]) -> None:
        for name, value in values.items():
            if name in self.fields:
                self.fields[name].put(value)

    def reset(self) -> None:
        """Back to the values the form was opened with (the preset's)."""
        self.set_values(self.initial)

    def editor(self, name: str) -> QWidget:
        return self.fields[name].widget

    def settings(self) -> Any:
        """The step's Settings; raises BadInput naming the field when a value is refused."""
        return parse_settings(self.step, self.values())


def main(argv: list[str] | None = None) -> int:
    from PySide6.QtWidgets import QApplication

    args = sys.argv[1:] if argv is None else argv
    app = QApplication.instance() or QApplication(sys.argv[:1])
    form = SettingsForm(args[0] if args else "quantize-static")
    form.setWindowTitle(f"Settings of {form.step.name}")
    form.changed.connect(lambda: print(form.values(), flush=True))
    form.resize(520, form.sizeHint().height())
    form.show()
    return int(app.exec())


if __name__ == "__main__":
    raise SystemExit(main())
