"""A season of recorders: per-site and per-period tables, detection histories for occupancy
models, call density and the HTML report, over the project's predictions and verdicts."""
