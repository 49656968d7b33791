#!/usr/bin/env bash
# Build the desktop bundle and check that it starts offscreen and runs the demo.
#   bash packaging/build_bundle.sh      (after `make setup`)
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/pip install -q "pyinstaller>=6.6"
start=$(date +%s)
.venv/bin/pyinstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build/pyinstaller packaging/logotag.spec
echo "build took $(( $(date +%s) - start )) s; bundle size: $(du -sh dist/logotag | cut -f1)"
.venv/bin/python packaging/check_bundle.py dist/logotag/logotag-gui
