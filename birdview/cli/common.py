"""What the subcommands share: opening a project, listing warnings."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from birdview.store.project import Project


def open_project(folder: Path, create: bool = False) -> Project:
    from birdview.store.project import Project

    project = Project.open_or_create(folder) if create else Project.open(folder)
    project.backup_if_due()
    return project


def warn(command: str, warnings: Sequence[str]) -> None:
    from birdview.formats.labels import MAX_LISTED

    for warning in warnings[:MAX_LISTED]:
        print(f"birdview {command}: warning: {warning}", file=sys.stderr)
    if len(warnings) > MAX_LISTED:
        print(f"birdview {command}: and {len(warnings) - MAX_LISTED} more warning(s)", file=sys.stderr)
