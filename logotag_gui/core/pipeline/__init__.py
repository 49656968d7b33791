"""The run: backends, stage 1 at the machine's pace, tracks, following boxes, the pipeline itself."""
