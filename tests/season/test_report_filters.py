"""The report's validated precision and call density count only the verdicts inside its filter:
two sites whose verdicts give different precision, and the same recordings and verdicts of one site
alone in a project of their own, whose whole-project report is the answer for that site."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from birdview.audio.recording import RecordingInfo
from birdview.cli import main
from birdview.review.queue import Candidate, record_verdicts
from birdview.review.summary import summarise
from birdview.store.project import Project
from birdview.store.selection import Selection

SPECIES = ["amecro", "norcar"]
HOP_S = 5.0
WINDOWS = 720  # an hour from 05:00
LEVELS = (0.45, 0.55, 0.65, 0.75, 0.85, 0.95)  # 0.45: below the threshold, reviewed
PER_LEVEL = 6
#: Verdicts per site on the first windows of each level: c confirm, r reject.
VERDICTS = {
    "A": {0.45: "rc", 0.55: "crcr", 0.65: "ccrc", 0.75: "cccr", 0.85: "cccc", 0.95: "cccc"},  # 17 right, 5 wrong
    "B": {0.45: "rr", 0.55: "rrrr", 0.65: "rrcr", 0.75: "rcrr", 0.85: "crcr", 0.95: "ccrc"},  # 7 right, 15 wrong
}
NAMES = {"c": "confirm", "r": "reject"}
START = datetime(2024, 5, 1, 5)


def _window(level: int, k: int) -> int:
    return 20 + 110 * level + 17 * k


def _make(folder: Path, sites: list[str]) -> Path:
    """A project with one hour recorded at each site on 2024-05-01, amecro planted at each level
    and the site's verdicts given through the review queue."""
    project = Project.create(folder / "project", species=SPECIES)
    version = project.register_model("/m.ckpt", SPECIES, activate=True).version
    for site in sites:
        name = f"{site}_20240501_050000.wav"
        (folder / name).write_bytes(b"not read: added as probed")
        info = RecordingInfo(folder / name, WINDOWS * HOP_S, 8000, 1, int(WINDOWS * HOP_S * 8000), "WAV", START)
        rid = project.add_probed(info, f"hash-{name}").id
        scores = np.zeros((WINDOWS, len(SPECIES)), dtype=np.float32)
        chosen: dict[str, list[Candidate]] = {}
        for level, score in enumerate(LEVELS):
            for k in range(PER_LEVEL):
                window = _window(level, k)
                scores[window, 0] = score
                given = VERDICTS[site][score]
                if k < len(given):
                    start = window * HOP_S
                    candidate = Candidate(rid, window, start, start + HOP_S, "amecro", score, version)
                    chosen.setdefault(NAMES[given[k]], []).append(candidate)
        project.store_predictions(version, rid, scores)
        for verdict, candidates in chosen.items():
            record_verdicts(project, candidates, verdict)
    project.close()
    return folder / "project"


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {
        "both": _make(tmp_path_factory.mktemp("both"), ["A", "B"]),
        "A": _make(tmp_path_factory.mktemp("a"), ["A"]),
        "B": _make(tmp_path_factory.mktemp("b"), ["B"]),
    }


def _page(project: Path, out: Path, *args: str) -> str:
    assert main(["report", "--project", str(project), "--out", str(out), "--species", "amecro", *args]) == 0
    return out.read_text(encoding="utf-8")


def _validated(page: str) -> str:
    return re.search(r"<h3>Validated precision</h3>\s*<p>(.*?)</p>", page, re.S).group(1)


def _density(page: str) -> str:
    return re.search(r'<p class="density">(.*?)</p>', page, re.S).group(1)


def _numbers(text: str) -> list[str]:
    return re.findall(r"\d+\.\d+", text)


@pytest.mark.parametrize("site", ["A", "B"])
def test_the_report_for_one_site_gives_that_sites_precision(projects, tmp_path: Path, site: str) -> None:
    filtered = _page(projects["both"], tmp_path / "filtered.html", "--site", site)
    alone = _page(projects[site], tmp_path / "alone.html")
    right = sum(v.count("c") for v in VERDICTS[site].values())
    wrong = sum(v.count("r") for v in VERDICTS[site].values())
    said = _validated(filtered)
    assert f"{right} confirmed and {wrong} rejected verdicts" in said
    assert f"(only those in site {site}, any score)" in said
    assert "(whole project, any score)" in _validated(alone)
    assert "precision at the threshold 0.50 is" in said
    # The same fit, band and threshold as the site's verdicts alone give.
    assert _numbers(said) == _numbers(_validated(alone))
    assert _numbers(_density(filtered)) == _numbers(_density(alone))
    # The density counts the verdicts on detections only (at or above the threshold).
    on = "".join(given for score, given in VERDICTS[site].items() if score >= 0.5)
    assert f"from {len(on)} verdicts ({on.count('c')} confirmed)" in _density(filtered)
    assert f"verdicts: only those in site {site}" in _density(filtered)


def test_the_sites_differ_and_the_whole_project_pools_them(projects, tmp_path: Path) -> None:
    a = _numbers(_validated(_page(projects["both"], tmp_path / "a.html", "--site", "A")))
    b = _numbers(_validated(_page(projects["both"], tmp_path / "b.html", "--site", "B")))
    whole = _validated(_page(projects["both"], tmp_path / "all.html"))
    assert float(a[1]) > float(b[1])  # precision at the threshold: site A's verdicts are mostly right
    assert "24 confirmed and 20 rejected verdicts" in whole and "(whole project, any score)" in whole


def test_an_hours_filter_keeps_the_verdicts_on_windows_starting_in_it(projects) -> None:
    early = Selection.parse(hours="05:00-05:30")
    inside = [
        (site, verdict)
        for site, given in VERDICTS.items()
        for level, score in enumerate(LEVELS)
        for k, verdict in enumerate(given[score])
        if _window(level, k) * HOP_S < 1800
    ]
    with Project.open(projects["both"]) as project:
        summary = summarise(project, 1, "amecro", 0.5, selection=early)
        everything = summarise(project, 1, "amecro", 0.5)
    assert summary.verdicts_confirmed == sum(v == "c" for _, v in inside)
    assert summary.verdicts_rejected == sum(v == "r" for _, v in inside)
    detected = [level for level, score in enumerate(LEVELS) if score >= 0.5]
    early_windows = [k for level in detected for k in range(PER_LEVEL) if _window(level, k) * HOP_S < 1800]
    assert summary.detections == 2 * len(early_windows)
    assert everything.detections == 2 * len(detected) * PER_LEVEL
    assert (everything.verdicts_confirmed, everything.verdicts_rejected) == (24, 20)
