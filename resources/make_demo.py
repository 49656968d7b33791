"""Generate the demo clip and logo dictionary in logotag_gui/resources/demo (drawn from code, no third-party
material; package data, so that an installed LogoTag has its demo).

    python resources/make_demo.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
from resources import synth


def main() -> None:
    out = Path(__file__).resolve().parents[1] / "logotag_gui" / "resources" / "demo"
    out.mkdir(exist_ok=True)
    marks = synth.write_logo_folder(out / "logos")
    truth = synth.write_clip(out / "demo_clip.mp4", marks, synth.DEMO_PLACEMENTS, n_frames=120, fps=20,
                             size=(1280, 720), crf=23)
    synth.write_truth(out / "demo_truth.json", truth, fps=20)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
