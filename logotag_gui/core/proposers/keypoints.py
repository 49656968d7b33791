"""Offline proposer: SIFT keypoints matched to every reference, ratio test, RANSAC homography.

Works with no downloaded weights. Keypoints are detected once per frame and put in one FLANN index;
each reference variant queries it (ratio test on the frame side), RANSAC fits a homography, and the
projected reference outline gives a tight box. Each brand may match several times (instances are
peeled off by removing their inliers), and several references per brand each get their chance.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from logotag_gui.core.base.records import BBox, Candidate, Frame
from logotag_gui.core.media.logos import LogoDictionary

FLANN_KDTREE = 1


@dataclass(slots=True)
class _RefFeatures:
    brand: str
    file: str
    keypoints: np.ndarray  # (N, 2) float32, in reference pixels
    descriptors: np.ndarray  # (N, 128) float32
    corners: np.ndarray  # (4, 1, 2) outline of the reference


@dataclass(slots=True)
class FrameFeatures:
    points: np.ndarray  # (N, 2) float32, in matching pixels (source pixels x scale)
    descriptors: np.ndarray  # (N, 128) float32
    scale: float


def _gray(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image


def _fit(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    h, w = image.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        image = cv2.resize(image, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA)
    return image, scale


@dataclass
class KeypointProposer:
    min_inliers: int = 10
    ratio: float = 0.75
    max_instances: int = 3
    frame_max_side: int = 1280  # frames are matched at up to this size; boxes go back to source pixels
    ref_max_side: int = 800
    n_features: int = 4000
    # Flat, saturated brand marks have little texture: a lower contrast threshold than SIFT's 0.04
    # finds enough keypoints on them (measured on the demo clip: 26 -> 34 of 42 logos found).
    contrast_threshold: float = 0.015
    # Add references synthesised from each one (tilted views, blur, inverted colours): helps a
    # one-shot dictionary match logos seen at an angle, out of focus or in the other polarity.
    synthesize: bool = False
    thread_safe = True  # frames may be proposed on several threads at once (stage_one.py)
    name: str = "keypoints"
    model_id: str = "opencv-sift"
    revision: str | None = field(default_factory=lambda: cv2.__version__)
    _refs: list[_RefFeatures] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._sift = cv2.SIFT_create(nfeatures=self.n_features, contrastThreshold=self.contrast_threshold)
        self._ref_sift = cv2.SIFT_create(nfeatures=1500, contrastThreshold=self.contrast_threshold)

    @property
    def embedder_id(self) -> str:
        return f"keypoints:sift:{self.revision}"

    def _describe(self, brand: str, file: str, image: np.ndarray, corners: np.ndarray) -> _RefFeatures | None:
        kps, desc = self._ref_sift.detectAndCompute(_gray(image), None)
        if desc is None or len(kps) < 4:
            return None
        pts = np.array([k.pt for k in kps], dtype=np.float32)
        return _RefFeatures(brand, file, pts, desc.astype(np.float32), corners.reshape(-1, 1, 2).astype(np.float32))

    def _normalised(self, image: np.ndarray) -> np.ndarray:
        # Small logos carry few keypoints: upsample them so SIFT finds enough structure.
        h, w = image.shape[:2]
        if max(h, w) < 200:
            f = 200 / max(h, w)
            image = cv2.resize(image, (int(w * f), int(h * f)), interpolation=cv2.INTER_CUBIC)
        return _fit(image, self.ref_max_side)[0]

    @property
    def described_views(self) -> int:
        """The reference views with keypoints to match: the references and, with `synthesize`, their made-up
        views (the ones too plain to describe are left out)."""
        return len(self._refs)

    def prepare(self, dictionary: LogoDictionary) -> None:
        self._refs = []
        for ref in dictionary.references:
            image = self._normalised(ref.image)
            file = str(ref.path.relative_to(dictionary.root))
            views = synthesized_views(image) if self.synthesize else [(image, _outline(image))]
            for view, corners in views:
                described = self._describe(ref.brand, file, view, corners)
                if described is not None:
                    self._refs.append(described)

    def frame_features(self, frame: Frame) -> FrameFeatures | None:
        """SIFT keypoints of one frame, computed once and shared by every reference (and by OCR refinement)."""
        image, scale = _fit(frame.image, self.frame_max_side)
        h, w = image.shape[:2]
        if max(h, w) < self.frame_max_side // 2:
            # Photos and small frames: logos of 40 px carry a handful of keypoints; at twice the
            # size SIFT finds enough of them to fit a homography.
            image = cv2.resize(image, (w * 2, h * 2), interpolation=cv2.INTER_CUBIC)
            scale *= 2
        kps, desc = self._sift.detectAndCompute(_gray(image), None)
        if desc is None or len(kps) < 4:
            return None
        return FrameFeatures(np.array([k.pt for k in kps], dtype=np.float32), desc.astype(np.float32), scale)

    def propose(self, frame: Frame, features: FrameFeatures | None = None) -> list[Candidate]:
        feats = features if features is not None else self.frame_features(frame)
        if feats is None or not self._refs:
            return []
        # FLANN's trees and RANSAC draw random numbers: seed per frame so results repeat exactly,
        # whatever order frames come in (a resumed run must match an uninterrupted one).
        cv2.setRNGSeed(frame.index)
        matcher = cv2.FlannBasedMatcher({"algorithm": FLANN_KDTREE, "trees": 4}, {"checks": 48})
        matcher.add([feats.descriptors])
        matcher.train()
        out: list[Candidate] = []
        for ref in self._refs:
            pairs = matcher.knnMatch(ref.descriptors, k=2)
            good = [(m.queryIdx, m.trainIdx) for m, *rest in pairs
                    if rest and m.distance < self.ratio * rest[0].distance]
            out += self._instances(frame, ref, good, feats.points, feats.scale)
        return out

    def match_near(self, frame: Frame, feats: FrameFeatures | None, brand: str, anchor: BBox,
                   min_inliers: int = 5, must_cover: bool = True) -> Candidate | None:
        """The brand's mark around `anchor` (a box in source pixels, such as its written name), or None.

        Only the frame keypoints near the anchor take part, so the ratio test competes with far
        fewer descriptors and a lower inlier floor is safe: the anchor already says where to look.
        With `must_cover`, the found outline must cover most of the anchor (a mark that holds its name):
        a loose fit from few inliers that drifts off the name is refused. Without it (a symbol beside
        its name) the outline must lie mostly inside the searched window.
        """
        if feats is None:
            return None
        window = anchor.around_name()
        pts = feats.points / feats.scale  # source pixels, like the window
        near = np.flatnonzero((pts[:, 0] >= window.x) & (pts[:, 0] <= window.x2)
                              & (pts[:, 1] >= window.y) & (pts[:, 1] <= window.y2))
        if len(near) < min_inliers:
            return None
        cv2.setRNGSeed(frame.index)
        matcher = cv2.BFMatcher(cv2.NORM_L2)
        best: Candidate | None = None
        for ref in (r for r in self._refs if r.brand == brand):
            pairs = matcher.knnMatch(ref.descriptors, feats.descriptors[near], k=2)
            good = [(m.queryIdx, int(near[m.trainIdx])) for m, *rest in pairs
                    if rest and m.distance < self.ratio * rest[0].distance]
            for cand in self._instances(frame, ref, good, feats.points, feats.scale, min_inliers=min_inliers,
                                        max_instances=1):
                b = cand.bbox
                placed = (b.intersection(anchor) >= 0.7 * anchor.area if must_cover
                          else b.intersection(window) >= 0.7 * b.area)
                if placed and b.area <= 25 * anchor.area and (best is None or cand.score > best.score):
                    best = cand
        return best

    def _instances(self, frame: Frame, ref: _RefFeatures, good: list[tuple[int, int]], pts: np.ndarray,
                   scale: float, *, min_inliers: int | None = None,
                   max_instances: int | None = None) -> list[Candidate]:
        min_inliers = self.min_inliers if min_inliers is None else min_inliers
        max_instances = self.max_instances if max_instances is None else max_instances
        found = []
        remaining = good
        for _ in range(max_instances):
            if len(remaining) < min_inliers:
                break
            src = ref.keypoints[[q for q, _ in remaining]].reshape(-1, 1, 2)
            dst = pts[[t for _, t in remaining]].reshape(-1, 1, 2)
            hom, mask = cv2.findHomography(src, dst, cv2.RANSAC, 5.0)
            if hom is None:
                break
            inl = mask.ravel().astype(bool)
            n_in = int(inl.sum())
            if n_in < min_inliers:
                break
            box = _plausible_box(cv2.perspectiveTransform(ref.corners, hom).reshape(-1, 2))
            if box is not None:
                x, y, w, h = (v / scale for v in box)
                # Clipped to the frame: past the edge the reference's outline is extrapolated by a homography fitted
                # to the keypoints matched in view, often a small part of the mark, so its part outside the frame
                # says little about the mark's (on the pan bench a zoom on Porsche projected 2.5 times the mark's
                # width and read 20-40% in view where the truth had over 60%). The in-view share a counting rule
                # reads comes from following (pipeline/follow.py), which keeps the mark's measured size.
                bbox = BBox(x, y, w, h).clipped(frame.ref.width, frame.ref.height)
                if bbox.area > 0:
                    found.append(Candidate(frame.ref, bbox, ref.brand, round(min(1.0, n_in / 40), 4), self.name,
                                           reference=ref.file))
            remaining = [m for m, keep in zip(remaining, inl, strict=True) if not keep]
        return found


def _outline(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    return np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)


def synthesized_views(image: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The reference plus views synthesised from it, each with the logo's outline in its own pixels."""
    h, w = image.shape[:2]
    outline = _outline(image)
    views = [(image, outline), (255 - image, outline), (cv2.GaussianBlur(image, (0, 0), 2.0), outline)]
    for tilt in (0.25, -0.25):  # the far side of the mark appears shorter: a turn of about 30 degrees
        d = abs(tilt) * h / 2
        target = (np.array([[0, d], [w, 0], [w, h], [0, h - d]], dtype=np.float32) if tilt > 0
                  else np.array([[0, 0], [w, d], [w, h - d], [0, h]], dtype=np.float32))
        warp = cv2.getPerspectiveTransform(outline, target)
        border = tuple(int(v) for v in np.median(image.reshape(-1, 3), axis=0))
        views.append((cv2.warpPerspective(image, warp, (w, h), borderValue=border), target))
    return views


def _plausible_box(quad: np.ndarray) -> tuple[float, float, float, float] | None:
    """Bounding box of the projected outline, or None for a twisted or degenerate homography."""
    if not cv2.isContourConvex(quad.astype(np.float32).reshape(-1, 1, 2)):
        return None
    area = cv2.contourArea(quad.astype(np.float32))
    x1, y1 = quad.min(axis=0)
    x2, y2 = quad.max(axis=0)
    w, h = float(x2 - x1), float(y2 - y1)
    if w < 8 or h < 8 or area < 0.25 * w * h or max(w / h, h / w) > 12:
        return None
    return float(x1), float(y1), w, h
