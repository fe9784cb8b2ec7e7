"""birdview-train against hostile and broken input: crafted checkpoints (that would run code if
unpickled), truncated and malformed checkpoints, wrongly typed YAML settings, folders named like
audio files and truncated recordings. Every case ends in a message naming the file, not a traceback."""

from __future__ import annotations

import math
import pathlib
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from tests.conftest import write_tone_file
from tests.synthetic_birds import SPECIES, make_dataset
from trainer import cli
from trainer.checkpoint import CheckpointError, UnsafeCheckpointError, load_checkpoint, read_checkpoint
from trainer.config import TrainConfig
from trainer.inference import TorchScorer, predict

TINY_FLAGS = ["--backbone", "test_efficientnet", "--no-pretrained", "--batch-size", "8", "--folds", "2"]
TINY_FLAGS += ["--num-workers", "0", "--progress", "none", "--epochs", "1", "--no-augment"]


class _TouchWhenUnpickled:
    """Unpickling this calls ``Path.touch(marker)``: the stand-in for any code a crafted file runs."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def crafted_checkpoint(path: Path, marker: Path, layout: str = "torch") -> Path:
    """A file that looks like a checkpoint and creates ``marker`` when fully unpickled."""
    payload = {
        "state_dict": {"model.classifier.weight": torch.zeros(4, 8)},
        "hyper_parameters": {"config": {"backbone": "x"}, "classes": list(SPECIES), "frontend": {}},
        "callbacks": _TouchWhenUnpickled(marker),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    if layout == "torch":
        torch.save(payload, path)
    elif layout == "legacy":  # PyTorch's format before 1.6: several pickles in a row
        torch.save(payload, path, _use_new_zipfile_serialization=False)
    else:  # a bare pickle, as other tools write
        path.write_bytes(pickle.dumps(payload, protocol=4))
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("birds"), clips_per_species=4, negatives=2)


@pytest.fixture(scope="module")
def finished_run(data: Path, species_file: Path, tmp_path_factory) -> Path:
    """The output folder of a one-epoch Lightning run (checkpoints/last.ckpt with training state)."""
    out = tmp_path_factory.mktemp("run")
    assert cli.main(["fit", "--data", str(data), "--out", str(out), "--species", str(species_file), *TINY_FLAGS]) == 0
    assert (out / "checkpoints" / "last.ckpt").exists()
    return out


@pytest.fixture(scope="module")
def wav(tmp_path_factory) -> Path:
    return write_tone_file(tmp_path_factory.mktemp("audio") / "tone.wav", duration_s=10.0)


def _fit_args(data: Path, species_file: Path, out: Path, *extra: str) -> list[str]:
    return ["fit", "--data", str(data), "--out", str(out), "--species", str(species_file), *TINY_FLAGS, *extra]


# --- 1. checkpoints never unpickle code ---------------------------------------------------------------


LAYOUTS = ["torch", "legacy", "pickle"]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_crafted_file_really_runs_code_when_fully_unpickled(tmp_path: Path, layout: str) -> None:
    # The premise of the tests below: the same file, read the unsafe way, creates the marker.
    path = crafted_checkpoint(tmp_path / "evil.ckpt", tmp_path / "marker", layout)
    if layout == "pickle":
        pickle.loads(path.read_bytes())
    else:
        torch.load(path, weights_only=False)
    assert (tmp_path / "marker").exists()


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("reader", [read_checkpoint, load_checkpoint])
def test_crafted_checkpoint_is_refused_by_the_loaders(tmp_path: Path, layout: str, reader) -> None:
    path = crafted_checkpoint(tmp_path / "evil.ckpt", tmp_path / "marker", layout)
    with pytest.raises(UnsafeCheckpointError) as caught:
        reader(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: refused")
    assert "may contain code" in message and "not loaded" in message and "pathlib" in message
    assert not (tmp_path / "marker").exists()


def _refusal_is_reported(capsys, path: Path, code: int) -> None:
    err = capsys.readouterr().err
    assert code == 2
    assert f"{path}: refused: the file may contain code" in err and "not loaded" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("command", ["predict", "evaluate", "export"])
def test_crafted_checkpoint_is_refused_by_predict_evaluate_export(
    tmp_path: Path, capsys, wav: Path, data: Path, command: str
) -> None:
    marker = tmp_path / "marker"
    path = crafted_checkpoint(tmp_path / "evil.ckpt", marker)
    out = tmp_path / "out.csv"
    argv = {
        "predict": ["predict", "--checkpoint", str(path), "--audio", str(wav), "--out", str(out)],
        "evaluate": ["evaluate", "--checkpoint", str(path), "--data", str(data), "--out", str(out)],
        "export": ["export", "--checkpoint", str(path), "--out", str(tmp_path / "m.onnx")],
    }[command]
    _refusal_is_reported(capsys, path, cli.main(argv))
    assert not marker.exists() and not out.exists() and not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("mode", ["--init-from", "--init-from --head-only", "--weights", "--resume"])
def test_crafted_checkpoint_is_refused_by_fit(
    tmp_path: Path, capsys, data: Path, species_file: Path, mode: str
) -> None:
    marker, out = tmp_path / "marker", tmp_path / "run"
    if mode == "--resume":
        path = crafted_checkpoint(out / "checkpoints" / "last.ckpt", marker)
        extra = ["--resume"]
    else:
        path = crafted_checkpoint(tmp_path / "evil.ckpt", marker)
        flag, *rest = mode.split()
        extra = [flag, str(path), *rest]
    code = cli.main(_fit_args(data, species_file, out, *extra))
    _refusal_is_reported(capsys, path, code)
    assert not marker.exists()
    assert not (out / "checkpoints" / "best.ckpt").exists()


def test_crafted_checkpoint_is_refused_by_birdview_models_add(tmp_path: Path, capsys) -> None:
    from birdview import cli as birdview_cli
    from birdview.store.project import Project

    Project.open(tmp_path / "project", create=True, species=[]).close()
    marker = tmp_path / "marker"
    path = crafted_checkpoint(tmp_path / "evil.ckpt", marker)
    code = birdview_cli.main(["models", "--project", str(tmp_path / "project"), "--add", str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "birdview models: error:" in err and f"{path}: refused: the file may contain code" in err
    assert not marker.exists()
    with Project.open(tmp_path / "project") as project:
        assert project.models() == []


def test_crafted_checkpoint_in_a_fresh_birdview_train_process(tmp_path: Path, wav: Path) -> None:
    marker, out = tmp_path / "marker", tmp_path / "o.csv"
    path = crafted_checkpoint(tmp_path / "evil.ckpt", marker, layout="pickle")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "trainer.cli",
            "predict",
            "--checkpoint",
            str(path),
            "--audio",
            str(wav),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 2
    assert f"birdview-train: error: {path}: refused: the file may contain code" in run.stderr
    assert "Traceback" not in run.stderr
    assert not marker.exists() and not out.exists()


def test_crafted_weights_file_is_refused(tmp_path: Path) -> None:
    from trainer.model import BirdClassifier, PretrainedWeightsError

    marker = tmp_path / "marker"
    path = crafted_checkpoint(tmp_path / "backbone.pth", marker)
    with pytest.raises(PretrainedWeightsError, match=re.escape(f"{path}: refused: the file may contain code")):
        BirdClassifier(4, backbone="test_efficientnet", weights_file=str(path))
    assert not marker.exists()


def test_the_trainers_own_checkpoints_still_load(finished_run: Path, checkpoint: Path) -> None:
    for path in (finished_run / "checkpoints" / "last.ckpt", finished_run / "checkpoints" / "best.ckpt", checkpoint):
        loaded = load_checkpoint(path)
        assert loaded.classes == list(SPECIES)
        assert loaded.model.classifier.weight.shape[0] == 4


# --- 2. damaged checkpoints and wrongly typed settings -------------------------------------------------


def test_resume_from_a_truncated_last_checkpoint(
    finished_run: Path, data: Path, species_file: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "run"
    shutil.copytree(finished_run, out)
    last = out / "checkpoints" / "last.ckpt"
    content = last.read_bytes()
    last.write_bytes(content[: len(content) // 2])
    code = cli.main(_fit_args(data, species_file, out, "--resume"))
    err = capsys.readouterr().err
    assert code == 2
    assert f"birdview-train: error: cannot resume: {last}: not a readable checkpoint (the file is truncated" in err
    assert "Traceback" not in err
    assert last.stat().st_size == len(content) // 2  # left as it was for the user to look at


def test_resume_from_a_model_without_training_state(
    checkpoint: Path, data: Path, species_file: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "run"
    (out / "checkpoints").mkdir(parents=True)
    shutil.copy(checkpoint, out / "checkpoints" / "last.ckpt")
    code = cli.main(_fit_args(data, species_file, out, "--resume"))
    err = capsys.readouterr().err
    assert code == 2 and "holds a model but no training state" in err and "--init-from" in err


@pytest.mark.parametrize(
    "text, expected",
    [
        ("lr: fast\n", "lr: expected a number (float), not 'fast' (str)"),
        ("epochs: ten\n", "epochs: expected a whole number (int), not 'ten' (str)"),
        ("epochs: 2.5\n", "epochs: expected a whole number (int), not 2.5 (float)"),
        ("epochs: true\n", "epochs: expected a whole number (int), not True (bool)"),
        ("augment: 5\n", "augment: expected a mapping of settings (AugmentConfig), not 5 (int)"),
        ("frontend: [1, 2]\n", "frontend: expected a mapping of settings (FrontEndConfig), not [1, 2] (list)"),
        ('pretrained: "yes"\n', "pretrained: expected true or false (bool), not 'yes' (str)"),
        ("head_only: 1\n", "head_only: expected true or false (bool), not 1 (int)"),
        ("backbone: [a]\n", "backbone: expected text (str), not ['a'] (list)"),
        ("weights: 5\n", "weights: expected text (str) or null, not 5 (int)"),
        ("min_rating: high\n", "min_rating: expected a number (float) or null, not 'high' (str)"),
        ("frontend:\n  n_mels: many\n", "frontend.n_mels: expected a whole number (int), not 'many' (str)"),
        ("frontend:\n  n_mel: 64\n", "frontend.n_mel: unknown setting"),
        ("augment:\n  noise_snr_db: [10]\n", "augment.noise_snr_db: expected a list of 2 values"),
        ("augment:\n  mixup_p: off\n", "augment.mixup_p: expected a number (float), not False (bool)"),
        ("frontend:\n  context_s: 2\n", "context (2.0 s) must be at least the window (5.0 s)"),
    ],
)
def test_yaml_settings_of_the_wrong_type(tmp_path: Path, capsys, text: str, expected: str) -> None:
    config = tmp_path / "settings.yaml"
    config.write_text(text)
    code = cli.main(["fit", "--config", str(config), "--data", str(tmp_path / "nowhere")])
    err = capsys.readouterr().err
    assert code == 2
    assert f"birdview-train: error: {config}: {expected}" in err
    assert "Traceback" not in err


def test_yaml_settings_that_are_numbers_in_disguise_are_taken(tmp_path: Path) -> None:
    config = tmp_path / "settings.yaml"
    # PyYAML reads 1e-3 (no dot) as text; devices and precision take whole numbers too.
    config.write_text(
        "lr: 1e-3\nweight_decay: 0\ndevices: 2\nprecision: 32\nmin_rating: 4\nweights: null\nepochs: 3.0\n"
    )
    merged = cli.config_from_args(cli.build_parser().parse_args(["fit", "--config", str(config)]))
    assert merged.lr == 0.001 and merged.weight_decay == 0.0 and isinstance(merged.weight_decay, float)
    assert merged.epochs == 3 and isinstance(merged.epochs, int)
    assert (merged.devices, merged.precision, merged.min_rating, merged.weights) == ("2", "32", 4.0, None)


def _damaged(checkpoint: Path, tmp_path: Path, change) -> Path:
    content = read_checkpoint(checkpoint)
    change(content)
    path = tmp_path / "damaged.ckpt"
    torch.save(content, path)
    return path


def _set(where: str, value):
    def change(content: dict) -> None:
        if where == "hyper_parameters":
            content["hyper_parameters"] = value
        else:
            content["hyper_parameters"][where] = value

    return change


def _weights(change_state):
    def change(content: dict) -> None:
        change_state(content["state_dict"])

    return change


DAMAGE = {
    "hyper_parameters a string": (_set("hyper_parameters", "junk"), "hyper_parameters is a str, not a mapping"),
    "classes a string": (_set("classes", "upsweep"), "its class list is a str, not a list of class names"),
    "classes not text": (_set("classes", [1, 2, 3, 4]), "its class list is a list, not a list of class names"),
    "config a list": (_set("config", [1]), "its config is a list, not a mapping"),
    "frontend a number": (_set("frontend", 3), "its front end is a int, not a mapping"),
    "frontend wrong type": (
        _set("frontend", {"sample_rate": "fast"}),
        "its front end is invalid (frontend.sample_rate: expected a whole number (int), not 'fast' (str))",
    ),
    "state_dict missing": (lambda c: c.pop("state_dict"), "it holds no weights (no state_dict)"),
    "state_dict a list": (lambda c: c.update(state_dict=[1]), "it holds no weights (a list as state_dict)"),
    "weight not a tensor": (
        _weights(lambda s: s.update({"model.pool.p": [3.0]})),
        "its weight 'model.pool.p' is a list",
    ),
    "head does not fit the classes": (
        _set("classes", [*SPECIES, "extra"]),
        "its classifier has (4, ",
    ),
    "backbone weight of the wrong shape": (
        _weights(lambda s: s.update({k: torch.zeros(3) for k in list(s) if k.endswith("conv_stem.weight")})),
        "weights do not fit the model they name",
    ),
    "unknown backbone": (
        lambda c: c["hyper_parameters"]["config"].update(backbone="no_such_network"),
        "cannot build the model it names ('no_such_network'",
    ),
}


@pytest.mark.parametrize("case", DAMAGE)
def test_damaged_checkpoint_is_named_with_what_is_wrong(
    checkpoint: Path, tmp_path: Path, capsys, wav: Path, case: str
) -> None:
    change, expected = DAMAGE[case]
    path = _damaged(checkpoint, tmp_path, change)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path)
    assert str(caught.value).startswith(f"{path}: ") and expected in str(caught.value)
    out = tmp_path / "out.csv"
    code = cli.main(["predict", "--checkpoint", str(path), "--engine", "torch", "--audio", str(wav), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and f"birdview-train: error: {path}: " in err and expected in err
    assert "Traceback" not in err and not out.exists()


def test_damaged_checkpoint_given_to_init_from(
    checkpoint: Path, data: Path, species_file: Path, tmp_path: Path, capsys
) -> None:
    path = _damaged(checkpoint, tmp_path, _set("classes", "upsweep"))
    code = cli.main(_fit_args(data, species_file, tmp_path / "run", "--init-from", str(path)))
    err = capsys.readouterr().err
    assert code == 2 and f"{path}: damaged checkpoint: its class list is a str" in err


# --- 3. a folder named like an audio file --------------------------------------------------------------


def test_predict_on_a_folder_named_like_an_audio_file(checkpoint: Path, tmp_path: Path, capsys) -> None:
    folder = tmp_path / "x.wav"
    folder.mkdir()
    out = tmp_path / "out.csv"
    code = cli.main(["predict", "--checkpoint", str(checkpoint), "--audio", str(folder), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and f"birdview-train: error: {folder}: is a folder with no audio files" in err
    assert not out.exists()

    code = cli.main(
        ["predict", "--checkpoint", str(checkpoint), "--audio", str(folder), "--out", str(out), "--skip-bad"]
    )
    err = capsys.readouterr().err
    assert code == 2 and f"skipped: {folder}: is a folder with no audio files" in err
    assert "nothing was scored" in err and not out.exists()


def test_predict_skips_an_empty_folder_beside_a_good_file(checkpoint: Path, tmp_path: Path, capsys, wav: Path) -> None:
    folder = tmp_path / "x.wav"
    folder.mkdir()
    out = tmp_path / "out.csv"
    argv = ["predict", "--checkpoint", str(checkpoint), "--audio", str(wav), str(folder), "--out", str(out)]
    assert cli.main([*argv, "--skip-bad"]) == 0
    assert f"skipped: {folder}: is a folder with no audio files" in capsys.readouterr().err
    assert list(pd.read_csv(out)["file"]) == [str(wav), str(wav)]


# --- 4. a truncated recording ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def flacs(tmp_path_factory) -> tuple[Path, Path]:
    """A 20 s FLAC and a copy cut to 60 % of its bytes."""
    folder = tmp_path_factory.mktemp("flac")
    whole = folder / "whole.flac"
    rng = np.random.default_rng(3)
    sf.write(whole, (rng.standard_normal(20 * 32000) * 0.1).astype(np.float32), 32000)
    content = whole.read_bytes()
    cut = folder / "cut.flac"
    cut.write_bytes(content[: int(len(content) * 0.6)])
    return whole, cut


def test_predict_scores_the_decodable_part_of_a_truncated_flac(
    checkpoint: Path, flacs: tuple[Path, Path], tmp_path: Path, capsys
) -> None:
    whole, cut = flacs
    out = tmp_path / "out.csv"
    assert cli.main(["predict", "--checkpoint", str(checkpoint), "--audio", str(cut), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    stops = re.search(
        rf"warning: {re.escape(str(cut))}: truncated or damaged: decoding stops at (\d+\.\d) s of 20\.0 s", err
    )
    assert stops, err
    stop_s = float(stops.group(1))
    assert 9.0 < stop_s < 14.0  # 60 % of the bytes of a 20 s recording
    table = pd.read_csv(out)
    assert list(table["start_s"]) == [5.0 * i for i in range(math.ceil(stop_s / 5))]
    assert "skipped" not in err

    scorer = TorchScorer(checkpoint)
    reference, _ = predict([whole], [scorer])
    # The windows that lie wholly before the cut get exactly the scores of the intact file.
    complete = int(stop_s // 5)
    np.testing.assert_allclose(
        table[list(SPECIES)].to_numpy()[:complete], reference[list(SPECIES)].to_numpy()[:complete], atol=1e-5
    )


def test_truncation_is_reported_once_per_file_with_test_time_shifts(checkpoint: Path, flacs: tuple[Path, Path]) -> None:
    _, cut = flacs
    warnings: list[str] = []
    table, skipped = predict([cut], [TorchScorer(checkpoint)], shifts=(0.0, -1.0, 1.0), on_warning=warnings.append)
    assert skipped == [] and len(table) == 3
    assert len(warnings) == 1 and warnings[0].startswith(f"{cut}: truncated or damaged: decoding stops at")


def test_a_flac_with_nothing_decodable_is_a_problem(checkpoint: Path, flacs: tuple[Path, Path], tmp_path: Path) -> None:
    whole, _ = flacs
    broken = tmp_path / "broken.flac"
    broken.write_bytes(whole.read_bytes()[:2000])  # the header says 20 s; no audio frame is complete
    table, skipped = predict([broken], [TorchScorer(checkpoint)], skip_bad=True)
    assert len(table) == 0
    assert len(skipped) == 1 and skipped[0].startswith(f"{broken}: cannot be decoded, not even its first samples")


def test_trainconfig_defaults_pass_their_own_type_check() -> None:
    from trainer.config import merge

    # Every default, fed back as if it came from a file (as a run's config.yaml is), is accepted.
    assert merge(TrainConfig(), TrainConfig().as_dict(), "config.yaml") == TrainConfig()


def test_a_text_file_named_like_a_checkpoint_is_named_plainly(tmp_path) -> None:
    from trainer.checkpoint import CheckpointError, read_checkpoint

    fake = tmp_path / "model.ckpt"
    fake.write_text("hello world\n")
    expected = r"model\.ckpt: not a readable checkpoint \(not a PyTorch file, or damaged\)"
    with pytest.raises(CheckpointError, match=expected):
        read_checkpoint(fake)
