"""One declaration per command (core/review/commands.py): README's keyboard table is made from it, every
command runs on a real window, no key is bound twice, and the digit keys are shortcuts, not nine menu items."""

from __future__ import annotations

from pathlib import Path

import pytest

from logotag_gui.core.review.commands import BY_NAME, COMMANDS, key, keys, markdown_table

pytestmark = pytest.mark.gui
README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_table() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("| Key | Action |", text.index("### Keyboard shortcuts"))
    return text[start:text.index("\n\n", start)]


def test_the_readme_table_is_the_one_the_commands_make():
    assert _readme_table() == markdown_table(), "regenerate it: python -m logotag_gui.core.review.commands"


def test_no_key_is_bound_to_two_commands():
    bound = [k for c in COMMANDS for k in c.digits]
    assert len(bound) == len(set(bound)), sorted(k for k in bound if bound.count(k) > 1)


def test_hints_name_the_declared_keys():
    assert key("accept_exposure") == "Shift+A" and keys("set_in", "set_out") == "I / O"
    with pytest.raises(KeyError):
        key("no_such_command")


def test_every_command_runs_on_the_window(window):
    """Each `call` names something the window has (a renamed method breaks this, not a key press later)."""
    from logotag_gui.qt.actions import APP_HANDLERS

    for c in COMMANDS:
        if not c.call:
            continue
        kind, _, name = c.call.partition(":")
        if kind == "app":
            assert name in APP_HANDLERS, c.name
        elif kind == "verb":
            from logotag_gui.core.review.assistant import ReviewAssistant
            from logotag_gui.core.review.session import ReviewSession

            assert callable(getattr(ReviewAssistant, name, None) or getattr(ReviewSession, name, None)), c.name
        else:
            target: object = window
            for part in c.call.split("."):
                target = getattr(target, part)
            assert callable(target), c.name


def test_menus_toolbar_and_shortcuts_come_from_the_declarations(window):
    from PySide6.QtGui import QKeySequence

    actions = window.actions_by_name
    for c in COMMANDS:
        if c.key and not c.is_gesture and c.key != "1-9":
            assert actions[c.name].shortcut() == QKeySequence(c.key), c.name
    menu_items = [a.text() for m in window.menuBar().actions() if m.menu() for a in m.menu().actions()]
    assert not [t for t in menu_items if "tick or untick" in t]  # nine digit shortcuts, no nine menu items
    digits = [a for name, a in actions.items() if name.startswith("audit_toggle_")]
    assert sorted(a.shortcut().toString() for a in digits) == [str(n) for n in range(1, 10)]
    assert BY_NAME["accept_exposure"].text in menu_items


def test_no_message_spells_a_review_key_by_hand():
    """Key hints come from `key()`: a string that spells "Shift+A" or "(B)" would go stale when a key moves."""
    import io
    import re
    import tokenize

    spelled = re.compile(r"\b(?:Shift|Ctrl)\+(?!C\b)\w+|\((?:[A-Z]|[A-Z] / [A-Z])\)")  # Ctrl+C: the terminal's
    allowed = {"commands.py", "learned_views.py"}  # the declarations; the learned-views list's own Ctrl+Z and Del
    root = Path(__file__).resolve().parents[2] / "logotag_gui"
    found = []
    for path in sorted(root.rglob("*.py")):
        if path.name in allowed:
            continue
        tokens = tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
        for tok in tokens:
            is_docstring_or_text = tok.type == tokenize.STRING or tok.type == getattr(tokenize, "FSTRING_MIDDLE", -1)
            if is_docstring_or_text and not tok.string.startswith(('"""', "'''", 'f"""')) and spelled.search(tok.string):
                found.append(f"{path.relative_to(root)}:{tok.start[0]}: {tok.string.strip()[:60]}")
    assert not found, "\n".join(found)
