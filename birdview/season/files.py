"""Writing the season's tables: CSV files written whole or not at all, several together."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from birdview.store.paths import WriteFailedError, atomic_write, describe_os_error, staged_writes
from birdview.store.project import ProjectError


def write_csv(tables: Mapping[Path, pd.DataFrame]) -> list[Path]:
    """Each table to its path (missing values as ``NA``), all renamed into place together when every
    one is written; a ProjectError names the file that could not be, and none is left."""
    written = []
    try:
        with staged_writes():
            for path, table in tables.items():
                with atomic_write(path) as temporary:
                    table.to_csv(temporary, index=False, na_rep="NA", lineterminator="\n")
                written.append(Path(path))
    except WriteFailedError as exc:
        raise ProjectError(str(exc)) from None
    except OSError as exc:
        raise ProjectError(f"cannot write {', '.join(map(str, tables))} ({describe_os_error(exc)})") from None
    return written
