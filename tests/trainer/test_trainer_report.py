"""``birdview-train report`` on a generated BirdCLEF-layout set and a two-epoch run: the page holds
every plot, and its tables say what the metadata, the run's log and its evaluation say."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import soundfile as sf

from tests.synthetic_birds import SPECIES, make_dataset
from trainer.cli import main
from trainer.config import TrainConfig
from trainer.evaluate import evaluate
from trainer.train import fit

TINY = {
    "backbone": "test_efficientnet",
    "pretrained": False,
    "batch_size": 8,
    "folds": 2,
    "num_workers": 0,
    "progress": "none",
}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_dataset(tmp_path_factory.mktemp("birds"), clips_per_species=3, negatives=2, duration_s=5.0)
    # One clip cut from a longer recording: its duration is end - start, not the file's.
    with open(root / "train_metadata.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    rows[0] += ["start", "end"]
    for row in rows[1:]:
        row += ["", ""]
    rows[1][-2:] = ["1.0", "3.5"]
    with open(root / "train_metadata.csv", "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return root


@pytest.fixture(scope="module")
def run(data: Path, species_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    fit(TrainConfig(data=str(data), out=str(out), species=str(species_file), epochs=2, **TINY))
    return out


def _metadata(data: Path) -> list[dict]:
    with open(data / "train_metadata.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def _table_after(page: str, heading: str) -> list[list[str]]:
    start = page.index(heading)
    table = re.search(r"<table>(.*?)</table>", page[start:], re.S).group(1)
    return [re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row) for row in re.findall(r"<tr>(.*?)</tr>", table)]


def _seconds(data: Path, row: dict) -> float:
    length = sf.info(str(data / "train_audio" / row["filename"])).duration
    start = float(row["start"] or 0.0)
    return (float(row["end"]) if row["end"] else length) - start


def test_report_on_data_and_run(data: Path, run: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    assert main(["report", "--data", str(data), "--run", str(run), "--out", str(out), "--examples", "1"]) == 0
    page = out.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["'](?!data:|#)|<script|<link""", page)  # self-contained
    # Class counts, durations and ratings; training curves; per-class AUC: SVG. Spectrograms: one PNG.
    assert page.count("<svg") == 4
    assert page.count('<img alt="" src="data:image/png;base64,') == 1
    rows = _metadata(data)

    classes = {row[0]: row for row in _table_after(page, "<h3>Clips per class</h3>")[1:]}
    primaries = Counter(row["primary_label"] or "(hard negatives)" for row in rows)
    assert set(classes) == set(primaries)
    for name, count in primaries.items():
        mine = [row for row in rows if (row["primary_label"] or "(hard negatives)") == name]
        assert int(classes[name][1]) == count
        assert float(classes[name][3]) == pytest.approx(sum(_seconds(data, r) for r in mine), abs=0.05)
        assert float(classes[name][4]) == pytest.approx(sum(float(r["rating"]) for r in mine) / len(mine), abs=0.05)
    # One example per class and one hard negative, named in the page.
    assert len(re.findall(r"Example spectrograms", page)) == 1

    log = pd.read_csv(run / "logs" / "version_0" / "metrics.csv")
    epochs = _table_after(page, "<h3>Training curves</h3>")
    assert [int(r[0]) for r in epochs[1:]] == sorted(log["epoch"].unique())
    column = epochs[0].index("val roc auc")
    logged = log.dropna(subset=["val_roc_auc"]).groupby("epoch")["val_roc_auc"].last()
    assert [float(r[column]) for r in epochs[1:]] == pytest.approx(list(logged), abs=1e-4)

    config = TrainConfig.from_dict({**TINY, "data": str(data)})
    _, expected = evaluate(str(run / "checkpoints" / "best.ckpt"), str(data), 0, config.folds, config.seed)
    aucs = {row[0]: row for row in _table_after(page, "<h3>ROC-AUC per class</h3>")[1:]}
    assert list(aucs) == list(SPECIES)
    for record in expected.to_dict("records"):
        assert int(aucs[record["class"]][1]) == record["positives"]
        shown = aucs[record["class"]][2]
        assert (
            shown == "—" if pd.isna(record["roc_auc"]) else float(shown) == pytest.approx(record["roc_auc"], abs=1e-3)
        )


def test_report_without_a_run_and_with_a_saved_auc_table(data: Path, run: Path, tmp_path: Path) -> None:
    out = tmp_path / "data.html"
    assert main(["report", "--data", str(data), "--out", str(out), "--examples", "1"]) == 0
    page = out.read_text(encoding="utf-8")
    assert page.count("<svg") == 2 and "Training curves" not in page and "ROC-AUC per class" not in page

    saved = tmp_path / "run"
    saved.mkdir()
    (saved / "checkpoints").mkdir()
    (saved / "checkpoints" / "best.ckpt").write_bytes((run / "checkpoints" / "best.ckpt").read_bytes())
    table = pd.DataFrame({"class": SPECIES, "positives": range(1, 5), "roc_auc": [0.5, 0.625, 0.75, 0.875]})
    table.to_csv(saved / "per_class_auc.csv", index=False)
    out = tmp_path / "saved.html"
    assert main(["report", "--data", str(data), "--run", str(saved), "--out", str(out), "--examples", "1"]) == 0
    page = out.read_text(encoding="utf-8")
    shown = {row[0]: row for row in _table_after(page, "<h3>ROC-AUC per class</h3>")[1:]}
    for record in table.to_dict("records"):
        assert float(shown[record["class"]][2]) == pytest.approx(record["roc_auc"])
    assert "No training log" in page and page.count("<svg") == 3

    # A run folder without its settings is evaluated on fold 0 of 5, which this small set leaves
    # empty: the page says why there is no table.
    (saved / "per_class_auc.csv").unlink()
    out = tmp_path / "unscored.html"
    assert main(["report", "--data", str(data), "--run", str(saved), "--out", str(out), "--examples", "1"]) == 0
    page = out.read_text(encoding="utf-8")
    assert "not computed:" in page and "fold 0 of 5 has no clips" in page
    assert page.count("<svg") == 2


def test_bad_input_says_why_and_writes_nothing(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "out" / "report.html"
    assert main(["report", "--data", str(empty), "--out", str(out)]) == 2
    assert "train_metadata.csv: not found" in capsys.readouterr().err
    assert main(["report", "--data", str(data), "--run", str(empty), "--out", str(out)]) == 2
    assert "no training log" in capsys.readouterr().err
    assert main(["report", "--data", str(data), "--run", str(tmp_path / "gone"), "--out", str(out)]) == 2
    assert "no such run folder" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "out").exists()
