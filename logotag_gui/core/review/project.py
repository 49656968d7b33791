"""A project as the app, its workers and the review simulator use it: the one door to the store above it.

The Qt layer never touches the repository: it asks a Project for clips, the dictionary, runs, exports
and review sessions. Each thread opens its own Project (no database session crosses threads).
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from logotag_gui.core.base.config import RunConfig
from logotag_gui.core.base.counting import CountingRule
from logotag_gui.core.base.errors import LogoTagError
from logotag_gui.core.base.records import REVIEW_VIEW, Candidate, Progress
from logotag_gui.core.base.safe_io import atomic_write_bytes, redact_url, safe_child, safe_filename
from logotag_gui.core.media.logos import LogoDictionary, load_dictionary
from logotag_gui.core.media.video import probe
from logotag_gui.core.review.session import ReviewSession
from logotag_gui.core.store.repository import (
    Repository,
    VideoSummary,
    database_url,
    open_repository,
)

log = logging.getLogger(__name__)


class Project:
    def __init__(self, repo: Repository, url: str) -> None:
        self.repo, self.url = repo, url

    @classmethod
    def open(cls, target: str | Path, *, create: bool = True, durable: bool = True) -> Project:
        """Open (or create) a project; `durable`: commits reach the disk before they return (decisions)."""
        return cls(open_repository(target, create=create, durable=durable), database_url(target))

    @property
    def name(self) -> str:
        """What a window title may show: a file name, or the URL without its password."""
        return Path(self.url[len("sqlite:///"):]).name if self.url.startswith("sqlite:///") else redact_url(self.url)

    def close(self) -> None:
        self.repo.close()

    # ---- clips -------------------------------------------------------------------------------------
    def videos(self) -> list[VideoSummary]:
        return self.repo.videos()

    def video(self, video_id: int) -> VideoSummary:
        return self.repo.video(video_id)

    def add_clips(self, paths: list[str]) -> list[str]:
        """Add clips (video files or image folders); returns a message per path that could not be added."""
        problems = []
        for path in paths:
            try:
                info = probe(path)
            except LogoTagError as exc:
                problems.append(str(exc))
                continue
            self.repo.add_video(path=str(Path(path).resolve()), kind=info.kind, fps=info.fps,
                                frame_count=info.frame_count, duration_s=info.duration_s, width=info.width,
                                height=info.height)
        return problems

    def run(self, config: RunConfig, *, models=None, on_progress: Callable[[Progress], None] | None = None,
            on_batch: Callable[[list[Candidate]], None] | None = None, cancel: Callable[[], bool] | None = None):
        from logotag_gui.core.pipeline.run import run_pipeline

        return run_pipeline(config, repo=self.repo, models=models, on_progress=on_progress, on_batch=on_batch,
                            cancel=cancel)

    # ---- the logo dictionary ------------------------------------------------------------------------------
    @property
    def logos_dir(self) -> str | None:
        return self.repo.setting("logos_dir")

    def set_logos(self, folder: str) -> LogoDictionary:
        """Use this logo folder (it must load: the error names what is wrong with it)."""
        dictionary = load_dictionary(folder)
        self.repo.set_setting("logos_dir", str(Path(folder).resolve()))
        self.repo.sync_brands(dictionary.aliases, dictionary.files_by_brand())
        return dictionary

    def dictionary(self) -> LogoDictionary | None:
        """The project's logo dictionary, or None where it is unset or cannot be read (said in the log):
        following and learning go on with what review taught."""
        if not self.logos_dir:
            return None
        try:
            return load_dictionary(self.logos_dir)
        except LogoTagError as exc:
            log.warning("the project's logo folder cannot be used: %s", exc)
            return None

    def brands(self) -> list[str]:
        return self.repo.brands()

    def references(self) -> dict[str, list[tuple[str, str]]]:
        """brand -> [(file or review view, origin)]: the folder's references and the views review taught."""
        out = self.repo.references()
        for brand, frame in self.repo.review_reference_places(polarity="positive"):
            out.setdefault(brand, []).append((f"frame {frame} (view from review)", REVIEW_VIEW))
        return out

    def add_crop_to_dictionary(self, c: Candidate, frame: np.ndarray, *, clip: str) -> Path:
        """Save the reviewed box as a reference file of its brand (`<logos>/<brand>/review_....png`).

        The brand and clip names come from people: one path-safety rule keeps the file inside the logo
        folder, and the write is atomic.
        """
        if not self.logos_dir:
            raise LogoTagError("No logo folder is set: choose one first (File → Set logo folder).")
        root = Path(self.logos_dir)
        x1, y1, x2, y2 = c.final_bbox.clipped(frame.shape[1], frame.shape[0]).as_int_xyxy()
        if x2 - x1 < 2 or y2 - y1 < 2:
            raise LogoTagError("The box is too small to make a reference of; tighten it first.")
        # `<brand>.png` and `<brand>/` are one brand to the dictionary: the folder may sit beside the file.
        path = safe_child(root, c.final_brand, f"review_{safe_filename(Path(clip).stem)}_{c.frame.index}_{c.id}.png")
        path.parent.mkdir(exist_ok=True)
        buffer = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(frame[y1:y2, x1:x2])).save(buffer, format="PNG")
        atomic_write_bytes(path, buffer.getvalue())
        self.repo.add_reference(brand=c.final_brand, path=str(path.relative_to(root)),
                                sha256=hashlib.sha256(buffer.getvalue()).hexdigest(), origin="review")
        return path

    # ---- review ----------------------------------------------------------------------------------------
    def session(self, video_id: int, *, reviewer: str) -> ReviewSession:
        return ReviewSession(self.repo, self.repo.video(video_id), reviewer=reviewer)

    # ---- outputs -----------------------------------------------------------------------------------------
    def export(self, path: str, *, reviewed_only: bool, accepted_only: bool = False,
               video_id: int | None = None) -> int:
        from logotag_gui.core.analysis.export import export

        return export(self.repo, path, video_id=video_id, reviewed_only=reviewed_only, accepted_only=accepted_only)

    def audit_estimates(self, *, video_id: int | None = None) -> dict:
        """video id -> (its figure's estimate, its sampled frames), for clips whose figure gives an interval: an
        answered audit where nobody looked, or every frame looked at (exact). The meter and `logotag videos` read
        the same function (review/figure.py)."""
        from logotag_gui.core.review.figure import clip_figure

        out = {}
        for v in self.videos():
            if (video_id is not None and v.id != video_id) or not v.candidates:
                continue
            session = self.session(v.id, reviewer="")
            figure = clip_figure(session)
            if figure.audited or figure.total.exact:
                out[v.id] = (figure.estimate, len(session.sampled))
        return out

    # ---- the counting rule -----------------------------------------------------------------------------
    def counting_rule(self) -> CountingRule:
        """The project's counting rule (base/counting.py; "any" where none was set)."""
        return self.repo.counting_rule()

    def set_counting_rule(self, rule: CountingRule, *, by: str = "") -> None:
        """Set the project's counting rule: every report, figure and meter counts under it from the stored boxes
        (no new run)."""
        self.repo.set_counting_rule(rule, by=by)

    def report(self, *, rules, video_id: int | None = None):
        from logotag_gui.core.analysis.report import build_report

        return build_report(self.repo, rules=rules, video_id=video_id,
                            estimates=self.audit_estimates(video_id=video_id))

    def write_report(self, path: str, *, rules) -> str:
        from logotag_gui.core.analysis.report import write_csv, write_html

        (write_csv if path.lower().endswith(".csv") else write_html)(self.report(rules=rules), path)
        return path

    def calibration_text(self, target_precision: float = 0.9) -> str:
        from logotag_gui.core.analysis.calibration import calibrate, format_calibration

        rows = calibrate(self.repo.candidates(), target_precision=target_precision)
        return format_calibration(rows, target_precision) if rows else \
            "No reviewed candidates yet: accept or reject some first."
