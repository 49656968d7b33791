"""Train the shape matcher that the offline detector uses (a model folder: config.json + model.safetensors).

Training pairs are generated, never downloaded (bench/shape_pairs.py): a mark (a CC0 simple-icons
brand mark, an MIT-licensed generic icon, a wordmark in one of ~300 freely licensed fonts, or a
lockup of both) is drawn in a random style once as the reference, cut from its own background like
an analyst's crop, and once more, differently, inside a 256 px scene (photos bundled with
scikit-image and scikit-learn, photo mosaics, generated textures, stripes, clutter, signage) with
other marks and words as distractors, at a scale near the reference's, turned, tilted, blurred,
relit, partly hidden and JPEG-compressed. Each scene holds --targets such marks. Marks of
FlickrLogos-27's brands and of the generated benchmark's brands (and their sub-brands) are left
out, and no training word spells them, so both measure marks the network has never seen. One mark
in 25 is held out of training for the validation figures.

Loss: every reference of a batch against every scene (one convolution): the cells at its own mark
are positives, everything else (the rest of its scene, the other scenes) negatives.

Where generating pairs is slower than the GPU trains on them, a batch is used again (at most
--max-echo more times, each time mirrored, recoloured and re-noised differently on the GPU) rather
than leaving the GPU idle ("data echoing"); the log says what share of the steps had fresh pairs.

    apt-get install fonts-dejavu-core fonts-noto-core ...   # bench/shape_material.py: FONT_PACKAGES
    pip install resvg-py scikit-image scikit-learn fonttools   # npm on the PATH (simple-icons and icon sets)
    python bench/train_shape_matcher.py material         # -> bench/.cache/ icons.npz, fonts/, backgrounds.npz
    python bench/train_shape_matcher.py train --minutes 30   # -> the folder LogoTag loads a user's model from
                                                             #    (--out elsewhere, then LOGOTAG_SHAPE_MODEL)
    bash bench/gpu_train_shape.sh 8.5 [INIT_FOLDER]      # on a GPU machine: checkpoints and log into $OUT
"""

from __future__ import annotations

import argparse
import json
import math
import queue
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import shape_material
from bench.shape_pairs import SCENE, Material, sample
from logotag_gui.core.proposers.shape_net import (
    STRIDE,
    TEMPLATE,
    ShapeNet,
    correlate,
    load_shape_net,
    save_shape_net,
)

RESPONSE = (SCENE - TEMPLATE) // STRIDE + 1  # offsets at which a reference is compared in a scene (27)


class Pairs(torch.utils.data.IterableDataset):
    """Endless (reference canvases, masks, scene, offsets) samples; each worker has its own seeded stream."""

    def __init__(self, seed: int, targets: int, split: str = "train") -> None:
        self.seed, self.targets, self.split = seed, targets, split

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        cv2.setNumThreads(1)  # one process per core: threads inside each only contend
        torch.set_num_threads(1)
        rng = np.random.default_rng([self.seed, info.id if info else 0])
        mat = Material(self.split)
        while True:
            yield sample(mat, rng, self.targets)


# ---------------------------------------------------------------- batches on the device


def to_device(batch, device: torch.device):
    """(canvas (K, 3, 48, 48), mask (K, 6, 6), scene (B, 3, 256, 256), offset (K, 2), targets per scene)."""
    canvas, mask, scene, offset = (t.to(device, non_blocking=True) for t in batch)
    B, T = canvas.shape[:2]
    canvas = canvas.reshape(B * T, *canvas.shape[2:]).permute(0, 3, 1, 2).float().div_(255)
    scene = scene.permute(0, 3, 1, 2).float().div_(255)
    return canvas, mask.reshape(B * T, *mask.shape[2:]).float(), scene, offset.reshape(B * T, 2).float(), T


def augment(canvas, mask, scene, offset, T: int, gen: torch.Generator):
    """A new view of a batch, on the device: each pair mirrored (or not) and its channels permuted together;
    each image's gain, bias and noise of its own. A mirrored pair is a pair of a mirrored mark."""
    B, dev = scene.shape[0], scene.device

    def rand(*shape):
        return torch.rand(*shape, generator=gen, device=dev)

    flip = rand(B) < 0.5
    flip_k = flip.repeat_interleave(T)
    scene = torch.where(flip[:, None, None, None], scene.flip(-1), scene)
    canvas = torch.where(flip_k[:, None, None, None], canvas.flip(-1), canvas)
    mask = torch.where(flip_k[:, None, None], mask.flip(-1), mask)
    # Mirroring the scene and the canvas moves the offset of the aligned canvas from x to (R - 1) * 8 - x.
    offset = torch.stack([torch.where(flip_k, (RESPONSE - 1) * STRIDE - offset[:, 0], offset[:, 0]), offset[:, 1]], 1)
    perm = rand(B, 3).argsort(dim=1)
    scene = scene.gather(1, perm[:, :, None, None].expand_as(scene))
    canvas = canvas.gather(1, perm.repeat_interleave(T, 0)[:, :, None, None].expand_as(canvas))

    def relight(x):
        n = x.shape[0]
        x = x * (0.8 + 0.4 * rand(n, 1, 1, 1)) + (rand(n, 1, 1, 1) - 0.5) * 0.16
        noise = torch.randn(x.shape, generator=gen, device=dev) * (rand(n, 1, 1, 1) * 0.02)
        return (x + noise).clamp_(0, 1)

    return relight(canvas), mask, relight(scene), offset


def labels(offsets: torch.Tensor, size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Positive and ignore masks (K, size, size) for each reference's response map in its own scene."""
    grid = torch.arange(size, device=device, dtype=torch.float32) * STRIDE
    dx = grid[None, None, :] - offsets[:, 0, None, None]
    dy = grid[None, :, None] - offsets[:, 1, None, None]
    dist = torch.sqrt(dx ** 2 + dy ** 2)
    return dist <= 0.75 * STRIDE, (dist > 0.75 * STRIDE) & (dist <= 2 * STRIDE)


def batch_loss(net: ShapeNet, scale: torch.Tensor, bias: torch.Tensor, canvas, mask, scene, offset, T: int,
               amp: bool) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    device = scene.device
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
        kernels = net(canvas)
        feats = net(scene)
        cos = correlate(feats, kernels, mask)  # (B scenes, K refs, R, R)
    cos = cos.float()
    B, K, R = cos.shape[0], cos.shape[1], cos.shape[-1]
    refs = torch.arange(K, device=device)
    owner = refs // T  # the scene that holds each reference's mark
    own_mask = torch.zeros(B, K, dtype=torch.bool, device=device)
    own_mask[owner, refs] = True
    logits = cos * scale + bias
    own = logits[owner, refs]
    pos, ignore = labels(offset, R, device)
    neg_own = ~pos & ~ignore
    # Masks rather than boolean indexing: no step waits for the GPU (the counts are known up front).
    bce = F.binary_cross_entropy_with_logits
    loss_pos = (bce(own, torch.ones_like(own), reduction="none") * pos).sum() / pos.sum().clamp(min=1)
    own_neg = bce(own, torch.zeros_like(own), reduction="none") * neg_own
    other_neg = bce(logits, torch.zeros_like(logits), reduction="none").masked_fill(own_mask[:, :, None, None], 0)
    count = neg_own.sum() + (B - 1) * K * R * R
    neg_mean = (own_neg.sum() + other_neg.sum()) / count
    hard = torch.cat([own_neg.flatten(), other_neg.flatten()]).topk(max(1, B * K * R * R // 200)).values.mean()
    loss = loss_pos + neg_mean + hard
    with torch.no_grad():
        own_cos = cos[owner, refs]
        best_own = own_cos.flatten(1).max(1).values
        best_pos = torch.where(pos, own_cos, -2).flatten(1).max(1).values
        best_other = cos.masked_fill(own_mask[:, :, None, None], -2).amax(dim=(0, 2, 3))
        stats = {"loss": loss.detach(), "pos": best_pos.mean(), "other": best_other.mean(),
                 "hit": ((best_pos >= best_own - 1e-6) & (best_pos > best_other)).float().mean()}
    return loss, stats


# ---------------------------------------------------------------- validation


def validation_set(n: int, targets: int, seed: int):
    """n scenes of marks held out of training (one in 25), generated once, the same for every run."""
    mat = Material("val")
    rng = np.random.default_rng([seed, 1_000_003])
    samples = [sample(mat, rng, targets) for _ in range(n)]
    return [torch.from_numpy(np.stack([s[i] for s in samples])) for i in range(4)]


@torch.no_grad()
def validate(net: ShapeNet, val, device: torch.device, chunk: int = 32) -> dict:
    """On the held-out marks, in full precision: `hit` = the reference's best response in its own scene is at
    its mark and beats its best response in every other validation scene; `located` = at its mark."""
    was_training = net.training
    net.eval()
    canvas, mask, scene, offset, T = to_device(val, device)
    kernels = torch.cat([net(canvas[i:i + 256]) for i in range(0, len(canvas), 256)])
    K = kernels.shape[0]
    refs = torch.arange(K, device=device)
    owner = refs // T
    pos, _ = labels(offset, RESPONSE, device)
    best_other = torch.full((K,), -2.0, device=device)
    best_own = torch.full((K,), -2.0, device=device)
    best_pos = torch.full((K,), -2.0, device=device)
    for start in range(0, scene.shape[0], chunk):
        cos = correlate(net(scene[start:start + chunk]), kernels, mask).float()  # (b, K, R, R)
        index = torch.arange(start, start + cos.shape[0], device=device)
        is_own = owner[None, :] == index[:, None]  # (b, K)
        peak = cos.flatten(2).max(2).values
        best_other = torch.maximum(best_other, peak.masked_fill(is_own, -2).max(0).values)
        mine = is_own.any(0)
        if mine.any():
            rows = owner[mine] - start
            own_cos = cos[rows, refs[mine]]
            best_own[mine] = own_cos.flatten(1).max(1).values
            best_pos[mine] = torch.where(pos[mine], own_cos, -2).flatten(1).max(1).values
    located = best_pos >= best_own - 1e-6
    net.train(was_training)
    return {"val_hit": (located & (best_pos > best_other)).float().mean().item(),
            "val_located": located.float().mean().item(), "val_pos": best_pos.mean().item(),
            "val_other": best_other.mean().item(), "val_refs": K}


# ---------------------------------------------------------------- training


class Feeder:
    """Pulls batches from the loader in a thread, so that the training loop can see whether one is ready."""

    def __init__(self, batches) -> None:
        self.queue: queue.Queue = queue.Queue(maxsize=2)
        self.stopped = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(batches,), daemon=True)
        self.thread.start()

    def _run(self, batches) -> None:
        try:
            for batch in batches:
                while not self.stopped.is_set():
                    try:
                        self.queue.put(batch, timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if self.stopped.is_set():
                    return
        except BaseException as exc:  # surfaced to the training loop
            self.error = exc
            self.stopped.set()

    def get(self, *, wait: bool):
        while True:
            if self.error is not None:
                raise RuntimeError("the data loader failed") from self.error
            try:
                return self.queue.get(timeout=1.0) if wait else self.queue.get_nowait()
            except queue.Empty:
                if not wait:
                    return None

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=10)


def train(args: argparse.Namespace) -> None:
    start = time.time()
    # The workers start first, from the main thread before anything else runs (they fork), and
    # generate pairs while the model and the validation set are set up.
    loader = torch.utils.data.DataLoader(Pairs(args.seed, args.targets), batch_size=args.batch, num_workers=args.workers,
                                         pin_memory=args.device.startswith("cuda"), persistent_workers=args.workers > 0,
                                         prefetch_factor=4 if args.workers else None)
    batches = iter(loader)
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    amp = args.amp == "bf16" or (args.amp == "auto" and device.type == "cuda")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    out = Path(args.out) if args.out else _user_model_dir()
    # --init: go on from a model folder (its score scale and bias start afresh: they are not saved)
    net = (load_shape_net(Path(args.init)).train() if args.init else ShapeNet(args.width, args.dim)).to(device)
    scale = torch.nn.Parameter(torch.tensor(10.0, device=device))
    bias = torch.nn.Parameter(torch.tensor(-6.0, device=device))
    opt = torch.optim.AdamW([{"params": net.parameters(), "base": args.lr},
                             {"params": [scale, bias], "base": args.lr * 20, "weight_decay": 0}], lr=args.lr, weight_decay=1e-4)
    feeder = Feeder(batches)
    val = validation_set(args.val, args.targets, args.seed) if args.val else None
    summary = {"command": " ".join(sys.argv), "args": vars(args), "device": _device_name(device), "amp": amp,
               "torch": torch.__version__, "material": _material_summary(), "history": []}

    def checkpoint(step: int, fresh: int, final: bool = False) -> None:
        if step:
            save_shape_net(net, out)
        entry = {"step": step, "seconds": round(time.time() - start, 1), "fresh_batches": fresh,
                 "fresh_pairs": fresh * args.batch * args.targets, "final": final}
        if val is not None:
            entry.update(validate(net, val, device))
        summary["history"].append(entry)
        print("checkpoint " + " ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in entry.items())
              + (f" -> {out}" if step else ""), flush=True)
        if args.summary:
            Path(args.summary).parent.mkdir(parents=True, exist_ok=True)
            Path(args.summary).write_text(json.dumps(summary, indent=1))

    if args.baseline and val is not None:  # another model's figures on the same held-out scenes, for comparison
        summary["baseline"] = {"model": args.baseline, **validate(load_shape_net(Path(args.baseline)).to(device), val, device)}
        print("baseline " + " ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                                     for k, v in summary["baseline"].items()), flush=True)
    checkpoint(0, 0)
    gen = torch.Generator(device=device)
    gen.manual_seed(args.seed)
    budget = args.minutes * 60
    step = fresh = uses = 0
    current = None
    running: dict[str, torch.Tensor] = {}
    last_save = last_log = time.time()
    fresh_at_log = step_at_log = 0
    while (done := (time.time() - start) / budget) < 1:
        batch = feeder.get(wait=current is None or uses > args.max_echo)
        if batch is not None:
            current, uses = to_device(batch, device), 0
            fresh += 1
        uses += 1
        canvas, mask, scene, offset = augment(*current[:4], current[4], gen)
        for group in opt.param_groups:  # warm-up, then cosine decay over the time budget
            group["lr"] = group["base"] * min(1.0, (step + 1) / args.warmup) * 0.5 * (1 + math.cos(math.pi * done))
        loss, stats = batch_loss(net, scale, bias, canvas, mask, scene, offset, current[4], amp)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        running = {k: 0.95 * running.get(k, v) + 0.05 * v for k, v in stats.items()}  # on the device: no waiting
        step += 1
        if step % args.log_every == 0:
            now = time.time()
            rate = (fresh - fresh_at_log) * args.batch / (now - last_log)
            print(f"step {step} {now - start:.0f}s " + " ".join(f"{k} {v.item():.3f}" for k, v in running.items())
                  + f" scale {scale.item():.1f} bias {bias.item():.1f} fresh {(fresh - fresh_at_log) / (step - step_at_log):.2f}"
                  f" scenes/s {rate:.0f} steps/s {(step - step_at_log) / (now - last_log):.1f}", flush=True)
            last_log, fresh_at_log, step_at_log = now, fresh, step
        if time.time() - last_save > args.save_every:
            checkpoint(step, fresh)
            last_save = time.time()
    feeder.stop()
    checkpoint(step, fresh, final=True)
    print(f"saved after {step} steps ({fresh} fresh batches: {fresh * args.batch * args.targets} pairs) -> {out}",
          flush=True)


def _user_model_dir() -> Path:
    from logotag_gui.core.proposers.shape_net import default_model_dir

    return default_model_dir()


def _device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"


def _material_summary() -> dict:
    stored = np.load(shape_material.ICONS)
    sources = stored["sources"] if "sources" in stored else np.array(["simple-icons"] * len(stored["alphas"]))
    fonts = shape_material.FONTS / "FONTS.tsv"
    backgrounds = (np.load(shape_material.BACKGROUNDS) if shape_material.BACKGROUNDS.exists() else None)
    return {"marks": {str(s): int((sources == s).sum()) for s in sorted(set(sources))},
            "mark_licences": json.loads(str(stored["licences"])) if "licences" in stored else {"simple-icons": "CC0-1.0"},
            "fonts": len(fonts.read_text().splitlines()) - 1 if fonts.exists() else 0,
            "font_licences": sorted({row.split("\t")[2] for row in fonts.read_text().splitlines()[1:]}) if fonts.exists() else [],
            "photos": dict(zip(map(str, backgrounds["names"]), map(str, backgrounds["licences"]), strict=True)) if backgrounds is not None else {},
            "left_out": [str(e) for e in stored["excluded"]] if "excluded" in stored else sorted(shape_material.FL27)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("icons", help="rasterise the marks -> bench/.cache/icons.npz")
    sub.add_parser("fonts", help="collect the installed free fonts -> bench/.cache/fonts/")
    sub.add_parser("backgrounds", help="the bundled photos -> bench/.cache/backgrounds.npz")
    sub.add_parser("material", help="all three")
    t = sub.add_parser("train")
    t.add_argument("--out", help="model folder (default: the user's folder LogoTag looks in)")
    t.add_argument("--minutes", type=float, default=30, help="the whole run, from start-up to the last save")
    t.add_argument("--batch", type=int, default=32, help="scenes per step")
    t.add_argument("--targets", type=int, default=2, help="marks (each with its reference) per scene")
    t.add_argument("--workers", type=int, default=2)
    t.add_argument("--max-echo", type=int, default=2, help="reuse a batch at most this many more times while "
                   "the next one is not ready (0: never wait-free reuse)")
    t.add_argument("--amp", choices=["auto", "bf16", "off"], default="auto", help="bf16 autocast (auto: on CUDA)")
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--warmup", type=int, default=200, help="steps")
    t.add_argument("--width", type=int, default=32)
    t.add_argument("--dim", type=int, default=64)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--init", help="start from this model folder")
    t.add_argument("--val", type=int, default=256, help="validation scenes of held-out marks (0: none)")
    t.add_argument("--baseline", help="also validate this model folder once, for comparison")
    t.add_argument("--save-every", type=float, default=60, help="seconds between checkpoints")
    t.add_argument("--summary", help="write the run's settings, material and validation figures here (JSON)")
    t.add_argument("--log-every", type=int, default=20)
    t.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args()
    commands = {"icons": shape_material.prepare_icons, "fonts": shape_material.prepare_fonts,
                "backgrounds": shape_material.prepare_backgrounds, "material": shape_material.prepare_all}
    commands[args.command]() if args.command in commands else train(args)


if __name__ == "__main__":
    main()
