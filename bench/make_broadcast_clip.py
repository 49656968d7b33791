"""A broadcast-like review benchmark from real photos: walls of boards, cuts, whip pans, a player crossing.

Harder than the pan clip (`make_pan_bench.py`) in the ways match footage is: every 2-4 s the shot cuts; each
shot films a "wall" of three real photos side by side (FlickrLogos-27 dev photos, one brand each); each photo
hangs on two walls and each wall is filmed in two shots, so a brand comes back after other shots (what
learning from review must exploit); several brands are on screen at once; some shots are wide (small marks),
some zoom in, some roll the camera, some whip-pan with motion blur; a dark "player" crosses some shots in front
of the boards, and a score graphic sits in a corner of every frame. 1280x720 at 25 fps.

`--walls W --takes T` scales it up (the same walls filmed T times each, as a match's boards are): the
default, 8 walls x 2 takes, is about 50 s; `--walls 8 --takes 25` is about 10 minutes (the audit benchmark).

Writes OUT/clip.mp4, OUT/gt.json (per-frame truth, as ../shared/tools/make_pan_clip.py writes it, plus the
shots and the rule a box is on screen by: {"min_visible": 0.6, "max_hidden": 0.5}, at least 60% of it in the frame
and at most half of that part behind the player) and OUT/logos/<brand>.png: each brand's largest box cropped from a photo the clip does not show (a
one-shot reference). Research material stays out of the repository: write under bench/out/.

    python bench/make_broadcast_clip.py [--data ../shared/data/fl27_dev] [--out bench/out/broadcast]
    logotag run bench/out/broadcast/clip.mp4 --logos bench/out/broadcast/logos --db bench/out/broadcast/p.sqlite
    logotag simulate-review --db bench/out/broadcast/p.sqlite --truth bench/out/broadcast/gt.json
    python bench/make_broadcast_clip.py --add-rule bench/out/broadcast/gt.json   # a gt.json made before the rule
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import random
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
W, H, FPS = 1280, 720, 25
PHOTO_H = 520  # a board's height on the wall, in wall pixels
GAP = 36
MIN_VISIBLE = 0.6  # a box is on screen in truth when this share of it is in the frame,
MAX_HIDDEN = 0.5  # and the player covers at most this share of that part
RULE = {"min_visible": MIN_VISIBLE, "max_hidden": MAX_HIDDEN}
WALL_H = 1000  # taller than a wide shot's view: the camera never looks past the wall's rows


@dataclass
class Photo:
    path: Path
    brand: str
    boxes: list[list[float]]  # [x, y, w, h] in the photo's pixels


@dataclass
class Placed:
    photo: Photo
    x: float  # where the scaled photo sits on the wall
    y: float
    scale: float


def choose_photos(ann: dict, data: Path, brands: int, rng: random.Random) -> tuple[list[Photo], dict[str, dict]]:
    """One photo per brand for the clip, and each brand's largest box elsewhere for its reference."""
    names = {c["id"]: c["name"] for c in ann["categories"]}
    by_img = collections.defaultdict(list)
    for a in ann["annotations"]:
        by_img[a["image_id"]].append(a)
    imgs = [i for i in ann["images"] if i["width"] >= 400 and i["height"] >= 300 and by_img[i["id"]]]
    rng.shuffle(imgs)
    chosen: dict[str, Photo] = {}
    for i in imgs:
        brand = names[by_img[i["id"]][0]["category_id"]]
        boxes = [a["bbox"] for a in by_img[i["id"]] if names[a["category_id"]] == brand]
        # A board whose mark is large enough to be read on a wide shot at all.
        if brand in chosen or max(b[2] * b[3] for b in boxes) < 0.01 * i["width"] * i["height"]:
            continue
        chosen[brand] = Photo(data / "images" / i["file_name"], brand, boxes)
        if len(chosen) == brands:
            break
    shown = {p.path.name for p in chosen.values()}
    files = {i["id"]: i["file_name"] for i in ann["images"]}
    refs: dict[str, dict] = {}
    for a in ann["annotations"]:
        brand = names[a["category_id"]]
        if brand not in chosen or files[a["image_id"]] in shown:
            continue
        if brand not in refs or a["bbox"][2] * a["bbox"][3] > refs[brand]["bbox"][2] * refs[brand]["bbox"][3]:
            refs[brand] = {"file": files[a["image_id"]], "bbox": a["bbox"]}
    return list(chosen.values()), refs


def stadium_texture(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A dark, busy backdrop (crowd-like blobs) around the boards: texture without any mark."""
    base = rng.integers(20, 70, size=(height // 8 + 1, width // 8 + 1, 3), dtype=np.uint8)
    img = cv2.resize(base, (width, height), interpolation=cv2.INTER_NEAREST)
    img = cv2.GaussianBlur(img, (0, 0), 2.0)
    noise = rng.normal(0, 10, size=img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def build_wall(photos: list[Photo], rng: np.random.Generator) -> tuple[np.ndarray, list[Placed]]:
    scaled = []
    for p in photos:
        img = cv2.imread(str(p.path))
        s = PHOTO_H / img.shape[0]
        scaled.append((p, cv2.resize(img, (int(img.shape[1] * s), PHOTO_H), interpolation=cv2.INTER_AREA), s))
    width = sum(im.shape[1] for _, im, _ in scaled) + GAP * (len(scaled) + 1)
    wall = stadium_texture(width, WALL_H, rng)
    placed, x = [], GAP
    y = (WALL_H - PHOTO_H) // 2
    for p, im, s in scaled:
        wall[y:y + PHOTO_H, x:x + im.shape[1]] = im
        placed.append(Placed(p, x, y, s))
        x += im.shape[1] + GAP
    return wall, placed


@dataclass
class Camera:
    """Where the camera looks on the wall: centre, frame pixels per wall pixel, roll in degrees."""

    cx: float
    cy: float
    zoom: float
    roll: float = 0.0

    def matrix(self) -> np.ndarray:
        """Wall -> frame, a 2x3 affine."""
        m = cv2.getRotationMatrix2D((self.cx, self.cy), self.roll, self.zoom)
        m[0, 2] += W / 2 - self.cx
        m[1, 2] += H / 2 - self.cy
        return m


def lerp(a: Camera, b: Camera, s: float) -> Camera:
    return Camera(a.cx + (b.cx - a.cx) * s, a.cy + (b.cy - a.cy) * s, a.zoom + (b.zoom - a.zoom) * s,
                  a.roll + (b.roll - a.roll) * s)


def ease(s: float) -> float:
    return 0.5 - 0.5 * math.cos(math.pi * min(max(s, 0.0), 1.0))


def shot_path(kind: str, wall_w: int, rng: random.Random) -> tuple[callable, bool]:
    """camera(s) for s in [0, 1] over the shot, and whether it whips (motion blur)."""
    cy = WALL_H / 2
    lo_x = lambda z: W / 2 / z  # noqa: E731  (keep the view on the wall)
    hi_x = lambda z: wall_w - W / 2 / z  # noqa: E731

    def clamp(x: float, z: float) -> float:
        return min(max(x, lo_x(z)), max(lo_x(z), hi_x(z)))

    if kind == "wide":  # the whole wall, marks small
        z = min(W / wall_w * 1.05, 0.75)
        a = Camera(clamp(wall_w * 0.45, z), cy, z)
        b = Camera(clamp(wall_w * 0.55, z), cy + 10, z * 1.05)
        return (lambda s: lerp(a, b, s)), False
    if kind == "zoom":
        z0, z1 = rng.uniform(0.55, 0.7), rng.uniform(1.2, 1.6)
        tx = rng.uniform(0.2, 0.8) * wall_w
        a, b = Camera(clamp(wall_w / 2, z0), cy, z0), Camera(clamp(tx, z1), cy + rng.uniform(-40, 40), z1)
        return (lambda s: lerp(a, b, ease(s))), False
    if kind == "roll":
        z = rng.uniform(0.8, 1.1)
        a = Camera(clamp(wall_w * 0.25, z), cy, z, rng.uniform(-7, -3))
        b = Camera(clamp(wall_w * 0.75, z), cy, z, rng.uniform(3, 7))
        return (lambda s: lerp(a, b, s)), False
    if kind == "whip":  # a slow look, a fast whip across the wall, then a slow look again
        z = rng.uniform(0.8, 1.05)
        x0, x1 = (0.15, 0.85) if rng.random() < 0.5 else (0.85, 0.15)
        a, b = Camera(clamp(wall_w * x0, z), cy, z), Camera(clamp(wall_w * x1, z), cy, z)

        def whip(s: float) -> Camera:
            if s < 0.4:
                return lerp(a, b, 0.05 * s / 0.4)
            if s < 0.6:
                return lerp(a, b, 0.05 + 0.9 * ease((s - 0.4) / 0.2))
            return lerp(a, b, 0.95 + 0.05 * (s - 0.6) / 0.4)

        return whip, True
    # "pan": a steady pan at a close-ish zoom
    z = rng.uniform(0.85, 1.25)
    x0, x1 = (0.2, 0.8) if rng.random() < 0.5 else (0.8, 0.2)
    a, b = Camera(clamp(wall_w * x0, z), cy - 20, z), Camera(clamp(wall_w * x1, z), cy + 20, z)
    return (lambda s: lerp(a, b, s)), False


def player_mask(frame_i: int, n: int, rng_seed: int) -> tuple[np.ndarray, np.ndarray] | None:
    """A dark figure walking across the frame in front of the boards: (mask, colour layer)."""
    r = random.Random(rng_seed)
    start = r.uniform(0.1, 0.4)
    s = (frame_i / max(1, n - 1) - start) / 0.6
    if not 0 <= s <= 1:
        return None
    left_to_right = r.random() < 0.5
    cx = (-150 + s * (W + 300)) if left_to_right else (W + 150 - s * (W + 300))
    mask = np.zeros((H, W), np.uint8)
    body_w, top = 170, int(H * 0.22)
    cv2.ellipse(mask, (int(cx), top), (48, 58), 0, 0, 360, 255, -1)  # head
    cv2.rectangle(mask, (int(cx - body_w / 2), top + 50), (int(cx + body_w / 2), H), 255, -1)  # body
    swing = int(40 * math.sin(frame_i * 0.5))
    cv2.line(mask, (int(cx - body_w / 2), top + 90), (int(cx - body_w / 2 - 40 + swing), top + 330), 255, 38)
    mask = cv2.GaussianBlur(mask, (0, 0), 1.5)
    colour = np.zeros((H, W, 3), np.uint8)
    colour[:] = (28, 24, 60)  # a dark red shirt (BGR)
    return mask, colour


def score_graphic(frame: np.ndarray, t: float) -> None:
    x, y = 40, 34
    cv2.rectangle(frame, (x, y), (x + 330, y + 46), (35, 20, 20), -1)
    cv2.rectangle(frame, (x + 250, y), (x + 330, y + 46), (30, 140, 220), -1)
    cv2.putText(frame, "HOM 1 - 0 AWY", (x + 12, y + 32), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (240, 240, 240), 2,
                cv2.LINE_AA)
    minute = 23 + int(t // 60)
    cv2.putText(frame, f"{minute}:{int(t % 60):02d}", (x + 258, y + 32), cv2.FONT_HERSHEY_SIMPLEX, 0.75,
                (255, 255, 255), 2, cv2.LINE_AA)


def visible_box(placed: Placed, box: list[float], m: np.ndarray) -> tuple[list[float], float] | None:
    """The box's bounding box on the frame (clipped) and the share of it in view."""
    bx, by, bw, bh = box
    corners = np.array([[bx, by], [bx + bw, by], [bx + bw, by + bh], [bx, by + bh]], np.float32)
    corners = corners * placed.scale + np.array([placed.x, placed.y], np.float32)
    moved = corners @ m[:, :2].T + m[:, 2]
    (x0, y0), (x1, y1) = moved.min(axis=0), moved.max(axis=0)
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, W), min(y1, H)
    if cx1 <= cx0 or cy1 <= cy0:
        return None
    share = (cx1 - cx0) * (cy1 - cy0) / max(1e-6, (x1 - x0) * (y1 - y0))
    return [round(float(cx0), 1), round(float(cy0), 1), round(float(cx1 - cx0), 1), round(float(cy1 - cy0), 1)], share


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "fl27_dev"))
    p.add_argument("--out", default=str(ROOT / "bench" / "out" / "broadcast"))
    p.add_argument("--walls", type=int, default=8, help="walls of three boards (each photo hangs on two)")
    p.add_argument("--takes", type=int, default=2, help="shots of each wall")
    p.add_argument("--brands", type=int, default=12)
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--add-rule", metavar="GT_JSON", help="only write the rule into this existing gt.json (made before "
                                                         "the makers stated it) and stop")
    args = p.parse_args()
    if args.add_rule:
        from logotag_gui.core.base.counting import add_truth_rule

        print(f"{args.add_rule}: rule {RULE} " + ("added" if add_truth_rule(args.add_rule, RULE) else "already there"))
        return
    data, out = Path(args.data), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    nprng = np.random.default_rng(args.seed)
    ann = json.loads((data / "annotations.json").read_text())
    photos, refs = choose_photos(ann, data, args.brands, rng)

    # Each photo on two walls, three boards a wall, no wall holding one photo twice.
    slots = photos * (math.ceil(3 * args.walls / len(photos)))
    slots = slots[: 3 * args.walls]
    for _ in range(100):
        rng.shuffle(slots)
        walls = [slots[3 * i:3 * i + 3] for i in range(args.walls)]
        if all(len({q.brand for q in w}) == 3 for w in walls):
            break
    built = [build_wall(w, nprng) for w in walls]
    kinds = ["pan", "wide", "zoom", "whip", "roll"]
    shots = [(wi, take) for wi in range(args.walls) for take in range(args.takes)]
    rng.shuffle(shots)
    for _ in range(200):  # a wall's takes apart from each other: the brand comes back after other shots
        if all(shots[i][0] != shots[i + 1][0] for i in range(len(shots) - 1)):
            break
        rng.shuffle(shots)

    writer = cv2.VideoWriter(str(out / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (W, H))
    boxes: dict[int, list] = {}
    seconds: collections.Counter = collections.Counter()
    shot_list = []
    f = 0
    for number, (wi, take) in enumerate(shots):
        wall, placed = built[wi]
        kind = kinds[(number + take) % len(kinds)]
        path, whips = shot_path(kind, wall.shape[1], rng)
        n = int(rng.uniform(2.0, 4.0) * FPS)
        player = rng.random() < 0.35
        player_seed = rng.randrange(1 << 30)
        shot_list.append({"start": f, "end": f + n - 1, "wall": wi, "kind": kind, "player": player})
        for k in range(n):
            s = k / max(1, n - 1)
            cam = path(s)
            if whips:  # motion blur: the average of the views the shutter saw
                step = 1 / max(1, n - 1)
                views = [cv2.warpAffine(wall, path(min(1.0, s + step * j / 6)).matrix(), (W, H),
                                        flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(30, 30, 30)) for j in range(6)]
                frame = np.mean(views, axis=0).astype(np.uint8)
            else:
                frame = cv2.warpAffine(wall, cam.matrix(), (W, H), flags=cv2.INTER_LINEAR,
                                       borderMode=cv2.BORDER_CONSTANT, borderValue=(30, 30, 30))
            occluder = player_mask(k, n, player_seed) if player else None
            if occluder is not None:
                mask, colour = occluder
                alpha = (mask.astype(np.float32) / 255)[..., None]
                frame = (frame * (1 - alpha) + colour * alpha).astype(np.uint8)
            score_graphic(frame, f / FPS)
            writer.write(frame)
            m = cam.matrix()
            here = []
            for pl in placed:
                for box in pl.photo.boxes:
                    found = visible_box(pl, box, m)
                    if found is None or found[1] < MIN_VISIBLE:
                        continue
                    bb = found[0]
                    if occluder is not None:  # hidden behind the player: not on screen
                        x0, y0, bw, bh = (int(v) for v in bb)
                        covered = occluder[0][y0:y0 + max(1, bh), x0:x0 + max(1, bw)].mean() / 255
                        if covered > MAX_HIDDEN:
                            continue
                    here.append([pl.photo.brand, *bb])
            if here:
                boxes[f] = here
                for b in {x[0] for x in here}:
                    seconds[b] += 1 / FPS
            f += 1
    writer.release()
    (out / "gt.json").write_text(json.dumps({
        "fps": FPS, "frames": f, "width": W, "height": H, "boxes": boxes,
        "seconds": {b: round(s, 2) for b, s in sorted(seconds.items())}, "shots": shot_list, "rule": RULE}))
    logos = out / "logos"
    logos.mkdir(exist_ok=True)
    for brand, ref in sorted(refs.items()):
        img = cv2.imread(str(data / "images" / ref["file"]))
        x, y, w, h = (int(v) for v in ref["bbox"])
        cv2.imwrite(str(logos / f"{brand}.png"), img[y:y + h, x:x + w])
    print(f"frames={f} seconds={f / FPS:.1f} shots={len(shots)} brands={len(seconds)} "
          f"logo seconds={sum(seconds.values()):.1f}; {len(refs)} one-shot references in {logos}")


if __name__ == "__main__":
    main()
