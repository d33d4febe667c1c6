"""Grids: expansion of a grid spec into runs, and the DVC train stage."""
