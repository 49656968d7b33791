"""The PySide6 layer: a thin GUI over logotag_gui.core. The only package that imports PySide6."""
