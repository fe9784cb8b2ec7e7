"""Spectrogram tiles, caches, the whole-file overview and axis ticks. No Qt here."""
