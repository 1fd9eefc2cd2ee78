"""File > New system from equations: type a system, see the parser's errors as you type.

One line per state, `STATE = EXPRESSION` (d STATE/dt), in the order of the states; one line
per parameter, `NAME = VALUE`. The text is checked 150 ms after each keystroke by the same
compiler scenes and `--eq` use, and its message (with a caret under the problem) is shown
below; Apply is enabled only when the system compiles. Applied systems join the picker
(grouped under "equations") and save into scenes as equations.
"""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from dynsim.core.errors import DynsimError
from dynsim.core.expressions import ExpressionError
from dynsim.core.expressions.parse import IDENTIFIER
from dynsim.core.scene import EquationSource
from dynsim.gui.model import ExplorerState, state_for_system

CHECK_DELAY_MS = 150
EXAMPLE = ("x = a*x - b*x*y\ny = -c*y + d*x*y", "a = 1.5\nb = 1\nc = 3\nd = 1")


def split_lines(text: str, what: str) -> list[tuple[str, str]]:
    """`NAME = TEXT` lines (blank lines and `#` comments skipped) as (name, text) pairs.

    Raises `ExpressionError` naming the line of a malformed one.
    """
    pairs = []
    for number, line in enumerate(text.splitlines(), start=1):
        content = line.split("#", 1)[0].strip()
        if not content:
            continue
        name, sep, rest = content.partition("=")
        if not sep or not IDENTIFIER.fullmatch(name.strip()):
            raise ExpressionError(f"expected NAME = ... ({what})", key=f"{what} line {number}",
                                  expression=line)
        pairs.append((name.strip(), rest.strip()))
    return pairs


def build_state(name: str, equations_text: str, params_text: str) -> ExplorerState:
    """The explorer state for the typed system (raises `DynsimError` with the problem)."""
    equations = split_lines(equations_text, "equations")
    if not equations:
        raise ExpressionError("type one equation per state, e.g. x = -y", key="equations")
    params: dict[str, float] = {}
    for pname, value in split_lines(params_text, "parameters"):
        try:
            params[pname] = float(value)
        except ValueError:
            raise ExpressionError(f"'{value}' is not a number", key=f"parameters.{pname}",
                                  expression=value) from None
    source = EquationSource(tuple(s for s, _ in equations), dict(equations))
    system = source.build(name.strip() or "equations", params, prefix="system")
    return state_for_system(system, equations=source, params=params)


class EquationsDialog(QtWidgets.QDialog):
    """The editor; after `exec()` returns Accepted, `result_state` holds the new state."""

    def __init__(self, parent: QtWidgets.QWidget | None, current: ExplorerState) -> None:
        super().__init__(parent)
        self.setWindowTitle("New system from equations")
        self.result_state: ExplorerState | None = None
        source = current.equations
        self.name = QtWidgets.QLineEdit(current.system.name if source else "my_system")
        self.equations = QtWidgets.QPlainTextEdit(
            "\n".join(f"{s} = {source.equations[s]}" for s in source.states)
            if source else EXAMPLE[0])
        self.params = QtWidgets.QPlainTextEdit(
            "\n".join(f"{k} = {v:g}" for k, v in current.params.items())
            if source else EXAMPLE[1])
        mono = QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont)
        for edit in (self.equations, self.params):
            edit.setFont(mono)
        self.message = QtWidgets.QLabel()
        self.message.setFont(mono)
        self.message.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Apply
            | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        form = QtWidgets.QFormLayout(self)
        form.addRow("name", self.name)
        form.addRow("d(state)/dt =\n(one per line)", self.equations)
        form.addRow("parameters", self.params)
        form.addRow(self.message)
        form.addRow(self.buttons)
        self.resize(640, 420)
        self._timer = QtCore.QTimer(self, singleShot=True, interval=CHECK_DELAY_MS)
        self._timer.timeout.connect(self.check)
        for signal in (self.name.textChanged, self.equations.textChanged,
                       self.params.textChanged):
            signal.connect(self._timer.start)
        self.buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Apply).clicked.connect(
            self._apply)
        self.buttons.rejected.connect(self.reject)
        self.check()

    def check(self) -> ExplorerState | None:
        """Compile the text now; show the problem (or that it is fine); return the state."""
        apply = self.buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Apply)
        try:
            state = build_state(self.name.text(), self.equations.toPlainText(),
                                self.params.toPlainText())
        except DynsimError as exc:
            self.message.setText(str(exc))
            self.message.setStyleSheet("color: #b00020")
            apply.setEnabled(False)
            return None
        states = ", ".join(state.system.states)
        self.message.setText(f"ok: states {states}; parameters "
                             f"{', '.join(state.system.params) or 'none'}")
        self.message.setStyleSheet("color: #1b5e20")
        apply.setEnabled(True)
        return state

    def _apply(self) -> None:
        self.result_state = self.check()
        if self.result_state is not None:
            self.accept()
