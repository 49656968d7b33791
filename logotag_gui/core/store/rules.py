"""The project's counting rule as the store keeps it (schema v6: one row of `counting_rule`). A mixin of Repository
(repository.py), which owns the database sessions. No row reads as the "any" rule: a project that never set one
counts as LogoTag did before rules.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from sqlalchemy import select

from logotag_gui.core.base.counting import DEFAULT, CountingRule, from_dict
from logotag_gui.core.store.schema import CountingRuleRow, utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

RULE_ROW = 1
FIELDS = ("name", "min_visible", "min_sharpness", "min_size", "min_exposure_s", "join_gap_s", "one_per_frame")


class RulesMixin:
    if TYPE_CHECKING:  # what the mixin uses of Repository (repository.py)
        where: str

        def _session(self) -> AbstractContextManager[Session]: ...

    def counting_rule(self) -> CountingRule:
        """The project's counting rule ("any" where none was set). A stored value out of range (a file edited by
        hand) raises RuleError naming the field."""
        with self._session() as s:
            row = s.scalar(select(CountingRuleRow).where(CountingRuleRow.id == RULE_ROW))
            if row is None:
                return DEFAULT
            return from_dict({k: getattr(row, k) for k in FIELDS})

    def set_counting_rule(self, rule: CountingRule, *, by: str = "") -> None:
        """Set the project's counting rule (as an analyst sets a client's): the seconds every report, the figure
        and the review meter count follow it at once, from the stored boxes (no new run)."""
        with self._session() as s:
            row = s.get(CountingRuleRow, RULE_ROW, with_for_update=True)
            if row is None:
                row = CountingRuleRow(id=RULE_ROW)
                s.add(row)
            for k in FIELDS:
                setattr(row, k, getattr(rule, k))
            row.set_by, row.set_at = by, utcnow()
