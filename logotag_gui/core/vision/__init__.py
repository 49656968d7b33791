"""Image work shared by the stages: OCR and name matching, appearance, window crops, model weights."""
