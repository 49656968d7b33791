"""The shape matcher's network and its matching arithmetic; torch, numpy and OpenCV only (the trainer runs it too)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from logotag_gui.core.base.errors import ModelUnavailable
from logotag_gui.core.base.records import BBox

STRIDE = 8
TEMPLATE = 48  # reference canvas side in pixels: 6 x 6 feature cells
ARCHITECTURE = "logotag-shape-matcher"
CONFIG_FILE, WEIGHTS_FILE = "config.json", "model.safetensors"
MODEL_ENV = "LOGOTAG_SHAPE_MODEL"


def _block(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.GroupNorm(8, cout), nn.ReLU(inplace=True))


class ShapeNet(nn.Module):
    """RGB image -> unit-length feature per 8x8 cell (receptive field 59 px).

    Group norm, not batch norm: references (48 px) and frames go through separately, and the
    statistics must not depend on which batch an image came in.
    """

    def __init__(self, width: int = 32, dim: int = 64) -> None:
        super().__init__()
        self.width, self.dim = width, dim
        w = width
        self.body = nn.Sequential(_block(3, w, 2), _block(w, w, 1), _block(w, 2 * w, 2), _block(2 * w, 2 * w, 1),
                                  _block(2 * w, 4 * w, 2), _block(4 * w, 4 * w, 1), _block(4 * w, 4 * w, 1),
                                  nn.Conv2d(4 * w, dim, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images: (B, 3, H, W) float in [0, 1]; features in fp32 whatever the weights' dtype (bf16 runs
        the convolutions, fp32 the normalisation and the correlation that thresholds read)."""
        weights = next(self.parameters())
        x = (images - 0.5).to(weights.dtype)
        if weights.is_contiguous(memory_format=torch.channels_last) and not weights.is_contiguous():
            x = x.contiguous(memory_format=torch.channels_last)
        return F.normalize(self.body(x).float(), dim=1)


def to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div_(255.0)


def template_canvas(image: np.ndarray, side: int = TEMPLATE) -> tuple[np.ndarray, np.ndarray, BBox]:
    """Fit a reference into a side x side canvas (aspect kept, centred).

    Returns the canvas, the mask of feature cells the logo covers at least half of, and the
    logo's box inside the canvas (what a match's box is made from).
    """
    h, w = image.shape[:2]
    f = side / max(h, w)
    nw, nh = max(1, round(w * f)), max(1, round(h * f))
    canvas = np.zeros((side, side, 3), np.uint8)
    canvas[:] = np.median(image.reshape(-1, 3), axis=0).astype(np.uint8)
    x0, y0 = (side - nw) // 2, (side - nh) // 2
    interpolation = cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR
    canvas[y0:y0 + nh, x0:x0 + nw] = cv2.resize(image, (nw, nh), interpolation=interpolation)
    cells = side // STRIDE
    cover = np.zeros((side, side), np.float32)
    cover[y0:y0 + nh, x0:x0 + nw] = 1
    share = cover.reshape(cells, STRIDE, cells, STRIDE).mean(axis=(1, 3))
    mask = share >= min(0.5, share.max())  # a sliver of a logo keeps the cells it covers most
    return canvas, mask, BBox(float(x0), float(y0), float(nw), float(nh))


def correlate(search: torch.Tensor, kernels: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Mean cosine similarity of each masked template at each offset.

    search: (B, C, H, W) unit features; kernels: (K, C, h, w) unit features; masks: (K, h, w) 0/1.
    Returns (B, K, H - h + 1, W - w + 1) in [-1, 1].
    """
    weight = kernels * masks[:, None]
    return F.conv2d(search, weight) / masks.sum(dim=(1, 2)).clamp(min=1)[None, :, None, None]


# The model LogoTag ships (package data: wheel, editable install and desktop bundle alike).
PACKAGED_MODEL = Path(__file__).resolve().parents[2] / "resources" / "models" / "shape-matcher"
SWITCHED_OFF = {"none", "off"}  # LOGOTAG_SHAPE_MODEL=none: run without a shape matcher


def user_model_dir() -> Path:
    """Where a model the user trains goes: the user's data folder (~/.local/share/logotag/... on Linux)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("logotag")) / "models" / "shape-matcher"


def default_model_dir() -> Path:
    """Where a model the user trains goes: $LOGOTAG_SHAPE_MODEL, else the user's data folder.

    It takes precedence over the model LogoTag ships; `find_shape_model()` says which one is used.
    """
    env = os.environ.get(MODEL_ENV, "").strip()
    if env and env.lower() not in SWITCHED_OFF:
        return Path(env)
    return user_model_dir()


def _holds_model(folder: Path) -> bool:
    return (folder / CONFIG_FILE).is_file() and (folder / WEIGHTS_FILE).is_file()


def find_shape_model() -> Path | None:
    """The model folder LogoTag uses: $LOGOTAG_SHAPE_MODEL, else the user's folder, else the shipped model,
    whichever first holds one; None when none does or LOGOTAG_SHAPE_MODEL is `none`."""
    env = os.environ.get(MODEL_ENV, "").strip()
    if env.lower() in SWITCHED_OFF:
        return None
    candidates = [Path(env)] if env else []
    candidates += [user_model_dir(), PACKAGED_MODEL]
    return next((folder for folder in candidates if _holds_model(folder)), None)


def shape_model_installed(folder: Path | None = None) -> bool:
    """Whether `folder` (None: any of the places LogoTag looks in) holds a model."""
    return _holds_model(folder) if folder is not None else find_shape_model() is not None


def missing_model_message(folder: Path | None = None) -> str:
    """What to do when no model is found (a pip install has no bench/: the trainer is not the only fix)."""
    if folder is not None:
        return (f"the shape matcher's model folder {folder} has no {CONFIG_FILE} and {WEIGHTS_FILE}; point at a "
                f"folder holding both, or leave the model unset to use the one LogoTag ships")
    if os.environ.get(MODEL_ENV, "").strip().lower() in SWITCHED_OFF:
        return f"the shape matcher is switched off ({MODEL_ENV}={os.environ[MODEL_ENV].strip()})"
    env = os.environ.get(MODEL_ENV, "").strip()
    looked = ([env] if env else []) + [str(user_model_dir()), str(PACKAGED_MODEL)]
    return (f"the shape matcher is not installed: no {CONFIG_FILE} + {WEIGHTS_FILE} in {', '.join(looked)}. "
            f"Reinstall LogoTag (its package ships the model), or put a model folder in {user_model_dir()} or set "
            f"{MODEL_ENV} to one (a source checkout trains one with `python bench/train_shape_matcher.py`, "
            f"README: the shape matcher)")


def save_shape_net(net: ShapeNet, folder: Path) -> None:
    """A model folder like a hub checkout: config.json (the architecture) + model.safetensors (fp16).

    Each file is written beside its place and then moved there, so that a run stopped mid-save leaves
    the previous checkpoint whole.
    """
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    config = {"architecture": ARCHITECTURE, "width": net.width, "dim": net.dim, "stride": STRIDE, "template": TEMPLATE}
    weights_tmp, config_tmp = folder / f".{WEIGHTS_FILE}.tmp", folder / f".{CONFIG_FILE}.tmp"
    save_file({k: v.detach().cpu().half().contiguous() for k, v in net.state_dict().items()}, str(weights_tmp))
    config_tmp.write_text(json.dumps(config, indent=1))
    os.replace(weights_tmp, folder / WEIGHTS_FILE)
    os.replace(config_tmp, folder / CONFIG_FILE)


def load_shape_net(folder: Path) -> ShapeNet:
    """Build the network from the folder's config and load its weights; a clear message when either is missing."""
    config_path, weights = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    if not _holds_model(folder):
        raise ModelUnavailable(missing_model_message(folder))
    config = json.loads(config_path.read_text())
    shape = (config.get("stride"), config.get("template"))
    if config.get("architecture") != ARCHITECTURE or shape != (STRIDE, TEMPLATE):
        raise ModelUnavailable(f"{config_path} is not a {ARCHITECTURE} model of this LogoTag version; train it again, "
                               f"or remove it to use the model LogoTag ships")
    from safetensors.torch import load_file

    net = ShapeNet(config["width"], config["dim"])
    net.load_state_dict({k: v.float() for k, v in load_file(str(weights)).items()})
    return net.eval()
