from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from logotag_gui.core.base.errors import InputError
from logotag_gui.core.media.logos import load_dictionary


def test_both_layouts_aliases_and_transparent_polarities(tmp_path):
    Image.new("RGB", (40, 20), "red").save(tmp_path / "acme.jpg")
    (tmp_path / "globex").mkdir()
    mark = Image.new("RGBA", (30, 30), (0, 0, 0, 0))
    mark.paste((0, 0, 255, 255), (5, 5, 25, 25))
    mark.save(tmp_path / "globex" / "front.png")
    Image.new("RGB", (30, 30), "green").save(tmp_path / "globex" / "side.png")
    (tmp_path / "brands.json").write_text(json.dumps({"globex": {"aliases": ["GLOBEX CORP"]}}))

    d = load_dictionary(tmp_path)
    assert d.brands == ["acme", "globex"]
    variants = sorted((r.brand, r.path.name, r.variant) for r in d.references)
    assert variants == [("acme", "acme.jpg", "opaque"), ("globex", "front.png", "on_dark"),
                        ("globex", "front.png", "on_light"), ("globex", "side.png", "opaque")]
    light = next(r for r in d.references if r.variant == "on_light").image
    dark = next(r for r in d.references if r.variant == "on_dark").image
    assert light[0, 0].mean() > 200 and dark[0, 0].mean() < 40  # background differs
    assert np.array_equal(light[15, 15], dark[15, 15])  # the mark itself does not
    assert d.names_for("globex") == ["globex", "GLOBEX CORP"]
    assert set(d.file_hashes) == {"acme.jpg", "globex/front.png", "globex/side.png"}


def test_non_image_files_are_reported_by_name(tmp_path):
    Image.new("RGB", (10, 10)).save(tmp_path / "ok.png")
    (tmp_path / "readme.txt").write_text("hi")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(InputError) as info:
        load_dictionary(tmp_path)
    assert "readme.txt" in str(info.value) and "broken.png" in str(info.value)


def test_empty_or_missing_folder(tmp_path):
    with pytest.raises(InputError, match="no reference images"):
        load_dictionary(tmp_path)
    with pytest.raises(InputError, match="does not exist"):
        load_dictionary(tmp_path / "nope")


def test_bad_aliases_file(tmp_path):
    Image.new("RGB", (10, 10)).save(tmp_path / "ok.png")
    (tmp_path / "brands.json").write_text("{nope")
    with pytest.raises(InputError, match=r"brands\.json"):
        load_dictionary(tmp_path)
