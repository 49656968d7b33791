from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def deny_listing(monkeypatch):
    """Make listing a folder fail as an unreadable folder does (root reads every folder, so chmod cannot)."""

    def deny(folder: Path) -> None:
        real_iterdir = Path.iterdir

        def iterdir(self):
            if self == folder:
                raise PermissionError(13, "Permission denied", str(self))
            return real_iterdir(self)

        monkeypatch.setattr(Path, "iterdir", iterdir)

    return deny
