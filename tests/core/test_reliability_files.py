"""Issue 12, the file rows: path safety (4), formula-safe CSV (5), atomic outputs (8), unreadable or
oversized logo inputs (9), aliases given as one string (11), truth files of another shape (12), an
empty report (13), and URL redaction."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from logotag_gui.core.analysis import report
from logotag_gui.core.analysis.evaluate import load_truth, predictions_from_records
from logotag_gui.core.analysis.export import export, read_jsonl
from logotag_gui.core.base import logsetup
from logotag_gui.core.base.errors import InputError, OutputError
from logotag_gui.core.base.records import BBox, DecisionKind, FrameRef
from logotag_gui.core.base.safe_io import (
    SafeDictWriter,
    atomic_write,
    atomic_write_text,
    neutralise_cell,
    redact_secrets,
    redact_url,
    safe_child,
    safe_filename,
)
from logotag_gui.core.media import logos as logos_mod
from logotag_gui.core.media.logos import load_dictionary
from logotag_gui.core.proposers.logo_index import build_index, load_index_if_fresh, manifest_for, save_index
from logotag_gui.core.store import open_repository
from tests.seeded import decide, draw

REPO_ROOT = Path(__file__).resolve().parents[2]


def _project(tmp_path, brands_and_reviewers, *, pending: bool = False):
    """A project with one (absent) clip and one drawn box per (brand, reviewer); no pipeline run needed."""
    repo = open_repository(tmp_path / "p.sqlite")
    video_id = repo.add_video(path=str(tmp_path / "clip.mp4"), kind="video", fps=10.0, frame_count=60,
                              duration_s=6.0, width=640, height=360)
    for i, (brand, reviewer) in enumerate(brands_and_reviewers):
        c = draw(repo, video_id=video_id, frame=FrameRef(i, i / 10, 640, 360), bbox=BBox(10, 10, 80, 40),
                 brand=brand, reviewer=reviewer)
        if pending:
            decide(repo, [c.stored_id], DecisionKind.CLEAR, video_id=video_id, reviewer=reviewer)
    return repo


# ---- row 4: one path-safety rule ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../../x", "..", ".", "", "   ", "/tmp/y", "C:\\evil", "C:evil", "a/b", "a\\b",
                                  "a\x00b", "tab\there", "CON", "nul.png", "x:stream", "brand.", "a" * 300,
                                  "..\\..\\x"])
def test_safe_child_refuses_names_that_escape_or_break_the_folder(tmp_path, name):
    with pytest.raises(InputError) as err:
        safe_child(tmp_path / "logos", name)
    assert "Rename it" in str(err.value) and repr(name)[:40] in str(err.value)
    # The same name as a second part (brand / file name) is refused too.
    with pytest.raises(InputError):
        safe_child(tmp_path / "logos", "Norvik", name)


@pytest.mark.parametrize("name", ["Norvik", "Coca-Cola", "AT&T", "M&M's", "Yahoo!", "Café Olé", "a..b", "7up",
                                  "review_clip_12_3.png"])
def test_safe_child_keeps_ordinary_brand_names(tmp_path, name):
    assert safe_child(tmp_path, name) == tmp_path / name
    assert safe_child(tmp_path, name, "ref.png") == tmp_path / name / "ref.png"


def test_safe_child_refuses_a_symbolic_link_out_of_the_folder(tmp_path):
    root = tmp_path / "logos"
    root.mkdir()
    (root / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(InputError, match="outside"):
        safe_child(root, "linked", "x.png")


@pytest.mark.parametrize("text", ["../../x", "/tmp/y", "C:\\evil", "", "..", ".hidden", "a\x00b\nc", "CON",
                                  "=cmd|' /C calc'!A0", "é" * 200])
def test_safe_filename_is_always_one_plain_component(tmp_path, text):
    name = safe_filename(text)
    assert name and name not in (".", "..") and not name.startswith(".")
    assert len(name.encode()) <= 120
    assert safe_child(tmp_path, name).parent == tmp_path  # and the strict rule accepts it


# ---- row 5: one formula-safe CSV writer -----------------------------------------------------------

EVIL = ["=HYPERLINK(\"http://x\",\"y\")", "+1+2", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "  =1+1"]


@pytest.mark.parametrize("text", EVIL)
def test_text_cells_that_start_a_formula_get_a_quote(text):
    assert neutralise_cell(text) == "'" + text


def test_numbers_stay_numbers_and_plain_text_stays_as_it_is():
    for value in (-3.5, -1, 0, 2.25, True, None, "Norvik", "", "a=b", "[-1, 2, 3, 4]"):
        assert neutralise_cell(value) == value
    buf = io.StringIO()
    writer = SafeDictWriter(buf, fieldnames=["brand", "seconds", "n"])
    writer.writeheader()
    writer.writerow({"brand": "-2+3", "seconds": -1.5, "n": -4})
    line = buf.getvalue().splitlines()[1]
    assert line == "\"'-2+3\",-1.5,-4"  # text quoted and neutralised; numbers bare
    buf = io.StringIO()
    SafeDictWriter(buf, fieldnames=["a"]).writerow({"a": "x;=1+1"})
    assert buf.getvalue().startswith('"x;=1+1"')  # quoted: a `;` spreadsheet cannot split off a formula cell


def test_export_csv_neutralises_brand_and_reviewer_names(tmp_path):
    repo = _project(tmp_path, [("=1+1", "@evil"), ("Norvik", "-ann"), ("+cmd", "bob")])
    assert export(repo, tmp_path / "out.csv") == 3
    rows = list(csv.DictReader((tmp_path / "out.csv").open(newline="")))
    assert [r["brand"] for r in rows] == ["'=1+1", "Norvik", "'+cmd"]
    assert [r["reviewer"] for r in rows] == ["'@evil", "'-ann", "bob"]
    assert float(rows[0]["score_retr"]) == 1.0 and json.loads(rows[0]["bbox"]) == [10, 10, 80, 40]
    # JSONL is not a spreadsheet format: the names stay exactly as typed there.
    export(repo, tmp_path / "out.jsonl")
    assert [r["brand"] for r in read_jsonl(tmp_path / "out.jsonl")] == ["=1+1", "Norvik", "+cmd"]


def test_report_csv_neutralises_brand_names(tmp_path):
    repo = _project(tmp_path, [("=1+1", "ann"), ("@SUM(A1)", "ann")])
    report.write_csv(report.build_report(repo), tmp_path / "e.csv")
    rows = list(csv.DictReader((tmp_path / "e.csv").open(newline="")))
    assert {r["brand"] for r in rows} == {"'=1+1", "'@SUM(A1)"}
    assert all(not r["brand"].startswith(("=", "@")) for r in rows)


# ---- row 8: atomic writes for every output --------------------------------------------------------


def test_atomic_write_keeps_the_previous_file_when_writing_fails(tmp_path):
    target = tmp_path / "report.csv"
    target.write_text("previous report")
    with pytest.raises(RuntimeError), atomic_write(target) as fh:
        fh.write("half of a new")
        raise RuntimeError("killed")
    assert target.read_text() == "previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.csv"]  # no temporary file left
    atomic_write_text(target, "new report")
    assert target.read_text() == "new report"


def test_atomic_write_keeps_permissions_and_reports_an_unwritable_folder(tmp_path):
    target = tmp_path / "r.html"
    target.write_text("old")
    target.chmod(0o640)
    atomic_write_text(target, "new")
    assert target.stat().st_mode & 0o777 == 0o640
    with pytest.raises(OutputError, match="Cannot write"):
        atomic_write_text(tmp_path / "no-such-folder" / "r.csv", "x")


def test_kill_9_during_report_leaves_the_previous_report_whole(tmp_path):
    repo = _project(tmp_path, [("Norvik", "ann"), ("Aquila", "ann"), ("Zenit", "ann")])
    repo.close()
    out = tmp_path / "e.csv"
    out.write_text("previous report\n")
    script = textwrap.dedent(f"""
        import os, signal
        from logotag_gui.core.analysis import report
        from logotag_gui.core.store import open_repository
        real_row, calls = report.csv_row, []
        def row(*args):
            calls.append(1)
            if len(calls) == 2:
                os.kill(os.getpid(), signal.SIGKILL)  # kill -9 half-way through the rows
            return real_row(*args)
        report.csv_row = row
        report.write_csv(report.build_report(open_repository({str(tmp_path / 'p.sqlite')!r})), {str(out)!r})
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    assert out.read_text() == "previous report\n"


def _tiny_index(tmp_path):
    folder = tmp_path / "logos"
    folder.mkdir()
    for name, colour in (("a", "red"), ("b", "blue")):
        Image.new("RGB", (40, 30), colour).save(folder / f"{name}.png")
    dictionary = load_dictionary(folder)
    vectors = np.random.default_rng(0).normal(size=(len(dictionary.references), 8)).astype(np.float32)
    manifest = manifest_for(dictionary, embedder_id="test", revision=None, dim=8)
    return build_index(dictionary, vectors, manifest), manifest


def test_index_cache_is_written_atomically_and_a_torn_index_is_rebuilt_not_a_crash(tmp_path):
    index, manifest = _tiny_index(tmp_path)
    cache = tmp_path / "cache"
    save_index(index, cache)
    assert sorted(p.name for p in cache.iterdir()) == ["index.faiss", "manifest.json"]
    loaded = load_index_if_fresh(cache, manifest)
    assert loaded is not None and loaded.index.ntotal == index.index.ntotal
    # A torn index file (a crash between the two files, or a disk error) means "rebuild", never a traceback.
    data = (cache / "index.faiss").read_bytes()
    (cache / "index.faiss").write_bytes(data[: len(data) // 2])
    assert load_index_if_fresh(cache, manifest) is None
    (cache / "manifest.json").write_text("[1, 2]")
    assert load_index_if_fresh(cache, manifest) is None


# ---- row 9: unreadable or oversized logo inputs ---------------------------------------------------


def _logo_folder(tmp_path, size=(60, 40)):
    folder = tmp_path / "logos"
    folder.mkdir()
    Image.new("RGB", size, "red").save(folder / "Norvik.png")
    return folder


def test_an_unreadable_logo_folder_is_one_clear_error(tmp_path, deny_listing):
    folder = _logo_folder(tmp_path)
    deny_listing(folder)
    with pytest.raises(InputError, match="cannot be read: permission denied"):
        load_dictionary(folder)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads every folder")
def test_an_unreadable_logo_folder_for_real(tmp_path):
    folder = _logo_folder(tmp_path)
    folder.chmod(0o000)
    try:
        with pytest.raises(InputError, match="permission denied"):
            load_dictionary(folder)
    finally:
        folder.chmod(0o755)


def test_brands_json_that_is_not_utf8_is_one_clear_error(tmp_path):
    folder = _logo_folder(tmp_path)
    (folder / "brands.json").write_bytes('{"Norvik": {"aliases": ["Norvík"]}}'.encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        load_dictionary(folder)
    (folder / "brands.json").write_bytes('{"Norvik": {"aliases": ["Norvík"]}}'.encode("utf-8-sig"))  # Notepad
    assert load_dictionary(folder).names_for("Norvik") == ["Norvik", "Norvík"]


@pytest.mark.parametrize("pixels", [500, 1000])  # over 2x the limit: an error in Pillow; over 1x: a warning
def test_a_logo_over_the_decompression_bomb_limit_is_refused_by_name(tmp_path, monkeypatch, pixels):
    folder = _logo_folder(tmp_path, size=(40, 30))  # 1200 pixels
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", pixels)
    with pytest.raises(InputError) as err:
        load_dictionary(folder)
    assert "Norvik.png" in str(err.value) and "decompression-bomb" in str(err.value)


# ---- row 11: aliases given as one string ----------------------------------------------------------


def test_aliases_as_one_string_are_one_alias_with_a_warning(tmp_path, caplog):
    folder = _logo_folder(tmp_path)
    Image.new("RGB", (60, 40), "blue").save(folder / "Aquila.png")
    (folder / "brands.json").write_text(json.dumps({"Norvik": {"aliases": "NORVIK"}, "Aquila": "AQUILA SPA"}))
    with caplog.at_level(logging.WARNING, logger=logos_mod.__name__):
        dictionary = load_dictionary(folder)
    assert dictionary.names_for("Norvik") == ["Norvik", "NORVIK"]
    assert dictionary.names_for("Aquila") == ["Aquila", "AQUILA SPA"]
    assert "single string" in caplog.text and '["NORVIK"]' in caplog.text


@pytest.mark.parametrize("content", ['{"Norvik": {"aliases": {"a": 1}}}', '{"Norvik": 5}', '["Norvik"]',
                                     '{"Norvik": {"aliases": [["x"]]}}'])
def test_aliases_of_another_shape_are_refused_naming_the_shape(tmp_path, content):
    folder = _logo_folder(tmp_path)
    (folder / "brands.json").write_text(content)
    with pytest.raises(InputError, match="Expected"):
        load_dictionary(folder)


# ---- row 12: truth files of another shape ---------------------------------------------------------


@pytest.mark.parametrize("content, where", [
    ("5", "a number"),
    ("[1, 2]", "an array"),
    ('{"fps": 10}', "neither COCO"),
    ('{"frames": 5}', "'frames' is a number"),
    ('{"frames": {"0": 3}}', "frames['0'] is a number"),
    ('{"frames": {"zero": []}}', "frame index"),
    ('{"frames": {"0": [{"brand": "x", "bbox": [1, 2, 3]}]}}', "not four numbers"),
    ('{"frames": {"0": [{"bbox": [1, 2, 3, 4]}]}}', "brand is missing"),
    ('{"fps": "fast", "frames": {}}', "'fps'"),
    ('{"images": [{"id": 1}], "annotations": []}', "file_name is missing"),
    ('{"images": 3, "annotations": []}', "'images' is a number"),
    ('{"images": [{"id": 1, "file_name": "a.jpg"}], "categories": [{"id": 1, "name": "n"}],'
     ' "annotations": [{"image_id": 9, "category_id": 1, "bbox": [0, 0, 1, 1]}]}', "image_id"),
    ('{"images": [{"id": 1, "file_name": "a.jpg"}], "categories": [],'
     ' "annotations": [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]}]}', "category_id"),
])
def test_truth_of_another_shape_names_what_was_expected(tmp_path, content, where):
    path = tmp_path / "truth.json"
    path.write_text(content)
    with pytest.raises(InputError) as err:
        load_truth(path)
    assert where in str(err.value) and "Expected" in str(err.value)


def test_truth_that_is_not_utf8_and_predictions_of_another_shape(tmp_path):
    path = tmp_path / "truth.json"
    path.write_bytes(b'{"frames": {"0": [{"brand": "\xe9", "bbox": [0, 0, 1, 1]}]}}')
    with pytest.raises(InputError, match="not UTF-8"):
        load_truth(path)
    with pytest.raises(InputError, match="record 1"):
        predictions_from_records([{"brand": "a", "bbox": [0, 0, 1, 1]}])
    with pytest.raises(InputError, match=r"record 2.*bbox"):
        predictions_from_records([{"frame": 0, "brand": "a", "bbox": [0, 0, 1, 1]}, {"frame": 1, "brand": "a", "bbox": 7}])
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_text('{"frame": 0}\nnot json\n')
    with pytest.raises(InputError, match="line 2"):
        list(read_jsonl(jsonl))


# ---- row 13: a report with no reviewed detections -------------------------------------------------


def test_empty_report_says_why_and_what_to_do(tmp_path):
    repo = _project(tmp_path, [("Norvik", "ann"), ("Aquila", "ann")], pending=True)
    built = report.build_report(repo)
    note = report.empty_note(built)
    assert note and "reviewed" in note and "--source model" in note
    report.write_html(built, tmp_path / "e.html")
    assert "--source model" in (tmp_path / "e.html").read_text()
    (tmp_path / "reviewed").mkdir()
    assert report.empty_note(report.build_report(_project(tmp_path / "reviewed", [("Norvik", "ann")]))) is None


# ---- elsewhere: database URLs never show their password -------------------------------------------


@pytest.mark.parametrize("url, shown", [
    ("postgresql+psycopg://ann:s3cret@db.example:5432/logos", "postgresql+psycopg://ann:***@db.example:5432/logos"),
    ("postgresql://ann:p%40ss@db/logos", "postgresql://ann:***@db/logos"),
    ("postgresql://ann@db/logos", "postgresql://ann@db/logos"),
    ("project.sqlite", "project.sqlite"),
    ("sqlite:////tmp/p.sqlite", "sqlite:////tmp/p.sqlite"),
])
def test_redact_url(url, shown):
    assert redact_url(url) == shown


def test_redact_secrets_in_free_text_and_in_the_log(tmp_path, monkeypatch):
    text = "could not connect to postgresql://ann:s3cret@db/logos (refused); retry weird://u:p@ss@h/x"
    redacted = redact_secrets(text)
    assert "s3cret" not in redacted and "p@ss" not in redacted and "postgresql://ann:***@db/logos" in redacted
    formatter = logsetup.RedactingFormatter("%(message)s")
    try:
        raise RuntimeError("engine for postgresql://ann:s3cret@db/logos failed")
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "opening %s", ("postgresql://ann:s3cret@db/l",),
                                   sys.exc_info())
    assert "s3cret" not in formatter.format(record)


def test_an_unwritable_log_folder_falls_back_instead_of_failing(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    script = "from logotag_gui.core.base.logsetup import setup_logging; print(setup_logging(console=False))"
    env = {**os.environ, "LOGOTAG_LOG_DIR": str(blocker / "logs")}  # a process of its own: logging set up afresh
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    path = Path(proc.stdout.strip().splitlines()[-1])
    assert path.parent != blocker / "logs" and path.exists()


def test_a_native_crash_leaves_every_threads_stack_beside_the_log_and_the_next_start_names_it(tmp_path):
    """A segfault (Qt, a codec) kills the process before logging can say anything: faulthandler writes it."""
    env = {**os.environ, "LOGOTAG_LOG_DIR": str(tmp_path)}
    crash = ("import faulthandler, logging; from logotag_gui.core.base.logsetup import setup_logging; "
             "setup_logging(console=False); logging.getLogger('x').info('working'); faulthandler._sigsegv()")
    died = subprocess.run([sys.executable, "-c", crash], env=env, capture_output=True, text=True, timeout=120)
    assert died.returncode != 0
    trace = (tmp_path / "crash.log").read_text()
    assert "Fatal Python error: Segmentation fault" in trace and "<string>" in trace
    start = "from logotag_gui.core.base.logsetup import setup_logging; setup_logging(console=False)"
    subprocess.run([sys.executable, "-c", start], env=env, check=True, timeout=120)
    [kept] = tmp_path.glob("crash-*.log")
    assert kept.read_text() == trace and (tmp_path / "crash.log").read_text() == ""
    assert f"crash last time; what every thread was doing is in '{kept}'" in (tmp_path / "logotag.log").read_text()
