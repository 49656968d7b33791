"""The logo dictionary: reference images per brand (SigLIP-2's FAISS index of them: proposers/logo_index.py).

Layout of a logo folder: `<brand>.<ext>` (one reference) or `<brand>/<any>.<ext>` (several).
An optional `brands.json` (UTF-8, a BOM is allowed) gives aliases:
`{"coca-cola": {"aliases": ["coke", "Coca Cola"]}}` or the short form `{"coca-cola": ["coke"]}`;
OCR uses them to match text. A single string where a list belongs (`"aliases": "NORVIK"`) is taken
as one alias, with a warning in the log, never as one alias per letter; any other shape is refused
with a message naming the brand.

A folder or image that cannot be read (permissions, not UTF-8, an image over Pillow's
decompression-bomb limit, a brands.json too large or nested too deep) is an `InputError` naming the
file and the fix, never a traceback. Brand names that differ only in case (`Norvik.png`, `NORVIK.png`)
are refused by name: as two brands, OCR could not tell which one it read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import unicodedata
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from logotag_gui.core.base.errors import InputError
from logotag_gui.core.base.safe_json import read_json
from logotag_gui.core.media.video import IMAGE_SUFFIXES, natural_key

log = logging.getLogger(__name__)
ALIASES_FILE = "brands.json"
MAX_ALIASES_BYTES = 4_000_000  # a few thousand brands' aliases fit in a few hundred KB
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


def _list_dir(folder: Path, root: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir(), key=lambda p: natural_key(p.name))
    except PermissionError as exc:
        raise InputError(
            f"Logo folder '{folder}' cannot be read: permission denied. Give your user read access to it "
            f"(for example `chmod -R u+rX '{root}'`) or copy the logos to a folder you own."
        ) from exc
    except OSError as exc:
        raise InputError(f"Logo folder '{folder}' cannot be read: {exc.strerror or exc}.") from exc


def _brand_files(root: Path) -> list[tuple[str, Path]]:
    found: list[tuple[str, Path]] = []
    for entry in _list_dir(root, root):
        if entry.name.startswith(".") or entry.name == ALIASES_FILE:
            continue
        if entry.is_dir():
            found += [(entry.name, f) for f in _list_dir(entry, root) if f.is_file() and not f.name.startswith(".")]
        elif entry.is_file():
            found.append((entry.stem, entry))
    return found


def _name_key(brand: str) -> str:
    """What a brand's name is compared by: case and Unicode composition do not make another brand."""
    return unicodedata.normalize("NFC", brand).casefold()


def _refuse_case_twins(root: Path, found: list[tuple[str, Path]]) -> None:
    """InputError when brands differ only in case (`Norvik.png`, `norvik.png`): naming every file or folder."""
    spellings: dict[str, dict[str, str]] = {}  # key -> spelling -> how it appears in the folder
    for brand, path in found:
        shown = f"{brand}/" if path.parent != root else path.name
        spellings.setdefault(_name_key(brand), {}).setdefault(brand, shown)
    clashes = [sorted(named.values(), key=natural_key) for named in spellings.values() if len(named) > 1]
    if not clashes:
        return
    groups = "; ".join(", ".join(group) for group in clashes)
    # The example fix keeps an existing folder's spelling, else a capitalised one ("Norvik" over "NORVIK").
    twins = next(named for named in spellings.values() if len(named) > 1)
    example = min(twins, key=lambda b: (not twins[b].endswith("/"), b.isupper() or b.islower(), b))
    raise InputError(
        f"Logo folder '{root}' has brands whose names differ only in case: {groups}. They would be separate "
        "brands that OCR cannot tell apart. Keep one spelling per brand: put one brand's references together in "
        f"one folder (for example `{example}/`), or rename the files to distinct brand names."
    )


def _read_reference(path: Path) -> list[tuple[str, np.ndarray]]:
    """The image's variants, or OSError / ValueError with a short reason (shown with the file's name)."""
    with warnings.catch_warnings():
        # Between 1x and 2x Pillow's pixel limit Pillow only warns; a logo that large is refused too.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as im:
                im.load()
                return composite_variants(im)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ValueError(
                f"larger than Pillow's limit of {Image.MAX_IMAGE_PIXELS} pixels, a decompression-bomb guard; "
                "scale it down, a reference needs a few hundred pixels a side"
            ) from exc
        except UnidentifiedImageError as exc:
            raise ValueError("UnidentifiedImageError: unreadable image") from exc
        except PermissionError as exc:
            raise ValueError("permission denied: give your user read access") from exc
        except OSError as exc:
            raise ValueError(f"{exc.__class__.__name__}: unreadable image") from exc


def load_dictionary(root: str | Path) -> LogoDictionary:
    """Load every reference; a file that is not an image is reported by name, never skipped silently."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise InputError(f"Logo folder '{root}' does not exist or is not a folder; create it with one image per brand.")
    references: list[Reference] = []
    hashes: dict[str, str] = {}
    bad: list[str] = []
    found = _brand_files(root)
    _refuse_case_twins(root, found)
    for brand, path in found:
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            bad.append(f"{path.relative_to(root)} (not an image type: {path.suffix or 'no extension'})")
            continue
        try:
            variants = _read_reference(path)
            hashes[str(path.relative_to(root))] = _sha256(path)
        except (ValueError, OSError) as exc:
            bad.append(f"{path.relative_to(root)} ({exc})")
            continue
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


ALIASES_SHAPE = '{"brand": {"aliases": ["name", ...]}} or {"brand": ["name", ...]}'


def _alias_list(path: Path, brand: str, value: object) -> list[str]:
    if isinstance(value, dict):
        value = value.get("aliases", [])
    if value is None:
        return []
    if isinstance(value, str):
        # One name where a list belongs: one alias (never one alias per letter), and a warning.
        log.warning("'%s': the aliases of '%s' are a single string %r; taken as one alias. "
                    "Write a list: [%s].", path, brand, value, json.dumps(value))
        return [value] if value.strip() else []
    if isinstance(value, list) and all(isinstance(a, (str, int, float)) and not isinstance(a, bool) for a in value):
        return [str(a) for a in value if str(a).strip()]
    raise InputError(f"'{path}': the aliases of '{brand}' are {json.dumps(value)[:80]}, not a list of names. "
                     f"Expected {ALIASES_SHAPE}.")


def _load_aliases(root: Path) -> dict[str, list[str]]:
    path = root / ALIASES_FILE
    if not path.exists():
        return {}
    # Size-capped and nesting-checked: a file nested 200,000 deep is an InputError, never a RecursionError.
    data = read_json(path, what="Aliases file", expected=ALIASES_SHAPE, max_bytes=MAX_ALIASES_BYTES)
    if not isinstance(data, dict):
        raise InputError(f"'{path}' holds a JSON {type(data).__name__}, not an object of brands. "
                         f"Expected {ALIASES_SHAPE}.")
    return {str(brand): _alias_list(path, str(brand), value) for brand, value in data.items()}
