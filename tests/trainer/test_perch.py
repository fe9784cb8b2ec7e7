"""Perch v2 as a model kind, on a small stand-in with the real ONNX export's signature."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.trainer.perch_standin import STANDIN_CLASSES, band_hz, write_bad_standin, write_standin
from trainer.models.base import BIRD, OTHER, ModelError, hop_for
from trainer.models.perch import PERCH_DOWNLOAD_HELP, PERCH_LICENCE, PerchModel

RATE = 44100
TONE_CLASS, TONE_S = 3, (5.5, 9.5)
LAST_CLASS, LAST_S = 7, (15.5, 16.5)


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_standin(tmp_path_factory.mktemp("perch"))


@pytest.fixture(scope="module")
def model(standin: tuple[Path, Path]) -> PerchModel:
    return PerchModel(standin[0], threads=1)


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """17 s at 44.1 kHz: silence, with one class's tone at 5.5-9.5 s and another's at 15.5-16.5 s."""
    t = np.arange(17 * RATE) / RATE
    audio = np.zeros_like(t)
    for index, (start, end) in ((TONE_CLASS, TONE_S), (LAST_CLASS, LAST_S)):
        on = (t >= start) & (t < end)
        audio[on] = 0.3 * np.sin(2 * np.pi * band_hz(index) * t[on])
    path = tmp_path_factory.mktemp("audio") / "tones.wav"
    sf.write(path, audio.astype(np.float32), RATE)
    return path


def score(model: PerchModel, path: Path, hop_s: float, **kwargs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    index, probabilities, embeddings = [], [], []
    for chunk in model.chunks(path, hop_s, **kwargs):
        found = model.infer(chunk.inputs)
        index.append(chunk.index)
        probabilities.append(found[0])
        embeddings.append(found[1])
    return np.concatenate(index), np.concatenate(probabilities), np.concatenate(embeddings)


def test_info(model: PerchModel, standin: tuple[Path, Path]) -> None:
    info = model.info
    assert (info.kind, info.name, info.sample_rate, info.window_s) == ("perch-v2", "Perch v2", 32000, 5.0)
    assert info.embedding_dim == 1536
    assert info.licence == PERCH_LICENCE == "Apache-2.0"
    assert info.source == str(standin[0])
    assert len(info.species) == len(STANDIN_CLASSES)


def test_species_identity(model: PerchModel) -> None:
    species = {name.scientific_name or name.code: name for name in model.info.species}
    blackbird = species["Turdus merula"]
    assert (blackbird.code, blackbird.category) == ("eurbla", BIRD)
    cricket = species["Gryllus campestris"]
    assert (cricket.code, cricket.category) == ("Gryllus campestris", OTHER)
    bell = species["Bicycle_bell"]
    assert (bell.category, bell.scientific_name) == (OTHER, None)
    assert len(set(model.info.classes)) == len(model.info.classes)


def test_taxonomy_codes_first_then_perchs_own(tmp_path: Path) -> None:
    path, labels = write_standin(tmp_path, classes=["Turdus merula", "Apteryx owenii", "Hyla arborea"])
    (tmp_path / "perch_v2_ebird_classes.csv").write_text("ebird2021\neurbla9\nliskiw1\nno_ebird_code\n")
    species = PerchModel(path, labels=labels).info.species
    assert [(name.code, name.category) for name in species] == [
        ("eurbla", BIRD),  # the code birdview's taxonomy knows, so that models agree
        ("liskiw1", BIRD),  # a bird only Perch's own list knows
        ("Hyla arborea", OTHER),
    ]


def test_windows_of_a_resampled_recording(model: PerchModel, recording: Path) -> None:
    chunks = list(model.chunks(recording, 5.0))
    assert chunks[0].inputs.shape[1] == 160_000 and chunks[0].inputs.dtype == np.float32
    index, probabilities, embeddings = score(model, recording, 5.0)
    assert index.tolist() == [0, 1, 2, 3]  # ceil(17 / 5)
    assert probabilities.shape == (4, len(STANDIN_CLASSES)) and probabilities.dtype == np.float32
    assert embeddings.shape == (4, 1536) and embeddings.dtype == np.float32
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
    assert probabilities.argmax(axis=1)[[1, 3]].tolist() == [TONE_CLASS, LAST_CLASS]
    assert probabilities[1, TONE_CLASS] > 0.9 and probabilities[3, LAST_CLASS] > 0.9
    assert probabilities[[0, 2, 3], TONE_CLASS].max() < 0.1
    assert probabilities[[0, 2]].max() < 0.1  # silence
    assert not np.allclose(embeddings[1], embeddings[3])


def test_chunking_does_not_change_scores(model: PerchModel, recording: Path) -> None:
    whole = score(model, recording, 5.0)
    pieces = score(model, recording, 5.0, chunk_windows=3)
    later = score(model, recording, 5.0, start_window=2)
    np.testing.assert_allclose(pieces[1], whole[1], atol=1e-5)
    assert later[0].tolist() == [2, 3]
    np.testing.assert_allclose(later[1], whole[1][2:], atol=1e-5)


def test_half_overlap_hops_by_two_and_a_half_seconds(model: PerchModel, recording: Path) -> None:
    hop = hop_for(5.0, 0.5)
    assert hop == 2.5
    index, probabilities, _ = score(model, recording, hop)
    assert index.tolist() == [0, 1, 2, 3, 4, 5]  # windows start at 0, 2.5, ... 12.5 s
    tone = probabilities[:, TONE_CLASS]
    assert tone[[1, 2, 3]].min() > 0.9  # 2.5-7.5, 5-10 and 7.5-12.5 s hold part of the 5.5-9.5 s tone
    assert tone[[0, 4, 5]].max() < 0.1  # 0-5, 10-15 and 12.5-17.5 s do not
    assert probabilities[5, LAST_CLASS] > 0.9 and probabilities[4, LAST_CLASS] < 0.1


def test_peak_normalisation_makes_level_irrelevant(model: PerchModel, tmp_path: Path) -> None:
    t = np.arange(5 * 32000) / 32000
    tone = np.sin(2 * np.pi * band_hz(1) * t).astype(np.float32)
    found = []
    for level in (0.01, 0.9):
        path = tmp_path / f"{level}.wav"
        sf.write(path, level * tone, 32000)
        found.append(score(model, path, 5.0)[1])
    np.testing.assert_allclose(found[0], found[1], atol=1e-4)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("input_length", ["'inputs'", "(batch, 80000)", "(batch, 160000)"]),
        ("output_width", ["'label'", "(batch, 13)", "(batch, 12)", "labels.csv"]),
    ],
)
def test_wrong_shapes_are_refused(tmp_path: Path, kind: str, expected: list[str]) -> None:
    path, _ = write_bad_standin(tmp_path, kind)
    with pytest.raises(ModelError) as error:
        PerchModel(path)
    assert str(path) in str(error.value)
    for text in expected:
        assert text in str(error.value)


def test_labels_count_must_match_the_logits(tmp_path: Path) -> None:
    path, _ = write_standin(tmp_path / "model")
    other = write_standin(tmp_path / "other", classes=["Turdus merula", "Parus major"])[1]
    with pytest.raises(ModelError) as error:
        PerchModel(path, labels=other)
    message = str(error.value)
    assert str(path) in message and str(other) in message
    assert "(batch, 2)" in message and "12" in message


def test_ebird_list_must_match_the_labels(tmp_path: Path) -> None:
    path, labels = write_standin(tmp_path)
    ebird = tmp_path / "perch_v2_ebird_classes.csv"
    ebird.write_text("ebird2021\neurbla\n", encoding="utf-8")
    with pytest.raises(ModelError, match=r"perch_v2_ebird_classes\.csv lists 1 classes"):
        PerchModel(path, labels=labels)


def test_labels_are_found_in_an_assets_folder_and_explicitly(tmp_path: Path) -> None:
    assets = tmp_path / "assets"
    path, labels = write_standin(assets)
    moved = tmp_path / path.name
    path.rename(moved)
    assert len(PerchModel(moved).info.species) == len(STANDIN_CLASSES)
    renamed = tmp_path / "my classes.csv"
    labels.rename(renamed)
    assert PerchModel(moved, labels=renamed).info.species[0].scientific_name == "Turdus merula"


def test_missing_labels_say_where_to_get_them(tmp_path: Path) -> None:
    path, labels = write_standin(tmp_path)
    labels.unlink()
    with pytest.raises(ModelError) as error:
        PerchModel(path)
    assert str(path) in str(error.value) and PERCH_DOWNLOAD_HELP in str(error.value)


@pytest.mark.parametrize("damage", ["truncated", "empty", "not_onnx"])
def test_damaged_files_are_refused(standin: tuple[Path, Path], tmp_path: Path, damage: str) -> None:
    data = standin[0].read_bytes()
    contents = {"truncated": data[: len(data) // 2], "empty": b"", "not_onnx": b"RIFF\x00\x00 not a model"}
    path = tmp_path / "perch_v2.onnx"
    path.write_bytes(contents[damage])
    with pytest.raises(ModelError) as error:
        PerchModel(path, labels=standin[1])
    assert str(path) in str(error.value) and "(batch, 160000)" in str(error.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no such file"):
        PerchModel(tmp_path / "perch_v2.onnx")
