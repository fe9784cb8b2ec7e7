"""Reviewing a model's output: probability tracks, candidate queues, verdicts. No Qt here."""
