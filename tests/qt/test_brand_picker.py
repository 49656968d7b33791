"""The brand picker: typed, never pre-filled (Enter alone names nothing), narrowed as one types, beside the box."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRect, Qt

pytestmark = pytest.mark.gui

BRANDS = ["Aquila", "Fennel", "Norvik", "Northwind"]


def _picker(qtbot, **kw):
    from logotag_gui.qt.dialogs.brand_picker import BrandPicker

    picker = BrandPicker("New box", BRANDS, **kw)
    qtbot.addWidget(picker)
    picker.show()
    return picker


def test_enter_alone_names_nothing_even_with_a_last_brand_and_tab_takes_it(qtbot):
    picker = _picker(qtbot, suggestion="Fennel")
    assert picker.line.text() == "" and "Tab: Fennel" in picker.line.placeholderText()
    qtbot.keyClick(picker.line, Qt.Key.Key_Return)
    assert picker.isVisible() and picker.chosen() == ""  # nothing mislabelled: the dialog waits
    qtbot.keyClick(picker.line, Qt.Key.Key_Tab)
    assert picker.line.text() == "Fennel"
    qtbot.keyClick(picker.line, Qt.Key.Key_Return)
    assert picker.chosen() == "Fennel" and picker.result() == picker.DialogCode.Accepted


def test_typing_narrows_the_list_and_arrows_choose_among_what_is_left(qtbot):
    picker = _picker(qtbot)
    qtbot.keyClicks(picker.line, "nor")
    shown = [picker.list.item(i).text() for i in range(picker.list.count()) if not picker.list.item(i).isHidden()]
    assert shown == ["Norvik", "Northwind"] and picker.list.currentItem().text() == "Norvik"
    qtbot.keyClick(picker.line, Qt.Key.Key_Down)
    qtbot.keyClick(picker.line, Qt.Key.Key_Return)
    assert picker.chosen() == "Northwind"


def test_a_new_name_is_handed_back_for_the_caller_to_confirm(qtbot):
    picker = _picker(qtbot)
    qtbot.keyClicks(picker.line, "Zephyr")
    qtbot.keyClick(picker.line, Qt.Key.Key_Return)
    assert picker.chosen() == "Zephyr"


def test_it_opens_beside_the_box_not_over_it(qtbot):
    box = QRect(100, 100, 80, 60)
    picker = _picker(qtbot, near=box)
    assert not picker.frameGeometry().intersects(box)
