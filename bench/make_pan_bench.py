"""A review benchmark from real photos: the shared pan-clip tool's clip plus one-shot references.

Runs `../shared/tools/make_pan_clip.py` on the FlickrLogos-27 dev photos (a slow pan and zoom over 14
photos, one brand each, with per-frame truth), then crops each brand's largest box from a photo the
clip does not show as its one reference: `OUT/clip.mp4`, `OUT/gt.json`, `OUT/logos/<brand>.png`. The tool keeps a
truth box when at least 60% of it is in the frame (nothing hides a mark in the pan clip); gt.json states it:
"rule": {"min_visible": 0.6} (`--add-rule GT_JSON` writes it into a gt.json made before, without making the clip).
Research material: written under bench/out/ (ignored by git), never committed.

    python bench/make_pan_bench.py [--data ../shared/data/fl27_dev] [--out bench/out/pan]
    logotag run bench/out/pan/clip.mp4 --logos bench/out/pan/logos --db bench/out/pan/p.sqlite
    logotag simulate-review --db bench/out/pan/p.sqlite --truth bench/out/pan/gt.json
    python bench/make_pan_bench.py --add-rule bench/out/pan/gt.json   # a gt.json made before the rule
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import subprocess
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
# What ../shared/tools/make_pan_clip.py counts as on screen: a box with at least 60% of its area in the frame.
RULE = {"min_visible": 0.6}


def add_rule(gt: Path) -> None:
    from logotag_gui.core.base.counting import add_truth_rule

    print(f"{gt}: rule {RULE} " + ("added" if add_truth_rule(gt, RULE) else "already there"))


def clip_photos(ann: dict) -> set[int]:
    """The photos make_pan_clip.py puts in the clip (its own seeded choice, repeated here)."""
    by_img = collections.defaultdict(list)
    for a in ann["annotations"]:
        by_img[a["image_id"]].append(a)
    rng = random.Random(7)
    imgs = [i for i in ann["images"] if i["width"] >= 400 and i["height"] >= 300]
    chosen, seen = [], set()
    for i in rng.sample(imgs, len(imgs)):
        b = by_img[i["id"]][0]["category_id"]
        if b not in seen and len(chosen) < 14:
            seen.add(b)
            chosen.append(i["id"])
    return set(chosen)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "fl27_dev"))
    p.add_argument("--out", default=str(ROOT / "bench" / "out" / "pan"))
    p.add_argument("--negatives", nargs="*", default=None, help="logo-free photos for gaps (default: two of "
                                                                 "scikit-image's, if installed)")
    p.add_argument("--add-rule", metavar="GT_JSON", help="only write the rule into this existing gt.json and stop")
    args = p.parse_args()
    if args.add_rule:
        add_rule(Path(args.add_rule))
        return
    data, out = Path(args.data), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    negatives = args.negatives
    if negatives is None:
        negatives = []
        try:
            from skimage import data as sk

            for name in ("coffee", "rocket"):
                path = out / f"negative_{name}.jpg"
                Image.fromarray(getattr(sk, name)()).save(path)
                negatives.append(str(path))
        except ImportError:
            pass
    tool = ROOT.parent / "shared" / "tools" / "make_pan_clip.py"
    subprocess.run([sys.executable, str(tool), str(data), str(out), *negatives], check=True)
    add_rule(out / "gt.json")
    ann = json.loads((data / "annotations.json").read_text())
    names = {c["id"]: c["name"] for c in ann["categories"]}
    files = {i["id"]: i["file_name"] for i in ann["images"]}
    shown = clip_photos(ann)
    truth_brands = set(json.loads((out / "gt.json").read_text())["seconds"])
    logos = out / "logos"
    logos.mkdir(exist_ok=True)
    best: dict[str, dict] = {}
    for a in ann["annotations"]:
        brand = names[a["category_id"]]
        if a["image_id"] in shown or brand not in truth_brands:
            continue
        if brand not in best or a["bbox"][2] * a["bbox"][3] > best[brand]["bbox"][2] * best[brand]["bbox"][3]:
            best[brand] = a
    for brand, a in sorted(best.items()):
        x, y, w, h = a["bbox"]
        with Image.open(data / "images" / files[a["image_id"]]) as im:
            im.convert("RGB").crop((int(x), int(y), int(x + w), int(y + h))).save(logos / f"{brand}.png")
    print(f"{len(best)} one-shot references in {logos} (from photos the clip does not show)")


if __name__ == "__main__":
    main()
