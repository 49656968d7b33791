# One command each: `make setup`, `make demo`, `make test`. Each target is a plain command you can
# also type yourself (see README.md).
PY ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
# The CPU build of torch; on a CUDA machine set TORCH="torch==2.13.0" with your index, or any 2.4-2.14.
TORCH ?= torch==2.13.0

.PHONY: setup demo test lint bench clean

setup:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[dev]"
	# rapidocr-onnxruntime asks for opencv-python, whose Qt plugins clash with PySide6: install it
	# without its dependencies (they are listed in pyproject.toml, with the headless OpenCV).
	$(BIN)/pip install -q --no-deps "rapidocr-onnxruntime==1.4.4"
	$(BIN)/python -c "import cv2, rapidocr_onnxruntime, PySide6, torch; print('LogoTag is set up: torch', torch.__version__, '/ OpenCV', cv2.__version__)"

demo:
	$(BIN)/logotag-gui --demo

test:
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

lint:
	$(BIN)/ruff check .
	$(BIN)/lint-imports

bench:
	$(BIN)/python bench/bench_siglip2.py
	$(BIN)/python bench/bench_keypoints.py
	$(BIN)/python bench/bench_keypoints.py --backend shape
	$(BIN)/python bench/bench_gui.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
