"""A season whose answers are known by construction: three sites, recordings on several dates (one
over midnight into the next ISO week, one without a site, one without a start time), scores planted
in chosen windows of a three-species model, thresholds, and verdicts given through the review
queue. The tests compare birdview's tables with counts made here from the planted list, minute
by minute on the recorder's clock (:class:`Season`'s methods), not with numbers copied from its
output."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np

from birdview.audio.recording import RecordingInfo
from birdview.review.queue import Candidate, record_verdicts
from birdview.review.summary import set_threshold
from birdview.store.labels import drawn_label
from birdview.store.project import Project
from birdview.store.selection import Selection

EVERYTHING = Selection()
SPECIES = ["amecro", "norcar", "bluja"]
HOP_S = 5.0
#: Thresholds applied per species (bluja keeps the default 0.5).
CUTS = {"amecro": 0.8, "norcar": 0.5, "bluja": 0.5}
#: Scores planted: far from every threshold, so float16 storage cannot move one across it.
LEVELS = np.array([0.3, 0.45, 0.6, 0.7, 0.9, 0.97])
#: (file name, site given with add --site or None, start on the recorder's clock, hours).
RECORDINGS = [
    ("A_20240501_050000.wav", None, datetime(2024, 5, 1, 5), 2.0),
    ("A_20240502_050000.wav", None, datetime(2024, 5, 2, 5), 2.0),
    ("A_20240512_230000.wav", None, datetime(2024, 5, 12, 23), 2.0),  # into Monday 13 May: ISO week 20
    ("B_20240501_043000.wav", None, datetime(2024, 5, 1, 4, 30), 3.0),
    ("B_20240508_050000.wav", None, datetime(2024, 5, 8, 5), 1.0),
    ("dawn_3.wav", "C", datetime(2024, 5, 2, 5, 15), 1.5),  # site C given with add --site
    ("20240503_060000.wav", None, datetime(2024, 5, 3, 6), 1.0),  # no site
    ("B_nodate.wav", "B", None, 1.0),  # no start time
]
#: amecro in two recordings: only below its threshold (B on 8 May), only detections the user
#: rejected (C on 2 May). Both read 0 in its detection history; B on 8 May has a drawn call.
AMECRO_LOW, AMECRO_REJECTED = "B_20240508_050000.wav", "dawn_3.wav"


@dataclass(frozen=True)
class Planted:
    recording: str
    site: str
    start: datetime | None
    window: int
    species: str
    score: float
    verdict: str | None = None

    @property
    def moment(self) -> datetime | None:
        return None if self.start is None else self.start + timedelta(seconds=self.window * HOP_S)

    @property
    def detected(self) -> bool:
        return self.score >= CUTS[self.species]


@dataclass
class Season:
    project: Project
    folder: Path
    planted: list[Planted]
    #: (recording file name, seconds, species) of calls drawn by the user (confirmed by drawing).
    drawn: list[tuple[str, float, str]] = field(default_factory=list)

    # -- what the tables should say, counted from the planted list -------------------------------

    def recordings(self, selection: Selection = EVERYTHING) -> list[tuple[str, str, datetime, float]]:
        """(name, site, start, hours) of the dated recordings the selection's sites and dates keep."""
        chosen = []
        for name, site, start, hours in RECORDINGS:
            site = site or (name.split("_")[0] if not name[0].isdigit() else "(no site)")
            if start is None or (selection.sites and site not in selection.sites):
                continue
            chosen.append((name, site, start, hours))
        return chosen

    @staticmethod
    def kept(moment: datetime, selection: Selection) -> bool:
        if selection.date_from and moment.date() < selection.date_from:
            return False
        if selection.date_to and moment.date() > selection.date_to:
            return False
        if selection.hours:
            minute = moment.hour * 60 + moment.minute
            first, last = selection.hours
            return first <= minute < last if first < last else minute >= first or minute < last
        return True

    @staticmethod
    def period(moment: datetime, by: str) -> str:
        if by == "date":
            return moment.date().isoformat()
        if by == "hour":
            return f"{moment.hour:02d}:00"
        year, week, _ = moment.isocalendar()
        return f"{year}-W{week:02d}"

    def effort(self, by: str, selection: Selection = EVERYTHING) -> dict[tuple[str, str], float]:
        """Hours recorded per (site, period), counted minute by minute."""
        hours: Counter = Counter()
        for _, site, start, length in self.recordings(selection):
            for minute in range(int(length * 60)):
                moment = start + timedelta(minutes=minute)
                if self.kept(moment, selection):
                    hours[(site, self.period(moment, by))] += 1 / 60
        return dict(hours)

    def detections(self, by: str, selection: Selection = EVERYTHING) -> tuple[Counter, Counter]:
        """(detections less rejected ones, rejected ones) per (site, period, species)."""
        sites = {name: site for name, site, _, _ in self.recordings(selection)}
        kept, rejected = Counter(), Counter()
        for p in self.planted:
            if p.recording not in sites or not p.detected or not self.kept(p.moment, selection):
                continue
            key = (p.site, self.period(p.moment, by), p.species)
            if p.verdict in ("reject", "relabel"):
                rejected[key] += 1
            else:
                kept[key] += 1
        return kept, rejected

    def confirmed(self, by: str, selection: Selection = EVERYTHING) -> Counter:
        sites = {name: (site, start) for name, site, start, _ in self.recordings(selection)}
        found: Counter = Counter()
        calls = [(p.recording, p.window * HOP_S, p.species) for p in self.planted if p.verdict == "confirm"]
        calls += [(p.recording, p.window * HOP_S, "bluja") for p in self.planted if p.verdict == "relabel"]
        for name, seconds, species in dict.fromkeys(calls + self.drawn):  # one call at one moment counts once
            if name not in sites:
                continue
            site, start = sites[name]
            moment = start + timedelta(seconds=seconds)
            if self.kept(moment, selection):
                found[(site, self.period(moment, by), species)] += 1
        return found


def _add(project: Project, folder: Path, name: str, site: str | None, start: datetime | None, hours: float) -> int:
    path = folder / name
    path.write_bytes(b"not read: the recording is added as probed")
    seconds = hours * 3600
    info = RecordingInfo(path, seconds, 8000, 1, int(seconds * 8000), "WAV", start)
    return project.add_probed(info, f"hash-{name}", site).id


def make_season(folder: Path) -> Season:
    audio = folder / "audio"
    audio.mkdir(parents=True)
    project = Project.create(folder / "project", species=SPECIES)
    model = project.register_model("/m.ckpt", SPECIES, activate=True)
    for code, cut in CUTS.items():
        if cut != 0.5:
            set_threshold(project, code, cut)
    rng = np.random.default_rng(17)
    planted: list[Planted] = []
    verdicts = {"reject": [], "confirm": [], "relabel": []}
    cycle = ["reject", None, "confirm", None, None, "relabel", None]
    for name, site, start, hours in RECORDINGS:
        rid = _add(project, audio, name, site, start, hours)
        windows = int(hours * 3600 / HOP_S)
        scores = np.zeros((windows, len(SPECIES)), dtype=np.float32)
        shown = site or (name.split("_")[0] if not name[0].isdigit() else "(no site)")
        for column, code in enumerate(SPECIES):
            levels = LEVELS
            if code == "amecro" and name in (AMECRO_LOW, AMECRO_REJECTED):
                levels = LEVELS[(CUTS[code] > LEVELS) == (name == AMECRO_LOW)]
            for window in np.sort(rng.choice(windows, size=25, replace=False)):
                score = float(rng.choice(levels))
                scores[window, column] = score
                verdict = cycle[len(planted) % len(cycle)] if score >= CUTS[code] else None
                if code == "amecro" and name == AMECRO_REJECTED:
                    verdict = "reject"
                if verdict == "relabel" and code == "bluja":
                    verdict = "confirm"
                planted.append(Planted(name, shown, start, int(window), code, score, verdict))
                if verdict:
                    start_s = window * HOP_S
                    candidate = Candidate(rid, int(window), start_s, start_s + HOP_S, code, score, model.version)
                    verdicts[verdict].append(candidate)
        project.store_predictions(model.version, rid, scores)
    for verdict, chosen in verdicts.items():
        record_verdicts(project, chosen, verdict, species="bluja" if verdict == "relabel" else None)
    season = Season(project, folder, planted)
    by_name = {r.name: r for r in project.recordings()}
    for name, seconds, code in [("A_20240501_050000.wav", 1801.0, "norcar"), ("B_20240508_050000.wav", 60.0, "amecro")]:
        recording = by_name[name]
        project.add_annotation(drawn_label(recording.id, seconds, seconds + 2, None, None, code))
        season.drawn.append((name, seconds, code))
    return season


def dates(first: str, last: str) -> list[str]:
    a, b = date.fromisoformat(first), date.fromisoformat(last)
    return [(a + timedelta(days=i)).isoformat() for i in range((b - a).days + 1)]
