from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    from PySide6.QtCore import QSettings

    # QSettings (recent projects, reviewer) go to a temporary folder, not the developer's.
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    from logotag_gui.qt.main_window import MainWindow

    w = MainWindow(reviewer="tester")
    qtbot.addWidget(w)
    w.show()
    yield w
    w.close()
