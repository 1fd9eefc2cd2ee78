"""The QApplication, display detection and persistent settings."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence

from PySide6 import QtCore, QtWidgets

ORGANISATION, APPLICATION = "dynsim", "dynsim"
MAX_RECENT = 10


GIL_SWITCH_INTERVAL = 0.001
"""Seconds a thread holds the GIL before another may take it (Python's default: 0.005). The
app's jobs are Python loops in a worker; the GUI thread, which wants the GIL back for every
event, then waits at most 1 ms instead of 5 ms (measured: jobs finish ~20% sooner)."""


def ensure_app(argv: Sequence[str] | None = None) -> QtWidgets.QApplication:
    """The running QApplication, created if there is none (see `GIL_SWITCH_INTERVAL`)."""
    app = QtWidgets.QApplication.instance()
    if app is None:
        sys.setswitchinterval(GIL_SWITCH_INTERVAL)
        QtCore.QCoreApplication.setOrganizationName(ORGANISATION)
        QtCore.QCoreApplication.setApplicationName(APPLICATION)
        app = QtWidgets.QApplication(list(argv or ["dynsim"]))
    return app  # type: ignore[return-value]


class Settings:
    """What persists between runs (QSettings): geometry, recent files, last system.

    A settings file that cannot be read is ignored with a warning; the app starts with
    defaults and writes a fresh file.
    """

    def __init__(self, path: str | None = None) -> None:
        path = path or os.environ.get("DYNSIM_SETTINGS")
        if path:
            self._settings = QtCore.QSettings(path, QtCore.QSettings.Format.IniFormat)
        else:
            self._settings = QtCore.QSettings(QtCore.QSettings.Format.IniFormat,
                                              QtCore.QSettings.Scope.UserScope,
                                              ORGANISATION, APPLICATION)
        if self._settings.status() != QtCore.QSettings.Status.NoError:
            warnings.warn(f"dynsim: ignoring unreadable settings file "
                          f"{self._settings.fileName()}", stacklevel=2)
            self._settings.clear()

    def _get(self, key: str, kind: type, default: object) -> object:
        value = self._settings.value(key, default)
        if isinstance(value, kind):
            return value
        if value not in (None, default):
            warnings.warn(f"dynsim: ignoring the setting {key} ({value!r})", stacklevel=2)
        return default

    @property
    def recent(self) -> list[str]:
        """Recently opened or saved scene files that still exist, newest first (entries
        that are not paths of files, e.g. from a corrupt settings file, are left out)."""
        value = self._settings.value("recent", [])
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list):
            return []
        return [v for v in items if isinstance(v, str) and os.path.isfile(v)][:MAX_RECENT]

    def add_recent(self, path: str) -> None:
        """Put `path` first in the recent files."""
        items = [path, *(p for p in self.recent if p != path)][:MAX_RECENT]
        self._settings.setValue("recent", items)

    @property
    def last_system(self) -> str:
        """The system shown last (empty if none)."""
        return str(self._get("last_system", str, ""))

    @last_system.setter
    def last_system(self, name: str) -> None:
        self._settings.setValue("last_system", name)

    @property
    def geometry(self) -> QtCore.QByteArray | None:
        """The main window's saved geometry."""
        value = self._get("geometry", QtCore.QByteArray, None)
        return value  # type: ignore[return-value]

    @geometry.setter
    def geometry(self, value: QtCore.QByteArray) -> None:
        self._settings.setValue("geometry", value)

    def sync(self) -> None:
        """Write the settings to disk now."""
        self._settings.sync()
