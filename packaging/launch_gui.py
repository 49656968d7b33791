"""Entry point for the bundled app (PyInstaller needs a script, not an entry point)."""

from logotag_gui.qt.app import main

raise SystemExit(main())
