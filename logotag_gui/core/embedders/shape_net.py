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

from logotag_gui.core.errors import ModelUnavailable
from logotag_gui.core.records import BBox

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
        """images: (B, 3, H, W) float in [0, 1]."""
        return F.normalize(self.body(images - 0.5), dim=1)


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
    canvas[y0:y0 + nh, x0:x0 + nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
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


def default_model_dir() -> Path:
    """Where the shape matcher's model folder lives: $LOGOTAG_SHAPE_MODEL, else the user's data folder."""
    if os.environ.get(MODEL_ENV):
        return Path(os.environ[MODEL_ENV])
    from platformdirs import user_data_dir

    return Path(user_data_dir("logotag")) / "models" / "shape-matcher"


def shape_model_installed(folder: Path | None = None) -> bool:
    folder = folder or default_model_dir()
    return (folder / CONFIG_FILE).exists() and (folder / WEIGHTS_FILE).exists()


def save_shape_net(net: ShapeNet, folder: Path) -> None:
    """A model folder like a hub checkout: config.json (the architecture) + model.safetensors (fp16)."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    config = {"architecture": ARCHITECTURE, "width": net.width, "dim": net.dim, "stride": STRIDE, "template": TEMPLATE}
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=1))
    save_file({k: v.detach().cpu().half().contiguous() for k, v in net.state_dict().items()}, str(folder / WEIGHTS_FILE))


def load_shape_net(folder: Path) -> ShapeNet:
    """Build the network from the folder's config and load its weights; a clear message when either is missing."""
    config_path, weights = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    if not shape_model_installed(folder):
        raise ModelUnavailable(
            f"the shape matcher is not installed ({folder} has no {CONFIG_FILE} and {WEIGHTS_FILE}); train it with "
            f"`python bench/train_shape_matcher.py train --out {folder}` (README: the shape matcher), or set "
            f"{MODEL_ENV} to a folder holding one")
    config = json.loads(config_path.read_text())
    if config.get("architecture") != ARCHITECTURE or (config.get("stride"), config.get("template")) != (STRIDE, TEMPLATE):
        raise ModelUnavailable(f"{config_path} is not a {ARCHITECTURE} model of this LogoTag version; train it again")
    from safetensors.torch import load_file

    net = ShapeNet(config["width"], config["dim"])
    net.load_state_dict({k: v.float() for k, v in load_file(str(weights)).items()})
    return net.eval()
