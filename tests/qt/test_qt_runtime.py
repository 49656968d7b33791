"""Guards against Qt binding releases that break the app at run time."""

from __future__ import annotations

import sys

import pytest

pytestmark = pytest.mark.gui


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal from Python 3.12 on: its count never moves, "
                    "so the leak can neither abort the process nor be seen here")
def test_process_events_keeps_none_alive(qapp):
    # PySide6 6.12.0 dropped a reference to None on each processEvents(): on Python 3.11 the
    # interpreter aborts once None's count reaches zero. pyproject.toml excludes that release.
    before = sys.getrefcount(None)
    for _ in range(20_000):
        qapp.processEvents()
    assert sys.getrefcount(None) >= before - 100
