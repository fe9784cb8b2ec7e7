"""Background mixing, pseudo-labels (hard and soft), self-training rounds and weight averaging."""

from __future__ import annotations

import ast
import csv
import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from tests.synthetic_birds import SPECIES, make_dataset, soundscape
from trainer import train as trainer_train
from trainer.augment import AugmentConfig, mix_background
from trainer.averaging import average_checkpoints, average_states
from trainer.checkpoint import load_checkpoint, read_checkpoint, write_checkpoint
from trainer.cli import build_parser, config_from_args
from trainer.cli import main as cli_main
from trainer.config import TrainConfig
from trainer.data import background as background_module
from trainer.data.background import BackgroundSource
from trainer.data.dataset import ClipDataset
from trainer.data.metadata import DatasetError, load_training_set
from trainer.data.safe_names import child_path, safe_name
from trainer.fit_common import FitResult, load_data
from trainer.frontend import FrontEndConfig
from trainer.model import BirdClassifier, bce_loss, focal_loss
from trainer.pseudo_label import PSEUDO_FILE, PseudoLabelError, pseudo_label, read_pseudo_labels, targets_of
from trainer.rounds import ROUNDS_FILE, fit_rounds

#: A small front end (16 kHz, 32 mels) so that a few training steps take seconds.
SMALL = FrontEndConfig(sample_rate=16000, n_fft=512, hop_length=400, n_mels=32, fmin=300.0, fmax=8000.0)
TINY = {
    "backbone": "test_efficientnet",
    "pretrained": False,
    "batch_size": 8,
    "lr": 3e-3,
    "folds": 3,
    "progress": "none",
    "species": "from-data",
    "frontend": SMALL,
}


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("site")
    data = make_dataset(root / "clips", clips_per_species=4, negatives=2, duration_s=5.0)
    unlabelled = root / "unlabelled"
    unlabelled.mkdir()
    soundscape(unlabelled / "u1.flac", 20.0, [(1.0, "whistle"), (6.0, "upsweep"), (11.0, "pulses")], seed=5)
    soundscape(unlabelled / "u2.ogg", 15.0, [(2.0, "downsweep"), (7.0, "whistle")], seed=6)
    heldout = root / "heldout"
    (heldout / "train_audio").mkdir(parents=True)
    truth = {0: "upsweep", 1: "whistle", 2: "pulses", 3: "downsweep"}
    calls = [(w * 5.0 + 1.5, name) for w, name in truth.items()] + [(w * 5.0 + 3.0, name) for w, name in truth.items()]
    soundscape(heldout / "train_audio" / "h1.wav", 25.0, calls, seed=7)
    rows = [[truth.get(w, ""), "[]", "h1.wav", w * 5.0, w * 5.0 + 5.0] for w in range(5)]
    _write_csv(heldout / "train_metadata.csv", ["primary_label", "secondary_labels", "filename", "start", "end"], rows)
    return {"data": data, "unlabelled": unlabelled, "heldout": heldout, "root": root}


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _snr_db(clean: np.ndarray, mixed: np.ndarray) -> float:
    return 10 * np.log10(np.mean(clean.astype(np.float64) ** 2) / np.mean((mixed - clean).astype(np.float64) ** 2))


def test_background_is_mixed_at_an_snr_in_the_range(site, monkeypatch: pytest.MonkeyPatch) -> None:
    source = BackgroundSource.from_folder(site["unlabelled"], SMALL)
    reads: list[int] = []
    real_read = background_module.read_segment
    monkeypatch.setattr(
        background_module, "read_segment", lambda path, start, n: reads.append(n) or real_read(path, start, n)
    )
    rng = np.random.default_rng(0)
    wave = (np.sin(np.arange(SMALL.context_samples) * 0.3) * 0.1).astype(np.float32)
    ratios = []
    for _ in range(20):
        excerpt = source.excerpt(len(wave), rng)
        assert excerpt.shape == wave.shape and excerpt.std() > 0
        mixed = mix_background(wave, excerpt, (3.0, 12.0), rng)
        assert mixed.shape == wave.shape and mixed.dtype == np.float32
        ratios.append(_snr_db(wave, mixed))
    assert min(ratios) >= 3.0 - 1e-6 and max(ratios) <= 12.0 + 1e-6
    assert max(ratios) - min(ratios) > 3.0  # drawn from the range, not one value
    # Each excerpt read only the samples it needs (the recordings are 15 and 20 s long): streamed.
    file_rate = 32000
    assert max(reads) == int(np.ceil(SMALL.context_samples * file_rate / SMALL.sample_rate))
    np.testing.assert_allclose(_snr_db(wave, mix_background(wave, excerpt, (6.0, 6.0), rng)), 6.0, atol=1e-4)


def test_background_changes_training_inputs_and_keeps_their_shape(site) -> None:
    training_set = load_training_set(site["data"], None)
    source = BackgroundSource.from_folder(site["unlabelled"], SMALL)
    targets = training_set.targets()

    def first_item(background_p: float) -> tuple[torch.Tensor, torch.Tensor]:
        augment = AugmentConfig.none().__class__(**{**AugmentConfig.none().as_dict(), "background_p": background_p})
        dataset = ClipDataset(training_set.clips, targets, SMALL, True, augment, background=source)
        torch.manual_seed(3)
        return dataset[0]

    plain, mixed = first_item(0.0), first_item(1.0)
    assert plain[0].shape == mixed[0].shape == (1, SMALL.n_mels, SMALL.frames)
    assert not torch.allclose(plain[0], mixed[0])
    torch.testing.assert_close(plain[1], mixed[1])  # the targets stay those of the clip


def test_bad_background_folders_are_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not found"):
        BackgroundSource.from_folder(tmp_path / "missing", SMALL)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match=r"empty: no audio files"):
        BackgroundSource.from_folder(tmp_path / "empty", SMALL)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "broken.wav").write_bytes(b"RIFF not audio")
    with pytest.raises(DatasetError, match=r"broken\.wav: cannot be read"):
        BackgroundSource.from_folder(tmp_path / "bad", SMALL)
    with pytest.raises(DatasetError, match="none of its 1 audio files can be read"):
        BackgroundSource.from_folder(tmp_path / "bad", SMALL, skip_bad=True)


def test_a_list_of_recordings_serves_as_background_and_as_audio(site, tmp_path: Path) -> None:
    """birdview passes its project's unlabelled recordings as a .txt list (they lie in many folders)."""
    from trainer.inference import expand_audio

    listing = tmp_path / "unlabelled.txt"
    u1, u2 = site["unlabelled"] / "u1.flac", site["unlabelled"] / "u2.ogg"
    (tmp_path / "near.flac").write_bytes(u1.read_bytes())
    listing.write_text(f"# the project's unlabelled recordings\n{u2}\n\nnear.flac\n", encoding="utf-8")
    source = BackgroundSource.from_folder(listing, SMALL)
    assert [f.path for f in source.files] == [u2, tmp_path / "near.flac"]
    assert [round(f.frames / f.rate) for f in source.files] == [15, 20]
    assert expand_audio([listing, u1]) == [u2, tmp_path / "near.flac", u1]
    listing.write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"unlabelled\.txt: names no recording"):
        BackgroundSource.from_folder(listing, SMALL)
    listing.write_text(f"{tmp_path / 'gone.wav'}\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"gone\.wav: cannot be read"):
        BackgroundSource.from_folder(listing, SMALL)


def test_soft_targets_and_weights_reach_the_loss(tmp_path: Path) -> None:
    data = make_dataset(tmp_path / "d", clips_per_species=1, negatives=1, duration_s=5.0)
    frame = pd.read_csv(data / "train_metadata.csv", dtype=str, keep_default_na=False)
    frame["soft_labels"] = ["{'upsweep': 0.8, 'whistle': 0.25}", "", "", "", "{'pulses': 0.4}"]
    frame["weight"] = ["0.5", "", "", "", "2"]
    frame.to_csv(data / "train_metadata.csv", index=False)
    training_set = load_training_set(data, list(SPECIES))
    targets, weights = training_set.targets(), training_set.weights()
    upsweep, pulses, whistle = SPECIES.index("upsweep"), SPECIES.index("pulses"), SPECIES.index("whistle")
    assert targets[0, upsweep] == pytest.approx(0.8) and targets[0, whistle] == pytest.approx(0.25)
    np.testing.assert_allclose(targets[4], [0.4 if k == pulses else 0.0 for k in range(len(SPECIES))], rtol=1e-6)
    assert weights.tolist() == [0.5, 1.0, 1.0, 1.0, 2.0]

    dataset = ClipDataset(training_set.clips, targets, SMALL, True, AugmentConfig.none(), weights=weights)
    _, target, weight = dataset[0]
    torch.testing.assert_close(target, torch.from_numpy(targets[0]))
    assert float(weight) == 0.5
    # Mixup mixes the loss weights as it mixes the targets: the weight-2 clip mixed with others.
    mixing = dataclasses.replace(AugmentConfig.none(), mixup_p=1.0)
    mixed = ClipDataset(training_set.clips, targets, SMALL, True, mixing, weights=weights)
    drawn = [float(mixed[4][2]) for _ in range(6)]
    assert all(0.5 <= w <= 2.0 for w in drawn) and min(drawn) < 1.99

    logits = torch.tensor([[0.3, -1.0, 2.0, 0.0], [1.0, 1.0, -2.0, 0.5]])
    y = torch.tensor([[0.8, 0.0, 0.25, 0.0], [0.0, 0.4, 0.0, 1.0]])
    p = torch.sigmoid(logits)
    cells = -(y * torch.log(p) + (1 - y) * torch.log(1 - p))
    torch.testing.assert_close(bce_loss(logits, y), cells.mean())
    w = torch.tensor([0.5, 2.0])
    torch.testing.assert_close(bce_loss(logits, y, w), (cells.mean(dim=1) * w).mean())
    p_t = p * y + (1 - p) * (1 - y)
    torch.testing.assert_close(focal_loss(logits, y, w), (((1 - p_t) ** 2 * cells).mean(dim=1) * w).mean())


def _tiny_state(seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    model = BirdClassifier(len(SPECIES), backbone="test_efficientnet", pretrained=False)
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    for value in state.values():
        if value.is_floating_point():
            value.normal_()
        else:
            value.fill_(seed)
    return state


def test_averaged_weights_equal_the_mean_of_the_checkpoints(tmp_path: Path) -> None:
    config = TrainConfig(data="-", backbone="test_efficientnet", pretrained=False, frontend=SMALL).as_dict()
    states = [_tiny_state(seed) for seed in (1, 2, 3)]
    paths = [write_checkpoint(tmp_path / f"{i}.ckpt", s, config, list(SPECIES)) for i, s in enumerate(states)]
    out = average_checkpoints(paths, tmp_path / "mean.ckpt")
    averaged = read_checkpoint(out)["state_dict"]
    for key, value in averaged.items():
        if value.is_floating_point():
            expected = (states[0][key].double() + states[1][key].double() + states[2][key].double()) / 3
            torch.testing.assert_close(value, expected.to(value.dtype))
        else:
            assert torch.equal(value, states[2][key])  # counts: the last checkpoint's
    loaded = load_checkpoint(out)  # an ordinary checkpoint: predict, evaluate and export take it
    assert loaded.classes == list(SPECIES) and loaded.frontend == SMALL
    other = write_checkpoint(tmp_path / "other.ckpt", _tiny_state(4), config, ["a", "b", "c", "d"])
    with pytest.raises(ValueError, match="class list differs"):
        average_checkpoints([paths[0], other], tmp_path / "bad.ckpt")
    with pytest.raises(ValueError, match="nothing to average"):
        average_states([])


def test_ema_checkpoint_holds_the_moving_average_of_the_weights(site, tmp_path: Path, monkeypatch) -> None:
    """``fit --ema 0.5``: the checkpoint's weights are the exponential moving average of the
    weights after each optimiser step (the first step's taken as they are), not the last step's."""
    from trainer import averaging

    steps: list[dict[str, torch.Tensor]] = []

    class Recording(averaging.WeightAveraging):
        def on_train_batch_end(self, trainer, pl_module, *args) -> None:
            steps.append({k: v.detach().clone() for k, v in pl_module.state_dict().items()})
            super().on_train_batch_end(trainer, pl_module, *args)

    def recording_ema(decay: float):
        return Recording(multi_avg_fn=averaging.get_ema_multi_avg_fn(decay))

    monkeypatch.setattr(trainer_train, "ema_callback", recording_ema)
    config = TrainConfig(
        data=str(site["data"]), out=str(tmp_path / "ema"), epochs=3, patience=9, ema_decay=0.5, seed=1, **TINY
    )
    result = trainer_train.fit(config)
    assert len(steps) >= 2
    saved = read_checkpoint(result.last_checkpoint)
    weights = [k for k, v in steps[-1].items() if v.is_floating_point()]
    for key in weights:
        expected = steps[0][key].clone()
        for state in steps[1:]:
            expected = 0.5 * expected + 0.5 * state[key]
        torch.testing.assert_close(saved["state_dict"][key], expected, rtol=1e-4, atol=1e-5)
    moved = [k for k in weights if not torch.allclose(steps[-1][k], saved["state_dict"][k])]
    assert moved, "the checkpoint holds the last step's weights, not their average"
    assert load_checkpoint(result.last_checkpoint).classes == sorted(SPECIES)  # an ordinary checkpoint


def test_safe_names_stay_inside_the_folder(tmp_path: Path) -> None:
    for code in ("../../etc", "a/b\\c", "..", "", "CON", "nul.txt", "x" * 300):
        name = safe_name(code)
        assert "/" not in name and "\\" not in name and name not in (".", "..")
        assert child_path(tmp_path, code, "file.flac").resolve().is_relative_to(tmp_path.resolve())
    assert safe_name("amerob") == "amerob" and safe_name("../x") != safe_name("x")


@pytest.fixture(scope="module")
def rounds(site, tmp_path_factory) -> tuple[Path, list]:
    """Two pseudo-label rounds on the tiny site, with background mixing, background negatives
    and averaging of the last two epochs (the threshold is low: the models train a few steps)."""
    out = tmp_path_factory.mktemp("rounds")
    config = TrainConfig(
        data=str(site["data"]),
        out=str(out),
        epochs=2,
        patience=5,
        background_dir=str(site["unlabelled"]),
        background_negatives=4,
        rounds=2,
        pseudo_threshold=0.2,
        eval_data=str(site["heldout"]),
        average_last=2,
        seed=1,
        **TINY,
    )
    _, records = fit_rounds(config)
    return out, records


def test_two_rounds_report_held_out_auc_per_round(rounds) -> None:
    out, records = rounds
    saved = json.loads((out / ROUNDS_FILE).read_text())
    assert [r["round"] for r in saved] == [0, 1, 2] == [r.round for r in records]
    for record in saved:
        assert 0.0 <= record["eval_roc_auc"] <= 1.0 and 0.0 <= record["val_roc_auc"] <= 1.0
        assert Path(record["checkpoint"]).name == "averaged.ckpt" and Path(record["checkpoint"]).exists()
        assert record["seconds"] > 0
    assert saved[0]["windows_kept"] == 0
    assert all(0 < r["windows_kept"] <= r["windows_scored"] == 7 for r in saved[1:])  # 4 + 3 windows
    print("held-out ROC-AUC per round:", [round(r["eval_roc_auc"], 3) for r in saved])


def test_averaged_model_of_a_run_is_the_mean_of_its_last_epochs(rounds) -> None:
    out, _ = rounds
    folder = out / "round0" / "checkpoints"
    epochs = sorted(folder.glob("epoch-*.ckpt"))
    assert [p.name for p in epochs] == ["epoch-0.ckpt", "epoch-1.ckpt"]
    states = [read_checkpoint(p)["state_dict"] for p in epochs]
    averaged = read_checkpoint(folder / "averaged.ckpt")["state_dict"]
    key = "model.classifier.weight"
    torch.testing.assert_close(averaged[key], (states[0][key] + states[1][key]) / 2)


def test_pseudo_label_folder_round_trips_through_fit(rounds, site) -> None:
    out, records = rounds
    folder = out / "round1" / "pseudo"
    metadata = pd.read_csv(folder / "train_metadata.csv", dtype=str, keep_default_na=False)
    assert len(metadata) == records[1].windows_kept
    summary = json.loads((folder / PSEUDO_FILE).read_text())
    assert summary["classes"] == sorted(SPECIES) and summary["threshold"] == 0.2
    for name in metadata["filename"]:
        assert (folder / "train_audio" / name).exists()
    # What round 1 trained on: the labelled clips, then the pseudo-labels, each with fold -1 and weight 1.
    round_config = TrainConfig.from_dict(yaml.safe_load((out / "round1" / "config.yaml").read_text()))
    assert round_config.pseudo == [str(folder)]
    training_set = load_data(round_config)
    labelled = len(load_training_set(site["data"], None).clips)
    pseudo = training_set.clips[labelled:]
    assert len(pseudo) == len(metadata) and all(c.fold == -1 and c.weight == 1.0 for c in pseudo)
    targets = training_set.targets()[labelled:]
    first = metadata.iloc[0]
    assert targets[0, training_set.classes.index(first["primary_label"])] == 1.0
    assert (training_set.folds(3, 1)[labelled:] == -1).all()


def test_pseudo_labels_of_another_model_are_refused(rounds, site, tmp_path: Path) -> None:
    out, _ = rounds
    folder = out / "round1" / "pseudo"
    with pytest.raises(DatasetError, match="other classes"):
        read_pseudo_labels(folder, ["downsweep", "pulses", "upsweep"], SMALL)
    with pytest.raises(DatasetError, match=r"another front end \(n_mels"):
        read_pseudo_labels(folder, sorted(SPECIES), SMALL.with_changes(n_mels=64))
    config = TrainConfig(data=str(site["data"]), out=str(tmp_path / "r"), pseudo=[str(folder)], **TINY)
    config.frontend = FrontEndConfig()
    with pytest.raises(DatasetError, match="another front end"):
        load_data(config)


def test_soft_pseudo_labels_and_nothing_above_the_threshold(
    rounds, site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, records = rounds
    checkpoint = records[0].checkpoint
    soft = pseudo_label([checkpoint], [site["unlabelled"]], tmp_path / "soft", soft=True, power=2.0)
    assert soft.windows_kept == soft.windows_scored == 7
    table = pd.read_csv(tmp_path / "soft" / "train_metadata.csv", dtype=str, keep_default_na=False)
    values = [v for text in table["soft_labels"] for v in ast.literal_eval(text).values()]
    assert values and all(0.0 < v < 1.0 for v in values)
    read = read_pseudo_labels(tmp_path / "soft", sorted(SPECIES), SMALL, weight=0.5)
    assert all(c.weight == 0.5 and c.soft for c in read.clips)
    with pytest.raises(PseudoLabelError, match=r"no window of the 7 scored in 2 recording\(s\) has a score at"):
        pseudo_label([checkpoint], [site["unlabelled"]], tmp_path / "none", threshold=0.9999)
    # Round 0's model is the one above (no training here); round 1 finds nothing and says which round.
    monkeypatch.setattr(trainer_train, "fit", lambda config, stream=None: FitResult(Path(checkpoint), None, {}, []))
    config = TrainConfig(
        data=str(site["data"]),
        out=str(tmp_path / "r"),
        rounds=1,
        unlabelled=str(site["unlabelled"]),
        pseudo_threshold=0.9999,
        **TINY,
    )
    with pytest.raises(PseudoLabelError, match="round 1 of 1: no window"):
        fit_rounds(config)
    assert [r["round"] for r in json.loads((tmp_path / "r" / ROUNDS_FILE).read_text())] == [0]


def test_cli_pseudo_label_and_average(rounds, site, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out, records = rounds
    code = cli_main(
        [
            "pseudo-label",
            "--checkpoint",
            records[0].checkpoint,
            "--audio",
            str(site["unlabelled"]),
            "--out",
            str(tmp_path / "pl"),
            "--threshold",
            "0.2",
        ]
    )
    assert code == 0 and (tmp_path / "pl" / "train_metadata.csv").exists()
    epochs = [str(p) for p in sorted((out / "round0" / "checkpoints").glob("epoch-*.ckpt"))]
    assert cli_main(["average", "--checkpoint", *epochs, "--out", str(tmp_path / "avg.ckpt")]) == 0
    code = cli_main(
        [
            "fit",
            "--data",
            str(site["data"]),
            "--out",
            str(tmp_path / "f"),
            "--background-dir",
            str(tmp_path / "nothing"),
            "--no-pretrained",
            "--species",
            "from-data",
        ]
    )
    assert code == 2 and "background folder" in capsys.readouterr().err


def test_fit_flags_for_several_folders_background_and_averaging() -> None:
    args = build_parser().parse_args(
        ["fit", "--data", "A", "--data", "B", "--pseudo", "P", "--pseudo-weight", "0.5", "--background-dir", "BG",
         "--background-p", "0.7", "--background-snr", "-3", "9", "--background-as-negatives", "--average-last", "3"]
    )  # fmt: skip
    config = config_from_args(args)
    assert (config.data, config.more_data, config.pseudo, config.pseudo_weight) == ("A", ["B"], ["P"], 0.5)
    assert (config.background_dir, config.background_negatives, config.average_last) == ("BG", -1, 3)
    assert (config.augment.background_p, config.augment.background_snr_db) == (0.7, (-3.0, 9.0))
    config.validate()
    args = build_parser().parse_args(["fit", "--data", "A", "--average-last", "2", "--ema", "0.99"])
    with pytest.raises(ValueError, match="choose one"):
        config_from_args(args).validate()


def test_hard_targets_threshold_and_the_share_a_class_may_take() -> None:
    scores = np.array([[0.9, 0.1], [0.8, 0.6], [0.7, 0.2], [0.6, 0.1]])
    hard, kept = targets_of(scores, 0.5, soft=False, power=1.0)
    assert hard.tolist() == [[1, 0], [1, 1], [1, 0], [1, 0]] and kept.tolist() == [0, 1, 2, 3]
    # A class called in every window keeps only its top half; windows left with nothing are dropped.
    hard, kept = targets_of(scores, 0.5, soft=False, power=1.0, max_share=0.5)
    assert hard.tolist() == [[1, 0], [1, 1], [0, 0], [0, 0]] and kept.tolist() == [0, 1]
    soft, kept = targets_of(scores, 0.5, soft=True, power=2.0)
    np.testing.assert_allclose(soft, scores**2)
    assert kept.tolist() == [0, 1, 2, 3]
