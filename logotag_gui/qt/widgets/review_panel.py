"""Side panel: the selected exposure in a line (what its seconds rest on), and the candidate's crop enlarged
beside the matched reference, scores and verdict."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from logotag_gui.core.base.records import MANUAL, Candidate
from logotag_gui.core.review.commands import key, keys
from logotag_gui.core.review.exposures import Exposure
from logotag_gui.qt.images import to_qimage

THUMB = 140  # two side by side fit a 1366 px screen's side dock

NO_EXPOSURE = f"No exposure selected: {key('next_exposure')} goes to the next one to review."
EXPOSURE_KEYS = (f"{key('accept_exposure')} accept · {key('reject_exposure')} reject · "
                 f"{keys('set_in', 'set_out')} in / out point here · {key('split')} split here · {key('gallery')} "
                 f"gallery (the brand's, every brand's) · {key('accept_gallery')} accept what it shows")

class ReviewPanel(QWidget):
    acceptClicked = Signal()
    rejectClicked = Signal()
    acceptTrackClicked = Signal()
    followClicked = Signal()
    findMoreClicked = Signal()
    relabelChosen = Signal(str)
    addToDictionaryClicked = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.crop = self._image_label("candidate crop")
        self.reference = self._image_label("matched reference")
        images = QGridLayout()
        images.addWidget(QLabel("Candidate"), 0, 0)
        images.addWidget(QLabel("Reference"), 0, 1)
        images.addWidget(self.crop, 1, 0)
        images.addWidget(self.reference, 1, 1)

        self.fields = {name: QLabel("–") for name in
                       ("Brand", "Frame", "Retrieval", "Method", "Track", "Verdict", "Confidence", "Rationale",
                        "Decision", "Hint")}
        form = QFormLayout()
        for name, label in self.fields.items():
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(name + ":", label)
        details = QGroupBox("Candidate")
        details.setLayout(form)

        self.accept_btn = QPushButton(f"Accept ({key('accept')})")
        self.reject_btn = QPushButton(f"Reject ({key('reject')})")
        self.track_btn = QPushButton(f"Accept track ({key('accept_track')})")
        self.follow_btn = QPushButton(f"Follow through the clip ({key('follow')})")
        self.follow_btn.setToolTip("Follow this box forward and backward until the shot cuts or the mark leaves; "
                                   f"the boxes it finds join the track ({key('accept_track')} accepts them all)")
        self.more_btn = QPushButton(f"Find more like this ({key('find_more')})")
        self.more_btn.setToolTip("Search the clip with this box as a view of its brand")
        self.accept_btn.clicked.connect(self.acceptClicked)
        self.reject_btn.clicked.connect(self.rejectClicked)
        self.track_btn.clicked.connect(self.acceptTrackClicked)
        self.follow_btn.clicked.connect(self.followClicked)
        self.more_btn.clicked.connect(self.findMoreClicked)
        # Two a row: five side by side (in two rows of three and two) were cut in a 1366 px screen's dock.
        buttons = QGridLayout()
        for i, b in enumerate((self.accept_btn, self.reject_btn, self.track_btn, self.more_btn, self.follow_btn)):
            buttons.addWidget(b, i // 2, i % 2, 1, 2 if b is self.follow_btn else 1)
        self.relabel = QComboBox()
        self.relabel.setToolTip(f"Relabel to another brand ({key('relabel')})")
        self.relabel.activated.connect(lambda i: self.relabelChosen.emit(self.relabel.itemText(i)))
        self.add_ref_btn = QPushButton("Add this crop to the dictionary")
        self.add_ref_btn.clicked.connect(self.addToDictionaryClicked)
        relabel_row = QHBoxLayout()
        relabel_row.addWidget(QLabel("Relabel:"))
        relabel_row.addWidget(self.relabel, 1)

        self.exposure = QLabel(NO_EXPOSURE)
        self.exposure.setWordWrap(True)
        exposure_box = QGroupBox("Exposure")
        exposure_layout = QVBoxLayout(exposure_box)
        exposure_layout.addWidget(self.exposure)
        layout = QVBoxLayout(self)
        layout.addWidget(exposure_box)
        # The decisions first: on a laptop's screen the panel scrolls, and what it scrolls away is the detail.
        layout.addLayout(buttons)
        layout.addLayout(relabel_row)
        layout.addLayout(images)
        layout.addWidget(details)
        layout.addWidget(self.add_ref_btn)
        layout.addStretch(1)
        self.show_candidate(None, None, None)

    @staticmethod
    def _image_label(tip: str) -> QLabel:
        label = QLabel()
        label.setFixedSize(THUMB, THUMB)
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.setStyleSheet("background:#2a2a30; border:1px solid #555;")
        label.setToolTip(tip)
        return label

    def set_brands(self, brands: list[str]) -> None:
        self.relabel.blockSignals(True)
        self.relabel.clear()
        self.relabel.addItems(brands)
        self.relabel.blockSignals(False)

    def show_exposure(self, e: Exposure | None) -> None:
        if e is None:
            self.exposure.setText(NO_EXPOSURE)
            return
        live = e.live
        where = f"frames {live[0]}-{live[1]}" if live else f"frames {e.first}-{e.last}, all rejected"
        state = e.state.value.replace("_", " ")
        model = f", the model gives it {e.belief:.0%}" if e.pending else ""
        self.exposure.setText(f"<b>{e.brand}</b>: {where}, {e.length_s:.1f} s ({state}{model}); {e.seconds:.1f} s "
                              "accepted.<br>" + EXPOSURE_KEYS)

    def show_candidate(self, c: Candidate | None, frame: np.ndarray | None, reference: Path | None, *,
                       frame_on_screen: bool = True) -> None:
        enabled = c is not None
        for w in (self.accept_btn, self.reject_btn, self.track_btn, self.follow_btn, self.more_btn, self.relabel,
                  self.add_ref_btn):
            w.setEnabled(enabled)
        if c is None:
            for label in self.fields.values():
                label.setText("–")
            self.crop.clear()
            self.reference.clear()
            return
        if self.relabel.findText(c.final_brand) >= 0:  # the box starts on its own brand: Enter changes nothing
            self.relabel.blockSignals(True)
            self.relabel.setCurrentText(c.final_brand)
            self.relabel.blockSignals(False)
        v = c.verdict
        values = {
            "Brand": c.final_brand + (f" (model: {c.brand})" if c.review.brand else ""),
            "Frame": f"{c.frame.name or c.frame.index}  t={c.frame.t:.2f}s",
            "Retrieval": f"{c.score:.3f}  margin {c.margin:+.3f}",
            "Method": c.method,
            "Track": "–" if c.track_id is None else str(c.track_id),
            "Verdict": v.state.value + (" (carried from its track)" if v.from_track else ""),
            "Confidence": "–" if v.confidence is None else f"{v.confidence:.2f}",
            "Rationale": v.rationale or (v.raw[:200] if v.raw else "–"),
            "Decision": c.review.state.value + (f" by {c.review.reviewer}" if c.review.reviewer else ""),
            "Hint": "looks like a box you rejected" if c.hint else "–",
        }
        for name, text in values.items():
            self.fields[name].setText(text)
        self.crop.clear()
        if frame is None:  # its frame is being decoded, or the reviewer has scrubbed away from it
            self.crop.setText("loading frame…" if frame_on_screen else f"on frame {c.frame.name or c.frame.index}\n"
                              f"({keys('next', 'prev')} go back to it)")
        else:
            x1, y1, x2, y2 = c.final_bbox.clipped(frame.shape[1], frame.shape[0]).as_int_xyxy()
            if x2 > x1 and y2 > y1:
                self._set_image(self.crop, QPixmap.fromImage(to_qimage(frame[y1:y2, x1:x2])))
        self.reference.clear()
        if reference is not None and reference.exists():
            self._set_image(self.reference, QPixmap(str(reference)))
        else:
            self.reference.setText("drawn by hand" if c.method == MANUAL else "no reference file")

    @staticmethod
    def _set_image(label: QLabel, pixmap: QPixmap) -> None:
        label.setPixmap(pixmap.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                                      Qt.TransformationMode.SmoothTransformation))
