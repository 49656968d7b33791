"""Schema versions: create, check, migrate forward, refuse newer.

MIGRATIONS[n] upgrades a database at version n to n + 1 inside one transaction.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Column, Connection, DefaultClause, func, inspect, select, text, update

from logotag_gui.core.base.errors import StoreError
from logotag_gui.core.store import schema


def _add_column(conn: Connection, column: Column) -> None:
    """ALTER TABLE ... ADD COLUMN from the model's own column (type and default as the dialect spells them)."""
    quote = conn.dialect.identifier_preparer.quote
    ddl = f"ALTER TABLE {quote(column.table.name)} ADD COLUMN {quote(column.name)} {column.type.compile(conn.dialect)}"
    if isinstance(column.server_default, DefaultClause):  # a model's server_default="..."
        ddl += f" DEFAULT {column.server_default.arg}"
    conn.execute(text(ddl))


def _v1_to_v2(conn: Connection) -> None:
    """Track ids per clip, the run lock, run notes, look-alike hints, references learned from review."""
    videos, runs, candidates = schema.Video.__table__, schema.Run.__table__, schema.CandidateRow.__table__
    for column in (videos.c.next_track_id, videos.c.run_owner, videos.c.run_heartbeat, runs.c.notes,
                   candidates.c.hint):
        _add_column(conn, column)
    schema.ReviewReference.__table__.create(conn)
    highest = select(func.coalesce(func.max(candidates.c.track_id), 0) + 1).where(
        candidates.c.video_id == videos.c.id).scalar_subquery()
    conn.execute(update(videos).values(next_track_id=highest))
    conn.execute(update(runs).values(notes=[]))


def _v2_to_v3(conn: Connection) -> None:
    """Shot cuts, exposure splits and audit samples (review by exposures; seconds from an audited sample)."""
    _add_column(conn, schema.Video.__table__.c.cuts)
    for model in (schema.ExposureSplit, schema.AuditSample, schema.AuditFrame):
        model.__table__.create(conn)


def _v3_to_v4(conn: Connection) -> None:
    """Run parts: frame ranges of one run that workers share (run-many --split-minutes)."""
    schema.RunPart.__table__.create(conn)


def _v4_to_v5(conn: Connection) -> None:
    """Coverage: a clip's views, and the views reviewers looked at and said are complete."""
    _add_column(conn, schema.Video.__table__.c.views)
    schema.ViewLook.__table__.create(conn)


def _v5_to_v6(conn: Connection) -> None:
    """The project's counting rule (none stored: the "any" rule, what was counted before)."""
    schema.CountingRuleRow.__table__.create(conn, checkfirst=True)


MIGRATIONS: dict[int, Callable[[Connection], None]] = {1: _v1_to_v2, 2: _v2_to_v3, 3: _v3_to_v4, 4: _v4_to_v5,
                                                       5: _v5_to_v6}


def stored_version(conn: Connection) -> int | None:
    if not inspect(conn).has_table(schema.Meta.__tablename__):
        return None
    value = conn.execute(select(schema.Meta.value).where(schema.Meta.key == "schema_version")).scalar()
    return int(value) if value is not None else None


def ensure_schema(conn: Connection, *, where: str, current: int | None = None) -> int:
    """Bring the database to the current version; returns the version found before."""
    current = schema.SCHEMA_VERSION if current is None else current
    found = stored_version(conn)
    if found is None:
        if inspect(conn).get_table_names():
            unknown = ", ".join(sorted(inspect(conn).get_table_names())[:5])
            raise StoreError(
                f"'{where}' is a database of some other program (tables: {unknown}); "
                "choose a new file name for the LogoTag project."
            )
        schema.Base.metadata.create_all(conn)
        conn.execute(schema.Meta.__table__.insert().values(key="schema_version", value=str(current)))
        return current
    if found > current:
        raise StoreError(
            f"'{where}' was written by a newer LogoTag (schema v{found}; this version reads up to v{current}). "
            "Upgrade LogoTag (`pip install -U logotag`) to open it; it was not changed."
        )
    for version in range(found, current):
        step = MIGRATIONS.get(version)
        if step is None:
            raise StoreError(f"No migration from schema v{version} for '{where}'; upgrade LogoTag.")
        step(conn)
    if found < current:
        conn.execute(
            schema.Meta.__table__.update().where(schema.Meta.key == "schema_version").values(value=str(current))
        )
    return found
