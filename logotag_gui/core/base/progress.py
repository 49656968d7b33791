"""A run's progress with what it is doing now: its step, in words ("frames 5–8 of 12: proposing").

`Progress` (records.py) says which stage a run is in and how far; a stage can last minutes (the first batch of
frames: decoding, stage 1, verification) with nothing moving. `RunProgress` is a `Progress` that also says the
step: everything that takes a `Progress` takes it, and `step_text` reads the step of either ("" for a plain one).
"""

from __future__ import annotations

from dataclasses import dataclass

from logotag_gui.core.base.records import Progress

# A run's steps, in the order a run passes them (a batch of frames goes decoding, proposing, verifying, storing).
READING_LOGOS = "reading the logos"
LOADING_MODELS = "loading the models"
INDEXING_LOGOS = "indexing the logos"
DECODING = "decoding"  # the next frames, and finding the shot cuts among them (a video)
FINDING_SHOTS = "decoding, finding shots"
PROPOSING = "proposing"
VERIFYING = "verifying"
STORING = "storing"
FOLLOWING = "following tracks"
VERIFYING_FOLLOWED = "verifying followed boxes"
STEPS = (READING_LOGOS, LOADING_MODELS, INDEXING_LOGOS, DECODING, FINDING_SHOTS, PROPOSING, VERIFYING, STORING,
         FOLLOWING, VERIFYING_FOLLOWED)


@dataclass(frozen=True, slots=True)
class RunProgress(Progress):
    """A Progress that says what the run is doing now: `step` (one of STEPS), on what (`on`: "frames 5–8 of 12")."""

    step: str = ""
    on: str = ""

    @property
    def text(self) -> str:
        return f"{self.on}: {self.step}" if self.on and self.step else self.step


def step_text(p: Progress) -> str:
    """What the run is doing now, in words ("frames 5–8 of 12: proposing"); "" for a Progress without a step."""
    return p.text if isinstance(p, RunProgress) else ""


def frames_on(first: int, last: int, total: int) -> str:
    """ "frame 5 of 12" or "frames 5–8 of 12" (1-based positions among the run's sampled frames)."""
    return f"frame {first} of {total}" if first >= last else f"frames {first}–{last} of {total}"


def progress_line(p: Progress) -> str:
    """A run's progress in one line, what it is doing first: "frames 5–8 of 12: proposing · 4/12 · ETA 1:03 ·
    clip.mp4: frame 30, 9 candidates" (a Progress without a step: "frames 4/12 · ETA 1:03 · ...", as before)."""
    eta = f" · ETA {int(p.eta_s // 60)}:{int(p.eta_s % 60):02d}" if p.eta_s is not None else ""
    step = step_text(p)
    head = f"{step} · {p.done}/{p.total}" if step else f"{p.stage} {p.done}/{p.total}"
    return f"{head}{eta} · {p.message}"
