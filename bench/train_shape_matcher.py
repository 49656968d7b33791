"""Train the shape matcher that the offline detector uses (a model folder: config.json + model.safetensors).

Training pairs are generated, never downloaded: a mark from the npm package `simple-icons` (CC0)
is drawn in a random style (flat, on a badge, gradient, beside a word) once as the reference, cut
from its own background like an analyst's crop, and once more, differently, inside a 256 px scene
(photos bundled with scikit-image and scikit-learn, or generated clutter) with other marks as
distractors, at a scale near the reference's, turned, tilted, blurred, relit, partly hidden and
JPEG-compressed. Marks of FlickrLogos-27's brands and of the generated benchmark's brands are left
out, so both measure marks the network has never seen.

Loss: every reference of a batch against every scene (one convolution): the cells at its own mark
are positives, everything else (its scene's background, the other scenes) negatives.

    pip install resvg-py scikit-image scikit-learn
    python bench/train_shape_matcher.py icons            # rasterise the marks -> bench/.cache/icons.npz
    python bench/train_shape_matcher.py train --minutes 30   # -> the folder LogoTag loads it from
                                                             #    (--out elsewhere, then LOGOTAG_SHAPE_MODEL)
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from logotag_gui.core.embedders.shape_net import (
    STRIDE,
    TEMPLATE,
    ShapeNet,
    correlate,
    default_model_dir,
    load_shape_net,
    save_shape_net,
    template_canvas,
)

CACHE = Path(__file__).resolve().parent / ".cache"
ICONS = CACHE / "icons.npz"
SCENE = 256
ICON_SIDE = 96
# FlickrLogos-27's brands (simple-icons slugs): the real-photo probe must see unseen marks.
FL27 = {"adidas", "apple", "bmw", "citroen", "cocacola", "dhl", "fedex", "ferrari", "ford", "google", "heineken",
        "hp", "intel", "mcdonalds", "mini", "nbc", "nike", "pepsi", "porsche", "puma", "redbull", "sprite",
        "starbucks", "texaco", "unicef", "vodafone", "yahoo"}


# ---------------------------------------------------------------- marks


def rasterise_icons() -> None:
    import resvg_py

    from bench.make_benchmark import pick_brands, simple_icons_dir

    icons = simple_icons_dir()
    benchmark = {d["slug"] for d in pick_brands(icons, np.random.default_rng(0), 20)}  # make_benchmark's seed-0 draw
    data = json.loads((icons / "data" / "simple-icons.json").read_text())
    alphas, titles = [], []
    for d in data:
        slug = d["slug"]
        svg_path = icons / "icons" / f"{slug}.svg"
        if slug in FL27 or slug in benchmark or not svg_path.exists():
            continue
        svg = svg_path.read_text().replace("<svg ", '<svg fill="#000000" ', 1)
        png = resvg_py.svg_to_bytes(svg_string=svg, width=ICON_SIDE, height=ICON_SIDE)
        alpha = np.asarray(Image.open(io.BytesIO(bytes(png))).convert("RGBA"))[:, :, 3]
        if alpha.max() > 0 and (alpha > 127).mean() > 0.02:
            alphas.append(alpha)
            titles.append(d["title"])
    np.savez_compressed(ICONS, alphas=np.stack(alphas), titles=np.array(titles))
    print(f"{len(alphas)} marks -> {ICONS} (left out: {len(FL27)} FlickrLogos-27 and {len(benchmark)} benchmark brands)")


def _colour(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 256, 3).astype(np.float32)


def _tight(rgba: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(rgba[:, :, 3] > 25)
    return rgba[ys.min():ys.max() + 1, xs.min():xs.max() + 1]


def styled(alpha: np.ndarray, title: str, rng: np.random.Generator) -> np.ndarray:
    """One rendering of a mark: RGBA float32, cropped to its outline."""
    a = alpha.astype(np.float32)[:, :, None] / 255
    h, w = alpha.shape
    c1, c2 = _colour(rng), _colour(rng)
    kind = rng.random()
    if kind < 0.5:  # flat
        rgba = np.concatenate([np.broadcast_to(c1, (h, w, 3)), a * 255], axis=2)
    elif kind < 0.75:  # the mark cut out of a badge
        pad = int(h * rng.uniform(0.15, 0.35))
        badge = np.zeros((h + 2 * pad, w + 2 * pad), np.uint8)
        if rng.random() < 0.5:
            cv2.circle(badge, (badge.shape[1] // 2, badge.shape[0] // 2), badge.shape[0] // 2, 255, -1, cv2.LINE_AA)
        else:
            cv2.rectangle(badge, (0, 0), (badge.shape[1] - 1, badge.shape[0] - 1), 255, -1)
        inner = np.zeros_like(badge, np.float32)
        inner[pad:pad + h, pad:pad + w] = a[:, :, 0]
        rgb = c1 * (1 - inner[:, :, None]) + c2 * inner[:, :, None]
        rgba = np.concatenate([rgb, badge[:, :, None].astype(np.float32)], axis=2)
    else:  # gradient fill
        t = np.linspace(0, 1, w, dtype=np.float32)[None, :, None]
        if rng.random() < 0.5:
            t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
        rgb = np.broadcast_to(c1 * (1 - t) + c2 * t, (h, w, 3))
        rgba = np.concatenate([rgb, a * 255], axis=2)
    rgba = _tight(np.ascontiguousarray(rgba, np.float32))
    if rng.random() < 0.15:  # a lockup: the mark beside its name
        rgba = _with_word(rgba, title, rng)
    return rgba


def _with_word(rgba: np.ndarray, word: str, rng: np.random.Generator) -> np.ndarray:
    h = rgba.shape[0]
    font = ImageFont.load_default(size=max(8, int(h * 0.55)))
    text_w = int(font.getlength(word[:12])) + 4
    out = Image.new("RGBA", (rgba.shape[1] + h // 5 + text_w, h), (0, 0, 0, 0))
    out.alpha_composite(Image.fromarray(rgba.astype(np.uint8), "RGBA"), (0, 0))
    colour = tuple(int(v) for v in _colour(rng))
    ImageDraw.Draw(out).text((rgba.shape[1] + h // 5, h // 2), word[:12], font=font, fill=(*colour, 255), anchor="lm")
    return _tight(np.asarray(out).astype(np.float32))


def paste(canvas: np.ndarray, rgba: np.ndarray, centre: tuple[float, float], long_side: float, rng: np.random.Generator,
          *, tilt: float, turn: float) -> tuple[float, float, float, float]:
    """Warp a mark onto the canvas (in place) centred at `centre`; returns its box x0, y0, x1, y1."""
    H, W = canvas.shape[:2]
    mh, mw = rgba.shape[:2]
    corners = np.float32([[0, 0], [mw, 0], [mw, mh], [0, mh]])
    src = corners + rng.uniform(-tilt, tilt, (4, 2)).astype(np.float32) * np.float32([mw, mh])
    rot = cv2.getRotationMatrix2D((mw / 2, mh / 2), rng.uniform(-turn, turn), long_side / max(mw, mh))
    dst = cv2.transform(src.reshape(-1, 1, 2), rot).reshape(-1, 2)
    dst += np.float32(centre) - (dst.min(axis=0) + dst.max(axis=0)) / 2
    # Warp into the mark's own region of the canvas only: most marks are small.
    pad = 3 + int(long_side / 16)
    rx0, ry0 = (np.floor(dst.min(axis=0)) - pad).astype(int).clip(0, [W, H])
    rx1, ry1 = (np.ceil(dst.max(axis=0)) + pad).astype(int).clip(0, [W, H])
    if rx1 - rx0 < 2 or ry1 - ry0 < 2:
        return tuple(map(float, (*dst.min(axis=0), *dst.max(axis=0))))
    warp = cv2.getPerspectiveTransform(corners, (dst - np.float32([rx0, ry0])).astype(np.float32))
    warped = cv2.warpPerspective(rgba, warp, (int(rx1 - rx0), int(ry1 - ry0)), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0, 0))
    sigma = rng.uniform(0, 1.5) * long_side / 48
    if sigma > 0.4:
        warped = cv2.GaussianBlur(warped, (0, 0), sigma)
    alpha = warped[:, :, 3:4] / 255
    shade = rng.uniform(0.6, 1.3) * np.linspace(1, rng.uniform(0.7, 1.3), warped.shape[1], dtype=np.float32)[None, :, None]
    roi = canvas[ry0:ry1, rx0:rx1]
    roi[:] = roi * (1 - alpha) + np.clip(warped[:, :, :3] * shade, 0, 255) * alpha
    x0, y0 = dst.min(axis=0)
    x1, y1 = dst.max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)


# ---------------------------------------------------------------- scenes


def load_photos() -> list[np.ndarray]:
    from skimage import data

    names = ["astronaut", "brick", "camera", "chelsea", "clock", "coffee", "coins", "colorwheel", "grass", "gravel",
             "horse", "hubble_deep_field", "immunohistochemistry", "moon", "retina", "rocket", "cell", "page", "text"]
    photos = []
    for name in names:
        try:
            img = np.asarray(getattr(data, name)())
        except Exception:  # some need a download; the others are enough
            continue
        img = (img > 0).astype(np.uint8) * 255 if img.dtype == bool else img
        img = np.stack([img] * 3, axis=-1) if img.ndim == 2 else img[:, :, :3]
        photos.append(np.ascontiguousarray(img.astype(np.uint8)))
    try:
        from sklearn.datasets import load_sample_images

        photos += [np.asarray(i) for i in load_sample_images().images]
    except ImportError:
        pass
    return photos


def background(photos: list[np.ndarray], size: int, rng: np.random.Generator) -> np.ndarray:
    if rng.random() < 0.8:
        img = photos[rng.integers(len(photos))]
        side = int(min(img.shape[:2]) / rng.uniform(1.0, 3.0))  # crop a square of the photo, then resize it
        y, x = rng.integers(0, img.shape[0] - side + 1), rng.integers(0, img.shape[1] - side + 1)
        out = cv2.resize(img[y:y + side, x:x + side], (size, size),
                         interpolation=cv2.INTER_AREA if side > size else cv2.INTER_LINEAR).astype(np.float32)
        if rng.random() < 0.5:
            out = out[:, ::-1]
        out = out[:, :, rng.permutation(3)] * rng.uniform(0.6, 1.3) + rng.uniform(-30, 30)
    else:  # generated clutter: a gradient with bars, rings and words
        t = np.linspace(0, 1, size, dtype=np.float32)[None, :, None]
        out = np.ascontiguousarray(np.broadcast_to(_colour(rng) * (1 - t) + _colour(rng) * t, (size, size, 3)), np.uint8)
        for _ in range(rng.integers(3, 12)):
            p, q = rng.integers(0, size, 2), rng.integers(0, size, 2)
            colour = tuple(int(v) for v in _colour(rng))
            if rng.random() < 0.4:
                cv2.line(out, tuple(map(int, p)), tuple(map(int, q)), colour, int(rng.integers(1, 12)))
            elif rng.random() < 0.6:
                cv2.circle(out, tuple(map(int, p)), int(rng.integers(4, 60)), colour, int(rng.integers(-1, 6)))
            else:
                cv2.putText(out, "".join(rng.choice(list("ABCDEFGHKMNOPRSTWXYZ"), int(rng.integers(2, 8)))),
                            tuple(map(int, p)), int(rng.integers(0, 8)), rng.uniform(0.5, 2.5), colour, int(rng.integers(1, 4)))
    return np.ascontiguousarray(np.clip(out, 0, 255), dtype=np.float32)


def degrade(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if rng.random() < 0.6:
        image = image + rng.standard_normal(image.shape, dtype=np.float32) * rng.uniform(0, 8)
    noisy = np.clip(image, 0, 255).astype(np.uint8)
    _, buf = cv2.imencode(".jpg", noisy, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(35, 95))])
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)


class Pairs(torch.utils.data.IterableDataset):
    """Endless (reference canvas, mask, scene, mark centre in the scene) samples."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        rng = np.random.default_rng([self.seed, info.id if info else 0])
        marks = np.load(ICONS)
        alphas, titles = marks["alphas"], marks["titles"]
        photos = load_photos()
        while True:
            yield self.sample(alphas, titles, photos, rng)

    @staticmethod
    def sample(alphas, titles, photos, rng):
        i = rng.integers(len(alphas))
        look = styled(alphas[i], str(titles[i]), rng)
        # The reference: the mark on some background, cut out with a small margin, as an analyst crops it.
        ref_bg = background(photos, 128, rng)
        ref_box = paste(ref_bg, look, (64, 64), rng.uniform(56, 90), rng, tilt=0.03, turn=4)
        margin = rng.uniform(0, 0.12) * (ref_box[2] - ref_box[0])
        x0, y0 = max(0, int(ref_box[0] - margin)), max(0, int(ref_box[1] - margin))
        x1, y1 = min(128, int(math.ceil(ref_box[2] + margin))), min(128, int(math.ceil(ref_box[3] + margin)))
        crop = degrade(ref_bg, rng)[y0:y1, x0:x1]
        canvas, mask, inner = template_canvas(np.ascontiguousarray(crop))
        # In the scene: the same mark, often restyled, at about the size it has in the canvas.
        if rng.random() < 0.35:
            look = styled(alphas[i], str(titles[i]), rng)
        scene = background(photos, SCENE, rng)
        for j in rng.integers(len(alphas), size=rng.integers(0, 4)):  # distractors
            paste(scene, styled(alphas[j], str(titles[j]), rng), tuple(rng.uniform(0, SCENE, 2)), rng.uniform(16, 140),
                  rng, tilt=0.08, turn=20)
        fit = TEMPLATE / max(crop.shape[:2])  # canvas pixels per crop pixel
        long_side = max(ref_box[2] - ref_box[0], ref_box[3] - ref_box[1]) * fit * 2 ** rng.uniform(-0.3, 0.3)
        centre = rng.uniform(TEMPLATE / 2, SCENE - TEMPLATE / 2, 2)
        paste(scene, look, tuple(centre), long_side, rng, tilt=0.08, turn=15)
        if rng.random() < 0.25:  # something in front of part of it
            ow, oh = long_side * rng.uniform(0.15, 0.4), long_side * rng.uniform(0.3, 0.9)
            ox, oy = centre + rng.uniform(-0.5, 0.5, 2) * long_side
            cv2.rectangle(scene, (int(ox), int(oy)), (int(ox + ow), int(oy + oh)), tuple(float(v) for v in _colour(rng)), -1)
        # Where the reference's mark centre sits in the canvas: the offset that aligns it with the scene's.
        anchor = np.float32([inner.x + inner.w / 2, inner.y + inner.h / 2]) + (
            np.float32([(ref_box[0] + ref_box[2]) / 2 - (x0 + x1) / 2, (ref_box[1] + ref_box[3]) / 2 - (y0 + y1) / 2]) * fit)
        return canvas, mask.astype(np.float32), degrade(scene, rng), (centre - anchor).astype(np.float32)


# ---------------------------------------------------------------- training


def labels(offsets: torch.Tensor, size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Positive and ignore masks (B, size, size) for the response map of each own pair."""
    grid = torch.arange(size, device=device, dtype=torch.float32) * STRIDE
    dx = grid[None, None, :] - offsets[:, 0, None, None]
    dy = grid[None, :, None] - offsets[:, 1, None, None]
    dist = torch.sqrt(dx ** 2 + dy ** 2)
    return dist <= 0.75 * STRIDE, (dist > 0.75 * STRIDE) & (dist <= 2 * STRIDE)


def batch_loss(net: ShapeNet, scale: torch.Tensor, bias: torch.Tensor, batch, device) -> tuple[torch.Tensor, dict]:
    canvas, mask, scene, offset = (t.to(device, non_blocking=True) for t in batch)
    kernels = net(canvas.permute(0, 3, 1, 2).float() / 255)
    feats = net(scene.permute(0, 3, 1, 2).float() / 255)
    cos = correlate(feats, kernels, mask)  # (B scenes, B refs, R, R)
    B, R = cos.shape[0], cos.shape[-1]
    logits = cos * scale + bias
    own = logits[torch.arange(B), torch.arange(B)]
    pos, ignore = labels(offset, R, device)
    neg_own = ~pos & ~ignore
    others = logits.masked_fill(torch.eye(B, dtype=torch.bool, device=device)[:, :, None, None], -1e4)
    bce = F.binary_cross_entropy_with_logits
    loss_pos = bce(own[pos], torch.ones_like(own[pos]))
    neg = torch.cat([own[neg_own], others.flatten()])
    neg_losses = bce(neg, torch.zeros_like(neg), reduction="none")
    hard = neg_losses.topk(max(1, neg_losses.numel() // 200)).values.mean()
    loss = loss_pos + neg_losses.mean() + hard
    with torch.no_grad():
        best_own = cos[torch.arange(B), torch.arange(B)].flatten(1).max(1).values
        best_pos = torch.where(pos, cos[torch.arange(B), torch.arange(B)], -2).flatten(1).max(1).values
        best_other = cos.masked_fill(torch.eye(B, dtype=torch.bool, device=device)[:, :, None, None], -2).amax(dim=(0, 2, 3))
        stats = {"loss": loss.item(), "pos": best_pos.mean().item(), "other": best_other.mean().item(),
                 "hit": ((best_pos >= best_own - 1e-6) & (best_pos > best_other)).float().mean().item()}
    return loss, stats


def train(args: argparse.Namespace) -> None:
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    # --init: go on from a model folder (its score scale and bias start afresh: they are not saved)
    net = (load_shape_net(Path(args.init)).train() if args.init else ShapeNet(args.width, args.dim)).to(device)
    scale = torch.nn.Parameter(torch.tensor(10.0, device=device))
    bias = torch.nn.Parameter(torch.tensor(-6.0, device=device))
    opt = torch.optim.AdamW([{"params": net.parameters(), "base": args.lr},
                             {"params": [scale, bias], "base": args.lr * 20, "weight_decay": 0}], lr=args.lr, weight_decay=1e-4)
    loader = torch.utils.data.DataLoader(Pairs(args.seed), batch_size=args.batch, num_workers=args.workers,
                                         pin_memory=device.type == "cuda", persistent_workers=args.workers > 0,
                                         prefetch_factor=4 if args.workers else None)
    out = Path(args.out)
    start = last_save = time.time()
    budget = args.minutes * 60
    step, running = 0, {}
    for batch in loader:
        done = (time.time() - start) / budget
        if done >= 1:
            break
        for group in opt.param_groups:  # warm-up, then cosine decay over the time budget
            group["lr"] = group["base"] * min(1.0, (step + 1) / 200) * 0.5 * (1 + math.cos(math.pi * done))
        loss, stats = batch_loss(net, scale, bias, batch, device)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        running = {k: 0.95 * running.get(k, v) + 0.05 * v for k, v in stats.items()}
        step += 1
        if step % args.log_every == 0:
            print(f"step {step} {time.time() - start:.0f}s " + " ".join(f"{k} {v:.3f}" for k, v in running.items())
                  + f" scale {scale.item():.1f} bias {bias.item():.1f}", flush=True)
        if time.time() - last_save > 60:
            save_shape_net(net, out)
            last_save = time.time()
    save_shape_net(net, out)
    print(f"saved after {step} steps ({args.batch * step} pairs) -> {out}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("icons")
    t = sub.add_parser("train")
    t.add_argument("--out", default=str(default_model_dir()), help="model folder (default: where LogoTag loads it from)")
    t.add_argument("--minutes", type=float, default=30)
    t.add_argument("--batch", type=int, default=32)
    t.add_argument("--workers", type=int, default=2)
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--width", type=int, default=32)
    t.add_argument("--dim", type=int, default=64)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--init", help="start from this model folder")
    t.add_argument("--log-every", type=int, default=20)
    t.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args()
    rasterise_icons() if args.command == "icons" else train(args)


if __name__ == "__main__":
    main()
