"""Headless core: pipeline, store and export. Never imports PySide6 (checked by import-linter and a test)."""
