"""Records and settings: the bottom layer, imported by everything above."""
