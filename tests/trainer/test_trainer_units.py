"""Trainer pieces that need no training: front end, metrics, augmentations, data checks, config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from sklearn.metrics import log_loss, roc_auc_score

from tests.synthetic_birds import SPECIES, make_dataset
from trainer import augment, window_stream
from trainer.classes import SpeciesFileError, load_species
from trainer.config import ConfigError, TrainConfig, load_yaml, merge
from trainer.data.metadata import DatasetError, load_training_set
from trainer.frontend import FrontEndConfig, MelFrontEnd
from trainer.inference import shard, smooth
from trainer.metrics import all_metrics, binary_log_loss, macro_roc_auc, per_class_auc, ranked_accuracy
from trainer.window_stream import InferenceError, mel_chunks, read_windows


def test_front_end_shape_and_tone_row() -> None:
    config = FrontEndConfig()
    t = np.arange(config.context_samples) / config.sample_rate
    mel = MelFrontEnd(config).numpy(np.sin(2 * np.pi * 4000 * t).astype(np.float32))
    assert mel.shape == (1, 1, 128, 313)
    import librosa

    centres = librosa.mel_frequencies(n_mels=130, fmin=300, fmax=16000)[1:-1]
    row = int(mel[0, 0].mean(axis=1).argmax())
    assert abs(centres[row] - 4000) < 150
    standardized = mel[0, 0]
    assert abs(standardized.mean()) < 1e-4 and abs(standardized.std() - 1) < 1e-3


@pytest.mark.parametrize(
    "config",
    [FrontEndConfig(), FrontEndConfig(n_fft=1024, hop_length=500, fmin=40, fmax=15000, normalization="fixed")],
    ids=["birdview", "birdclef-2024-winner"],
)
def test_front_end_equals_librosas_mel_spectrogram(config: FrontEndConfig) -> None:
    import librosa

    wave = np.random.default_rng(8).standard_normal(config.context_samples).astype(np.float32) * 0.1
    power = librosa.feature.melspectrogram(
        y=wave, sr=config.sample_rate, n_fft=config.n_fft, hop_length=config.hop_length, center=True,
        pad_mode="constant", power=2.0, n_mels=config.n_mels, fmin=config.fmin, fmax=config.fmax,
    )  # fmt: skip
    db = 10 * np.log10(np.maximum(power, 1e-10))
    expected = (db - db.mean()) / (db.std(ddof=1) + 1e-6) if config.normalization == "standardize" else (db + 80) / 40
    np.testing.assert_allclose(MelFrontEnd(config).numpy(wave)[0, 0], expected, atol=2e-3)


def test_front_end_context_frames() -> None:
    assert FrontEndConfig(context_s=10.0).frames == 626
    with pytest.raises(ValueError, match="context"):
        FrontEndConfig(context_s=3.0)


def test_front_end_batch_equals_one_window_at_a_time() -> None:
    frontend = MelFrontEnd(FrontEndConfig())
    waves = np.random.default_rng(3).standard_normal((5, 160_000)).astype(np.float32)
    batch = frontend.numpy(waves)
    singles = np.concatenate([frontend.numpy(wave) for wave in waves])
    assert batch.shape == (5, 1, 128, 313)
    np.testing.assert_allclose(batch, singles, atol=1e-5)


SMALL_FRONT_END = FrontEndConfig(sample_rate=1000, n_fft=64, hop_length=16, n_mels=8, fmin=0, fmax=500)


def test_windows_are_cut_where_they_are_scored(tmp_path: Path) -> None:
    config = SMALL_FRONT_END.with_changes(context_s=7.0)
    ramp = np.arange(13_000, dtype=np.float32) / 20_000
    path = tmp_path / "ramp.wav"
    sf.write(path, ramp, 1000, subtype="FLOAT")
    waves = read_windows(path, config, 0, 3, native_rate=1000)
    assert waves.shape == (3, 7000)
    # window w is centred on [5w, 5w + 5) s: it starts 1 s earlier, zero-padded before 0 and after the end
    np.testing.assert_array_equal(waves[0, :1000], 0)
    np.testing.assert_allclose(waves[0, 1000:], ramp[:6000])
    np.testing.assert_allclose(waves[1], ramp[4000:11000])
    np.testing.assert_allclose(waves[2, :4000], ramp[9000:13000])
    np.testing.assert_array_equal(waves[2, 4000:], 0)
    np.testing.assert_allclose(read_windows(path, config, 1, 2, native_rate=1000, shift_s=0.5)[0], ramp[4500:11500])


def _noise_file(tmp_path: Path, seconds: float) -> Path:
    path = tmp_path / "noise.flac"
    noise = np.random.default_rng(5).standard_normal(int(seconds * 1000)).astype(np.float32) * 0.1
    sf.write(path, noise, 1000)
    return path


def test_mel_chunks_arrive_in_order_and_equal_the_front_end(tmp_path: Path) -> None:
    path = _noise_file(tmp_path, 52)  # 11 windows of 5 s, the last one partly past the end
    frontend = MelFrontEnd(SMALL_FRONT_END)
    expected = frontend.numpy(read_windows(path, SMALL_FRONT_END, 0, 11, native_rate=1000))
    for workers in (1, 2, 3):
        chunks = list(mel_chunks(path, frontend, chunk_windows=4, workers=workers))
        assert [c.index.tolist() for c in chunks] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10]]
        np.testing.assert_allclose(np.concatenate([c.inputs for c in chunks]), expected, atol=1e-5)
    resumed = list(mel_chunks(path, frontend, chunk_windows=4, start_window=6, workers=2))
    assert [c.index.tolist() for c in resumed] == [[6, 7, 8, 9], [10]]
    np.testing.assert_allclose(resumed[0].inputs, expected[6:10], atol=1e-5)


@pytest.mark.parametrize("native_rate", [2205, 3000])
def test_resampled_chunks_equal_the_whole_file_resampled_at_once(tmp_path: Path, native_rate: int) -> None:
    import soxr

    samples = np.random.default_rng(6).standard_normal(native_rate * 55).astype(np.float32) * 0.1
    path = tmp_path / "other-rate.wav"
    sf.write(path, samples, native_rate, subtype="FLOAT")
    whole = soxr.resample(samples, native_rate, 1000).astype(np.float32)
    frontend = MelFrontEnd(SMALL_FRONT_END)
    expected = frontend.numpy(whole.reshape(11, 5000))
    got = np.concatenate([c.inputs for c in mel_chunks(path, frontend, chunk_windows=3, workers=2)])
    # Parts start at windows 2, 3, 5, 6, 8 and 9: without a guard the resampler's edges showed at
    # each. The file's own first and last windows differ a little in how the two fill past its ends.
    np.testing.assert_allclose(got[1:-1], expected[1:-1], atol=1e-4)
    np.testing.assert_allclose(got[[0, -1]], expected[[0, -1]], atol=0.15)


def test_mel_chunks_workers_use_one_torch_thread_and_the_callers_count_stays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _noise_file(tmp_path, 40)
    seen = []
    real = window_stream.read_windows

    def recording(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(window_stream, "read_windows", recording)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        list(mel_chunks(path, MelFrontEnd(SMALL_FRONT_END), chunk_windows=4, workers=2))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert seen and set(seen) == {1}


def test_mel_chunks_errors_arrive_in_order_and_closing_stops_the_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _noise_file(tmp_path, 1000)  # 200 windows
    real = window_stream.read_windows
    calls = []

    def failing_from_window_6(path, config, first, last, native_rate, shift_s=0.0):
        calls.append(first)
        if first >= 6:
            raise InferenceError(f"{path}: decoding failed near {first * 5} s (disk gone)")
        return real(path, config, first, last, native_rate, shift_s)

    monkeypatch.setattr(window_stream, "read_windows", failing_from_window_6)
    stream = mel_chunks(path, MelFrontEnd(SMALL_FRONT_END), chunk_windows=2, workers=2)
    assert [next(stream).index.tolist() for _ in range(3)] == [[0, 1], [2, 3], [4, 5]]
    with pytest.raises(InferenceError, match="decoding failed near 30 s"):
        next(stream)

    calls.clear()
    stream = mel_chunks(path, MelFrontEnd(SMALL_FRONT_END), chunk_windows=2, workers=2)
    assert next(stream).index.tolist() == [0, 1]
    stream.close()  # the caller stops early: nothing more is decoded
    assert max(calls) < 10


class LoudnessScorer:
    """A stand-in model: logits +-scale x the loudest mel value of each window."""

    def __init__(self, frontend: FrontEndConfig, scale: float, name: str) -> None:
        self.frontend, self.classes, self.name, self.scale = frontend, ["a", "b"], name, scale

    def logits(self, mels: np.ndarray) -> np.ndarray:
        level = mels.reshape(len(mels), -1).max(axis=1, keepdims=True)
        return np.hstack([self.scale * level, -self.scale * level]).astype(np.float32)


def test_an_ensemble_computes_each_chunks_mels_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from trainer import inference

    path = _noise_file(tmp_path, 30)
    opened = []
    real = inference.mel_chunks

    def counting(*args, **kwargs):
        opened.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(inference, "mel_chunks", counting)
    one, two = LoudnessScorer(SMALL_FRONT_END, 1.0, "one"), LoudnessScorer(SMALL_FRONT_END, 3.0, "two")
    alone = [inference.predict([path], [scorer])[0] for scorer in (one, two)]
    opened.clear()
    both, _ = inference.predict([path], [one, two], ensemble="mean")
    assert len(opened) == 1 and len(both) == 6
    np.testing.assert_allclose(both[["a", "b"]], (alone[0][["a", "b"]] + alone[1][["a", "b"]]) / 2, rtol=1e-6)

    other = LoudnessScorer(SMALL_FRONT_END.with_changes(n_mels=4), 1.0, "four-mels")
    opened.clear()
    inference.predict([path], [one, other])
    assert len(opened) == 2  # different front ends: each computes its own mels
    with pytest.raises(InferenceError, match=r"scores 2\.5 s windows"):
        inference.predict([path], [one, LoudnessScorer(SMALL_FRONT_END.with_changes(window_s=2.5), 1.0, "short")])


def test_progress_lines_are_strict_json() -> None:
    import io
    import json

    from trainer.progress import emit

    stream = io.StringIO()
    metrics = {"val_roc_auc": float("nan"), "val_loss": np.float32(0.25), "top5": torch.tensor(float("inf"))}
    emit({"stage": "validate", "epoch": np.int64(3), "metrics": metrics, "shape": (2, 3)}, stream)
    line = stream.getvalue()
    assert line.endswith("\n") and "NaN" not in line and "Infinity" not in line
    assert json.loads(line) == {
        "stage": "validate",
        "epoch": 3,
        "metrics": {"val_roc_auc": None, "val_loss": 0.25, "top5": None},
        "shape": [2, 3],
    }


def test_every_progress_event_reads_back_as_itself() -> None:
    import io

    from trainer import progress
    from trainer.progress import (
        Done,
        Failed,
        PredictDone,
        PredictStep,
        Started,
        TrainStep,
        Validated,
        Warned,
        emit,
        parse_event,
    )

    events = [
        Started(epoch=0, step=0, total=40),
        TrainStep(epoch=1, step=7, total=40, loss=0.5, eta_s=3.25),
        TrainStep(epoch=1, step=8, total=40),
        Validated(epoch=1, step=8, total=40, metrics={"val_roc_auc": 0.75, "val_top5": None}),
        Done(checkpoint="/run/checkpoints/best.ckpt", metrics={"val_roc_auc": 0.75}),
        PredictStep(step=0, total=2, file="a.wav"),
        PredictDone(out="scores.parquet", windows=12, skipped=["b.wav: empty"]),
        Warned(message="b.wav: decoding stops at 30.0 s"),
        Failed(message="x/train_metadata.csv: not found"),
    ]
    assert {type(e) for e in events} == set(progress.EVENT_TYPES)  # every kind of event
    for event in events:
        stream = io.StringIO()
        emit(event, stream)
        assert parse_event(stream.getvalue()) == event
    # A metric that is NaN is written as null, and reads back as None.
    nan = Validated(epoch=0, metrics={"val_roc_auc": float("nan")})
    assert parse_event(progress.json_line(nan)).metrics == {"val_roc_auc": None}


def test_progress_lines_of_earlier_versions_still_read() -> None:
    from trainer.progress import Done, Started, TrainStep, Validated, parse_event

    # The wire format is the one job folders already hold: same stages and field names.
    assert parse_event('{"stage": "train", "event": "start", "epoch": 0, "step": 0, "total": 9}') == Started(0, 0, 9)
    head_only = '{"stage": "train", "epoch": 2, "step": 5, "total": 9, "loss": 0.125}'  # no eta_s
    assert parse_event(head_only) == TrainStep(epoch=2, step=5, total=9, loss=0.125)
    assert parse_event('{"stage": "validate", "epoch": 0, "metrics": {"val_roc_auc": 1}}') == Validated(
        epoch=0, metrics={"val_roc_auc": 1}
    )
    assert parse_event('{"stage": "done", "checkpoint": "/x.ckpt", "later": "field"}\n') == Done("/x.ckpt")


@pytest.mark.parametrize(
    "line",
    [
        "",
        "Epoch 1: 100%|##########| 6/6",  # a stray print
        '{"stage": "train", "step": 1',  # cut short
        "[1, 2]",
        '"done"',
        '{"step": 1}',  # no stage
        '{"stage": "unheard-of", "step": 1}',
        '{"stage": "done"}',  # neither a fit's nor a predict's: no checkpoint, no out
        '{"stage": "train", "loss": "low"}',  # a field of the wrong type
        '{"stage": "train", "step": true}',
        '{"stage": "error", "message": null}',
        '{"stage": "validate", "metrics": [0.5]}',
    ],
)
def test_a_line_that_is_not_an_event_is_skipped(line: str) -> None:
    from trainer.progress import parse_event

    assert parse_event(line) is None


def test_auto_engine_prefers_a_gpu_then_openvino(monkeypatch: pytest.MonkeyPatch) -> None:
    from trainer import inference

    for gpu, openvino, checkpoint, export in [
        (True, True, "cuda", "openvino"),
        (False, True, "openvino", "openvino"),
        (True, False, "cuda", "onnxruntime"),
        (False, False, "torch", "onnxruntime"),
    ]:
        monkeypatch.setattr(inference, "cuda_available", lambda gpu=gpu: gpu)
        monkeypatch.setattr(inference, "openvino_available", lambda openvino=openvino: openvino)
        assert inference.resolve_engine("auto", is_onnx=False) == checkpoint
        assert inference.resolve_engine("auto", is_onnx=True) == export
        assert inference.resolve_engine("onnxruntime", is_onnx=False) == "onnxruntime"  # as asked
    with pytest.raises(InferenceError, match="precision bf16 needs OpenVINO"):
        inference.resolve_engine("auto", is_onnx=True, precision="bf16")
    with pytest.raises(InferenceError, match="engine must be one of"):
        inference.resolve_engine("tpu", is_onnx=False)


def test_default_species_list_is_birdclef_2024() -> None:
    species = load_species()
    assert len(species) == 182 and species == sorted(species)
    assert species[0] == "asbfly"


def test_species_file_errors(tmp_path: Path) -> None:
    (tmp_path / "dup.txt").write_text("a\nb\na\n")
    with pytest.raises(SpeciesFileError, match=r"dup.txt:3: species 'a' is listed twice \(first on line 1\)"):
        load_species(tmp_path / "dup.txt")
    with pytest.raises(SpeciesFileError, match="cannot read"):
        load_species(tmp_path / "missing.txt")


FIXED_TRUE = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0], [0, 1, 0, 1]], dtype=float)
FIXED_PROB = np.array(
    [[0.9, 0.1, 0.2, 0.3], [0.2, 0.8, 0.1, 0.1], [0.4, 0.5, 0.3, 0.2], [0.3, 0.2, 0.1, 0.6], [0.1, 0.7, 0.2, 0.4]]
)


def test_macro_auc_skips_classes_without_positives_as_birdclef_does() -> None:
    expected = np.mean([roc_auc_score(FIXED_TRUE[:, k], FIXED_PROB[:, k]) for k in (0, 1, 3)])
    assert macro_roc_auc(FIXED_TRUE, FIXED_PROB) == pytest.approx(expected)
    table = per_class_auc(FIXED_TRUE, FIXED_PROB, ["a", "b", "c", "d"])
    assert np.isnan(table.loc[2, "roc_auc"]) and table.loc[0, "roc_auc"] == pytest.approx(1.0)
    assert list(table["positives"]) == [2, 2, 0, 1]


def test_log_loss_and_ranked_accuracy_equal_sklearn() -> None:
    assert binary_log_loss(FIXED_TRUE, FIXED_PROB) == pytest.approx(log_loss(FIXED_TRUE.ravel(), FIXED_PROB.ravel()))
    # Labelled rows 0,1,2,4 (row 3 is a hard negative): top-1 right for rows 0, 1 and 4.
    assert ranked_accuracy(FIXED_TRUE, FIXED_PROB, 1) == pytest.approx(3 / 4)
    assert ranked_accuracy(FIXED_TRUE, FIXED_PROB, 2) == pytest.approx(1.0)
    metrics = all_metrics(FIXED_TRUE, FIXED_PROB)
    assert np.isnan(metrics["top5"])  # four classes: top-5 would always be right


def test_gain_noise_shift_mixup_change_what_they_should() -> None:
    rng = np.random.default_rng(0)
    wave = np.sin(np.linspace(0, 200, 32000)).astype(np.float32)
    louder = augment.random_gain(wave, 6.0, rng)
    ratio_db = 20 * np.log10(np.abs(louder).max() / np.abs(wave).max())
    assert louder.shape == wave.shape and -6.001 <= ratio_db <= 6.001 and abs(ratio_db) > 0.01
    noisy = augment.add_noise(wave, (20.0, 20.0), rng)
    snr = 10 * np.log10(np.mean(wave**2) / np.mean((noisy - wave) ** 2))
    assert snr == pytest.approx(20.0, abs=0.5)
    shifted = augment.time_shift(wave, 1000, np.random.default_rng(3))
    lag = int(np.argmax(np.correlate(shifted[2000:-2000], wave, mode="valid")))
    assert shifted.shape == wave.shape and not np.allclose(shifted, wave)
    assert lag <= 4000
    mixed, target = augment.mixup_pair(wave, np.array([1.0, 0.0]), -wave, np.array([0.0, 1.0]), 0.4, rng)
    assert target.sum() == pytest.approx(1.0) and 0 < target[0] < 1
    np.testing.assert_allclose(mixed, (target[0] - target[1]) * wave, atol=1e-5)
    # A pseudo-label (weight 0.25) mixed with a label (weight 1): the weight mixes as the targets do.
    _, target, weight = augment.mixup_pair(
        wave, np.array([1.0, 0.0]), -wave, np.array([0.0, 1.0]), 0.4, rng, (0.25, 1.0)
    )
    assert weight == pytest.approx(0.25 * target[0] + 1.0 * target[1])


def test_spectrogram_masks_keep_shape_and_blank_parts() -> None:
    transform = augment.spectrogram_transform(augment.AugmentConfig(xy_mask_p=1.0, cutout_p=0.0), 128, 313)
    mel = np.random.default_rng(0).standard_normal((128, 313)).astype(np.float32) + 5
    masked = transform(image=mel)["image"]
    assert masked.shape == mel.shape
    blank_columns = (masked == 0).all(axis=0).sum()
    blank_rows = (masked == 0).all(axis=1).sum()
    assert blank_columns >= 1 and blank_rows >= 1
    cutout = augment.spectrogram_transform(augment.AugmentConfig(xy_mask_p=0.0, cutout_p=1.0), 128, 313)
    holes = cutout(image=mel)["image"]
    assert holes.shape == mel.shape and 0 < (holes == 0).mean() < 0.3


def test_spec_mixup_mixes_pairs_of_the_batch() -> None:
    mels = torch.arange(4, dtype=torch.float32).reshape(4, 1, 1, 1).expand(4, 1, 2, 2).clone()
    targets = torch.eye(4)
    mixed, mixed_targets = augment.spec_mixup(mels, targets, 0.4)
    assert mixed.shape == mels.shape and mixed_targets.shape == targets.shape
    torch.testing.assert_close(mixed_targets.sum(dim=1), torch.ones(4))
    torch.testing.assert_close(mixed[:, 0, 0, 0], mixed_targets @ torch.arange(4, dtype=torch.float32))
    weights = torch.tensor([1.0, 1.0, 0.5, 0.5])
    _, mixed_targets, mixed_weights = augment.spec_mixup(mels, targets, 0.4, weights)
    torch.testing.assert_close(mixed_weights, mixed_targets @ weights)


def test_smoothing_and_sharding() -> None:
    probabilities = np.zeros((9, 1), dtype=np.float32)
    probabilities[4] = 1.0
    smoothed = smooth(probabilities)[:, 0]
    np.testing.assert_allclose(smoothed[2:7], [0.1, 0.2, 0.4, 0.2, 0.1], atol=1e-6)
    edge = np.zeros((9, 1), dtype=np.float32)
    edge[0] = 1.0  # at the ends the weights are renormalised: 0.4 / (0.4 + 0.2 + 0.1)
    assert smooth(edge)[0, 0] == pytest.approx(0.4 / 0.7)
    files = [f"f{i}.wav" for i in range(7)]
    parts = [shard(files, f"{i}/3") for i in range(3)]
    assert sorted(f for part in parts for f in part) == sorted(files) and parts[0] == ["f0.wav", "f3.wav", "f6.wav"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("birds"), clips_per_species=3, negatives=2)


def _rewrite(root: Path, tmp_path: Path, edit) -> Path:
    """A copy of the dataset's CSV (audio shared) changed by edit(lines)."""
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "train_audio").symlink_to(root / "train_audio")
    lines = (root / "train_metadata.csv").read_text().splitlines()
    (copy / "train_metadata.csv").write_text("\n".join(edit(lines)) + "\n")
    return copy


def test_dataset_reads_labels_negatives_and_folds(dataset: Path) -> None:
    training_set = load_training_set(dataset, list(SPECIES))
    assert len(training_set.clips) == 14
    targets = training_set.targets()
    assert (targets.sum(axis=1) == 0).sum() == 2  # hard negatives: all-zero targets
    folds = training_set.folds(2)
    assert set(folds) == {0, 1}


def test_missing_audio_file_names_file_and_line(dataset: Path, tmp_path: Path) -> None:
    copy = _rewrite(dataset, tmp_path, lambda lines: [*lines, "upsweep,[],call,upsweep/nothere.ogg,4"])
    with pytest.raises(DatasetError, match=r"train_metadata.csv:16: audio file .*nothere.ogg not found"):
        load_training_set(copy, list(SPECIES))
    skipped = load_training_set(copy, list(SPECIES), skip_bad=True)
    assert len(skipped.clips) == 14 and "nothere.ogg" in skipped.skipped[0]


def test_corrupt_audio_names_file_and_line(dataset: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    (bad / "train_audio" / "upsweep").mkdir(parents=True)
    (bad / "train_audio" / "upsweep" / "broken.ogg").write_bytes(b"OggS but not really" * 10)
    (bad / "train_metadata.csv").write_text("primary_label,secondary_labels,filename\nupsweep,[],upsweep/broken.ogg\n")
    with pytest.raises(DatasetError, match=r"train_metadata.csv:2: audio file .*broken.ogg cannot be read"):
        load_training_set(bad, list(SPECIES))


def test_unknown_species_names_it_and_the_line(dataset: Path, tmp_path: Path) -> None:
    copy = _rewrite(dataset, tmp_path, lambda lines: [lines[0], lines[1].replace("upsweep,[]", "upsweep,['zzzbird']")])
    with pytest.raises(DatasetError, match=r"train_metadata.csv:2: unknown species 'zzzbird'"):
        load_training_set(copy, list(SPECIES))


def test_malformed_csv_names_the_line(dataset: Path, tmp_path: Path) -> None:
    copy = _rewrite(dataset, tmp_path, lambda lines: [*lines[:4], "upsweep,[]", *lines[4:]])
    with pytest.raises(DatasetError, match=r"train_metadata.csv:5: expected 5 fields, found 2"):
        load_training_set(copy, list(SPECIES))
    copy2 = tmp_path / "nocol"
    copy2.mkdir()
    (copy2 / "train_metadata.csv").write_text("label,file\nx,y\n")
    with pytest.raises(DatasetError, match=r"missing column\(s\) primary_label, filename"):
        load_training_set(copy2)


def test_empty_class_is_reported(dataset: Path) -> None:
    training_set = load_training_set(dataset, [*SPECIES, "silentbird"])
    assert any("silentbird" in w and "1 of 5 classes" in w for w in training_set.warnings)


def test_yaml_settings_and_flags_precedence(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("epochs: 7\nlr: 0.01\naugment:\n  mixup_p: 0.0\n")
    config = merge(merge(TrainConfig(), load_yaml(tmp_path / "c.yaml")), {"lr": 0.5})
    assert config.epochs == 7 and config.lr == 0.5 and config.augment.mixup_p == 0.0
    (tmp_path / "bad.yaml").write_text("epochs: [1,\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:\d+: not valid YAML"):
        load_yaml(tmp_path / "bad.yaml")
    with pytest.raises(ConfigError, match="unknown setting"):
        merge(TrainConfig(), {"epoks": 3})
