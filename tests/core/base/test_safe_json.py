from __future__ import annotations

import json
import sys

import pytest

from logotag_gui.core.base import safe_json


def test_depth_counts_brackets_outside_strings_only():
    assert safe_json.nesting_depth('{"a": [1, {"b": []}]}') == 4
    assert safe_json.nesting_depth('{"a": "[[[[[[", "b": "\\"[[[["}') == 1
    assert safe_json.nesting_depth("[]" * 1000) == 1
    assert safe_json.nesting_depth("") == 0


def test_very_deep_text_is_refused_without_recursing():
    deep = "[" * 1_000_000 + "]" * 1_000_000
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(100)  # the check must not need the stack
    try:
        assert safe_json.nesting_depth(deep, limit=64) == 65  # stops counting past the limit
    finally:
        sys.setrecursionlimit(limit)
    with pytest.raises(safe_json.JsonTooDeep, match="more than 64 levels"):
        safe_json.loads(deep)


def test_loads_is_json_loads_otherwise():
    assert safe_json.loads('{"a": [1, 2.5, "x"]}') == {"a": [1, 2.5, "x"]}
    with pytest.raises(json.JSONDecodeError):
        safe_json.loads("{nope")
