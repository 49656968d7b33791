# ruff: noqa: E402  (the order is the check: nothing network-bound before the guard, cv2 before Qt)
"""CI: in the wheel's own environment, OCR reads offline with the headless OpenCV pip resolved, and Qt starts."""

import socket
from importlib import metadata
from pathlib import Path


def refuse(*args, **kwargs):
    raise OSError("network access during the OCR check: the models must come from the installed wheels")


socket.socket.connect = refuse  # reading text must not download anything
for name in ("opencv-python", "rapidocr-onnxruntime"):
    try:
        metadata.distribution(name)
    except metadata.PackageNotFoundError:
        continue
    raise SystemExit(f"{name} is installed: pip resolved it from LogoTag's dependencies")
import cv2  # before Qt starts: opencv-python would point Qt at its own plugins here

assert not (Path(cv2.__file__).parent / "qt").exists(), "cv2 ships Qt plugins: not the headless build"
headless = metadata.version("opencv-python-headless")
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from logotag_gui.core.vision.text_reading import TextReader, engine_revision, name_similarity

image = Image.new("RGB", (360, 96), "white")
ImageDraw.Draw(image).text((20, 48), "Norvik", font=ImageFont.load_default(size=48), fill="black", anchor="lm")
lines = TextReader.read(np.asarray(image))
assert any(name_similarity(line.text, "Norvik") == 1.0 for line in lines), lines
from PySide6.QtWidgets import QApplication

app = QApplication([])
assert app.platformName() == "offscreen", app.platformName()
print(f"OCR read {[line.text for line in lines]} with rapidocr {engine_revision()}; OpenCV {cv2.__version__} "
      f"(opencv-python-headless {headless}); Qt platform plugin '{app.platformName()}' loaded")
