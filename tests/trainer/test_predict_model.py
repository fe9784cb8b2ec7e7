"""``birdview-train predict --model``: pretrained model kinds from the command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.trainer.perch_standin import write_standin
from trainer.cli import main

SONG = Path(__file__).resolve().parents[2] / "assets" / "demo" / "source" / "birds_10s.wav"


def test_predict_with_birdnet_writes_windows_and_embeddings(tmp_path: Path) -> None:
    pytest.importorskip("ai_edge_litert", reason="the birdnet extra is not installed")
    out, embeddings = tmp_path / "birdnet.csv", tmp_path / "emb.npz"
    code = main(
        ["predict", "--model", "birdnet", "--audio", str(SONG), "--out", str(out), "--embeddings", str(embeddings)]
    )
    assert code == 0
    table = pd.read_csv(out)
    # 10.1 s in 3 s windows: 0, 3, 6, 9 (the last zero-padded)
    assert table["start_s"].tolist() == [0.0, 3.0, 6.0, 9.0] and len(table.columns) == 4 + 6522
    assert table.loc[1, "tenwar"] == table.iloc[1, 4:].astype(float).max() > 0.5
    with np.load(embeddings) as saved:
        assert saved["file0"].shape == (4, 1024) and saved["files"].tolist() == [str(SONG)]


def test_predict_with_perch_needs_its_file_and_honours_overlap(tmp_path: Path, capsys) -> None:
    assert main(["predict", "--model", "perch-v2", "--audio", str(SONG), "--out", str(tmp_path / "x.csv")]) == 2
    assert "perch-v2 needs its model file" in capsys.readouterr().err
    model, _ = write_standin(tmp_path / "perch")
    out = tmp_path / "perch.csv"
    args = ["predict", "--model", "perch-v2", "--model-file", str(model), "--audio", str(SONG), "--out", str(out)]
    assert main([*args, "--overlap", "0.5"]) == 0
    table = pd.read_csv(out)
    assert table["start_s"].tolist() == [0.0, 2.5, 5.0, 7.5] and table["end_s"].tolist() == [5.0, 7.5, 10.0, 12.5]
    assert main([*args, "--overlap", "1.0"]) == 2
    assert "overlap must be at least 0 and below 1" in capsys.readouterr().err
