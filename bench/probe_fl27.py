"""Probe the offline detector on real photos: FlickrLogos-27 dev images (research use, read in place).

For each brand, the first photo's logo box is cropped as the one-shot reference and that photo is
left out of the measurement; every other photo is scored (recall, relaxed recall, precision, false
positives per image) for each offline backend.

    python bench/probe_fl27.py [--data ../shared/data/fl27_dev] [--backends keypoints ocr offline]
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
from logotag_gui.core.config import RunConfig
from logotag_gui.core.evaluate import Box, Truth, evaluate, format_table
from logotag_gui.core.pipeline import run_pipeline
from logotag_gui.core.records import BBox
from logotag_gui.core.store import open_repository


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "fl27_dev"))
    p.add_argument("--backends", nargs="+", default=["keypoints", "ocr", "offline"])
    p.add_argument("--limit", type=int, default=0, help="score at most this many photos (0: all)")
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
        for image_id, im in images.items():  # the first photo of each brand gives its reference
            for a in anns.get(image_id, []):
                brand = names[a["category_id"]]
                if (logos / f"{brand}.png").exists() or image_id in used_for_reference:
                    continue
                x, y, w, h = a["bbox"]
                with Image.open(data / "images" / im["file_name"]) as src:
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
        print(f"{len(list(logos.iterdir()))} one-shot references cropped from photos left out; "
              f"{len(truth)} photos scored")
        for backend in args.backends:
            repo = open_repository(tmp / f"{backend}.sqlite")
            t0 = time.perf_counter()
            result = run_pipeline(RunConfig(input=str(photos), logos=str(logos), embedder=backend, verifier="none"),
                                  repo=repo, cache_root=str(tmp / "cache"))
            per_image = (time.perf_counter() - t0) / max(1, result.frames_done)
            predictions: dict = {}
            for c in repo.candidates(video_id=result.video_id):
                predictions.setdefault(c.frame.name, []).append(Box(c.brand, c.bbox, c.score))
            scored = evaluate(Truth("images", truth), predictions)
            t = scored.total()
            print(f"\n== {backend}: recall {t.recall:.1%} (relaxed {t.relaxed_recall:.1%}), precision {t.precision:.1%}, "
                  f"{scored.false_positives_per_frame:.3f} false positives per image, {per_image:.2f} s per image")
            print(format_table(scored))
            repo.close()


if __name__ == "__main__":
    main()
