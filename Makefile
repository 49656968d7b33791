# One command each: `make demo` shows the app, `make test` runs the tests; each sets up .venv first
# when it is missing or older than pyproject.toml (`make setup` does only that). Each target is a
# plain command you can also type yourself (see README.md).
PY ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.logotag-setup
# torch: the CPU build from PyTorch's CPU wheel index (about 200 MB), unless this machine's pip already has a
# torch wheel on disk (its find-links). A CUDA machine: make setup TORCH_INDEX=https://download.pytorch.org/whl/cu126
# (about 3 GB with NVIDIA's libraries). TORCH may name any 2.4-2.14 release.
TORCH ?= torch==2.13.0
CPU_INDEX = https://download.pytorch.org/whl/cpu
TORCH_INDEX ?= $(CPU_INDEX)
# Qt's X11 libraries the app's window needs (Debian/Ubuntu names); headless tests do without them.
XCB_LIBS = libxcb-cursor.so.0 libxcb-icccm.so.4 libxcb-keysyms.so.1 libxkbcommon-x11.so.0
XCB_PACKAGES = libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-shape0 libxcb-randr0 libxcb-xinerama0 libxkbcommon-x11-0

.PHONY: setup demo test test-core test-all lint bench clean constraints

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	if [ "$(TORCH_INDEX)" = "$(CPU_INDEX)" ] && $(BIN)/pip install -q --dry-run --no-deps --no-index "$(TORCH)" \
	    >/dev/null 2>&1; then $(BIN)/pip install -q "$(TORCH)"; \
	  else $(BIN)/pip install -q --index-url "$(TORCH_INDEX)" --extra-index-url https://pypi.org/simple "$(TORCH)"; fi
	# The versions CI tested (constraints.txt), so a fresh machine gets what passed.
	$(BIN)/pip install -q -c constraints.txt -e ".[dev]"
	# An older setup installed rapidocr-onnxruntime by hand (its opencv-python would clash with PySide6).
	$(BIN)/pip uninstall -q -y rapidocr-onnxruntime 2>/dev/null || true
	$(BIN)/python -c "import cv2, rapidocr, PySide6, torch; print('LogoTag is set up: torch', torch.__version__, '/ OpenCV', cv2.__version__)"
	@missing=""; for lib in $(XCB_LIBS); do ldconfig -p 2>/dev/null | grep -q "$$lib" || missing="$$missing $$lib"; done; \
	  if [ -n "$$missing" ]; then echo "note: the app's window needs Qt's X11 libraries (missing:$$missing):"; \
	  echo "      sudo apt-get install $(XCB_PACKAGES)"; echo "      (the tests run without them)"; fi
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/logotag-gui --demo

# On every core (pytest-xdist). `test` leaves out the end-to-end runs marked slow (under 2 minutes on 2 cores);
# `test-all` runs them too, as CI does.
test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -m "not slow"

# The inner loop: the headless core's quick tests only (no Qt, no end-to-end runs).
test-core: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not gui" tests/core -q

test-all: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/bench_siglip2.py
	$(BIN)/python bench/bench_keypoints.py
	$(BIN)/python bench/bench_keypoints.py --backend shape
	$(BIN)/python bench/bench_tracking.py --clip logotag_gui/resources/demo/demo_clip.mp4 --truth logotag_gui/resources/demo/demo_truth.json
	$(BIN)/python bench/bench_store.py
	$(BIN)/python bench/bench_gui.py

constraints: $(STAMP)
	{ head -n 2 constraints.txt; $(BIN)/pip freeze --exclude-editable | grep -v -i -e '^torch==' -e '^logotag' -e ' @ '; } > constraints.new
	mv constraints.new constraints.txt

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
