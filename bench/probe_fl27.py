"""Probe the offline detector on real photos: FlickrLogos-27 dev images (research use, read in place).

For each brand, one logo box is cropped as the one-shot reference and its photo is left out of the
measurement: the first photo's box (`--references first`, as it comes) or the brand's largest box
(`--references largest`, the clean example an analyst would pick). Every other photo is scored (recall, relaxed recall, precision, false
positives per image) for each offline backend.

    python bench/probe_fl27.py [--data ../shared/data/fl27_dev] [--backends keypoints ocr offline]
                               [--references first|largest]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from logotag_gui.core.analysis.evaluate import Box, Truth, evaluate, format_table
from logotag_gui.core.base.config import RunConfig
from logotag_gui.core.base.records import BBox
from logotag_gui.core.pipeline.run import run_pipeline
from logotag_gui.core.store import open_repository


def pick_references(images: dict, anns: dict, names: dict, how: str) -> dict[str, tuple[int, list[float]]]:
    """brand -> (image id, box) of its one-shot reference; no photo gives two brands' references."""
    picked: dict[str, tuple[int, list[float]]] = {}
    boxes = [(image_id, a) for image_id in images for a in anns.get(image_id, [])]
    if how == "largest":
        boxes.sort(key=lambda item: -item[1]["bbox"][2] * item[1]["bbox"][3])
    for image_id, a in boxes:
        brand = names[a["category_id"]]
        if brand not in picked and all(image_id != used for used, _ in picked.values()):
            picked[brand] = (image_id, a["bbox"])
    return picked


def by_method(kept: list, truth: dict) -> str:
    """Which sources the boxes came from (keypoints, ocr, shape and their fusions): how many lie on a true
    box of their brand (IoU >= 0.5), how many overlap one with a box of the wrong size (IoU 0.1-0.5: the
    right logo, boxed loosely) and how many lie elsewhere, so that false positives can be traced to a source."""
    rows: dict[str, list[int]] = {}
    for c in kept:
        best = max((b.bbox.iou(c.bbox) for b in truth.get(c.frame.name, []) if b.brand == c.brand), default=0.0)
        row = rows.setdefault(c.method, [0, 0, 0])
        row[0 if best >= 0.5 else 1 if best >= 0.1 else 2] += 1
    lines = [f"{'source':<24} {'boxes':>6} {'on a true box':>14} {'loosely':>8} {'elsewhere':>10}"]
    for method, (hit, loose, off) in sorted(rows.items(), key=lambda item: -sum(item[1])):
        lines.append(f"{method:<24} {hit + loose + off:>6} {hit:>14} {loose:>8} {off:>10}")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "fl27_dev"))
    p.add_argument("--backends", nargs="+", default=["keypoints", "ocr", "offline"])
    p.add_argument("--references", choices=["first", "largest"], default="first")
    p.add_argument("--limit", type=int, default=0, help="score at most this many photos (0: all)")
    p.add_argument("--verifier", default="none", help="stage 2 (ocr: candidates it rejects are left out)")
    args = p.parse_args()
    data = Path(args.data)
    coco = json.loads((data / "annotations.json").read_text())
    names = {c["id"]: c["name"] for c in coco["categories"]}
    images = {im["id"]: im for im in sorted(coco["images"], key=lambda im: im["file_name"])}
    anns: dict[int, list[dict]] = {}
    for a in coco["annotations"]:
        anns.setdefault(a["image_id"], []).append(a)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        logos, photos = tmp / "logos", tmp / "photos"
        logos.mkdir()
        photos.mkdir()
        used_for_reference = set()
        for brand, (image_id, (x, y, w, h)) in pick_references(images, anns, names, args.references).items():
            with Image.open(data / "images" / images[image_id]["file_name"]) as src:
                src.convert("RGB").crop((x, y, x + w, y + h)).save(logos / f"{brand}.png")
            used_for_reference.add(image_id)
        truth: dict = {}
        for image_id, im in images.items():
            if image_id in used_for_reference:
                continue
            (photos / im["file_name"]).symlink_to((data / "images" / im["file_name"]).resolve())
            truth[im["file_name"]] = [Box(names[a["category_id"]], BBox(*a["bbox"])) for a in anns.get(image_id, [])]
            if args.limit and len(truth) >= args.limit:
                break
        print(f"{len(list(logos.iterdir()))} one-shot references ({args.references} box per brand) cropped from photos left out; "
              f"{len(truth)} photos scored")
        for backend in args.backends:
            repo = open_repository(tmp / f"{backend}.sqlite")
            t0 = time.perf_counter()
            result = run_pipeline(RunConfig(input=str(photos), logos=str(logos), embedder=backend,
                                            verifier=args.verifier), repo=repo, cache_root=str(tmp / "cache"))
            per_image = (time.perf_counter() - t0) / max(1, result.frames_done)
            predictions: dict = {}
            kept = [c for c in repo.candidates(video_id=result.video_id)
                    if c.verdict.state.value != "no"]  # "unsure" is not a rejection
            for c in kept:
                predictions.setdefault(c.frame.name, []).append(Box(c.brand, c.bbox, c.score))
            scored = evaluate(Truth("images", truth), predictions)
            t = scored.total()
            print(f"\n== {backend}: recall {t.recall:.1%} (relaxed {t.relaxed_recall:.1%}), precision {t.precision:.1%}, "
                  f"{scored.false_positives_per_frame:.3f} false positives per image, {per_image:.2f} s per image")
            print(format_table(scored))
            print(by_method(kept, truth))
            repo.close()


if __name__ == "__main__":
    main()
