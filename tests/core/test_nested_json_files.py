"""Deeply nested JSON in a file LogoTag reads (issue 27, row 18): a ground-truth file or a logo folder's
brands.json nested 200,000 deep is one clear InputError naming the file, never a RecursionError traceback;
and the check itself never recurses (core/base/safe_json.py)."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from logotag_gui.core.analysis.evaluate import load_truth
from logotag_gui.core.base.errors import InputError
from logotag_gui.core.media.logos import load_dictionary

DEEP = '{"frames": {"0": ' + "[" * 200_000 + "]" * 200_000 + "}}"


def test_a_deeply_nested_truth_file_is_one_clear_error(tmp_path):
    path = tmp_path / "truth.json"
    path.write_text(DEEP)
    with pytest.raises(InputError) as info:
        load_truth(path)
    message = str(info.value)
    assert str(path) in message and "nested more than" in message and "levels deep" in message
    assert "right file" in message  # the fix


def test_a_truth_file_nested_just_under_python_s_limit_is_refused_too(tmp_path):
    # json.loads would parse it; code that walks it later would not. The limit is far below.
    path = tmp_path / "truth.json"
    path.write_text('{"fps": 25, "frames": {"0": ' + "[" * 900 + "]" * 900 + "}}")
    with pytest.raises(InputError, match="nested more than"):
        load_truth(path)


def test_a_deeply_nested_brands_json_is_one_clear_error(tmp_path):
    Image.new("RGB", (10, 10)).save(tmp_path / "norvik.png")
    (tmp_path / "brands.json").write_text('{"norvik": {"aliases": ' + "[" * 200_000 + "]" * 200_000 + "}}")
    with pytest.raises(InputError) as info:
        load_dictionary(tmp_path)
    message = str(info.value)
    assert "brands.json" in message and "nested more than" in message and '{"brand": ' in message


def test_a_huge_brands_json_is_refused_unread(tmp_path):
    Image.new("RGB", (10, 10)).save(tmp_path / "norvik.png")
    (tmp_path / "brands.json").write_text(json.dumps({"norvik": ["x" * 100] * 60_000}))  # about 6 MB
    with pytest.raises(InputError) as info:
        load_dictionary(tmp_path)
    assert "brands.json" in str(info.value) and "MB" in str(info.value)


def test_ordinary_files_still_load(tmp_path):
    path = tmp_path / "truth" / "truth.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"fps": 25, "frames": {"3": [{"brand": "norvik", "bbox": [1, 2, 3, 4]}]}}))
    assert load_truth(path).fps == 25
    logos = tmp_path / "logos"
    logos.mkdir()
    Image.new("RGB", (10, 10)).save(logos / "norvik.png")
    (logos / "brands.json").write_text('{"norvik": {"aliases": ["NORVIK [sport]", "{x}"]}}')
    assert load_dictionary(logos).names_for("norvik") == ["norvik", "NORVIK [sport]", "{x}"]
