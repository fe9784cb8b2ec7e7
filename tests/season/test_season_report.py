"""``birdview report`` on a small project whose answers are known by construction: scores planted at
four levels in three recordings at two sites, verdicts given through the review queue on some of
them. The expected tables and the call density are counted here from the planted list."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from birdview.audio.recording import RecordingInfo
from birdview.cli import main
from birdview.review.queue import Candidate, record_verdicts
from birdview.review.summary import MIN_EACH, MIN_VERDICTS
from birdview.store.project import Project

SPECIES = ["amecro", "norcar", "bluja"]  # bluja: never detected
HOP_S = 5.0
THRESHOLD = 0.5  # the default: no threshold is applied in this project
#: (file name, start, hours): sites A and B from the file names.
RECORDINGS = [
    ("A_20240501_050000.wav", datetime(2024, 5, 1, 5), 1.0),
    ("A_20240502_050000.wav", datetime(2024, 5, 2, 5), 1.0),
    ("B_20240501_060000.wav", datetime(2024, 5, 1, 6), 2.0),
]
#: amecro: this many windows per recording at each level (0.3 is below the threshold).
LEVELS = {0.3: 2, 0.55: 5, 0.65: 5, 0.8: 5, 0.95: 5}
#: Verdicts on amecro per level, in planted order: c confirm, r reject, l relabel, u uncertain.
VERDICTS = {0.3: "r", 0.55: "crrrl", 0.65: "ccrr", 0.8: "ccr", 0.95: "ccccu"}
#: norcar: a few detections and too few verdicts for a density.
NORCAR = {0.9: 3}
NORCAR_VERDICTS = {0.9: "cr"}


@dataclass(frozen=True)
class Planted:
    recording: str
    site: str
    start: datetime
    window: int
    species: str
    score: float
    verdict: str | None

    @property
    def detected(self) -> bool:
        return self.score >= THRESHOLD

    @property
    def judged(self) -> bool:
        return self.verdict in ("confirm", "reject", "relabel")


NAMES = {"c": "confirm", "r": "reject", "l": "relabel", "u": "uncertain"}


def _plant(
    project: Project, version: int, rid: int, name: str, start: datetime, hours: float, rng, done: Counter
) -> list[Planted]:
    windows = int(hours * 3600 / HOP_S)
    scores = np.zeros((windows, len(SPECIES)), dtype=np.float32)
    planted = []
    free = rng.permutation(windows)
    used = 0
    for code, levels, verdicts in (("amecro", LEVELS, VERDICTS), ("norcar", NORCAR, NORCAR_VERDICTS)):
        column = SPECIES.index(code)
        for level, count in levels.items():
            for window in sorted(int(w) for w in free[used : used + count]):
                used += 1
                scores[window, column] = level
                given = verdicts.get(level, "")
                # Every third window of a level (spread over the recordings) gets the next verdict.
                k, verdict = done[(code, level)], None
                if k % 3 == 0 and k // 3 < len(given):
                    verdict = NAMES[given[k // 3]]
                done[(code, level)] += 1
                planted.append(Planted(name, name.split("_")[0], start, window, code, level, verdict))
    project.store_predictions(version, rid, scores)
    return planted


@dataclass
class Fixture:
    folder: Path
    planted: list[Planted]

    def of(self, species: str, site: str | None = None) -> list[Planted]:
        return [p for p in self.planted if p.species == species and (site is None or p.site == site)]


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    folder = tmp_path_factory.mktemp("report")
    project = Project.create(folder / "project", species=SPECIES)
    model = project.register_model("/m.ckpt", SPECIES, activate=True)
    rng = np.random.default_rng(3)
    done: Counter = Counter()
    planted: list[Planted] = []
    for name, start, hours in RECORDINGS:
        path = folder / name
        path.write_bytes(b"not read: added as probed")
        seconds = hours * 3600
        info = RecordingInfo(path, seconds, 8000, 1, int(seconds * 8000), "WAV", start)
        rid = project.add_probed(info, f"hash-{name}").id
        planted += _plant(project, model.version, rid, name, start, hours, rng, done)
    ids = {r.name: r.id for r in project.recordings()}
    by_verdict: dict[str, list[Candidate]] = {}
    for p in planted:
        if p.verdict:
            start_s = p.window * HOP_S
            candidate = Candidate(ids[p.recording], p.window, start_s, start_s + HOP_S, p.species, p.score, 1)
            by_verdict.setdefault(p.verdict, []).append(candidate)
    for verdict, chosen in by_verdict.items():
        record_verdicts(project, chosen, verdict, species="bluja" if verdict == "relabel" else None)
    project.close()
    return Fixture(folder / "project", planted)


def _run(*args: str) -> int:
    return main(["report", *args])


def _rows(table: str) -> list[list[str]]:
    """The cells of an HTML table, row by row, headings first."""
    return [re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row) for row in re.findall(r"<tr>(.*?)</tr>", table)]


def _table(page: str, css_class: str, after: str = "") -> list[list[str]]:
    start = page.index(after) if after else 0
    found = re.search(rf'<table class="{css_class}">(.*?)</table>', page[start:], re.S)
    assert found, f"no {css_class} table"
    return _rows(found.group(1))


def _section(page: str, species: str) -> str:
    start = page.index(f'<h2 id="{species}">')
    following = page.find("<h2 id=", start + 1)
    return page[start : following if following > 0 else len(page)]


def _expected_density(planted: list[Planted]) -> tuple[float, int]:
    """Detections x the precision weighted over score levels (every level is its own stratum here)."""
    detected = [p for p in planted if p.detected]
    precision = 0.0
    for level in sorted({p.score for p in detected}):
        members = [p for p in detected if p.score == level]
        judged = [p for p in members if p.judged]
        precision += len(members) / len(detected) * sum(p.verdict == "confirm" for p in judged) / len(judged)
    return len(detected) * precision, sum(p.judged for p in detected)


def test_report_has_every_plot_and_the_planted_numbers(season: Fixture, tmp_path: Path) -> None:
    out = tmp_path / "season.html"
    assert _run("--project", str(season.folder), "--out", str(out)) == 0
    page = out.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["'](?!data:|#)|<script|<link""", page)  # self-contained
    detected = {code for code in SPECIES if any(p.detected for p in season.of(code))}
    assert detected == {"amecro", "norcar"}
    # Per species: the heat map and the diel plot, and the precision curve where the verdicts allow one.
    fits = 0
    for code in detected:
        judged = [p for p in season.of(code) if p.judged]
        right = sum(p.verdict == "confirm" for p in judged)
        fits += len(judged) >= MIN_VERDICTS and min(right, len(judged) - right) >= MIN_EACH
        section = _section(page, code)
        assert section.count("<svg") == 2 + (code == "amecro")
    assert page.count("<svg") == 2 * len(detected) + fits
    assert 'id="bluja"' not in page

    # The species table: detections (rejected ones left out), rejected, estimated calls.
    rows = {row[0]: row for row in _table(page, "species")[1:]}
    assert set(rows) == detected
    for code in detected:
        mine = [p for p in season.of(code) if p.detected]
        rejected = sum(p.verdict in ("reject", "relabel") for p in mine)
        assert int(rows[code][3]) == len(mine) - rejected
        assert int(rows[code][4]) == rejected
        assert int(rows[code][6]) == sum(p.judged for p in mine)

    # Call density from the planted verdicts.
    calls, judged = _expected_density(season.of("amecro"))
    assert float(rows["amecro"][8]) == pytest.approx(calls, abs=0.05)
    amecro = _section(page, "amecro")
    density = re.search(r'<p class="density">(.*?)</p>', amecro).group(1)
    assert f"{calls:.1f} calls" in density and f"from {judged} verdicts" in density
    low, high = (float(x) for x in re.search(r"interval ([\d.]+)–([\d.]+)", density).groups())
    assert low <= calls <= high <= len([p for p in season.of("amecro") if p.detected])
    # Too few verdicts: said, with the sample size, and no number.
    norcar = _section(page, "norcar")
    judged_norcar = sum(p.judged for p in season.of("norcar") if p.detected)
    assert f"too few verdicts for an estimate: {judged_norcar} of the" in norcar
    assert rows["norcar"][8] == "—" and rows["norcar"][9] == "too few verdicts"

    # The site table: detections, recorded hours, per hour, precision of the judged detections.
    sites = {row[0]: row for row in _table(amecro, "sites")[1:]}
    assert set(sites) == {"A", "B", "all sites"}
    for site in ("A", "B"):
        mine = [p for p in season.of("amecro", site) if p.detected]
        rejected = sum(p.verdict in ("reject", "relabel") for p in mine)
        hours = sum(h for name, _, h in RECORDINGS if name.startswith(site))
        judged = [p for p in mine if p.judged]
        assert int(sites[site][1]) == len(mine) - rejected
        assert int(sites[site][2]) == rejected
        assert float(sites[site][3]) == pytest.approx(hours)
        assert float(sites[site][4]) == pytest.approx((len(mine) - rejected) / hours, abs=5e-4)
        assert int(sites[site][5]) == len(judged)
        assert judged, "the fixture gives verdicts at every site"
        assert float(sites[site][6]) == pytest.approx(
            sum(p.verdict == "confirm" for p in judged) / len(judged), abs=5e-4
        )


def test_filters_narrow_the_tables(season: Fixture, tmp_path: Path) -> None:
    out = tmp_path / "b.html"
    assert _run("--project", str(season.folder), "--out", str(out), "--site", "B", "--species", "amecro") == 0
    page = out.read_text(encoding="utf-8")
    sites = {row[0]: row for row in _table(_section(page, "amecro"), "sites")[1:]}
    assert set(sites) == {"B", "all sites"}
    mine = [p for p in season.of("amecro", "B") if p.detected]
    assert int(sites["B"][1]) + int(sites["B"][2]) == len(mine)
    assert 'id="norcar"' not in page

    # Hours of the day: only the windows starting from 06:30 to 07:00.
    out = tmp_path / "hours.html"
    assert _run("--project", str(season.folder), "--out", str(out), "--hours", "06:30-07", "--species", "amecro") == 0
    sites = {row[0]: row for row in _table(_section(out.read_text(), "amecro"), "sites")[1:]}
    moments = [(p, p.start + timedelta(seconds=p.window * HOP_S)) for p in season.of("amecro") if p.detected]
    in_hours = [p for p, moment in moments if (6, 30) <= (moment.hour, moment.minute) < (7, 0)]
    assert int(sites["all sites"][1]) + int(sites["all sites"][2]) == len(in_hours)
    assert float(sites["all sites"][3]) == pytest.approx(0.5)

    # One threshold for all: only the windows scoring at least 0.8 are detections.
    out = tmp_path / "cut.html"
    assert _run("--project", str(season.folder), "--out", str(out), "--threshold", "0.8") == 0
    rows = {row[0]: row for row in _table(out.read_text(), "species")[1:]}
    for code in ("amecro", "norcar"):
        high = [p for p in season.of(code) if p.score >= 0.8]
        rejected = sum(p.verdict in ("reject", "relabel") for p in high)
        assert (rows[code][2], int(rows[code][3]), int(rows[code][4])) == ("0.80", len(high) - rejected, rejected)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--species", "bluja"], "no detections of bluja"),
        (["--species", "amecro", "--threshold", "0.99"], "no detections of amecro"),
        (["--from", "2024-06-01"], "no recordings in 2024-06-01"),
        (["--site", "Z"], "no recordings at site Z"),
        (["--species", "nosuch"], "does not predict nosuch"),
    ],
)
def test_bad_input_says_why_and_writes_nothing(
    season: Fixture, tmp_path: Path, capsys: pytest.CaptureFixture, args: list[str], message: str
) -> None:
    out = tmp_path / "report.html"
    assert _run("--project", str(season.folder), "--out", str(out), *args) == 2
    assert message in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.iterdir())


def test_thin_strata_join_their_neighbour_and_the_estimate_follows() -> None:
    from birdview.season.density import MIN_PER_STRATUM, Detections, Verdicts, stratified_precision

    # 10 detections at each of four scores; verdicts only at 0.6 (4: 1 right) and 0.9 (6: 5 right),
    # and one at 0.7 (right), too few for a stratum of its own.
    levels = np.repeat([0.6, 0.7, 0.8, 0.9], 10)
    found = Detections("x", 0.5, np.zeros(40, np.int64), np.arange(40) * HOP_S, levels)
    given = [(0.6, c) for c in (1, 0, 0, 0)] + [(0.7, 1)] + [(0.9, c) for c in (1, 1, 1, 1, 1, 0)]
    judged = Verdicts(
        np.zeros(len(given), np.int64), np.array([s for s, _ in given]), np.array([c for _, c in given], bool)
    )
    precision, low, high, strata = stratified_precision(found, judged)
    assert all(s.judged >= MIN_PER_STRATUM for s in strata)
    assert sum(s.detections for s in strata) == 40 and sum(s.judged for s in strata) == len(given)
    expected = sum(s.detections / 40 * s.confirmed / s.judged for s in strata)
    assert precision == pytest.approx(expected)
    # 0.6 keeps its stratum; 0.7 (one verdict) joins 0.8 (none) above it, and both join 0.9.
    assert [(s.low, s.high, s.detections, s.judged, s.confirmed) for s in strata] == [
        (pytest.approx(0.6), pytest.approx(0.6), 10, 4, 1),
        (pytest.approx(0.7), pytest.approx(0.9), 30, 7, 6),
    ]
    assert precision == pytest.approx(10 / 40 * 1 / 4 + 30 / 40 * 6 / 7)
    assert low <= precision <= high
