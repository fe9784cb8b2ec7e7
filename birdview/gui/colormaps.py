"""Colour maps for spectrograms, as pyqtgraph lookup tables."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

#: Name shown to the user -> (pyqtgraph colormap name, reversed).
COLORMAPS: dict[str, tuple[str, bool]] = {
    "viridis": ("viridis", False),
    "magma": ("magma", False),
    "inferno": ("inferno", False),
    "plasma": ("plasma", False),
    "grey": ("CET-L1", False),
    "grey (Raven)": ("CET-L1", True),
}


def lookup_table(name: str) -> np.ndarray:
    source, reverse = COLORMAPS.get(name, COLORMAPS["viridis"])
    table = pg.colormap.get(source).getLookupTable(0.0, 1.0, 256, alpha=False)
    return table[::-1].copy() if reverse else table
