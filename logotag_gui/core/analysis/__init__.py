"""Export and analysis: records out, exposure figures, reports, evaluation against truth, calibration."""
