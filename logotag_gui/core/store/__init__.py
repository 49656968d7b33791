"""The database: SQLAlchemy 2.0 models (schema.py) and the only place with Sessions (repository.py)."""

from logotag_gui.core.store.repository import Repository, open_repository

__all__ = ["Repository", "open_repository"]
