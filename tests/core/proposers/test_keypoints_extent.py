"""The keypoint proposer's homography projects the reference's outline past the frame's edge where the mark goes
on there: the box keeps the whole extent, so its share in view is known to the counting rule (issue 30)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from logotag_gui.core.analysis.exposure import visible_share
from logotag_gui.core.base.records import Frame, FrameRef
from logotag_gui.core.media.logos import load_dictionary
from logotag_gui.core.proposers.keypoints import KeypointProposer
from resources import synth


def test_a_mark_past_the_right_edge_keeps_its_whole_outline(logos_dir):
    mark = Image.open(logos_dir / "Norvik.png").convert("RGB")
    mark = mark.resize((300, round(300 * mark.height / mark.width)))
    width, height = 800, 450
    canvas = Image.fromarray(synth.background(width, height, 3))
    x = width - 220  # 80 of its 300 px past the right edge: about 73% in view
    canvas.paste(mark, (x, 150))
    proposer = KeypointProposer()
    proposer.prepare(load_dictionary(logos_dir))
    found = [c for c in proposer.propose(Frame(FrameRef(0, 0.0, width, height), np.asarray(canvas)))
             if c.brand == "Norvik"]
    assert found
    box = max(found, key=lambda c: c.score).bbox
    assert box.x2 > width + 40  # the outline goes on past the edge
    assert abs(box.x - x) < 15 and abs(box.w - 300) < 30
    share = visible_share(max(found, key=lambda c: c.score))
    assert 0.65 < share < 0.8
