"""Errors that reach the user. Each message names the problem and the fix."""

from __future__ import annotations

from typing import Literal


class LogoTagError(Exception):
    """Base class: the message is shown to the user as it is, on one line where possible."""


class InputError(LogoTagError):
    """A video, image folder or logo folder that cannot be used."""


class ModelUnavailable(LogoTagError):
    """A model's weights are neither local nor reachable, or it needs an opt-in."""


class StoreError(LogoTagError):
    """The database cannot be opened or written (locked, newer schema, bad URL)."""


class Cancelled(LogoTagError):
    """The user cancelled long work; what was done is kept."""


class OutputError(LogoTagError):
    """An output file (export, report, index cache) that cannot be written: no permission, no space."""


class NothingSelected(LookupError):
    """A review step that acts on the selection found nothing selected (or what was selected is gone): `what` says
    whether a box or an exposure must be selected first. A LookupError of any other kind is a bug, not this."""

    def __init__(self, message: str, *, what: Literal["box", "exposure"]) -> None:
        super().__init__(message)
        self.what: Literal["box", "exposure"] = what
