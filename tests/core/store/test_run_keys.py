"""A run is found done or resumable by a key of the settings that change results: a setting added later, at the
default that reproduces the runs stored before it, leaves the key of those runs as it was."""

from __future__ import annotations

from logotag_gui.core.base.config import RunConfig
from logotag_gui.core.store.runs import ADDED_LATER, config_key


def test_a_setting_added_later_at_its_default_keeps_the_key_of_runs_stored_before_it():
    now = RunConfig(input="clip.mp4", logos="logos").as_dict()
    before = {k: v for k, v in now.items() if k not in ADDED_LATER}  # what a run stored before it kept
    assert config_key(before) == config_key(now)
    assert config_key({**now, "keyframe_move": 0.25}) != config_key(now)
    assert config_key({**now, "workers": 3}) == config_key(now)  # how fast, not what it finds
