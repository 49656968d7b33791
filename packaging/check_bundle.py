"""Check that a built bundle starts offscreen, opens the demo and runs the offline pipeline.

    python packaging/check_bundle.py dist/logotag/logotag-gui
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    exe = Path(sys.argv[1] if len(sys.argv) > 1 else "dist/logotag/logotag-gui")
    if not exe.exists():
        print(f"no bundle at {exe}; build it with packaging/build_bundle.sh")
        return 2
    # The shape matcher LogoTag ships must travel with the bundle (packaging/logotag.spec puts it there).
    shipped = Path(__file__).resolve().parents[1] / "logotag_gui" / "resources" / "models" / "shape-matcher"
    bundled = list(exe.parent.glob("**/logotag_gui/resources/models/shape-matcher/model.safetensors"))
    if (shipped / "model.safetensors").exists() and not bundled:
        print(f"the bundle lacks the shape matcher ({shipped} is not in {exe.parent})")
        return 1
    print(f"shape matcher in the bundle: {bundled[0].relative_to(exe.parent) if bundled else 'none (none in the source tree)'}")
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HF_HUB_OFFLINE": "1", "LOGOTAG_LOG_DIR": tmp}
        t0 = time.monotonic()
        result = subprocess.run([str(exe), str(Path(tmp) / "demo.sqlite"), "--demo", "--smoke-test"], env=env,
                                capture_output=True, text=True, timeout=600)
        took = time.monotonic() - t0
    print(result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "(no output)")
    if result.returncode != 0:
        print(result.stderr[-3000:])
    print(f"bundle check {'passed' if result.returncode == 0 else 'FAILED'} in {took:.1f} s")
    return result.returncode


if __name__ == "__main__":
    raise SystemExit(main())
