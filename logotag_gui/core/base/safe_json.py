"""JSON from files and servers LogoTag does not control: a size cap and a nesting limit checked before parsing.

`json.loads` recurses once per nesting level, so `[[[[...]]]]` 200,000 deep raises RecursionError (and
a structure just under Python's limit breaks the code that walks it later). `nesting_depth` counts the
brackets with regular expressions and one flat loop, never recursing, and stops at the first level past
the limit; `loads` refuses such text before `json.loads` sees it, and catches RecursionError too. `read_json`
reads a file with both checks and turns every failure into an InputError naming the file, the problem and
the fix.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from logotag_gui.core.base.errors import InputError

MAX_DEPTH = 64  # LogoTag's own files nest 5 levels at most (a COCO polygon); far below Python's recursion limit
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')  # a JSON string, escapes included; unrolled, no backtracking
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


class JsonTooDeep(ValueError):
    """The text nests arrays or objects past the limit: refused before parsing."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"nested more than {limit} levels deep")
        self.limit = limit


def nesting_depth(text: str, *, limit: int = MAX_DEPTH) -> int:
    """The deepest bracket nesting outside strings, counted up to `limit + 1` (past that it stops counting)."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))  # C-speed passes: strings out, then all but brackets
    depth = deepest = 0
    for ch in brackets:
        if ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
        elif depth:
            depth -= 1
    return deepest


def loads(text: str, *, max_depth: int = MAX_DEPTH) -> object:
    """`json.loads`, refusing text nested past `max_depth` (JsonTooDeep); json.JSONDecodeError as usual."""
    if nesting_depth(text, limit=max_depth) > max_depth:
        raise JsonTooDeep(max_depth)
    try:
        return json.loads(text)
    except RecursionError:  # a stack already deep when called: still a refusal, never a traceback
        raise JsonTooDeep(max_depth) from None


def read_json(path: str | Path, *, what: str, expected: str, max_bytes: int,
              max_depth: int = MAX_DEPTH) -> object:
    """The JSON in a UTF-8 file (a BOM is allowed), or InputError: "<what> '<path>' <problem>; <fix>".

    `what` names the file's role ("Ground truth", "Aliases file"), `expected` the shape it should have.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise InputError(
                f"{what} '{path}' is {size / 1e6:.1f} MB, more than the {max_bytes / 1e6:g} MB LogoTag reads "
                f"from such a file; check that it is the right file (expected {expected}).")
        text = path.read_bytes().decode("utf-8-sig")  # a BOM (Windows Notepad) is fine
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} '{path}' is not UTF-8 text (byte {exc.start} cannot be decoded); "
                         "save it as UTF-8 in your editor.") from exc
    except PermissionError as exc:
        raise InputError(f"{what} '{path}' cannot be read: permission denied; give your user read access to it.") \
            from exc
    except OSError as exc:
        raise InputError(f"{what} '{path}' cannot be read: {exc.strerror or exc}; check the path.") from exc
    try:
        return loads(text, max_depth=max_depth)
    except JsonTooDeep as exc:
        raise InputError(f"{what} '{path}' is JSON {exc}, which no such file is; check that it is the right "
                         f"file (expected {expected}).") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{what} '{path}' is not valid JSON: {exc}. Expected {expected}.") from exc
