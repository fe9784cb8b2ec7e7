"""The species shown by default for a recording.

In order of preference: a species-list file given for the occasion; the project's species list
(set with :func:`set_species_list`); BirdNET's geo model for the place of the recording's site and
the week it was made in (the whole year without a start time). Without any of these every species
is shown, and :attr:`SpeciesFilter.reason` says why.

A species-list file has one species a line, as a code, a scientific or common name, or
BirdNET-Analyzer's ``Scientific name_Common name``; ``#`` starts a comment.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from birdview.store.errors import ProjectError
from birdview.store.project import Project, RecordingRow
from birdview.store.sites import recording_week, site, site_of
from trainer.models.base import ModelError

#: The project setting holding the species-list file.
SETTING = "species_list"
GEO_THRESHOLD = 0.03


@dataclass(frozen=True)
class SpeciesList:
    path: Path
    codes: frozenset[str]
    #: One line per line of the file that names no species of the project.
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class SpeciesFilter:
    #: The species shown by default; None shows every species.
    species: frozenset[str] | None
    #: Where the species came from, for people ("species list /x/list.txt").
    source: str = ""
    #: Why there is no filter, where there is none.
    reason: str = ""
    warnings: tuple[str, ...] = ()


class GeoModel(Protocol):
    def species_at(self, latitude: float, longitude: float, week: int = -1, threshold: float = 0.03) -> list[str]: ...


def read_species_list(project: Project, path: str | Path) -> SpeciesList:
    """The project's species a list file names; ProjectError when it cannot be read or names none."""
    path = Path(path).absolute()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ProjectError(
            f"species list {path}: no such file (set another with birdview species-list --set FILE, "
            "or --clear to go back to BirdNET's list for each site)"
        ) from None
    except UnicodeDecodeError:
        raise ProjectError(f"species list {path}: not UTF-8 text (one species a line)") from None
    except OSError as exc:
        raise ProjectError(f"species list {path}: cannot read it ({exc.strerror or exc})") from None
    names = project.species_names()
    codes: set[str] = set()
    warnings = []
    for number, line in enumerate(text.splitlines(), start=1):
        label = line.partition("#")[0].strip()
        if not label:
            continue
        code = names.code(label)
        if code is None and "_" in label:
            scientific, _, common = label.partition("_")
            code = names.code(scientific) or names.code(common)
        if code is None:
            warnings.append(f"{path} line {number}: {label!r} is not a species of the project")
        else:
            codes.add(code)
    if not codes:
        raise ProjectError(
            f"species list {path}: no line names a species of the project "
            "(give one code, scientific name or Scientific name_Common name a line)"
        )
    return SpeciesList(path, frozenset(codes), tuple(warnings))


def set_species_list(project: Project, path: str | Path | None) -> SpeciesList | None:
    """Make a species-list file the project's default (checked first), or clear it with None."""
    if path is None:
        project.set_setting(SETTING, None)
        return None
    chosen = read_species_list(project, path)
    project.set_setting(SETTING, str(chosen.path))
    return chosen


def project_species_list(project: Project) -> Path | None:
    value = project.get_setting(SETTING)
    return Path(value) if value else None


_geo_lock = threading.Lock()
_geo_model: GeoModel | None = None
_geo_species: dict[tuple[float, float, int], frozenset[str]] = {}


def _geo() -> GeoModel:
    """BirdNET's geo model, loaded once; ModelError (or ImportError) without the birdnet extra."""
    global _geo_model
    if _geo_model is None:
        from trainer.models.birdnet import BirdNetGeo

        _geo_model = BirdNetGeo()
    return _geo_model


def _judged_by_geo() -> frozenset[str] | None:
    """The species the geo model has a score for (only these can be left out by it); None where it
    does not say (every species then counts as judged)."""
    known = getattr(_geo(), "species", None)
    return None if known is None else frozenset(getattr(name, "code", name) for name in known)


def _never_hidden(project: Project, judged: frozenset[str] | None = None) -> frozenset[str]:
    """Species a list cannot speak for, always shown: the codes the user made up (a call type,
    ``noise_generator``) and, for the geo model, every species it has no score for."""
    codes = set(project.user_species())
    if judged is not None:
        codes |= set(project.species_codes()) - judged
    return frozenset(codes)


def _expected_at(latitude: float, longitude: float, week: int) -> frozenset[str]:
    key = (latitude, longitude, week)
    with _geo_lock:
        if key not in _geo_species:
            _geo_species[key] = frozenset(_geo().species_at(latitude, longitude, week, GEO_THRESHOLD))
        return _geo_species[key]


def _list_filter(project: Project, species_list_file: str | Path | None) -> SpeciesFilter | None:
    if species_list_file is not None:
        chosen, what = Path(species_list_file), "species list"
    else:
        chosen, what = project_species_list(project), "the project's species list"
    if chosen is None:
        return None
    found = read_species_list(project, chosen)
    return SpeciesFilter(found.codes | _never_hidden(project), f"{what} {found.path}", warnings=found.warnings)


def _geo_filter(project: Project, recording: RecordingRow) -> SpeciesFilter:
    name = site_of(project, recording)
    place = site(project, name) if name else None
    if place is None or not place.has_place:
        where = f"site {name!r} has no latitude and longitude" if name else "the recording has no site"
        return SpeciesFilter(None, reason=f"no species list, and {where}")
    week = recording_week(recording) or -1
    try:
        expected = _expected_at(place.latitude, place.longitude, week) | _never_hidden(project, _judged_by_geo())
    except (ImportError, ModelError) as exc:
        return SpeciesFilter(None, reason=f"BirdNET's geo model is not available ({exc})")
    when = f"week {week}" if week > 0 else "the whole year"
    return SpeciesFilter(
        expected, f"BirdNET's geo model at site {name} ({place.latitude:g}, {place.longitude:g}), {when}"
    )


def species_filter(
    project: Project, recording: RecordingRow | None, species_list_file: str | Path | None = None
) -> SpeciesFilter:
    """The species shown by default for the recording (None: only the lists, not the geo model).
    A list that cannot be read, or names no species of the project, is a ProjectError."""
    listed = _list_filter(project, species_list_file)
    if listed is not None:
        return listed
    if recording is None:
        return SpeciesFilter(None, reason="no species list is set for the project")
    return _geo_filter(project, recording)


def species_filters(
    project: Project, recordings: Iterable[RecordingRow], species_list_file: str | Path | None = None
) -> dict[int, SpeciesFilter]:
    """:func:`species_filter` for many recordings (by id), reading a species list once."""
    listed = _list_filter(project, species_list_file)
    return {r.id: listed if listed is not None else _geo_filter(project, r) for r in recordings}


def allowed_species(
    project: Project, recording: RecordingRow | None, species_list_file: str | Path | None = None
) -> set[str] | None:
    """The codes shown by default for the recording; None where no filter is known."""
    chosen = species_filter(project, recording, species_list_file).species
    return None if chosen is None else set(chosen)


def shown_species(
    project: Project, expected_only: bool = True, non_birds: bool = False
) -> dict[int, set[str] | None] | None:
    """Per recording, the species a review queue or an export shows by default: those expected
    there (a species list, or BirdNET's list for the site and week) when ``expected_only``, less
    the non-bird classes unless ``non_birds``. None: every species everywhere."""
    hidden = set() if non_birds else {code for code, kind in project.species_categories().items() if kind != "bird"}
    filters = species_filters(project, project.recordings()) if expected_only else {}
    if not hidden and all(f.species is None for f in filters.values()):
        return None
    every = None if not hidden else set(project.species_codes()) - hidden
    shown: dict[int, set[str] | None] = {}
    for recording in project.recordings():
        expected = filters.get(recording.id)
        chosen = set(expected.species) if expected is not None and expected.species is not None else None
        shown[recording.id] = (chosen - hidden if chosen is not None else every) if hidden else chosen
    return shown
