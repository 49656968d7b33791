"""Brand names that differ only in case (issue 27, row 12): `Norvik.png`, `norvik.png` and `NORVIK.png` are not
three brands. The logo folder is refused with a message naming the files and the fix, never loaded as three
brands that OCR's "NORVIK" would be given to at random."""

from __future__ import annotations

import pytest
from PIL import Image

from logotag_gui.core.base.errors import InputError
from logotag_gui.core.media.logos import load_dictionary


def _logo(path, colour="red"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (20, 20), colour).save(path)


def test_brands_that_differ_only_in_case_are_refused_by_name(tmp_path):
    for name in ("Norvik.png", "norvik.png", "NORVIK.png"):
        _logo(tmp_path / name)
    _logo(tmp_path / "aquila.png")
    with pytest.raises(InputError) as info:
        load_dictionary(tmp_path)
    message = str(info.value)
    assert "Norvik.png" in message and "norvik.png" in message and "NORVIK.png" in message
    assert "differ only in case" in message
    assert "Norvik/" in message  # the fix: one folder of references per brand, or distinct names
    assert "aquila" not in message


def test_a_brand_folder_and_a_file_that_differ_in_case_are_refused(tmp_path):
    _logo(tmp_path / "Norvik" / "front.png")
    _logo(tmp_path / "norvik.jpg")
    with pytest.raises(InputError, match="differ only in case") as info:
        load_dictionary(tmp_path)
    assert "Norvik/" in str(info.value) and "norvik.jpg" in str(info.value)


def test_one_brand_with_several_references_and_distinct_brands_load(tmp_path):
    _logo(tmp_path / "Norvik" / "front.png")
    _logo(tmp_path / "Norvik" / "FRONT.png", "blue")  # two references of one brand: fine
    _logo(tmp_path / "Norvika.png")
    d = load_dictionary(tmp_path)
    assert d.brands == ["Norvik", "Norvika"]
