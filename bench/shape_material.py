"""The shape matcher's training material, gathered once into bench/.cache/ (git-ignored), with its licences.

Everything here is freely licensed and nothing is downloaded at training time:

- marks: the npm package `simple-icons` (CC0-1.0: brand marks) and, for more shapes, the generic icon
  sets `@tabler/icons`, `@phosphor-icons/core` and `bootstrap-icons` (MIT), rasterised to 96 px
  alpha masks -> icons.npz. FlickrLogos-27's brands and the generated benchmark's brands are left
  out, and so is every generic icon that draws a brand (any icon named like a simple-icons brand,
  tabler's `brand-*`, phosphor's `*-logo`) or whose name holds one of the left-out brands ("apple").
- fonts: Latin fonts from Debian font packages (OFL, Apache-2.0, GPL with the font exception,
  public domain, ...; FONTS.tsv lists each file's package and licence), subset to Latin-1 with
  fontTools when it is installed -> fonts/. Wordmarks are drawn with them.
- backgrounds: the photographs bundled with scikit-image (CC0 / public domain) and scikit-learn
  (CC-BY-2.0), re-encoded as JPEG -> backgrounds.npz. The trainer adds generated ones.

    apt-get install fonts-dejavu-core fonts-liberation2 fonts-noto-core ...   # see FONT_PACKAGES
    pip install resvg-py scikit-image scikit-learn fonttools                  # npm on the PATH
    python bench/train_shape_matcher.py material
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

CACHE = Path(__file__).resolve().parent / ".cache"
ICONS = CACHE / "icons.npz"
FONTS = CACHE / "fonts"
BACKGROUNDS = CACHE / "backgrounds.npz"
ICON_SIDE = 96

# FlickrLogos-27's brands (simple-icons slugs): the real-photo probe must see unseen marks.
FL27 = {"adidas", "apple", "bmw", "citroen", "cocacola", "dhl", "fedex", "ferrari", "ford", "google", "heineken",
        "hp", "intel", "mcdonalds", "mini", "nbc", "nike", "pepsi", "porsche", "puma", "redbull", "sprite",
        "starbucks", "texaco", "unicef", "vodafone", "yahoo"}

# The generic icon sets: npm package, version range, licence, and the SVG folders taken from it.
GENERIC_SETS = {
    "tabler": ("@tabler/icons", "3", "MIT", ["icons/filled", "icons/outline"]),
    "phosphor": ("@phosphor-icons/core", "2", "MIT", ["assets/fill", "assets/bold"]),
    "bootstrap": ("bootstrap-icons", "1", "MIT", ["icons"]),
}

# Debian font packages (licences as their debian/copyright states them) and, for the large ones,
# which files to take. Not shipped: they only draw training wordmarks.
FONT_PACKAGES = {
    "fonts-dejavu-core": "Bitstream Vera licence (DejaVu changes: public domain)",
    "fonts-dejavu-extra": "Bitstream Vera licence (DejaVu changes: public domain)",
    "fonts-liberation2": "OFL-1.1",
    "fonts-freefont-ttf": "GPL-3+ with the font exception",
    "fonts-noto-core": "OFL-1.1",
    "fonts-roboto-unhinted": "Apache-2.0",
    "fonts-open-sans": "Apache-2.0",
    "fonts-lato": "OFL-1.1",
    "fonts-cantarell": "OFL-1.1",
    "fonts-crosextra-carlito": "OFL-1.1",
    "fonts-crosextra-caladea": "OFL-1.1",
    "fonts-comic-neue": "OFL-1.1",
    "fonts-urw-base35": "AGPL-3 with the font exception",
    "fonts-ebgaramond": "OFL-1.1",
    "fonts-linuxlibertine": "GPL-2+ with the font exception",
    "fonts-league-spartan": "OFL-1.1",
    "fonts-lobster": "OFL-1.1",
    "fonts-yanone-kaffeesatz": "OFL-1.1",
    "fonts-inter": "OFL-1.1",
    "fonts-texgyre": "GUST Font License",
    "fonts-comfortaa": "OFL-1.1",
    "fonts-quicksand": "OFL-1.1",
    "fonts-blankenburg": "OFL-1.1",
    "fonts-isabella": "LGPL-2+",
    "fonts-cabin": "OFL-1.1",
    "fonts-karla": "OFL-1.1",
    "fonts-adf-gillius": "GPL-2+ with the font exception",
    "fonts-adf-accanthis": "GPL-2+ with the font exception",
    "fonts-adf-baskervald": "GPL-2+ with the font exception",
    "fonts-adf-universalis": "GPL-2+ with the font exception",
    "fonts-adf-verana": "GPL-2+ with the font exception",
    "fonts-oldstandard": "OFL-1.0",
    "fonts-tomsontalks": "OFL-1.1",
    "fonts-dkg-handwriting": "GPL-3+",
    "fonts-humor-sans": "OFL-1.1",
    "fonts-goudybookletter": "public domain",
    "fonts-averia-gwf": "OFL-1.1",
    "fonts-averia-sans-gwf": "OFL-1.1",
    "fonts-averia-serif-gwf": "OFL-1.1",
    "fonts-jura": "OFL-1.1 or GPL-3",
    "fonts-play": "OFL-1.1",
    "fonts-bebas-neue": "OFL-1.1",
    "fonts-gfs-didot": "OFL-1.1",
    "fonts-b612": "OFL-1.1 or EPL-2.0",
    "fonts-tuffy": "public domain",
    "fonts-f500": "Artistic",
    "fonts-rufscript": "GPL-3+ with the font exception",
    "fonts-kristi": "OFL-1.1",
    "fonts-radisnoir": "OFL-1.1",
    "fonts-staypuft": "LGPL-2",
    "fonts-manrope": "OFL-1.1",
    "fonts-vollkorn": "OFL-1.1",
    "fonts-lindenhill": "MIT",
    "fonts-prociono": "public domain",
    "fonts-gotico-antiqua": "OFL-1.1",
    "fonts-century-catalogue": "OFL-1.0",
    "fonts-cardo": "OFL-1.1",
    "fonts-hack": "MIT and Bitstream Vera licence",
    "fonts-jetbrains-mono": "Apache-2.0",
    "fonts-okolaks": "OFL-1.1",
    "fonts-klaudia-berenika": "OFL-1.1",
}
FONT_FILES = {"fonts-noto-core": r"/Noto(Sans|Serif)(Display|Mono)?-"}  # its Latin families only
FONTS_PER_PACKAGE = 8
LATIN = list(range(0x20, 0x7F)) + list(range(0xA0, 0x180)) + [0x2013, 0x2014, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022]

# scikit-image's bundled photographs (no download) and their licences (skimage.data's docstrings).
SKIMAGE_PHOTOS = {
    "astronaut": "public domain (NASA)", "brick": "CC0-1.0", "camera": "CC0-1.0", "cell": "CC0-1.0",
    "chelsea": "CC0-1.0", "clock": "public domain", "coffee": "CC0-1.0", "coins": "no known copyright restrictions",
    "grass": "CC0-1.0", "gravel": "CC0-1.0", "horse": "CC0-1.0", "hubble_deep_field": "public domain (NASA)",
    "immunohistochemistry": "no known copyright restrictions", "microaneurysms": "CC0-1.0",
    "moon": "scikit-image sample data (BSD-3-Clause)", "page": "scikit-image sample data (BSD-3-Clause)",
    "colorwheel": "scikit-image sample data (BSD-3-Clause)", "retina": "CC0-1.0",
    "rocket": "public domain (SpaceX)", "text": "public domain",
}
SKLEARN_PHOTOS = {"china.jpg": "CC-BY-2.0 (danielbuechele, Flickr)", "flower.jpg": "CC-BY-2.0 (vultilion, Flickr)"}


def npm_package_dir(package: str, version: str) -> Path:
    """An npm package installed under bench/.cache/node_modules (simple-icons goes there too)."""
    found = CACHE / "node_modules" / package
    if not found.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--silent", "--prefix", str(CACHE), f"{package}@{version}"], check=True)
    return found


def squash(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _rasterise(svg: str) -> np.ndarray | None:
    import resvg_py

    svg = svg.replace("currentColor", "#000000")
    if not re.search(r"<svg[^>]*\sfill=", svg):
        svg = svg.replace("<svg ", '<svg fill="#000000" ', 1)
    png = resvg_py.svg_to_bytes(svg_string=svg, width=ICON_SIDE, height=ICON_SIDE)
    alpha = np.asarray(Image.open(io.BytesIO(bytes(png))).convert("RGBA"))[:, :, 3]
    return alpha if alpha.max() > 0 and (alpha > 127).mean() > 0.02 else None


def prepare_icons(*, generic: bool = True) -> None:
    from bench.make_benchmark import pick_brands, simple_icons_dir

    icons = simple_icons_dir()
    picked = pick_brands(icons, np.random.default_rng(0), 20)  # make_benchmark's seed-0 draw
    benchmark = {d["slug"] for d in picked}
    data = json.loads((icons / "data" / "simple-icons.json").read_text())
    # Names a training word or generic icon may not hold: the left-out brands, by slug and by title.
    excluded = sorted(FL27 | benchmark | {squash(d["title"]) for d in data if d["slug"] in FL27 | benchmark}
                      | {squash(d["title"]) for d in picked} | {"cocacola", "coke", "mcdonald", "redbull"})
    brand_slugs = {d["slug"] for d in data} | {squash(d["title"]) for d in data}
    alphas, names, titles, sources, licences = [], [], [], [], {"simple-icons": "CC0-1.0"}
    left_out = FL27 | benchmark
    for d in data:
        slug = d["slug"]
        svg_path = icons / "icons" / f"{slug}.svg"
        # A left-out brand's sub-brands draw its mark too (applepay, googlechat): a slug that starts
        # with a left-out one, or holds one of five letters or more, is left out as well.
        if (any(slug.startswith(b) or (len(b) >= 5 and b in slug) for b in left_out)
                or not svg_path.exists()):
            continue
        alpha = _rasterise(svg_path.read_text())
        if alpha is not None:
            alphas.append(alpha)
            names.append(f"simple-icons/{slug}")
            titles.append(d["title"])
            sources.append("simple-icons")
    n_brands, dropped = len(alphas), 0
    for source, (package, version, licence, folders) in GENERIC_SETS.items() if generic else ():
        try:
            root = npm_package_dir(package, version)
        except (OSError, subprocess.CalledProcessError) as exc:
            print(f"skipping {package}: {exc}")
            continue
        licences[package] = licence
        for folder in folders:
            for svg_path in sorted((root / folder).glob("*.svg")):
                stem = svg_path.stem
                base = re.sub(r"-(fill|filled|bold|logo)$", "", stem)
                tokens = set(base.split("-")) | {squash(base)}
                if (stem.startswith("brand-") or stem.endswith("-logo") or squash(base) in brand_slugs
                        or tokens & set(excluded)):
                    dropped += 1
                    continue
                alpha = _rasterise(svg_path.read_text())
                if alpha is not None:
                    alphas.append(alpha)
                    names.append(f"{source}/{folder.rsplit('/', 1)[-1]}/{stem}")
                    titles.append("")
                    sources.append(source)
    np.savez_compressed(ICONS, alphas=np.stack(alphas), names=np.array(names), titles=np.array(titles),
                        sources=np.array(sources), excluded=np.array(excluded),
                        licences=np.array(json.dumps(licences)))
    print(f"{n_brands} of {len(data)} brand marks (left out: {len(FL27)} FlickrLogos-27 and {len(benchmark)} "
          f"benchmark brands with their sub-brands, and empty ones) "
          f"+ {len(alphas) - n_brands} generic icons ({dropped} brand-like ones left out) -> {ICONS} "
          f"({ICONS.stat().st_size / 2**20:.1f} MiB)")


def _package_files(package: str) -> list[Path]:
    listing = Path("/var/lib/dpkg/info") / f"{package}.list"
    if not listing.exists():
        listing = next(Path("/var/lib/dpkg/info").glob(f"{package}:*.list"), listing)
    if not listing.exists():
        return []
    pattern = FONT_FILES.get(package)
    files = [Path(line) for line in listing.read_text().splitlines()
             if line.lower().endswith((".ttf", ".otf")) and (pattern is None or re.search(pattern, line))]
    return sorted(f for f in files if f.is_file() and not f.is_symlink())


def _latin_font(path: Path) -> bool:
    """Draws Latin letters as real, distinct glyphs (not a symbol or dingbat font; capitals-only fonts pass)."""
    from PIL import ImageFont

    try:
        font = ImageFont.truetype(str(path), 40)
        capitals = [np.asarray(font.getmask(c)) for c in "ABQRZ"]
        small = [np.asarray(font.getmask(c)) for c in "abgz"]
    except OSError:
        return False
    return (all(m.size and m.max() > 0 for m in capitals + small)
            and len({m.tobytes() for m in capitals}) == len(capitals))


def prepare_fonts(per_package: int = FONTS_PER_PACKAGE) -> None:
    try:
        import logging

        from fontTools import subset

        logging.getLogger("fontTools").setLevel(logging.ERROR)
    except ImportError:
        subset = None
        print("fontTools is not installed: fonts are copied whole (pip install fonttools subsets them to Latin-1)")
    if FONTS.exists():
        shutil.rmtree(FONTS)
    FONTS.mkdir(parents=True)
    rows, missing = [], []
    for package, licence in FONT_PACKAGES.items():
        files = [f for f in _package_files(package) if _latin_font(f)]
        if not files:
            missing.append(package)
            continue
        cap = per_package * 3 if package in FONT_FILES else per_package
        if len(files) > cap:  # an even spread over the family's styles
            files = [files[int(i)] for i in np.linspace(0, len(files) - 1, cap).round().astype(int)]
        for src in files:
            dest = FONTS / f"{package.removeprefix('fonts-')}__{src.name}"
            if subset is not None:
                options = subset.Options()
                options.layout_features = ["kern", "liga", "calt", "clig"]
                options.hinting = False
                options.desubroutinize = True
                options.name_IDs = ["*"]
                options.notdef_outline = True
                font = subset.load_font(str(src), options)
                sub = subset.Subsetter(options)
                sub.populate(unicodes=LATIN)
                sub.subset(font)
                subset.save_font(font, str(dest), options)
            else:
                shutil.copyfile(src, dest)
            rows.append(f"{dest.name}\t{package}\t{licence}\t{src}")
    (FONTS / "FONTS.tsv").write_text("file\tdebian package\tlicence\tsource\n" + "\n".join(rows) + "\n")
    size = sum(f.stat().st_size for f in FONTS.iterdir())
    print(f"{len(rows)} fonts from {len(FONT_PACKAGES) - len(missing)} packages -> {FONTS} ({size / 2**20:.1f} MiB)")
    if missing:
        print("not installed (apt-get install them for more wordmark styles): " + " ".join(missing))


def prepare_backgrounds(max_side: int = 800) -> None:
    from skimage import data

    images, names, licences = [], [], []
    for name, licence in SKIMAGE_PHOTOS.items():
        try:
            img = np.asarray(getattr(data, name)())
        except Exception:  # a few need a download; the others are enough
            continue
        images.append(img)
        names.append(f"skimage.data.{name}")
        licences.append(licence)
    try:
        import sklearn.datasets

        folder = Path(sklearn.datasets.__file__).parent / "images"
        for name, licence in SKLEARN_PHOTOS.items():
            images.append(np.asarray(Image.open(folder / name).convert("RGB")))
            names.append(f"sklearn.datasets/{name}")
            licences.append(licence)
    except ImportError:
        print("scikit-learn is not installed: its two sample photos are left out")
    encoded = []
    for img in images:
        img = (img > 0).astype(np.uint8) * 255 if img.dtype == bool else img
        img = np.stack([img] * 3, axis=-1) if img.ndim == 2 else img[:, :, :3]
        img = np.ascontiguousarray(img.astype(np.uint8))
        f = max_side / max(img.shape[:2])
        if f < 1:
            img = cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        _, buf = cv2.imencode(".jpg", img[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 93])
        encoded.append(np.frombuffer(buf.tobytes(), np.uint8))
    ends = np.cumsum([len(e) for e in encoded])
    np.savez(BACKGROUNDS, jpegs=np.concatenate(encoded), ends=ends, names=np.array(names), licences=np.array(licences))
    print(f"{len(encoded)} photos -> {BACKGROUNDS} ({BACKGROUNDS.stat().st_size / 2**20:.1f} MiB)")


def load_backgrounds() -> list[np.ndarray]:
    """The photos as RGB uint8 arrays."""
    stored = np.load(BACKGROUNDS)
    jpegs, ends = stored["jpegs"], stored["ends"]
    starts = np.concatenate([[0], ends[:-1]])
    return [cv2.imdecode(jpegs[a:b], cv2.IMREAD_COLOR)[:, :, ::-1].copy() for a, b in zip(starts, ends, strict=True)]


def prepare_all() -> None:
    prepare_icons()
    prepare_fonts()
    prepare_backgrounds()
