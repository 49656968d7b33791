"""The review session and what drives it: exposures, following boxes, learning from decisions, the audit,
the oracle reviewer."""

from logotag_gui.core.review.exposure_review import Meter
from logotag_gui.core.review.project import Project
from logotag_gui.core.review.session import LIKE_REJECTED, ReviewSession
from logotag_gui.core.review.steps import Changes
from logotag_gui.core.store.repository import RunRecord, VideoSummary

__all__ = ["LIKE_REJECTED", "Changes", "Meter", "Project", "ReviewSession", "RunRecord", "VideoSummary"]
