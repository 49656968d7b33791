"""The README's keyboard table says what the app's actions do: every shortcut is in it, and only those."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.gui
README = Path(__file__).resolve().parents[2] / "README.md"


def _table_keys() -> set[str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### Keyboard shortcuts"):]
    section = section[:section.index("\n\n", section.index("| --- |"))]
    keys: set[str] = set()
    for row in section.splitlines()[4:]:  # past the heading, the blank line, the header and the rule
        cell = row.split("|")[1].strip()
        for key in re.split(r"\s*/\s*|,\s*", cell):
            keys.add(key.strip())
    return keys


def test_every_shortcut_of_the_app_is_in_the_readme_table():
    from logotag_gui.qt.actions import ACTIONS

    documented = _table_keys()
    shortcuts = {shortcut for _, _, _, shortcut, _, _ in ACTIONS if shortcut}
    digits = {str(n) for n in range(1, 10)}
    missing = sorted(k for k in shortcuts - digits if k not in documented)
    assert not missing, f"README's keyboard table lacks {missing}"
    assert "1-9" in documented
    extra = documented - shortcuts - {"drag a corner", "1-9"}
    assert not extra, f"README documents keys the app does not have: {sorted(extra)}"
