"""The logo dictionary: reference images per brand, and the FAISS index built from them.

Layout of a logo folder: `<brand>.<ext>` (one reference) or `<brand>/<any>.<ext>` (several).
An optional `brands.json` gives aliases: `{"coca-cola": {"aliases": ["coke", "Coca Cola"]}}`;
OCR uses them to match text.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np
from PIL import Image, UnidentifiedImageError

from logotag_gui.core.errors import InputError
from logotag_gui.core.video import IMAGE_SUFFIXES, natural_key

log = logging.getLogger(__name__)
ALIASES_FILE = "brands.json"
LIGHT_BG = (245, 245, 245)
DARK_BG = (20, 20, 20)


@dataclass(frozen=True, slots=True)
class Reference:
    brand: str
    path: Path
    variant: str  # "opaque", "on_light" or "on_dark"
    image: np.ndarray = field(repr=False)  # RGB uint8

    @property
    def key(self) -> str:
        return f"{self.path.name}#{self.variant}"


@dataclass(slots=True)
class LogoDictionary:
    root: Path
    references: list[Reference]
    aliases: dict[str, list[str]]
    file_hashes: dict[str, str]

    @property
    def brands(self) -> list[str]:
        return sorted({r.brand for r in self.references})

    def names_for(self, brand: str) -> list[str]:
        """The brand's name plus its aliases: what OCR may read for it."""
        return [brand, *self.aliases.get(brand, [])]

    def files_by_brand(self) -> dict[str, tuple[str, str]]:
        """Each reference file (relative path) -> (brand, sha256): what the store records."""
        brands = {str(r.path.relative_to(self.root)): r.brand for r in self.references}
        return {rel: (brands[rel], sha) for rel, sha in self.file_hashes.items()}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def composite_variants(image: Image.Image) -> list[tuple[str, np.ndarray]]:
    """Transparent marks go onto a light and a dark background, so both polarities are indexed."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        alpha = np.asarray(rgba)[:, :, 3]
        if alpha.min() < 250:
            out = []
            for name, bg in (("on_light", LIGHT_BG), ("on_dark", DARK_BG)):
                canvas = Image.new("RGBA", rgba.size, (*bg, 255))
                canvas.alpha_composite(rgba)
                out.append((name, np.asarray(canvas.convert("RGB"))))
            return out
    return [("opaque", np.asarray(image.convert("RGB")))]


def _brand_files(root: Path) -> list[tuple[str, Path]]:
    found: list[tuple[str, Path]] = []
    for entry in sorted(root.iterdir(), key=lambda p: natural_key(p.name)):
        if entry.name.startswith(".") or entry.name == ALIASES_FILE:
            continue
        if entry.is_dir():
            found += [(entry.name, f) for f in sorted(entry.iterdir(), key=lambda p: natural_key(p.name))
                      if f.is_file() and not f.name.startswith(".")]
        elif entry.is_file():
            found.append((entry.stem, entry))
    return found


def load_dictionary(root: str | Path) -> LogoDictionary:
    """Load every reference; a file that is not an image is reported by name, never skipped silently."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise InputError(f"Logo folder '{root}' does not exist or is not a folder; create it with one image per brand.")
    references: list[Reference] = []
    hashes: dict[str, str] = {}
    bad: list[str] = []
    for brand, path in _brand_files(root):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            bad.append(f"{path.relative_to(root)} (not an image type: {path.suffix or 'no extension'})")
            continue
        try:
            with Image.open(path) as im:
                im.load()
                variants = composite_variants(im)
        except (UnidentifiedImageError, OSError) as exc:
            bad.append(f"{path.relative_to(root)} ({exc.__class__.__name__}: unreadable image)")
            continue
        hashes[str(path.relative_to(root))] = _sha256(path)
        references += [Reference(brand, path, name, arr) for name, arr in variants]
    if bad:
        raise InputError(
            f"Logo folder '{root}' has files that are not readable images: {'; '.join(bad)}. "
            "Remove them or replace them with PNG/JPEG files."
        )
    if not references:
        raise InputError(
            f"Logo folder '{root}' holds no reference images; add `<brand>.png` or `<brand>/<name>.png` files."
        )
    return LogoDictionary(root, references, _load_aliases(root), hashes)


def _load_aliases(root: Path) -> dict[str, list[str]]:
    path = root / ALIASES_FILE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {str(b): [str(a) for a in (v.get("aliases", []) if isinstance(v, dict) else v)] for b, v in data.items()}
    except (json.JSONDecodeError, AttributeError, TypeError) as exc:
        raise InputError(f"'{path}' is not valid: {exc}. Expected {{\"brand\": {{\"aliases\": [\"...\"]}}}}.") from exc


@dataclass(slots=True)
class LogoIndex:
    """FAISS IndexFlatIP over L2-normalised reference vectors: inner product is cosine similarity."""

    index: faiss.Index
    entries: list[dict[str, str]]  # per row: brand, file, variant
    manifest: dict[str, object]

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        faiss.normalize_L2(vectors)
        return self.index.search(vectors, min(k, self.index.ntotal))


def manifest_for(dictionary: LogoDictionary, *, embedder_id: str, revision: str | None, dim: int) -> dict[str, object]:
    return {
        "format": 1,
        "embedder_id": embedder_id,
        "revision": revision or "",
        "dim": dim,
        "files": dict(sorted(dictionary.file_hashes.items())),
    }


def build_index(dictionary: LogoDictionary, vectors: np.ndarray, manifest: dict[str, object]) -> LogoIndex:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.shape[0] != len(dictionary.references):
        raise ValueError("one vector per reference variant is required")
    faiss.normalize_L2(vectors)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    entries = [{"brand": r.brand, "file": str(r.path.relative_to(dictionary.root)), "variant": r.variant}
               for r in dictionary.references]
    return LogoIndex(index, entries, manifest)


def save_index(logo_index: LogoIndex, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    faiss.write_index(logo_index.index, str(folder / "index.faiss"))
    (folder / "manifest.json").write_text(
        json.dumps({**logo_index.manifest, "entries": logo_index.entries}, indent=1), encoding="utf-8"
    )


def load_index_if_fresh(folder: Path, expected: dict[str, object]) -> LogoIndex | None:
    """The saved index, or None when it is missing, stale (files changed) or made by another embedder."""
    manifest_path, index_path = folder / "manifest.json", folder / "index.faiss"
    if not (manifest_path.exists() and index_path.exists()):
        return None
    try:
        saved = json.loads(manifest_path.read_text(encoding="utf-8"))
        entries = saved.pop("entries")
    except (json.JSONDecodeError, KeyError) as exc:
        log.warning("index manifest %s is unreadable (%s); rebuilding", manifest_path, exc)
        return None
    if saved != expected:
        changed = sorted(k for k in expected if saved.get(k) != expected[k])
        log.info("index at %s is stale (%s differ); rebuilding", folder, ", ".join(changed))
        return None
    index = faiss.read_index(str(index_path))
    if index.ntotal != len(entries) or index.d != expected["dim"]:
        log.warning("index at %s does not match its manifest; rebuilding", folder)
        return None
    return LogoIndex(index, entries, saved)


def index_folder(cache_root: Path, dictionary: LogoDictionary, embedder_id: str) -> Path:
    """Where an index for this logo folder and embedder lives (a cache dir: the logo folder may be read-only)."""
    key = hashlib.sha1(f"{dictionary.root.resolve()}|{embedder_id}".encode()).hexdigest()[:16]
    return cache_root / "indexes" / key
