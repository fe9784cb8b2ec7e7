"""Training, checkpoints, inference, ONNX and the birdview-train CLI on a generated dataset."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from tests.synthetic_birds import SPECIES, make_dataset, soundscape
from trainer.checkpoint import CheckpointError, load_checkpoint, read_checkpoint
from trainer.config import TrainConfig
from trainer.inference import TorchScorer, predict, write_submission
from trainer.model import BirdClassifier, PretrainedWeightsError
from trainer.onnx_export import OnnxScorer, export_onnx
from trainer.train import fit

TINY = {
    "backbone": "test_efficientnet",
    "pretrained": False,
    "batch_size": 8,
    "lr": 3e-3,
    "folds": 4,
    "num_workers": 0,
    "progress": "none",
}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("birds"), clips_per_species=10, negatives=6)


@pytest.fixture(scope="module")
def trained(data: Path, species_file: Path, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    config = TrainConfig(data=str(data), out=str(out), species=str(species_file), epochs=10, patience=10, **TINY)
    return fit(config)


def test_short_fit_from_scratch_separates_the_species(trained) -> None:
    assert trained.metrics["val_roc_auc"] >= 0.9
    assert trained.best_checkpoint.exists() and trained.last_checkpoint.exists()


def test_checkpoint_carries_front_end_and_classes(trained) -> None:
    loaded = load_checkpoint(trained.best_checkpoint)
    assert loaded.classes == list(SPECIES)
    assert loaded.frontend.n_fft == 2048 and loaded.frontend.hop_length == 512
    assert loaded.frontend.n_mels == 128 and (loaded.frontend.fmin, loaded.frontend.fmax) == (300.0, 16000.0)
    assert loaded.config["backbone"] == "test_efficientnet"


def test_prediction_finds_calls_where_they_are(trained, tmp_path: Path) -> None:
    path = soundscape(
        tmp_path / "S1.wav", 30.0, [(6.0, "whistle"), (7.5, "whistle"), (21.0, "upsweep"), (22.0, "upsweep")]
    )
    table, skipped = predict([path], [TorchScorer(trained.best_checkpoint)])
    assert skipped == []
    assert list(table["row_id"]) == [f"S1_{s}" for s in (5, 10, 15, 20, 25, 30)]
    whistle = table["whistle"].to_numpy()
    upsweep = table["upsweep"].to_numpy()
    assert whistle.argmax() == 1 and upsweep.argmax() == 4
    assert whistle[1] > whistle[[0, 2, 3, 5]].max() and upsweep[4] > upsweep[[0, 1, 2, 3, 5]].max()


def test_submission_format_is_exactly_kaggles(trained, tmp_path: Path) -> None:
    path = soundscape(tmp_path / "XC123.ogg", 240.0, [])
    table, _ = predict([path], [TorchScorer(trained.best_checkpoint)], batch_size=16)
    out = write_submission(table, list(SPECIES), tmp_path / "submission.csv")
    submission = pd.read_csv(out)
    assert list(submission.columns) == ["row_id", *SPECIES]
    assert len(submission) == 48
    assert submission["row_id"].iloc[0] == "XC123_5" and submission["row_id"].iloc[-1] == "XC123_240"
    assert ((submission[list(SPECIES)] >= 0) & (submission[list(SPECIES)] <= 1)).all().all()


def test_tta_smoothing_and_min_ensemble(trained, tmp_path: Path) -> None:
    path = soundscape(tmp_path / "S2.wav", 20.0, [(6.0, "pulses")])
    scorer = TorchScorer(trained.best_checkpoint)
    plain, _ = predict([path], [scorer])
    shifted, _ = predict([path], [scorer], shifts=(0.0, -1.0, 1.0))
    smoothed, _ = predict([path], [scorer], smoothing=True)
    both, _ = predict([path], [scorer, scorer], ensemble="min")
    classes = list(SPECIES)
    assert not np.allclose(plain[classes], shifted[classes])
    assert smoothed["pulses"].std() < plain["pulses"].std()
    np.testing.assert_allclose(both[classes], plain[classes], rtol=1e-6)


@pytest.mark.parametrize("engine, source", [("onnxruntime", "onnx"), ("openvino", "ckpt"), ("openvino", "onnx")])
def test_other_engines_equal_pytorch(trained, tmp_path: Path, engine: str, source: str) -> None:
    from trainer.inference import load_scorer

    path = trained.best_checkpoint if source == "ckpt" else export_onnx(trained.best_checkpoint, tmp_path / "m.onnx")
    torch_scorer, scorer = TorchScorer(trained.best_checkpoint), load_scorer(path, threads=2, engine=engine)
    assert isinstance(scorer, OnnxScorer) == (engine == "onnxruntime")
    assert scorer.classes == torch_scorer.classes and scorer.frontend == torch_scorer.frontend
    if engine == "openvino":
        assert scorer.used_precision == "fp32"
    mels = np.random.default_rng(1).standard_normal((5, 1, 128, 313)).astype(np.float32)
    np.testing.assert_allclose(scorer.logits(mels), torch_scorer.logits(mels), atol=1e-4)
    audio = soundscape(tmp_path / "S3.wav", 15.0, [(2.0, "downsweep"), (7.0, "whistle")])
    a, _ = predict([audio], [torch_scorer])
    b, _ = predict([audio], [scorer])
    np.testing.assert_allclose(a[list(SPECIES)], b[list(SPECIES)], atol=1e-4)


def test_openvino_bf16_keeps_the_ranking(trained, tmp_path: Path) -> None:
    from trainer.openvino_backend import OpenVinoScorer, bf16_supported

    scorer = OpenVinoScorer(trained.best_checkpoint, threads=2, precision="bf16")
    assert scorer.used_precision == ("bf16" if bf16_supported() else "fp32")
    calls = [(1.0, "upsweep"), (6.0, "downsweep"), (11.0, "pulses"), (16.0, "whistle")]
    audio = soundscape(tmp_path / "S5.wav", 20.0, calls)
    exact, _ = predict([audio], [TorchScorer(trained.best_checkpoint)])
    rounded, _ = predict([audio], [scorer])
    classes = list(SPECIES)
    assert np.abs(exact[classes].to_numpy() - rounded[classes].to_numpy()).max() < 0.05
    assert (exact[classes].to_numpy().argmax(1) == rounded[classes].to_numpy().argmax(1)).all()


def test_resume_continues_from_the_last_checkpoint(data: Path, species_file: Path, tmp_path: Path) -> None:
    common = dict(data=str(data), out=str(tmp_path), species=str(species_file), patience=10, **TINY)
    fit(TrainConfig(epochs=1, **common))
    first = read_checkpoint(tmp_path / "checkpoints" / "last.ckpt")
    assert first["epoch"] == 0
    fit(TrainConfig(epochs=3, resume=True, **common))
    resumed = read_checkpoint(tmp_path / "checkpoints" / "last.ckpt")
    assert resumed["epoch"] == 2 and resumed["global_step"] > first["global_step"]


def test_init_from_grows_the_head_and_keeps_old_classes(trained, data: Path, tmp_path: Path) -> None:
    species = tmp_path / "more.txt"
    species.write_text("\n".join([*SPECIES, "newbird"]) + "\n")
    config = TrainConfig(
        data=str(data),
        out=str(tmp_path / "grown"),
        species=str(species),
        epochs=1,
        init_from=str(trained.best_checkpoint),
        freeze_backbone=True,
        **TINY,
    )
    config.lr = 1e-12  # nothing moves: what we see is what was copied
    result = fit(config)
    old, new = load_checkpoint(trained.best_checkpoint), load_checkpoint(result.last_checkpoint)
    assert new.classes == [*SPECIES, "newbird"]
    torch.testing.assert_close(new.model.classifier.weight[:4], old.model.classifier.weight, atol=1e-6, rtol=0)
    for name, parameter in old.model.backbone.state_dict().items():
        torch.testing.assert_close(new.model.backbone.state_dict()[name], parameter)


def test_head_only_quick_mode(trained, data: Path, species_file: Path, tmp_path: Path) -> None:
    config = TrainConfig(
        data=str(data),
        out=str(tmp_path),
        species=str(species_file),
        epochs=30,
        init_from=str(trained.best_checkpoint),
        head_only=True,
        **TINY,
    )
    result = fit(config)
    assert result.metrics["val_roc_auc"] >= 0.85
    new, old = load_checkpoint(result.best_checkpoint), load_checkpoint(trained.best_checkpoint)
    for name, parameter in old.model.backbone.state_dict().items():
        torch.testing.assert_close(new.model.backbone.state_dict()[name], parameter)


def test_offline_pretrained_request_says_what_to_do() -> None:
    with pytest.raises(PretrainedWeightsError, match="--no-pretrained"):
        BirdClassifier(3, backbone="test_efficientnet.r160_in1k", pretrained=True)


def test_bad_checkpoint_is_named(tmp_path: Path) -> None:
    (tmp_path / "x.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"x.ckpt: not a readable checkpoint"):
        load_checkpoint(tmp_path / "x.ckpt")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trainer.cli", *args], capture_output=True, text=True, timeout=600)


def strict_json(line: str) -> dict:
    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON: {line}")

    return json.loads(line, parse_constant=refuse)


def test_cli_fit_with_json_progress_then_predict_evaluate_export(
    data: Path, species_file: Path, tmp_path: Path
) -> None:
    fit_run = _cli(
        "fit",
        "--data",
        str(data),
        "--out",
        str(tmp_path / "run"),
        "--species",
        str(species_file),
        "--epochs",
        "2",
        "--backbone",
        "test_efficientnet",
        "--no-pretrained",
        "--batch-size",
        "8",
        "--folds",
        "4",
        "--progress",
        "json",
        "--scheduler",
        "onecycle",
        "--loss",
        "ce",
    )
    assert fit_run.returncode == 0, fit_run.stderr
    lines = fit_run.stdout.strip().splitlines()
    records = [strict_json(line) for line in lines if line.startswith("{")]
    train_steps = [r for r in records if r["stage"] == "train" and "loss" in r]
    assert train_steps and all({"epoch", "step", "total", "loss", "eta_s"} <= set(r) for r in train_steps)
    assert [r["epoch"] for r in records if r["stage"] == "validate"] == [0, 1]
    assert records[-1]["stage"] == "done"
    checkpoint = lines[-1]
    assert Path(checkpoint).exists()

    audio = soundscape(tmp_path / "S9.wav", 12.0, [(1.0, "whistle")])
    predict_run = _cli(
        "predict",
        "--checkpoint",
        checkpoint,
        "--audio",
        str(audio),
        "--out",
        str(tmp_path / "p.parquet"),
        "--submission",
        str(tmp_path / "submission.csv"),
    )
    assert predict_run.returncode == 0, predict_run.stderr
    assert len(pd.read_parquet(tmp_path / "p.parquet")) == 3
    assert list(pd.read_csv(tmp_path / "submission.csv")["row_id"]) == ["S9_5", "S9_10", "S9_15"]

    evaluate_run = _cli("evaluate", "--checkpoint", checkpoint, "--data", str(data), "--out", str(tmp_path / "a.csv"))
    assert evaluate_run.returncode == 0, evaluate_run.stderr
    metrics = strict_json(evaluate_run.stdout.strip().splitlines()[-1])
    assert metrics["clips"] == 46 and 0 <= metrics["roc_auc"] <= 1
    assert metrics["top5"] is None  # four classes: top-5 accuracy is undefined, null rather than NaN
    assert list(pd.read_csv(tmp_path / "a.csv")["class"]) == list(SPECIES)

    export_run = _cli("export", "--checkpoint", checkpoint, "--out", str(tmp_path / "m.onnx"))
    assert export_run.returncode == 0, export_run.stderr
    assert (tmp_path / "m.onnx").stat().st_size > 10_000

    for engine, out in (("onnxruntime", "ort.csv"), ("openvino", "ov.csv")):
        args = ["--engine", engine] + (["--precision", "bf16"] if engine == "openvino" else [])
        model, table = str(tmp_path / "m.onnx"), str(tmp_path / out)
        run = _cli("predict", "--checkpoint", model, "--audio", str(audio), "--out", table, *args)
        assert run.returncode == 0, run.stderr
    exact, rounded = pd.read_parquet(tmp_path / "p.parquet"), pd.read_csv(tmp_path / "ov.csv")
    assert np.abs(exact[list(SPECIES)].to_numpy() - rounded[list(SPECIES)].to_numpy()).max() < 0.05
    np.testing.assert_allclose(pd.read_csv(tmp_path / "ort.csv")[list(SPECIES)], exact[list(SPECIES)], atol=1e-4)


def test_cli_reports_bad_input_clearly(data: Path, tmp_path: Path) -> None:
    run = _cli("fit", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o"), "--no-pretrained")
    assert run.returncode == 2
    assert "nowhere/train_metadata.csv: not found" in run.stderr
    run = _cli("predict", "--checkpoint", str(tmp_path / "none.ckpt"), "--audio", "x.wav", "--out", "o.csv")
    assert run.returncode == 2 and "none.ckpt: checkpoint not found" in run.stderr
    run = _cli("predict", "--checkpoint", "m.onnx", "--engine", "torch", "--audio", "x.wav", "--out", "o.csv")
    assert run.returncode == 2 and "m.onnx: the torch engine needs a checkpoint (.ckpt)" in run.stderr
    (tmp_path / "broken.onnx").write_bytes(b"\x08\x07not a model")
    run = _cli("predict", "--checkpoint", str(tmp_path / "broken.onnx"), "--audio", "x.wav", "--out", "o.csv")
    assert run.returncode == 2 and "broken.onnx: not a loadable ONNX model" in run.stderr
    bf16_on_torch = ("--engine", "torch", "--precision", "bf16")
    run = _cli("predict", "--checkpoint", "m.ckpt", *bf16_on_torch, "--audio", "x.wav", "--out", "o.csv")
    assert run.returncode == 2 and "precision bf16 needs the openvino or cuda engine, not torch" in run.stderr
    if not torch.cuda.is_available():
        run = _cli("predict", "--checkpoint", "m.ckpt", "--engine", "cuda", "--audio", "x.wav", "--out", "o.csv")
        assert run.returncode == 2 and "the cuda engine needs a CUDA GPU, and PyTorch sees none here" in run.stderr
    run = _cli("fit", "--data", str(data), "--out", str(tmp_path / "o"), "--no-pretrained", "--progress", "json")
    assert run.returncode == 2  # the 182 BirdCLEF species do not include the generated ones
    error = json.loads(run.stdout.strip().splitlines()[-1])
    assert error["stage"] == "error" and "unknown species 'upsweep'" in error["message"]


def test_predict_skip_bad_lists_what_was_skipped(trained, tmp_path: Path) -> None:
    good = soundscape(tmp_path / "good.wav", 5.0, [])
    (tmp_path / "bad.wav").write_bytes(b"RIFF....WAVEjunk")
    table, skipped = predict(
        [good, tmp_path / "bad.wav", tmp_path / "gone.wav"], [TorchScorer(trained.best_checkpoint)], skip_bad=True
    )
    assert len(table) == 1
    assert any("bad.wav: cannot be read" in s for s in skipped) and any(
        "gone.wav: file not found" in s for s in skipped
    )


@pytest.mark.parametrize("logger", ["tensorboard", "wandb"])
def test_other_loggers_work_offline(data: Path, species_file: Path, tmp_path: Path, logger: str, monkeypatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    config = TrainConfig(data=str(data), out=str(tmp_path), species=str(species_file), epochs=1, logger=logger, **TINY)
    fit(config)
    if logger == "tensorboard":
        assert list(tmp_path.rglob("events.out.tfevents.*"))
    else:
        assert list((tmp_path / "wandb").glob("offline-run-*"))


def test_plateau_schedule_and_rating_filter(data: Path, species_file: Path, tmp_path: Path) -> None:
    config = TrainConfig(
        data=str(data),
        out=str(tmp_path),
        species=str(species_file),
        epochs=2,
        scheduler="plateau",
        min_rating=4.0,
        **TINY,
    )
    result = fit(config)
    assert result.best_checkpoint.exists()
    from trainer.data.metadata import load_training_set

    kept = load_training_set(data, list(SPECIES), min_rating=4.0)
    everything = load_training_set(data, list(SPECIES))
    assert 0 < len(kept.clips) < len(everything.clips)
    assert all(c.rating is None or c.rating >= 4.0 for c in kept.clips)


def test_the_same_seed_trains_the_same_model(data: Path, species_file: Path, tmp_path: Path) -> None:
    runs = []
    for name in ("a", "b"):
        config = TrainConfig(
            data=str(data), out=str(tmp_path / name), species=str(species_file), epochs=1, seed=7, **TINY
        )
        runs.append(load_checkpoint(fit(config).last_checkpoint).model.classifier.weight)
    torch.testing.assert_close(runs[0], runs[1])
