"""The Profile page's inputs table: what each model input is fed, as the CLI's flags say.

One row per input of the checked models (by name): its declared shape, a shape to use
instead (`1,3,640,640`) and a value (`16000`, `ones`, `zeros`, `range:0:30522`); below,
sizes for named symbolic dims (`seq=8, past=0`) and an .npz of real arrays. Empty means
seeded synthetic data, as in `edgebench profile`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.cli_inputs import spec_from
from engines.floor.spec import InputSpec

SHAPE_COLUMN, VALUE_COLUMN = 1, 2


def _shape_text(shape: Any) -> str:
    if shape is None or list(shape) == ["*"]:
        return "not recorded"
    if not shape:
        return "scalar"
    return " × ".join(str(d) for d in shape)


class InputsBox(QGroupBox):
    def __init__(self) -> None:
        super().__init__("Inputs (empty: seeded synthetic data)")
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Input (declared shape)", "Shape", "Value"])
        self.table.verticalHeader().setVisible(False)
        self.table.setToolTip(
            "Shape: e.g. 1,3,640,640 for an input with symbolic dims. Value: a number "
            "(16000), ones, zeros, or range:LO:HI for integer ids. Inputs named like a "
            "mask are all ones by default."
        )
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setMaximumHeight(160)
        self.dims = QLineEdit()
        self.dims.setPlaceholderText("seq=8, past=0")
        self.dims.setToolTip("Sizes of symbolic dimensions by name, wherever they appear")
        self.data = QLineEdit()
        self.data.setPlaceholderText(".npz of real arrays by input name")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        data_row = QWidget()
        row = QHBoxLayout(data_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.data, 1)
        row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Named dims", self.dims)
        form.addRow("Real arrays", data_row)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addLayout(form)

    def set_inputs(self, declared: Sequence[dict[str, Any]]) -> None:
        """Show these inputs (by name, first declaration wins), keeping typed entries."""
        kept = {
            self.name_at(r): (self._text(r, SHAPE_COLUMN), self._text(r, VALUE_COLUMN))
            for r in range(self.table.rowCount())
        }
        unique = list({d.get("name", ""): d for d in reversed(list(declared))}.values())[::-1]
        self.table.setRowCount(len(unique))
        for r, entry in enumerate(unique):
            name = str(entry.get("name", ""))
            shape = _shape_text(entry.get("shape"))
            item = QTableWidgetItem(f"{name}\n{shape}")
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setToolTip(f"{name}: {declared}, {entry.get('dtype', '')}")
            item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
            self.table.setItem(r, 0, item)
            shape, value = kept.get(name, ("", ""))
            self.table.setItem(r, SHAPE_COLUMN, QTableWidgetItem(shape))
            self.table.setItem(r, VALUE_COLUMN, QTableWidgetItem(value))

    def set_entry(self, name: str, shape: str = "", value: str = "") -> None:
        for r in range(self.table.rowCount()):
            if self.name_at(r) == name:
                self.table.item(r, SHAPE_COLUMN).setText(shape)
                self.table.item(r, VALUE_COLUMN).setText(value)

    def input_spec(self) -> InputSpec:
        """The InputSpec typed here; BadInput naming the entry when one is malformed."""
        shapes, values = [], []
        for r in range(self.table.rowCount()):
            name = self.name_at(r)
            shape = self._text(r, SHAPE_COLUMN).replace("×", ",").replace(" ", "")
            if shape:
                shapes.append(f"{name}={shape}")
            value = self._text(r, VALUE_COLUMN)
            if value:
                values.append(f"{name}={value}")
        dims = [part.strip() for part in self.dims.text().split(",") if part.strip()]
        return spec_from(shapes, dims, values, self.data.text().strip() or None)

    def name_at(self, row: int) -> str:
        return str(self.table.item(row, 0).data(Qt.ItemDataRole.UserRole))

    def declared_at(self, row: int) -> str:
        return self.table.item(row, 0).text().split("\n", 1)[-1]

    def _text(self, row: int, column: int) -> str:
        item = self.table.item(row, column)
        return item.text().strip() if item is not None else ""

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Real input arrays", "", "NumPy (*.npz)")
        if path:
            self.data.setText(path)
