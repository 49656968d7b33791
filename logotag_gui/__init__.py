"""LogoTag: tag brand logos in video with a two-stage pipeline and a human in the loop."""

__version__ = "0.1.0"
