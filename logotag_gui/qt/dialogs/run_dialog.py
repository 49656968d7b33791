"""Run settings: backends, models, sampling, thresholds, frame range, device."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
)

from logotag_gui.core.config import RunConfig


class RunDialog(QDialog):
    def __init__(self, base: RunConfig, *, frame_count: int, clips: int, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Run the pipeline" + (f" on {clips} clips" if clips > 1 else ""))
        self._base = base
        self.embedder = self._combo(["auto", "siglip2", "offline", "keypoints", "ocr", "shape"], base.embedder)
        self.verifier = self._combo(["auto", "vlm", "ocr", "none"], base.verifier)
        self.siglip_model = QLineEdit(base.siglip_model)
        self.vlm_model = QLineEdit(base.vlm_model)
        self.vlm_revision = QLineEdit(base.vlm_revision or "")
        self.vlm_revision.setPlaceholderText("commit SHA (required with remote code)")
        self.trust = QCheckBox("Allow the VLM's repository code to run (trust_remote_code)")
        self.trust.setChecked(base.trust_remote_code)
        self.fps = self._double(base.fps, 0.1, 60, 0.5)
        self.threshold = self._double(base.threshold if base.threshold is not None else -0.01, -0.01, 1, 0.05)
        self.threshold.setSpecialValueText("default for the embedder")
        self.vlm_threshold = self._double(base.vlm_threshold, 0, 1, 0.05)
        self.margin = self._double(base.min_margin, 0, 1, 0.01)
        self.start = QSpinBox()
        self.start.setRange(0, max(0, frame_count - 1))
        self.start.setValue(base.start_frame)
        self.end = QSpinBox()
        self.end.setRange(0, max(0, frame_count - 1))
        self.end.setValue(base.end_frame if base.end_frame is not None else max(0, frame_count - 1))
        self.device = self._combo(["auto", "cpu", "cuda", "mps"], base.device)
        self.track_verify = QCheckBox("Verify a track's best crops and carry the verdict")
        self.track_verify.setChecked(base.track_verify)
        self.propagate = QCheckBox("Follow confident detections through the clip where the detector missed them")
        self.propagate.setChecked(base.propagate)
        self.download = QCheckBox("Download missing model weights from the hub")
        self.download.setChecked(base.allow_download)

        form = QFormLayout()
        form.addRow("Stage 1 (proposals):", self.embedder)
        form.addRow("SigLIP-2 model:", self.siglip_model)
        form.addRow("Stage 2 (verification):", self.verifier)
        form.addRow("VLM model:", self.vlm_model)
        form.addRow("VLM revision:", self.vlm_revision)
        form.addRow("", self.trust)
        form.addRow("Frames per second:", self.fps)
        form.addRow("Retrieval threshold:", self.threshold)
        form.addRow("Min. margin (top1 − top2):", self.margin)
        form.addRow("VLM yes needs confidence ≥", self.vlm_threshold)
        form.addRow("First frame:", self.start)
        form.addRow("Last frame:", self.end)
        form.addRow("Device:", self.device)
        form.addRow("", self.track_verify)
        form.addRow("", self.propagate)
        form.addRow("", self.download)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Run")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        hint = QLabel("auto uses SigLIP-2 and the VLM when their weights are on this machine, "
                      "otherwise the offline keypoints and OCR backends.")
        hint.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(hint)
        layout.addWidget(buttons)

    @staticmethod
    def _combo(items: list[str], current: str) -> QComboBox:
        box = QComboBox()
        box.addItems(items)
        box.setCurrentText(current)
        return box

    @staticmethod
    def _double(value: float, lo: float, hi: float, step: float) -> QDoubleSpinBox:
        box = QDoubleSpinBox()
        box.setRange(lo, hi)
        box.setSingleStep(step)
        box.setDecimals(2)
        box.setValue(value)
        return box

    def config(self) -> RunConfig:
        threshold = self.threshold.value()
        return self._base.with_(
            embedder=self.embedder.currentText(), verifier=self.verifier.currentText(),
            siglip_model=self.siglip_model.text().strip(), vlm_model=self.vlm_model.text().strip(),
            vlm_revision=self.vlm_revision.text().strip() or None, trust_remote_code=self.trust.isChecked(),
            fps=self.fps.value(), threshold=None if threshold < 0 else threshold, min_margin=self.margin.value(),
            vlm_threshold=self.vlm_threshold.value(), start_frame=self.start.value(), end_frame=self.end.value(),
            device=self.device.currentText(), track_verify=self.track_verify.isChecked(),
            propagate=self.propagate.isChecked(), allow_download=self.download.isChecked(),
        )
