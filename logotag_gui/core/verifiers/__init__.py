"""Stage 2: verifiers give each candidate a verdict, behind one small protocol."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from logotag_gui.core.base.records import NOT_VERIFIED, Candidate, Verdict

if TYPE_CHECKING:
    from logotag_gui.core.media.logos import LogoDictionary


@dataclass(frozen=True, slots=True)
class VerifyItem:
    candidate: Candidate
    crop: np.ndarray  # the box with a little context around it, RGB


class Verifier(Protocol):
    name: str
    model_id: str
    revision: str | None

    def verify(self, items: Sequence[VerifyItem]) -> list[Verdict]:
        """One verdict per item, in order; never raises for one bad answer."""


def prepare_verifier(verifier: Verifier, dictionary: LogoDictionary) -> None:
    """Let a verifier that learns from the logo dictionary do so before a run (optional `prepare` method).

    The OCR verifier learns every brand's names (to recognise another brand's name in a crop) and which
    brands' references show a readable name: only there may clear other text count against a brand.
    """
    prepare = getattr(verifier, "prepare", None)
    if callable(prepare):
        prepare(dictionary)


@dataclass(slots=True)
class NoVerifier:
    name: str = "none"
    model_id: str = ""
    revision: str | None = None

    def verify(self, items: Sequence[VerifyItem]) -> list[Verdict]:
        return [NOT_VERIFIED for _ in items]

