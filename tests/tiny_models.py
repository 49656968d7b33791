"""Tiny random models built from configs and saved like a hub snapshot.

They load through exactly the code path a hub id takes (resolve_model → from_pretrained); only the
weights are random. They test plumbing, never accuracy.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType


def transformers_major() -> int:
    import transformers

    return int(transformers.__version__.split(".")[0])


def siglip2_pil_module() -> ModuleType:
    """The PIL/numpy SigLIP-2 image processing module (no torchvision needed) on either line.

    transformers 5 moved it to `image_processing_pil_siglip2` (its `image_processing_siglip2` then
    needs torchvision); in 4.57 it is `image_processing_siglip2`. Both hold the processor and
    `get_image_size_for_max_num_patches`.
    """
    import importlib

    try:
        return importlib.import_module("transformers.models.siglip2.image_processing_pil_siglip2")
    except ImportError:
        return importlib.import_module("transformers.models.siglip2.image_processing_siglip2")


def _siglip2_pil_processor_class():
    module = siglip2_pil_module()
    return getattr(module, "Siglip2ImageProcessorPil", None) or module.Siglip2ImageProcessor


def _clip_pil_processor_class():
    """CLIPImageProcessorPil in transformers 5, the PIL/numpy CLIPImageProcessor in 4.57."""
    from transformers.models import clip

    return getattr(clip, "CLIPImageProcessorPil", None) or clip.CLIPImageProcessor


def save_tiny_siglip2(folder: Path, *, hidden: int = 32, max_num_patches: int = 64, seed: int = 0) -> Path:
    import torch
    from transformers import Siglip2Config, Siglip2Model

    text = {"hidden_size": hidden, "intermediate_size": 2 * hidden, "num_hidden_layers": 1,
            "num_attention_heads": 2, "vocab_size": 64, "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0}
    vision = {"hidden_size": hidden, "intermediate_size": 2 * hidden, "num_hidden_layers": 1,
              "num_attention_heads": 2, "patch_size": 16, "num_patches": 256}
    torch.manual_seed(seed)  # the same weights on every machine: numeric tolerances hold everywhere or nowhere
    model = Siglip2Model(Siglip2Config(text_config=text, vision_config=vision))
    model.save_pretrained(folder)
    _siglip2_pil_processor_class()(max_num_patches=max_num_patches).save_pretrained(folder)
    return folder


CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {% for c in m['content'] %}{% if c['type'] == 'image' %}<image>"
    "{% else %}{{ c['text'] }}{% endif %}{% endfor %}\n{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}"
)


def save_tiny_llava(folder: Path, *, seed: int = 0) -> Path:
    """A natively supported VLM (LLaVA: CLIP vision tower + Llama) with a small trained BPE tokenizer."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import (
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
        PreTrainedTokenizerFast,
    )

    corpus = ['{"verdict": "yes", "confidence": 0.9, "visual_cues": "red ring and white letters"}',
              "Does this image show the logo of the brand? Reply with strict JSON only."] * 20
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(corpus, vocab_size=320, special_tokens=["<s>", "</s>", "<pad>", "<image>"])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, bos_token="<s>", eos_token="</s>",
                                        pad_token="<pad>", extra_special_tokens={"image_token": "<image>"})
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                              image_size=32, patch_size=8)
    text = LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                       num_key_value_heads=2, vocab_size=len(tokenizer), bos_token_id=0, eos_token_id=1,
                       pad_token_id=2)
    config = LlavaConfig(vision_config=vision, text_config=text, image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
                         vision_feature_layer=-1)
    torch.manual_seed(seed)
    LlavaForConditionalGeneration(config).save_pretrained(folder)
    image_processor = _clip_pil_processor_class()(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=8,
                   vision_feature_select_strategy="default", chat_template=CHAT_TEMPLATE,
                   num_additional_image_tokens=1).save_pretrained(folder)
    return folder


def save_tiny_shape_matcher(folder: Path, *, seed: int = 0) -> Path:
    """A random-weight shape matcher (width 8, 16-dim features) in the model-folder format users install."""
    import torch

    from logotag_gui.core.proposers.shape_net import ShapeNet, save_shape_net

    torch.manual_seed(seed)
    save_shape_net(ShapeNet(width=8, dim=16), folder)
    return folder
