"""The audit of a clip: a stored random sample of its sampled frames, the reviewer's answers (which brands are
on screen), and the seconds per brand estimated from them with a 95% interval (analysis/audit.py).

The sample lives in the project: it survives a restart, and a second reviewer answers the same frames. The
prediction it corrects is what the review session counts now (accepted frames, and where nobody has
looked, the model's likely candidates): review done before or after the audit makes the interval narrower
and never biases it, because the answers are kept apart from the candidates' decisions.
"""

from __future__ import annotations

from collections.abc import Iterable

from logotag_gui.core.analysis import audit as ppi
from logotag_gui.core.base.errors import LogoTagError
from logotag_gui.core.review.coverage import DEFAULT_TARGET
from logotag_gui.core.review.figure import clip_figure, frame_prediction
from logotag_gui.core.review.session import ReviewSession
from logotag_gui.core.review.steps import Changes
from logotag_gui.core.store.audits import AuditSampleRecord

DEFAULT_FRAMES = 60


def frame_views(session: ReviewSession) -> list[ppi.FrameView]:
    """What the project says of each sampled frame nobody has settled by looking (the audit's population)."""
    settled, slots = session.settled(), session.grid_candidates()
    return [frame_prediction(session, f, slots.get(f, [])) for f in session.sampled if f not in settled]


class Audit:
    """A clip's current audit sample, read and answered through the review session's project."""

    def __init__(self, session: ReviewSession) -> None:
        self.session = session
        self.sample: AuditSampleRecord | None = session.repo.audit_sample(session.video.id)

    @property
    def frames(self) -> list[int]:
        return [f.frame_index for f in self.sample.frames] if self.sample else []

    @property
    def answers(self) -> dict[int, frozenset[str]]:
        if self.sample is None:
            return {}
        return {f.frame_index: frozenset(f.brands) for f in self.sample.frames if f.brands is not None}

    @property
    def stale(self) -> bool:
        """The clip was run again on another grid since the sample was drawn: its frames are not the grid's."""
        return self.sample is not None and abs(self.sample.fps - self.session.fps) > 1e-6

    def draw(self, *, frames: int = DEFAULT_FRAMES, seed: int = 0) -> AuditSampleRecord:
        """Draw a new sample of `frames` sampled frames (stratified by the model's confidence and brand), stored
        as the clip's current one."""
        s = self.session
        if not s.sampled:
            raise LogoTagError("The clip has no sampled frames to audit: run it first.")
        views = frame_views(s)
        if not views:
            raise LogoTagError("Every sampled frame of the clip has been looked at: its seconds are exact, there is "
                               "nothing left to audit.")
        drawn = ppi.draw(views, n=frames, seed=seed)
        s.repo.create_audit_sample(video_id=s.video.id, seed=seed, fps=s.fps, population=len(views),
                                   strata=drawn.strata, frames=drawn.frames, created_by=s.reviewer)
        return self._reread()

    def extend(self, more: int) -> AuditSampleRecord:
        """Add frames to the current sample (same strata): what an interval that is still too wide needs."""
        if self.sample is None:
            return self.draw(frames=more)
        sample = self.sample
        added = ppi.extend(sample.strata, self.frames, more=more, seed=sample.seed + len(self.frames),
                           exclude=self.session.settled())
        s = self.session
        s.repo.create_audit_sample(video_id=s.video.id, seed=sample.seed, fps=sample.fps,
                                   population=sample.population, strata=sample.strata,
                                   frames=[(f.frame_index, f.stratum) for f in sample.frames] + added,
                                   created_by=sample.created_by)
        answered = [f for f in sample.frames if f.brands is not None]
        fresh = self._reread()
        for f in answered:  # the answers carry over to the larger sample
            s.repo.answer_audit_frame(fresh.id, f.frame_index, f.brands, reviewer=f.reviewer or s.reviewer)
        return self._reread()

    def _reread(self) -> AuditSampleRecord:
        self.sample = self.session.repo.audit_sample(self.session.video.id)
        assert self.sample is not None
        self.session.notify(Changes(audit=True))
        return self.sample

    def answer(self, frame: int, brands: Iterable[str] | None) -> None:
        """Which brands are on screen on this audited frame (None takes the answer back); stored at once."""
        if self.sample is None:
            raise LogoTagError("No audit sample is drawn for this clip: draw one first (the Audit tab beside the "
                               "Review panel, or `logotag audit --frames N`).")
        self.session.repo.answer_audit_frame(self.sample.id, frame, None if brands is None else list(brands),
                                             reviewer=self.session.reviewer)
        self._reread()

    def next_unanswered(self, after: int | None = None) -> int | None:
        """The next frame to answer, in the sample's order (after `after`'s place, wrapping round)."""
        if self.sample is None:
            return None
        order = list(self.sample.frames)
        start = next((i + 1 for i, f in enumerate(order) if f.frame_index == after), 0)
        for f in order[start:] + order[:start]:
            if f.brands is None:
                return f.frame_index
        return None

    def predicted(self, frame: int) -> frozenset[str]:
        """The brands the project counts on this frame now (what an answer is compared with)."""
        return frame_prediction(self.session, frame).counted

    def estimate(self, *, target: float = DEFAULT_TARGET) -> ppi.ClipEstimate | None:
        """The clip's figure with this sample's answers (coverage.clip_figure: settled frames exact)."""
        if self.sample is None or self.stale:
            return None
        return clip_figure(self.session, sample=self.sample, target=target).estimate

