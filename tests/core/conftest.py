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


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    """One small local Ray for the module; its workers get the environment the tests' autouse fixture sets."""
    ray = pytest.importorskip("ray", reason='Ray is not installed (pip install "logotag[ray]")')
    base = tmp_path_factory.getbasetemp()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(base / "cache"))
        mp.setenv("LOGOTAG_LOG_DIR", str(base / "logs"))
        mp.setenv("LOGOTAG_SHAPE_MODEL", "none")
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("RAY_USAGE_STATS_ENABLED", "0")
        ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    yield ray
    ray.shutdown()
