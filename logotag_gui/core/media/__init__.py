"""Video and logos: decoding frames, reading the logo dictionary, generated demo material."""
