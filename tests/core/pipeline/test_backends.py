"""One registry of backends: the CLI is generated from it, and each run gets its own settings."""

from __future__ import annotations

import pytest

from logotag_gui.cli import build_parser
from logotag_gui.core.base.config import RunConfig, settings
from logotag_gui.core.pipeline import backends
from logotag_gui.core.pipeline.backends import ModelCache, make_proposer, make_verifier, resolved_threshold


def test_every_run_setting_has_a_cli_option_that_reaches_the_run_config(tmp_path):
    from logotag_gui.cli import run_config

    args = build_parser().parse_args(["run", "clip.mp4", "--logos", "logos", "--embedder", "shape", "--fps", "1.5",
                                      "--no-propagate", "--shape-threshold", "0.7", "--workers", "2", "--vlm-endpoint",
                                      "http://h:8000/v1", "--no-skip-unchanged", "-q"])
    config = run_config(args)
    assert (config.embedder, config.fps, config.propagate, config.shape_threshold) == ("shape", 1.5, False, 0.7)
    assert (config.workers, config.vlm_endpoint, config.skip_unchanged, args.quiet) == (2, "http://h:8000/v1", False, True)
    untouched = build_parser().parse_args(["run", "clip.mp4", "--logos", "logos"])
    assert run_config(untouched) == RunConfig(input="clip.mp4", logos="logos")  # the CLI's defaults are RunConfig's
    offered = set(vars(untouched))  # every option of `logotag run` sets its value (its default) here
    assert {s.name for s in settings() if s.cli} <= offered


def test_unknown_backend_names_list_the_registry():
    with pytest.raises(ValueError, match="choose siglip2, offline, keypoints, ocr, shape"):
        make_proposer("yolo")
    with pytest.raises(ValueError, match="choose vlm, endpoint, ocr, none"):
        make_verifier("gpt")


def test_default_thresholds_come_from_the_registry():
    config = RunConfig(input="x", logos="y")
    assert resolved_threshold(config, "siglip2") == 0.7
    assert resolved_threshold(config, "keypoints") == 0.25
    assert resolved_threshold(config.with_(threshold=0.33), "siglip2") == 0.33


def test_a_cached_backend_is_loaded_once_and_each_run_gets_its_own_settings(monkeypatch):
    monkeypatch.delenv("LOGOTAG_SHAPE_MODEL")  # the shipped matcher
    cache = ModelCache()
    first = cache.verifier("ocr", RunConfig(input="x", logos="y", ocr_threshold=0.9))
    second = cache.verifier("ocr", RunConfig(input="x", logos="y", ocr_threshold=0.4))
    assert (first.threshold, second.threshold) == (0.9, 0.4)  # the first run's setting did not change
    assert len(cache.loaded()) == 1  # one load
    shape = cache.proposer("shape", RunConfig(input="x", logos="y", shape_min_standout=3.0))
    assert (shape.threshold, shape.min_standout) == (backends.PROPOSERS["shape"].threshold, 3.0)
    assert not hasattr(shape, "top_k")  # a proposer gets only the settings it reads


def test_offline_detector_shape_settings_reach_its_shape_matcher(monkeypatch):
    monkeypatch.delenv("LOGOTAG_SHAPE_MODEL")  # the shipped matcher
    cache = ModelCache()
    offline = cache.proposer("offline", RunConfig(input="x", logos="y", shape_threshold=0.8, shape_min_standout=4.0))
    assert (offline.shape_threshold, offline.shape_min_standout) == (0.8, 4.0)
    again = cache.proposer("offline", RunConfig(input="x", logos="y"))
    assert (again.shape_threshold, again.shape_min_standout) == (0.65, 5.0)
    assert again.shape is offline.shape  # the loaded network is shared


def test_precision_is_a_load_setting_offered_as_three_choices(monkeypatch, capsys):
    monkeypatch.delenv("LOGOTAG_SHAPE_MODEL")  # the shipped matcher
    import torch

    cache = ModelCache()
    exact = cache.proposer("offline", RunConfig(input="x", logos="y", precision="fp32"))
    halved = cache.proposer("offline", RunConfig(input="x", logos="y", precision="bf16"))
    assert len(cache.loaded()) == 2  # another number format is another load
    assert next(exact.shape.net.parameters()).dtype == torch.float32
    assert next(halved.shape.net.parameters()).dtype == torch.bfloat16
    assert _config_of(["--precision", "fp32"]).precision == "fp32"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "clip.mp4", "--logos", "logos", "--precision", "fp8"])
    assert "invalid choice: 'fp8'" in capsys.readouterr().err
    assert _config_of(["--device", "cuda:1"]).device == "cuda:1"  # a device's choices are suggestions


def _config_of(options: list[str]) -> RunConfig:
    from logotag_gui.cli import run_config

    return run_config(build_parser().parse_args(["run", "clip.mp4", "--logos", "logos", *options]))


def test_the_registry_says_which_backends_take_a_setting():
    assert backends.users_of("vlm_endpoint") == {"verifiers": ["endpoint"]}
    assert backends.users_of("precision") == {"proposers": ["siglip2", "offline", "shape"]}
    assert backends.users_of("fps") == {} and backends.users_of("threshold") == {}  # the whole run's
    assert backends.applies("siglip_model", "auto", "none") and not backends.applies("siglip_model", "offline", "vlm")
    assert backends.applies("device", "offline", "auto")  # auto may pick the VLM
    assert not backends.applies("device", "keypoints", "ocr")


def test_a_runs_settings_go_on_a_copy_that_shares_the_weights_and_a_wrong_name_is_refused():
    from logotag_gui.core.pipeline.backends import with_options

    class Loaded:
        def __init__(self) -> None:
            self.weights, self.threshold = object(), 0.5

    cached = Loaded()
    mine = with_options(cached, {"threshold": 0.8})
    assert (mine.threshold, cached.threshold) == (0.8, 0.5) and mine.weights is cached.weights
    with pytest.raises(TypeError, match="no setting treshold"):
        with_options(cached, {"treshold": 0.8})
