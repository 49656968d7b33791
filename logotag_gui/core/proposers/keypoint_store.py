"""A clip's frame keypoints kept on disk, so that a search with what review taught reads them instead of decoding
and describing every sampled frame again.

SIFT on a 1280x720 frame takes about 0.25 s and decoding it 0.025 s; reading the frame's keypoints back from
this store about 1 ms. Learning searches the clip's sampled frames after every drawn box: with the keypoints
kept in memory only (160 frames, oldest out first), a pass over more frames than that described every frame
again each time (a 2-minute clip of 246 sampled frames: about a minute per taught box, and more than 30 minutes
for a simulated review).

One file per frame (`<index>.npz`: points float32, descriptors uint8, the matching scale), in a folder named by
the clip's content (its size and the SHA-1 of its first and last MiB) and the detector's settings, so any
sampling grid of the clip reuses it and another clip, or a changed detector, never does. OpenCV's SIFT
descriptors are whole numbers from 0 to 255: stored as uint8 they come back exactly (checked on every write;
a detector whose descriptors are not is stored as float32), a quarter of the size (about 0.4 MB a frame). A
frame with too few keypoints to match is stored empty and read back as None. Files are written to a temporary
name and renamed, so a reader in another process never sees half a file; a store whose folder cannot be written
(read-only, full disk) says so once in the log and keeps nothing. The stores together are kept under a cap
(`DISK_CAP_BYTES`, about 20 minutes of 2-fps footage a GB): opening one drops the clips used longest ago.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from logotag_gui.core.base.records import FrameRef
from logotag_gui.core.proposers.keypoints import FrameFeatures, KeypointProposer

log = logging.getLogger(__name__)
STORE_VERSION = 1
_EDGE = 1 << 20  # bytes hashed at each end of the clip
DISK_CAP_BYTES = 8 << 30  # every clip's keypoints together: a 90-minute match at 2 fps is about 5 GB


def clip_fingerprint(path: Path) -> str | None:
    """The clip's content as a short hash (size, first and last MiB); for a folder of images its files' names,
    sizes and times. None where it cannot be read."""
    try:
        digest = hashlib.sha1()
        if path.is_dir():
            for item in sorted(path.iterdir()):
                st = item.stat()
                digest.update(f"{item.name}:{st.st_size}:{st.st_mtime_ns};".encode())
        else:
            size = path.stat().st_size
            digest.update(str(size).encode())
            with path.open("rb") as f:
                digest.update(f.read(_EDGE))
                if size > _EDGE:
                    f.seek(max(_EDGE, size - _EDGE))
                    digest.update(f.read(_EDGE))
        return digest.hexdigest()[:20]
    except OSError:
        return None


def detector_key(proposer: KeypointProposer) -> str:
    """What decides a frame's keypoints: the detector's settings and OpenCV's version."""
    return (f"v{STORE_VERSION}-sift-{proposer.revision}-n{proposer.n_features}-c{proposer.contrast_threshold}"
            f"-s{proposer.frame_max_side}")


class KeypointStore:
    """The keypoints of one clip's frames, by frame index, on disk under `root`."""

    def __init__(self, root: Path, clip: Path, proposer: KeypointProposer) -> None:
        fingerprint = clip_fingerprint(clip)
        key = hashlib.sha1(f"{fingerprint}|{detector_key(proposer)}".encode()).hexdigest()[:24]
        self.folder: Path | None = None if fingerprint is None else root / "keypoints" / key
        self._broken = fingerprint is None
        if self.folder is not None:
            keep_under_cap(root / "keypoints", DISK_CAP_BYTES, keep=self.folder)

    def _file(self, index: int) -> Path:
        assert self.folder is not None
        return self.folder / f"{index}.npz"

    def has(self, index: int) -> bool:
        return self.folder is not None and self._file(index).is_file()

    def get(self, index: int) -> tuple[FrameRef, FrameFeatures | None] | None:
        """The frame's place in the clip and its keypoints (None: too few to match), or None where the frame was
        never stored (or its file cannot be read)."""
        if self.folder is None:
            return None
        try:
            with np.load(self._file(index)) as data:
                points, descriptors, scale = data["points"], data["descriptors"], float(data["scale"])
                t, (width, height), name = float(data["t"]), (int(v) for v in data["size"]), str(data["name"])
        except (OSError, ValueError, KeyError):
            return None
        ref = FrameRef(index, t, width, height, name or None)
        if len(points) == 0:
            return ref, None
        return ref, FrameFeatures(points.astype(np.float32), descriptors.astype(np.float32), scale)

    def put(self, ref: FrameRef, features: FrameFeatures | None) -> None:
        if self.folder is None or self._broken:
            return
        if features is None:
            points, descriptors, scale = np.zeros((0, 2), np.float32), np.zeros((0, 128), np.uint8), 1.0
        else:
            points, descriptors, scale = features.points, features.descriptors, features.scale
            whole = descriptors.size and descriptors.min() >= 0 and descriptors.max() <= 255 \
                and np.array_equal(descriptors, np.round(descriptors))
            descriptors = descriptors.astype(np.uint8) if whole else descriptors.astype(np.float32)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as f:
                    np.savez(f, points=points.astype(np.float32), descriptors=descriptors, scale=np.float64(scale),
                             t=np.float64(ref.t), size=np.array([ref.width, ref.height]), name=np.str_(ref.name or ""))
                os.replace(tmp, self._file(ref.index))
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            self._broken = True
            log.warning("frame keypoints are not kept on disk (%s): learning describes frames again each search",
                        exc)


def keep_under_cap(stores: Path, cap: int, *, keep: Path) -> list[Path]:
    """Drop the clip stores used longest ago (a store's folder time: touched when opened) until all of them
    together take at most `cap` bytes; `keep` (the clip being opened) is touched and never dropped. Returns the
    folders dropped."""
    try:
        if keep.is_dir():
            os.utime(keep)
        folders = [f for f in stores.iterdir() if f.is_dir()]
    except OSError:
        return []
    sizes = {f: sum(e.stat().st_size for e in os.scandir(f) if e.is_file()) for f in folders}
    total, dropped = sum(sizes.values()), []
    for folder in sorted(folders, key=lambda f: f.stat().st_mtime):
        if total <= cap:
            break
        if folder == keep:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        total -= sizes[folder]
        dropped.append(folder)
    if dropped:
        log.info("frame keypoints of %d clips used longest ago dropped (the stores are kept under %.1f GB)",
                 len(dropped), cap / 2**30)
    return dropped
