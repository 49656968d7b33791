"""Issue 27, the file rows in core: a full disk while an output is written (6), hidden `.part` files left
by a killed writer (16), a 16-bit greyscale image (9), a video with rotation metadata (11), a read-only
project (7), a folder or a full disk where the database should be (10), and a symlink loop as the input (8)."""

from __future__ import annotations

import errno
import io
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from logotag_gui.core.analysis.export import export
from logotag_gui.core.base.errors import OutputError
from logotag_gui.core.base.records import BBox, FrameRef
from logotag_gui.core.base.safe_io import atomic_write, atomic_write_text
from logotag_gui.core.store import open_repository
from tests.seeded import draw

REPO_ROOT = Path(__file__).resolve().parents[2]


def filling_disk(monkeypatch, *, room: int) -> None:
    """Every file opened through `os.fdopen` (atomic_write's temporary file) is on a disk with `room` bytes
    left: the write that reaches it is cut short, the next fails with ENOSPC, as on a disk filling up (the
    bytes left in Python's buffers are what a close tries to write again)."""
    left = [room]

    class FillingFile(io.FileIO):
        def write(self, data) -> int:  # type: ignore[override]
            n = min(len(data), left[0])
            if n == 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            left[0] -= n
            return super().write(bytes(data)[:n])

    def fdopen(fd, mode="r", *args, encoding=None, newline=None, **kwargs):
        buffer = io.BufferedWriter(FillingFile(fd, "w"))
        return buffer if "b" in mode else io.TextIOWrapper(buffer, encoding=encoding, newline=newline)

    monkeypatch.setattr(os, "fdopen", fdopen)


def _project(tmp_path: Path, rows: int):
    repo = open_repository(tmp_path / "p.sqlite")
    video_id = repo.add_video(path=str(tmp_path / "clip.mp4"), kind="video", fps=10.0, frame_count=rows,
                              duration_s=rows / 10, width=640, height=360)
    for i in range(rows):
        draw(repo, video_id=video_id, frame=FrameRef(i, i / 10, 640, 360), bbox=BBox(10, 10, 80, 40), brand="Norvik",
             reviewer="ann")
    return repo


def _parts(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


# ---- row 6: a full disk while an output is written ------------------------------------------------


@pytest.mark.parametrize("size,room", [(10, 0), (100_000, 5000), (20_000, 12_000)])
def test_a_full_disk_is_one_output_error_naming_the_file_and_the_fix(tmp_path, monkeypatch, size, room):
    target = tmp_path / "report.csv"
    target.write_text("old report")
    filling_disk(monkeypatch, room=room)
    with pytest.raises(OutputError) as err:
        atomic_write_text(target, "x" * size)
    message = str(err.value)
    assert str(target) in message and "space" in message and "ree some space" in message
    assert "kept" in message  # the previous file is said to be kept, and is
    assert target.read_text() == "old report"
    assert _parts(tmp_path) == []


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_an_export_on_a_filling_disk_is_the_prepared_error_and_keeps_the_old_file(tmp_path, monkeypatch, fmt):
    repo = _project(tmp_path, 300)  # 300 records: the disk fills while the export writes them
    out = tmp_path / f"e.{fmt}"
    out.write_text("old")
    filling_disk(monkeypatch, room=20_000)
    with pytest.raises(OutputError) as err:  # not a second ENOSPC from closing the temporary file over it
        export(repo, out)
    assert str(out) in str(err.value) and "space" in str(err.value)
    assert out.read_text() == "old" and _parts(tmp_path) == []
    repo.close()


# ---- row 16: a writer killed with SIGKILL leaves a .part that the next write removes ---------------


def test_a_part_left_by_a_killed_writer_is_removed_at_the_next_write(tmp_path):
    target = tmp_path / "X.csv"
    target.write_text("old")
    ready = tmp_path / "ready"
    script = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from logotag_gui.core.base.safe_io import atomic_write
        with atomic_write({str(target)!r}) as fh:
            fh.write("partial")
            fh.flush()
            Path({str(ready)!r}).write_text("1")
            time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO_ROOT)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert ready.exists()
        left = _parts(tmp_path)
        assert len(left) == 1 and str(proc.pid) in left[0]  # the writer's pid is in the name
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert _parts(tmp_path) == left  # SIGKILL cannot be caught: the part stays ...
    # ... a part of another target, and a fresh one of a live writer, are left alone
    other = tmp_path / f".Y.csv.{proc.pid}-0123abcd.part"
    other.write_text("someone else's")
    live = tmp_path / f".X.csv.{os.getpid()}-89abcdef.part"
    live.write_text("being written")
    atomic_write_text(target, "new")  # ... until the next write of the same target
    assert target.read_text() == "new"
    assert _parts(tmp_path) == sorted([other.name, live.name])
    # A part not touched for over a minute is stale whoever wrote it (the pid may be another machine's).
    old = time.time() - 120
    os.utime(live, (old, old))
    with atomic_write(target) as fh:
        fh.write("newer")
    assert _parts(tmp_path) == [other.name]


# ---- row 8: a traceback logged anywhere is one line on the console --------------------------------


def test_the_console_shows_a_logged_traceback_as_one_line_naming_the_log(tmp_path):
    import logging

    from logotag_gui.core.base.logsetup import FILE_ONLY, ConsoleFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(ConsoleFormatter("%(levelname)s: %(message)s", log_file=tmp_path / "logotag.log"))
    handler.addFilter(lambda record: getattr(record, "console", True) is not False)
    logger = logging.getLogger("tests.round3.console")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise ValueError("bad frame\nsecond line")
        except ValueError:
            logger.exception("a worker failed")
            logger.error("said by the caller itself", exc_info=True, extra=FILE_ONLY)
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue() == (f"ERROR: a worker failed: ValueError: bad frame second line (traceback in "
                                 f"{tmp_path / 'logotag.log'})\n")


def test_a_symlink_loop_as_the_input_is_named(tmp_path):
    from logotag_gui.core.base.errors import InputError
    from logotag_gui.core.media.video import open_source

    loop = tmp_path / "a.mp4"
    loop.symlink_to(tmp_path / "b.mp4")
    (tmp_path / "b.mp4").symlink_to(loop)
    with pytest.raises(InputError) as err:
        open_source(loop)
    assert str(loop) in str(err.value) and "symbolic link" in str(err.value)


# ---- row 9: a 16-bit greyscale image is read by its values, not clipped to white --------------------


@pytest.mark.parametrize("top", [65535, 1023])  # full 16-bit range; 10-bit values stored in 16 bits (dark)
def test_a_16_bit_greyscale_png_is_scaled_to_8_bits_not_clipped(tmp_path, top):
    import numpy as np
    from PIL import Image

    from logotag_gui.core.media.video import open_source

    ramp = np.linspace(0, top, 64 * 48).reshape(48, 64).astype(np.uint16)
    image = Image.fromarray(ramp)
    assert image.mode.startswith("I;16")
    image.save(tmp_path / "deep.png")
    with Image.open(tmp_path / "deep.png") as im:
        assert im.mode in ("I;16", "I", "I;16B")  # as Pillow reads a 16-bit greyscale PNG
    frame = open_source(tmp_path).frame(0)
    assert frame.image.dtype == np.uint8 and frame.image.shape == (48, 64, 3)
    expected = np.rint(ramp / 257.0)
    assert np.abs(frame.image[..., 0].astype(int) - expected).max() <= 1
    assert (frame.image[..., 0] == frame.image[..., 2]).all()
    assert frame.image.min() == 0 and frame.image.max() == round(top / 257)  # not all white


# ---- row 11: a video with rotation metadata is read upright ----------------------------------------


@pytest.mark.parametrize("ccw,corner", [(-90, "top-right"), (90, "bottom-left"), (180, "bottom-right")])
def test_a_rotated_video_is_analysed_and_shown_upright(tmp_path, ccw, corner):
    """A phone clip stores its frames sideways with a display matrix (ffprobe: "rotation of -90 degrees", the
    old `rotate=90` tag). PyAV writes one with `set_display_rotation` (counter-clockwise degrees)."""
    import av
    import numpy as np

    from logotag_gui.core.media.video import open_source

    if not hasattr(av.video.stream.VideoStream, "set_display_rotation"):
        pytest.skip("this PyAV cannot write a display matrix (set_display_rotation: PyAV 15 and later)")
    path = tmp_path / "phone.mp4"
    stored = np.zeros((64, 128, 3), np.uint8)  # 128 wide, 64 high as stored
    stored[:16, :16] = 255  # a white mark in the stored top-left corner
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=10)
    stream.width, stream.height, stream.pix_fmt = 128, 64, "yuv420p"
    stream.set_display_rotation(ccw)
    for _ in range(20):
        for packet in stream.encode(av.VideoFrame.from_ndarray(stored, format="rgb24")):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()

    source = open_source(path)
    upright = np.rot90(stored, k=ccw // 90)  # as a player shows it
    h, w = upright.shape[:2]
    assert (source.info.width, source.info.height) == (w, h)
    mark = {"top-right": (slice(0, 16), slice(w - 16, w)), "bottom-left": (slice(h - 16, h), slice(0, 16)),
            "bottom-right": (slice(h - 16, h), slice(w - 16, w))}[corner]
    for frame in [next(iter(source.sample(fps=10))), source.frame(7)]:
        assert frame.image.shape == (h, w, 3) and (frame.ref.width, frame.ref.height) == (w, h)
        assert frame.image[mark].mean() > 200 and frame.image[:16, :16].mean() < 50  # the mark moved with it
    ref, luma = next(iter(source.luma(start=0, end=3)))  # what tracking follows boxes on
    assert luma.shape == (h, w) and (ref.width, ref.height) == (w, h) and luma[mark].mean() > 200
    source.close()
