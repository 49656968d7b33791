"""The FAISS index of the logo dictionary's references, used by the SigLIP-2 proposer only.

Cosine search over L2-normalised reference vectors, saved to the cache folder with a manifest (the
reference files' hashes, the embedder, the dimension) so that a changed logo folder rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from logotag_gui.core.base.safe_io import atomic_write, atomic_write_text
from logotag_gui.core.media.logos import LogoDictionary

log = logging.getLogger(__name__)


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
    """Index first, manifest last, each written atomically; the manifest holds the index's hash.

    A crash between the two leaves an index whose hash the manifest does not record (or an old,
    stale manifest): either way the next load rebuilds instead of using a mismatched pair.
    """
    folder.mkdir(parents=True, exist_ok=True)
    data = faiss.serialize_index(logo_index.index).tobytes()
    with atomic_write(folder / "index.faiss", "wb") as fh:
        fh.write(data)
    manifest = {**logo_index.manifest, "entries": logo_index.entries,
                "index_sha256": hashlib.sha256(data).hexdigest()}
    atomic_write_text(folder / "manifest.json", json.dumps(manifest, indent=1))


def load_index_if_fresh(folder: Path, expected: dict[str, object]) -> LogoIndex | None:
    """The saved index, or None when it is missing, stale (files changed) or made by another embedder."""
    manifest_path, index_path = folder / "manifest.json", folder / "index.faiss"
    if not (manifest_path.exists() and index_path.exists()):
        return None
    try:
        saved = json.loads(manifest_path.read_text(encoding="utf-8"))
        entries = saved.pop("entries")
        index_sha = saved.pop("index_sha256", None)
        data = index_path.read_bytes()
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, AttributeError, TypeError, OSError) as exc:
        log.warning("index manifest %s is unreadable (%s); rebuilding", manifest_path, exc)
        return None
    if saved != expected:
        changed = sorted(k for k in expected if saved.get(k) != expected[k])
        log.info("index at %s is stale (%s differ); rebuilding", folder, ", ".join(changed))
        return None
    if index_sha is not None and hashlib.sha256(data).hexdigest() != index_sha:
        log.warning("index at %s does not match its manifest's hash (an interrupted save?); rebuilding", folder)
        return None
    try:
        index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
    except RuntimeError as exc:
        log.warning("index at %s is unreadable (%s); rebuilding", folder, exc)
        return None
    if not isinstance(entries, list) or index.ntotal != len(entries) or index.d != expected["dim"]:
        log.warning("index at %s does not match its manifest; rebuilding", folder)
        return None
    return LogoIndex(index, entries, saved)


def index_folder(cache_root: Path, dictionary: LogoDictionary, embedder_id: str) -> Path:
    """Where an index for this logo folder and embedder lives (a cache dir: the logo folder may be read-only)."""
    key = hashlib.sha1(f"{dictionary.root.resolve()}|{embedder_id}".encode()).hexdigest()[:16]
    return cache_root / "indexes" / key
