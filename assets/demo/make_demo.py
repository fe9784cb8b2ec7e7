"""Rebuild the demo recordings in assets/demo/recordings from real birdsong.

What is real: every bird call is cut from ``source/birds_10s.wav`` (10 s of real birdsong at
32 kHz, shipped in the OpenSoundscape wheel, MIT licence, see source/LICENSE-opensoundscape.txt).
What is generated: the background (noise shaped to the spectrum of that recording's quiet part,
with slow gusts of wind and a low rumble) and the placement and loudness of the calls.

Run: python assets/demo/make_demo.py   (seeded: the same files every time)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

HERE = Path(__file__).parent
SOURCE = HERE / "source" / "birds_10s.wav"
OUT = HERE / "recordings"
SAMPLE_RATE = 32000

#: Phrases of the source (start s, end s): three different songs.
PHRASES = {"song_a": (0.05, 1.30), "song_b": (1.60, 4.30), "song_c": (6.70, 9.90)}
QUIET = (4.45, 6.60)


def _shaped_noise(reference: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Noise of length n whose average spectrum matches the reference's."""
    block = 4096
    frames = np.lib.stride_tricks.sliding_window_view(reference, block)[:: block // 2]
    magnitude = np.sqrt((np.abs(np.fft.rfft(frames * np.hanning(block), axis=1)) ** 2).mean(axis=0))
    white = rng.standard_normal(n)
    spectrum = np.fft.rfft(white)
    envelope = np.interp(np.linspace(0, 1, len(spectrum)), np.linspace(0, 1, len(magnitude)), magnitude)
    shaped = np.fft.irfft(spectrum * envelope, n)
    return shaped / shaped.std() * reference.std()


def _wind(n: int, rng: np.random.Generator) -> np.ndarray:
    """Low-frequency rumble whose loudness drifts like gusts."""
    gust = np.interp(np.arange(n), np.linspace(0, n, n // SAMPLE_RATE // 4 + 2), rng.random(n // SAMPLE_RATE // 4 + 2))
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    rumble = np.fft.irfft(spectrum / np.maximum(freqs, 20.0) ** 1.5, n)
    return rumble / rumble.std() * 0.004 * (0.3 + gust**2)


def _fade(clip: np.ndarray, seconds: float = 0.05) -> np.ndarray:
    ramp = np.linspace(0.0, 1.0, int(seconds * SAMPLE_RATE))
    clip = clip.copy()
    clip[: len(ramp)] *= ramp
    clip[-len(ramp) :] *= ramp[::-1]
    return clip


def build(duration_s: float, placements: list[tuple[float, str, float]], seed: int) -> np.ndarray:
    source, rate = sf.read(SOURCE, dtype="float64")
    assert rate == SAMPLE_RATE, rate
    rng = np.random.default_rng(seed)
    n = int(duration_s * SAMPLE_RATE)
    quiet = source[int(QUIET[0] * rate) : int(QUIET[1] * rate)]
    audio = _shaped_noise(quiet, n, rng) * 0.8 + _wind(n, rng)
    for at_s, phrase, gain_db in placements:
        start, end = PHRASES[phrase]
        clip = _fade(source[int(start * rate) : int(end * rate)]) * 10 ** (gain_db / 20)
        offset = int(at_s * SAMPLE_RATE)
        audio[offset : offset + len(clip)] += clip[: n - offset]
    return audio


def write_labels(path: Path, placements: dict[str, list[tuple[float, str, float]]]) -> None:
    """Where each song was placed, as a Perch annotation CSV (birdview import --format perch).
    The songs' species are not documented by the source, so they are named song_a/b/c; quiet
    placements (below -8 dB) are marked uncertain, as a listener would."""
    path.parent.mkdir(exist_ok=True)
    lines = ["recording,start_offset_s,end_offset_s,label,label_type"]
    for recording, songs in placements.items():
        for at_s, phrase, gain_db in songs:
            start, end = PHRASES[phrase]
            kind = "positive" if gain_db > -8 else "uncertain"
            lines.append(f"{recording},{at_s:.2f},{at_s + end - start:.2f},{phrase},{kind}")
    path.write_text("\n".join(lines) + "\n")


def _write_ogg(path: Path, audio: np.ndarray) -> None:
    # libsndfile's Vorbis encoder crashes on very large single writes; feed it in blocks.
    channels = 1 if audio.ndim == 1 else audio.shape[1]
    with sf.SoundFile(path, "w", SAMPLE_RATE, channels, format="OGG", subtype="VORBIS") as out:
        for start in range(0, len(audio), SAMPLE_RATE):
            out.write(audio[start : start + SAMPLE_RATE].astype(np.float32))


def main() -> None:
    OUT.mkdir(exist_ok=True)
    dawn = [
        (4.0, "song_a", 0),
        (12.5, "song_b", -4),
        (31.0, "song_c", 0),
        (47.0, "song_a", -10),
        (63.5, "song_b", 0),
        (88.0, "song_c", -8),
        (96.0, "song_a", -2),
        (121.0, "song_b", -12),
        (150.0, "song_c", -3),
        (152.5, "song_a", -9),
        (181.0, "song_b", -1),
        (207.0, "song_a", 0),
        (233.0, "song_c", -6),
        (262.0, "song_b", -3),
        (281.0, "song_a", -14),
        (291.0, "song_c", 0),
    ]
    write_labels(HERE / "labels" / "demo_labels.csv", {"DEMO-SITE_20240521_053000.ogg": dawn})
    mono = build(300.0, dawn, seed=20240521)
    _write_ogg(OUT / "DEMO-SITE_20240521_053000.ogg", mono)

    later = [(6.0, "song_c", -2), (40.0, "song_b", -6), (71.0, "song_a", 0), (102.0, "song_c", -10)]
    left = build(120.0, later, seed=7)
    # The right microphone hears the same birds a little later and quieter, over its own noise.
    delay = int(0.004 * SAMPLE_RATE)
    right = 0.6 * np.concatenate([np.zeros(delay), left[:-delay]]) + 0.4 * build(120.0, [], seed=8)
    _write_ogg(OUT / "DEMO-SITE_20240521_060000.ogg", np.stack([left, right], axis=1))


if __name__ == "__main__":
    main()
