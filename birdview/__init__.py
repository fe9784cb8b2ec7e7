"""birdview: review long field recordings for bird calls, with a classifier you retrain."""

__version__ = "0.1.0"
