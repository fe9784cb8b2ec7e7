"""Colour maps for spectrograms, as pyqtgraph lookup tables."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

#: Name shown to the user -> (pyqtgraph colormap name, reversed); "grey (Raven)" is made here.
COLORMAPS: dict[str, tuple[str, bool]] = {
    "viridis": ("viridis", False),
    "magma": ("magma", False),
    "inferno": ("inferno", False),
    "plasma": ("plasma", False),
    "grey": ("CET-L1", False),
    "grey (Raven)": ("raven", False),
}

#: Darkness grows as the level to this power: the bottom fifth of the range, where the background
#: noise lies with automatic levels, stays within 6 % of white (Raven's look, without the speckle
#: a linear ramp gives noise), and calls above it turn grey, then black.
RAVEN_GAMMA = 1.8


def raven_grey() -> np.ndarray:
    """White for the lowest level, black for the highest: 255 * (1 - x ** RAVEN_GAMMA)."""
    x = np.linspace(0.0, 1.0, 256)
    grey = np.round(255 * (1.0 - x**RAVEN_GAMMA)).astype(np.uint8)
    return np.repeat(grey[:, None], 3, axis=1)


def lookup_table(name: str) -> np.ndarray:
    source, reverse = COLORMAPS.get(name, COLORMAPS["viridis"])
    if source == "raven":
        return raven_grey()
    table = pg.colormap.get(source).getLookupTable(0.0, 1.0, 256, alpha=False)
    return table[::-1].copy() if reverse else table
