"""What the project store raises: every message names the project file and, for damage, the way out."""

from __future__ import annotations


class ProjectError(ValueError):
    pass


class ProjectDamagedError(ProjectError):
    """The database failed its check or lost saved edits; nothing more is written into it."""
