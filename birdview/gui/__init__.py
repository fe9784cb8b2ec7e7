"""The Qt application. The only package that imports Qt; it calls the data layer for all work."""

import pyqtgraph as pg

# Tiles are (frequency rows, time columns) arrays.
pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)
