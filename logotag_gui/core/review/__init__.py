"""The review session and what drives it: following boxes, learning from decisions, the oracle reviewer."""

from logotag_gui.core.review.project import Project
from logotag_gui.core.review.session import LIKE_REJECTED, ReviewEvent, ReviewSession
from logotag_gui.core.store.repository import RunRecord, VideoSummary

__all__ = ["LIKE_REJECTED", "Project", "ReviewEvent", "ReviewSession", "RunRecord", "VideoSummary"]
