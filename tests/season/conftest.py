from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.season.season_fixture import Season, make_season


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Season]:
    """The season of :mod:`tests.season.season_fixture`, made once per test module (tests only read it)."""
    made = make_season(tmp_path_factory.mktemp("season"))
    yield made
    made.project.close()
