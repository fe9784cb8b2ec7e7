"""``birdview score --channel N|mix``: one channel of a stereo recording, or the mix of its channels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from birdview.cli import main
from birdview.jobs.scoring import add_model, scored_channel
from birdview.store.project import Project

RATE = 32000


def stereo_call_on_channel_2(path: Path, duration_s: float = 20.0) -> Path:
    """The same noise on both channels; a 3 kHz tone burst at 2-3 s on channel 2 only."""
    rng = np.random.default_rng(7)
    t = np.arange(int(duration_s * RATE)) / RATE
    noise = rng.standard_normal(len(t)).astype(np.float32) * 0.01
    right = noise.copy()
    on = (t >= 2.0) & (t < 3.0)
    right[on] += 0.5 * np.sin(2 * np.pi * 3000.0 * t[on])
    sf.write(path, np.stack([noise, right], axis=1), RATE)
    return path


@pytest.fixture(scope="module")
def sensitive_checkpoint(tmp_path_factory) -> Path:
    """The tests' small random model, its head scaled up so that its scores move with what it hears
    (the plain one's scores all lie within 0.001 of 0.5, below what float16 storage keeps)."""
    import torch

    from tests.synthetic_birds import SPECIES
    from trainer.config import TrainConfig
    from trainer.lightning_module import BirdModule
    from trainer.train import save_module

    torch.manual_seed(0)
    module = BirdModule(TrainConfig(data="-", backbone="test_efficientnet", pretrained=False).as_dict(), list(SPECIES))
    with torch.no_grad():
        module.model.classifier.weight.mul_(2000.0)
        module.model.classifier.bias.zero_()
    return save_module(module, tmp_path_factory.mktemp("model") / "sensitive.ckpt")


@pytest.fixture
def project(tmp_path: Path, sensitive_checkpoint: Path) -> Path:
    audio = tmp_path / "audio"
    audio.mkdir()
    stereo_call_on_channel_2(audio / "stereo.wav")
    with Project.create(tmp_path / "project", species=[]) as project:
        project.add_recordings([audio])
        add_model(project, sensitive_checkpoint)
    return tmp_path / "project"


def _scores(folder: Path) -> np.ndarray:
    with Project.open(folder) as project:
        recording = project.recordings()[0]
        first, stored = project.predictions(1, recording.id)
        assert first == 0
        return np.asarray(stored, dtype=np.float32)


def test_each_channel_scores_what_is_on_it(project: Path, capsys) -> None:
    assert main(["score", "--project", str(project), "--channel", "1"]) == 0
    first = _scores(project)
    assert first.shape == (4, 4)  # four 5 s windows, four classes
    with Project.open(project) as opened:
        assert scored_channel(opened, 1) == 0
    # going on with another channel would mix the two in one model's windows
    assert main(["score", "--project", str(project), "--channel", "2"]) == 2
    assert "scored on channel 1" in capsys.readouterr().err
    assert main(["score", "--project", str(project), "--channel", "2", "--rescore"]) == 0
    second = _scores(project)
    with Project.open(project) as opened:
        assert scored_channel(opened, 1) == 1
    # The call (2-3 s) is in window 0 of channel 2 only; the other windows hear the same noise.
    assert np.abs(first[0] - second[0]).max() > 0.05
    np.testing.assert_allclose(first[1:], second[1:], atol=2e-3)
    assert main(["score", "--project", str(project), "--channel", "mix", "--rescore"]) == 0
    mixed = _scores(project)
    assert np.abs(mixed[0] - first[0]).max() > 0.05  # half the call is in the mix
    np.testing.assert_allclose(mixed[1:], first[1:], atol=2e-3)
    with Project.open(project) as opened:
        assert scored_channel(opened, 1) is None


def test_a_channel_the_recording_lacks_is_named_and_nothing_is_stored(project: Path, capsys) -> None:
    assert main(["score", "--project", str(project), "--channel", "3"]) == 1
    captured = capsys.readouterr()
    assert "stereo.wav has 2 channels: it has no channel 3 to score" in captured.err
    assert "0 window(s) of 0 recording(s) scored" in captured.out
    with Project.open(project) as opened:
        assert opened.scored_recordings(1) == set()
    with pytest.raises(SystemExit):
        main(["score", "--project", str(project), "--channel", "0"])
    assert "channels are counted from 1" in capsys.readouterr().err
