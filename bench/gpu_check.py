"""GPU figures in one short run: stage-1 crops/s (ours vs the seed's loop), VLM verdicts/s, and a clip end to end.

All weights are random, built from configs and saved like a hub snapshot, then loaded through the
code path a hub id takes (Siglip2Proposer, VlmVerifier): the figures are speed, never accuracy.

- stage 1: SigLIP-2 base's architecture in bf16; the windows of 1280x720 frames; the seed's loop
  (PIL crops, the processor on the CPU, batches of 24) against ours (crops cut and resized on the
  device, NaFlex patches fed directly). Aim: >= 2,000 crops/s on an H100.
- stage 2: Qwen2.5-VL-7B's architecture (8.3 B parameters; `--vlm llava`: LLaVA-1.5-7B's, where torchvision
  is missing) in bf16 through VlmVerifier at batch 8 and 32, both ways it answers: the verdict from its odds
  of "yes" and "no" (one forward pass, `--vlm-answer logits`, the default; the unsure band off, so no JSON is
  written) and the whole JSON generated (`generate`): random weights never stop early, so every generated
  answer costs the whole `--max-new-tokens` budget (an upper bound on a trained model's cost).
- end to end: `run_pipeline` on a clip (default: the generated benchmark's, or the 48-s pan clip of
  `bench/make_pan_bench.py`) with both models. Aim: the 48-s clip in <= 10 s.

On this machine (CPU, tiny sizes, to check that the script runs):

    python bench/gpu_check.py --size tiny --device cpu --vlm llava

On the GPU machine (device tool), whose image has torch and transformers but not PyAV, FAISS or
SQLAlchemy: carry those as wheels (README of the device tool), then

    PYTHONPATH=.:/tmp/site python3 bench/gpu_check.py --size full --device cuda --clip bench/out/pan/clip.mp4 \\
        --logos bench/out/pan/logos
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import frames_1280x720, save_siglip2
from logotag_gui.core.vision.crops import WindowSpec, make_windows


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def seed_loop(model, processor, frame: np.ndarray, boxes: np.ndarray, device: str) -> torch.Tensor:
    """The seed's loop: one PIL crop per window, the processor on the CPU in batches of 24, then the device."""
    from PIL import Image

    pil = Image.fromarray(frame)
    crops = [pil.crop((int(x), int(y), int(x + w), int(y + h))) for x, y, w, h in boxes]
    feats = []
    for i in range(0, len(crops), 24):
        inputs = processor(images=crops[i:i + 24], return_tensors="pt").to(device)
        inputs["pixel_values"] = inputs["pixel_values"].to(model.dtype)
        with torch.inference_mode():
            out = model.get_image_features(**inputs)
        feats.append(out if isinstance(out, torch.Tensor) else out.pooler_output)  # 4.x: a tensor; 5.x: an output
    return torch.cat(feats)


def stage_one(size: str, device: str, frames: int) -> dict:
    from transformers import AutoImageProcessor, AutoModel

    from logotag_gui.core.proposers.siglip2 import Siglip2Proposer

    images = frames_1280x720(frames)
    boxes = make_windows(1280, 720, WindowSpec())
    with tempfile.TemporaryDirectory() as tmp:
        path = save_siglip2(Path(tmp), size=size)
        ours = Siglip2Proposer(model_id=str(path), device=device, batch_size=256 if device != "cpu" else 32)
        dtype = torch.bfloat16 if device != "cpu" else torch.float32
        model = AutoModel.from_pretrained(path, dtype=dtype).to(device).eval()
        processor = AutoImageProcessor.from_pretrained(path)
        ours.embed_windows(images[0], boxes)  # warm-up: kernels, allocator
        seed_loop(model, processor, images[0], boxes[:24], device)
        sync(device)
        t0 = time.perf_counter()
        for image in images:
            ours.embed_windows(image, boxes)
        sync(device)
        ours_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        for image in images:
            seed_loop(model, processor, image, boxes, device)
        sync(device)
        seed_s = time.perf_counter() - t0
    n = len(boxes) * len(images)
    return {"windows_per_frame": len(boxes), "frames": len(images), "ours_crops_per_s": round(n / ours_s, 1),
            "seed_crops_per_s": round(n / seed_s, 1), "speed_up": round(seed_s / ours_s, 2),
            "ours_frames_per_s": round(len(images) / ours_s, 2)}


QWEN_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% for c in m['content'] %}{% if c['type'] == 'image' %}"
    "<|vision_start|><|image_pad|><|vision_end|>{% else %}{{ c['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def save_qwen25_vl(folder: Path, size: str) -> Path:
    """Qwen2.5-VL with random weights: 7B's architecture ("full") or a tiny one, with a small trained BPE tokenizer."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import (
        PreTrainedTokenizerFast,
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
    )

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>",
                "<|video_pad|>"]
    corpus = ['{"verdict": "yes", "confidence": 0.9, "visual_cues": "red ring and white letters"}',
              "You verify logo detections. Reply with strict JSON only."] * 20
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(corpus, vocab_size=400, special_tokens=specials)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                        extra_special_tokens={"image_token": "<|image_pad|>", "video_token": "<|video_pad|>"})
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in specials}
    if size == "tiny":
        text = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
                "num_key_value_heads": 2, "rope_scaling": {"type": "mrope", "mrope_section": [2, 3, 3]}}
        vision = {"depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2, "out_hidden_size": 64,
                  "fullatt_block_indexes": [1]}
    else:  # Qwen2.5-VL-7B-Instruct's config.json
        text = {"hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28, "num_attention_heads": 28,
                "num_key_value_heads": 4, "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]}}
        vision = {"depth": 32, "hidden_size": 1280, "intermediate_size": 3420, "num_heads": 16, "out_hidden_size": 3584,
                  "fullatt_block_indexes": [7, 15, 23, 31]}
    vocab = len(tokenizer) if size == "tiny" else 152064
    config = Qwen2_5_VLConfig(text_config={**text, "vocab_size": vocab, "eos_token_id": ids["<|im_end|>"],
                                           "pad_token_id": ids["<|endoftext|>"]},
                              vision_config=vision, image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
                              vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"])
    with torch.device("cuda" if size == "full" and torch.cuda.is_available() else "cpu"):
        model = Qwen2_5_VLForConditionalGeneration(config).to(torch.bfloat16 if size == "full" else torch.float32)
    model.save_pretrained(folder)
    del model
    try:  # transformers 5: the PIL/numpy processor has its own module (the other needs torchvision)
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
            Qwen2VLImageProcessorPil as image_processor_class,
        )
    except ImportError:  # 4.57
        from transformers.models.qwen2_vl.image_processing_qwen2_vl import (
            Qwen2VLImageProcessor as image_processor_class,
        )
    image_processor = image_processor_class(min_pixels=28 * 28 * 4, max_pixels=28 * 28 * 256)
    Qwen2_5_VLProcessor(image_processor=image_processor, tokenizer=tokenizer,
                        chat_template=QWEN_TEMPLATE).save_pretrained(folder)
    return folder


def save_llava(folder: Path, size: str) -> Path:
    """LLaVA with random weights: LLaVA-1.5-7B's architecture (CLIP ViT-L/336 + a 7B Llama) or the tests' tiny one.

    The fallback where Qwen2.5-VL's processor cannot be built (it needs torchvision for its video part).
    """
    from transformers import (
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    from tests.tiny_models import CHAT_TEMPLATE, _clip_pil_processor_class, save_tiny_llava

    save_tiny_llava(folder)  # the tokenizer and processor files; the weights are replaced below for "full"
    if size == "tiny":
        return folder
    processor = LlavaProcessor.from_pretrained(folder)
    tokenizer = processor.tokenizer
    vision = CLIPVisionConfig(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                              image_size=336, patch_size=14, projection_dim=768)
    text = LlamaConfig(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
                       num_key_value_heads=32, vocab_size=32064, bos_token_id=0, eos_token_id=1, pad_token_id=2)
    config = LlavaConfig(vision_config=vision, text_config=text, vision_feature_layer=-2,
                         image_token_id=tokenizer.convert_tokens_to_ids("<image>"))
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = LlavaForConditionalGeneration(config).to(torch.bfloat16)
    model.save_pretrained(folder)
    del model
    image_processor = _clip_pil_processor_class()(size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336})
    LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=14,
                   vision_feature_select_strategy="default", chat_template=CHAT_TEMPLATE,
                   num_additional_image_tokens=1).save_pretrained(folder)
    return folder


VLMS = {"qwen25": save_qwen25_vl, "llava": save_llava}


def stage_two(size: str, device: str, batches: list[int], max_new_tokens: int, vlm: str) -> dict:
    from logotag_gui.core.base.records import BBox, Candidate, FrameRef
    from logotag_gui.core.verifiers import VerifyItem
    from logotag_gui.core.verifiers.vlm import VlmVerifier

    rng = np.random.default_rng(0)
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        path = VLMS[vlm](Path(tmp), size)
        out["architecture"] = vlm
        out["save_s"] = round(time.perf_counter() - t0, 1)
        t0 = time.perf_counter()
        verifier = VlmVerifier(model_id=str(path), device=device, max_new_tokens=max_new_tokens)
        out["load_s"] = round(time.perf_counter() - t0, 1)
        out["parameters_b"] = round(sum(p.numel() for p in verifier.model.parameters()) / 1e9, 2)
        verifier.unsure_band = 0.0  # the odds alone: what one forward pass costs
        for batch in batches:
            verifier.batch_size = batch
            items = [VerifyItem(Candidate(FrameRef(i, i / 2, 1280, 720), BBox(0, 0, 96, 96), "Acme", 0.9, "bench"),
                                rng.integers(0, 255, (120, 120, 3), dtype=np.uint8)) for i in range(2 * batch)]
            for answer in ("logits", "generate"):  # interleaved per batch size: a busy machine slows both alike
                verifier.answer = answer
                verifier.verify(items[:batch])  # warm-up
                sync(device)
                t0 = time.perf_counter()
                verdicts = verifier.verify(items)
                sync(device)
                dt = time.perf_counter() - t0
                out[f"batch_{batch}_{answer}_verdicts_per_s"] = round(len(verdicts) / dt, 2)
    return out


def end_to_end(clip: str, logos: str, size: str, device: str, vlm_arch: str) -> dict:
    from logotag_gui.core.base.config import RunConfig
    from logotag_gui.core.pipeline.run import run_pipeline
    from logotag_gui.core.store import open_repository

    with tempfile.TemporaryDirectory() as tmp:
        siglip = save_siglip2(Path(tmp) / "siglip2", size=size)
        vlm = VLMS[vlm_arch](Path(tmp) / "vlm", size)
        repo = open_repository(f"{tmp}/e2e.sqlite")
        config = RunConfig(input=clip, logos=logos, embedder="siglip2", verifier="vlm", siglip_model=str(siglip),
                           vlm_model=str(vlm), device=device, vlm_max_new_tokens=64,
                           # Random weights make thousands of candidates; following them all is CPU work
                           # (bench/bench_tracking.py measures it), not what this GPU check is for.
                           propagate=False)
        t0 = time.perf_counter()
        result = run_pipeline(config, repo=repo)
        wall = time.perf_counter() - t0
        repo.close()
    return {"clip": clip, "wall_s": round(wall, 1), "frames": result.frames_done, "candidates": result.candidates,
            "timings": result.timings}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--size", choices=["tiny", "full"], default="full")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--frames", type=int, default=4)
    p.add_argument("--batches", default="8,32")
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--clip", default="bench/out/benchmark/clip.mp4")
    p.add_argument("--logos", default="bench/out/benchmark/logos")
    p.add_argument("--vlm", choices=list(VLMS), default="qwen25",
                   help="the 8B-class architecture (qwen25 needs torchvision, which the GPU image has; llava does not)")
    p.add_argument("--only", choices=["stage1", "stage2", "e2e"], action="append")
    p.add_argument("--out", help="also write the figures here (JSON)")
    args = p.parse_args()
    parts = args.only or ["stage1", "stage2", "e2e"]
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "CPU"
    figures: dict = {"device": name, "torch": torch.__version__, "size": args.size}
    print(json.dumps(figures), flush=True)
    runs = {"stage1": lambda: stage_one(args.size, args.device, args.frames),
            "stage2": lambda: stage_two(args.size, args.device, [int(b) for b in args.batches.split(",")],
                                        args.max_new_tokens, args.vlm),
            "e2e": lambda: end_to_end(args.clip, args.logos, args.size, args.device, args.vlm)}
    for part in parts:
        try:
            figures[part] = runs[part]()
        except Exception as exc:  # one part failing (a missing package there) must not lose the others' figures
            figures[part] = {"error": f"{exc.__class__.__name__}: {exc}"}
        print(json.dumps({part: figures[part]}), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
