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


@pytest.fixture
def brand_answer(monkeypatch):
    """`brand_answer("Norvik")`: the brand picker answers that brand when it opens (no modal loop in a test)."""
    from logotag_gui.qt.dialogs.brand_picker import BrandPicker

    def answer(brand: str) -> None:
        def exec_(self) -> int:
            self._chosen = brand
            return BrandPicker.DialogCode.Accepted

        monkeypatch.setattr(BrandPicker, "exec", exec_)

    return answer


@pytest.fixture(scope="session")
def ran_project(tmp_path_factory, demo_clip, logos_dir):
    """A project the pipeline ran on the demo clip (keypoints, no verifier), made once for the session: the
    review tests open a copy instead of running the pipeline each."""
    from logotag_gui.core.base.config import RunConfig
    from logotag_gui.core.pipeline.run import run_pipeline
    from logotag_gui.core.review import Project

    path = tmp_path_factory.mktemp("ran") / "p.sqlite"
    project = Project.open(path, durable=False)
    project.set_logos(str(logos_dir))
    project.add_clips([str(demo_clip[0])])
    run_pipeline(RunConfig(input=str(demo_clip[0]), logos=str(logos_dir), embedder="keypoints", verifier="none"),
                 repo=project.repo)
    project.close()
    return path
