from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never download anything

from resources import synth
from tests.tiny_models import save_tiny_llava, save_tiny_siglip2


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory, monkeypatch):
    # Index caches and logs go to a temporary folder, never the developer's home.
    base = tmp_path_factory.getbasetemp()
    monkeypatch.setenv("XDG_CACHE_HOME", str(base / "cache"))
    monkeypatch.setenv("LOGOTAG_LOG_DIR", str(base / "logs"))
    # The offline detector runs without the shape matcher (quicker) unless a test asks for it:
    # tests/core/test_shape_matcher.py measures the shipped one.
    monkeypatch.setenv("LOGOTAG_SHAPE_MODEL", "none")


_OCR_READS: dict[bytes, list] = {}


@pytest.fixture(autouse=True)
def _each_image_read_once(request, monkeypatch):
    """What rapidocr reads in one image never changes, and dozens of tests run the pipeline on the same demo
    frames (reading a 640x360 frame takes about a second here): the suite reads each image once, with the real
    engine, and hands the same lines to later readers. A test about reading itself (the engine on several
    threads at once) is marked `fresh_ocr` and reads every time."""
    if request.node.get_closest_marker("fresh_ocr"):
        return
    from logotag_gui.core.vision.text_reading import TextReader

    real_read = TextReader.read.__func__  # type: ignore[attr-defined]

    def read_once(cls, image, *, whole_frame=False):
        image = np.ascontiguousarray(image)
        key = hashlib.blake2b(image.tobytes(), digest_size=16).digest() + repr((image.shape, image.dtype,
                                                                                 whole_frame)).encode()
        if key not in _OCR_READS:
            _OCR_READS[key] = real_read(cls, image, whole_frame=whole_frame)
        return list(_OCR_READS[key])

    monkeypatch.setattr(TextReader, "read", classmethod(read_once))


@pytest.fixture(scope="session")
def logos_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("logos")
    synth.write_logo_folder(folder)
    return folder


@pytest.fixture(scope="session")
def demo_clip(tmp_path_factory, logos_dir):
    """(path, per-frame truth): a 6-second 640x360 clip at 10 fps with three moving logos."""
    folder = tmp_path_factory.mktemp("clip")
    marks = {name: synth.make_logo(name, *spec) for name, spec in synth.DEMO_BRANDS.items()}
    path = folder / "demo.mp4"
    truth = synth.write_clip(path, marks, synth.DEMO_PLACEMENTS)
    return path, truth


@pytest.fixture(scope="session")
def tiny_siglip(tmp_path_factory) -> Path:
    return save_tiny_siglip2(tmp_path_factory.mktemp("tiny-siglip2"))


@pytest.fixture(scope="session")
def tiny_vlm(tmp_path_factory) -> Path:
    return save_tiny_llava(tmp_path_factory.mktemp("tiny-llava"))


def _pg_url() -> str | None:
    return os.environ.get("LOGOTAG_TEST_PG_URL")


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path):
    """A fresh database URL: a SQLite file, and PostgreSQL when LOGOTAG_TEST_PG_URL is set (CI sets it)."""
    if request.param == "sqlite":
        yield str(tmp_path / "project.sqlite")
        return
    url = _pg_url()
    if not url:
        pytest.skip("LOGOTAG_TEST_PG_URL is not set (CI starts a PostgreSQL server and sets it)")
    from sqlalchemy import create_engine, text

    name = f"logotag_test_{os.getpid()}_{abs(hash(request.node.nodeid)) % 10**8}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    test_url = url.rsplit("/", 1)[0] + "/" + name
    yield test_url
    from sqlalchemy import create_engine as ce

    ce(test_url).dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


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


def pytest_collection_modifyitems(items):
    # With pytest-xdist (`-n`), the tests that use Ray run on one worker: one local Ray for the session there,
    # and its worker processes (each loads the models) serve them all.
    for item in items:
        if "local_ray" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("ray"))


@pytest.fixture(scope="session")
def local_ray(tmp_path_factory):
    """One small local Ray for the session; its workers get the environment the tests' autouse fixture sets."""
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
