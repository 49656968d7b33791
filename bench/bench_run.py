"""What the user waits for: the whole `logotag run` (decoding, stage 1, verification, following, the store) on a
clip with truth, for two or more settings in one process, interleaved (A B A B ...) so that a noisy machine
slows them alike.

Prints, per setting: sampled frames per second of the whole run, frames stage 1 searched, where the time went
(waiting for the decoder, stage 1, verification, following, storing; model loading and indexing apart), box
recall at IoU 0.5 on the sampled frames, precision, and the model-only exposure error (the seconds the
model's own verdicts count, against the truth's). Then each setting's profile of the whole command
(pipeline/profile.py, the median of its runs): each stage on the run's thread with its seconds, share of the
wall time and seconds per sampled frame, "other" what they leave; beside it, in thread-seconds, the decoder,
stage 1's proposers (the offline detector: keypoints, OCR detection and recognition, the shape matcher, fusion)
and verification; the process's CPU time against the wall time, and its peak resident memory.

    python bench/bench_run.py --clip bench/out/broadcast/clip.mp4 --truth bench/out/broadcast/gt.json \\
        --logos bench/out/broadcast/logos --set "detect_every=1" --set "detect_every=4" [--repeat 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from logotag_gui.core.analysis.evaluate import Box, brand_key, evaluate, load_truth
from logotag_gui.core.analysis.exposure import ExposureRules, clip_exposure
from logotag_gui.core.base.config import RunConfig, settings
from logotag_gui.core.base.records import Review, ReviewState, VerdictState
from logotag_gui.core.media.video import sample_indices
from logotag_gui.core.pipeline.backends import ModelCache
from logotag_gui.core.pipeline.profile import RunProfile
from logotag_gui.core.pipeline.run import run_pipeline
from logotag_gui.core.store import open_repository
from logotag_gui.core.vision.text_reading import TextReader

STAGES = ("decode_wait_s", "propose_s", "verify_s", "verify_wait_s", "propagate_s", "store_s")


def parse_setting(text: str) -> dict:
    """ "detect_every=4,fps=2" -> {"detect_every": 4, "fps": 2.0}, typed as RunConfig declares them."""
    spec = {s.name: s for s in settings()}
    out: dict = {}
    for part in filter(None, text.split(",")):
        name, _, value = part.partition("=")
        name = name.strip().replace("-", "_")
        out[name] = spec[name].parse(value)
    return out


def score(repo, video_id: int, truth, interval: float, fps: float) -> dict:
    """Scored on the run's sampled frames (where its candidates are, and what seconds are counted on)."""
    cands = repo.candidates(video_id=video_id)
    video = repo.video(video_id)
    sampled = set(sample_indices(frame_count=video.frame_count, native_fps=video.fps, fps=fps))
    preds: dict[int, list[Box]] = {}
    for c in cands:
        preds.setdefault(c.frame.index, []).append(Box(c.final_brand, c.final_bbox, c.score))
    ev = evaluate(truth, preds, frames=sorted(f for f in sampled if f in truth.boxes or f in preds),
                  interval_s=interval)
    total = ev.total()
    counted = [c.with_(review=Review(ReviewState.ACCEPTED)) for c in cands
               if c.verdict.state in (VerdictState.YES, VerdictState.NOT_RUN)]
    model = {brand_key(b): s.seconds for b, s in clip_exposure(counted, interval_s=interval,
                                                              rules=ExposureRules()).items()}
    true_s: dict[str, float] = {}
    for f in sampled:
        for b in {brand_key(x.brand) for x in truth.boxes.get(f, [])}:
            true_s[b] = true_s.get(b, 0.0) + interval
    wrong = sum(abs(model.get(b, 0.0) - true_s.get(b, 0.0)) for b in set(model) | set(true_s))
    return {"recall": total.recall, "precision": total.precision, "candidates": len(cands),
            "exposure_error": wrong / max(1e-9, sum(true_s.values()))}


def profile_table(profiles: list[RunProfile]) -> str:
    """The profile of the whole command, each figure the median over `profiles` (one setting's runs)."""
    rows = profiles[0].rows()
    med = {(r.name, r.beside): statistics.median(next((x.seconds for x in p.rows() if (x.name, x.beside) ==
                                                       (r.name, r.beside)), 0.0) for p in profiles) for r in rows}
    wall = statistics.median(p.wall_s for p in profiles)
    frames = max(1, profiles[0].frames)
    lines = [f"  {'stage':<40} {'seconds':>8} {'share':>7} {'per frame':>10}"]
    beside_started = False
    for r in rows:
        if r.beside and not beside_started:
            lines.append(f"  {'wall time (the stages above)':<40} {wall:8.2f} {1:7.1%} {wall / frames:9.3f}s")
            lines.append("  beside it, on other threads (thread-seconds; share: threads kept busy):")
            beside_started = True
        s = med[(r.name, r.beside)]
        name = ("  " * r.level + r.name)[:40]
        lines.append(f"  {name:<40} {s:8.2f} {s / wall if wall else 0:7.1%} {s / frames:9.3f}s")
    if not beside_started:
        lines.append(f"  {'wall time (the stages above)':<40} {wall:8.2f} {1:7.1%} {wall / frames:9.3f}s")
    cpu = statistics.median(p.cpu_s for p in profiles)
    peaks = [p.peak_rss_mib for p in profiles if p.peak_rss_mib is not None]
    lines.append(f"  CPU time {cpu:.1f} s over {wall:.1f} s wall: {cpu / wall if wall else 0:.2f} cores busy on average; "
                 f"peak resident memory {max(peaks) if peaks else float('nan'):.0f} MiB (the process's, so far); "
                 f"{frames} sampled frames")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clip", required=True)
    p.add_argument("--truth", required=True)
    p.add_argument("--logos", required=True)
    p.add_argument("--set", action="append", dest="sets", default=None,
                   help='settings to compare, e.g. "detect_every=4" (repeat --set for each; default: the defaults)')
    p.add_argument("--repeat", type=int, default=1, help="runs of each setting (interleaved)")
    p.add_argument("--ocr-frames", action="store_true",
                   help="each setting twice: HD frames read by OCR at rapidocr's default size (enlarged to a 736-px "
                        "short side) and at their own size (long side at most 960, the default)")
    args = p.parse_args()
    truth = load_truth(args.truth)
    sizes = [("ocr default size", False), ("ocr own size", True)] if args.ocr_frames else [("", True)]
    variants = [(" · ".join(x for x in (text, label) if x), parse_setting(text), own)
                for text in (args.sets or [""]) for label, own in sizes]
    models = ModelCache()  # loaded once: loading is not what a user waits for on the second clip
    rows: dict[str, list[dict]] = {text: [] for text, _, _ in variants}
    profiles: dict[str, list[RunProfile]] = {text: [] for text, _, _ in variants}
    for _ in range(args.repeat):
        for text, overrides, own_size in variants:
            TextReader.frames_at_own_size = own_size
            with tempfile.TemporaryDirectory() as tmp:
                repo = open_repository(Path(tmp) / "p.sqlite")
                config = RunConfig(input=args.clip, logos=args.logos, **overrides)
                t0 = time.perf_counter()
                result = run_pipeline(config, repo=repo, models=models, cache_root=str(Path(tmp) / "cache"))
                wall = time.perf_counter() - t0
                interval = 1.0 / min(config.fps, repo.video(result.video_id).fps)
                row = {"wall_s": wall - result.timings.get("load_s", 0.0) - result.timings.get("index_s", 0.0),
                       "frames": result.frames_total, "keyframes": result.keyframes, **result.timings,
                       **score(repo, result.video_id, truth, interval, config.fps)}
                repo.close()
            rows[text].append(row)
            profiles[text].append(result.profile)
            print(f"  {text or 'defaults'}: {row['frames'] / row['wall_s']:.2f} frames/s", file=sys.stderr)
    print(f"{Path(args.clip).name}: whole run (model loading and indexing left out), "
          f"{args.repeat} run(s) each, interleaved")
    print(f"{'setting':<28} {'frames/s':>8} {'searched':>8} " + " ".join(f"{s[:-2]:>11}" for s in STAGES)
          + f" {'recall':>7} {'precision':>9} {'exp. error':>10}")
    for text, runs in rows.items():
        med = {k: statistics.median(r.get(k, 0.0) for r in runs) for k in runs[0]}
        print(f"{text or 'defaults':<28} {med['frames'] / med['wall_s']:8.2f} {med['keyframes']:8.0f} "
              + " ".join(f"{med.get(s, 0.0):10.1f}s" for s in STAGES)
              + f" {med['recall']:7.1%} {med['precision']:9.1%} {med['exposure_error']:10.1%}")

    for text, runs in profiles.items():
        print(f"\nprofile of the whole command, {text or 'defaults'} (median of {len(runs)} run(s)):")
        print(profile_table(runs))


if __name__ == "__main__":
    main()
