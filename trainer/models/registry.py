"""A model from what the user names: a built-in kind (``birdnet``, ``perch-v2`` with its file) or a
birdview-train checkpoint (.ckpt) or ONNX export (.onnx)."""

from __future__ import annotations

from pathlib import Path

from trainer.models.base import ModelError, WindowModel

BIRDNET, PERCH = "birdnet", "perch-v2"
BUILT_IN = (BIRDNET, PERCH)
#: What Models ▸ Add model and ``models --add`` offer, with what each needs.
DESCRIPTIONS = {
    BIRDNET: "BirdNET V2.4: 6,522 species and other sounds, 3 s windows at 48 kHz; CC BY-NC-SA 4.0 "
    "(non-commercial); needs the birdnet extra",
    PERCH: "Perch v2: 14,795 classes, 5 s windows at 32 kHz; Apache-2.0; needs its ONNX file (downloaded by you)",
}


def load_model(
    spec: str | Path,
    file: str | Path | None = None,
    threads: int | None = None,
    engine: str = "auto",
    precision: str = "fp32",
) -> WindowModel:
    """``birdnet``; ``perch-v2`` with ``file`` (its ONNX export); or a checkpoint / export path."""
    name = str(spec)
    if name == BIRDNET:
        from trainer.models.birdnet import BirdNetModel

        return BirdNetModel(threads=threads)
    if name == PERCH:
        from trainer.models.perch import PERCH_DOWNLOAD_HELP, PerchModel

        if file is None:
            raise ModelError(f"perch-v2 needs its model file (the ONNX export). {PERCH_DOWNLOAD_HELP}")
        return PerchModel(file, threads=threads)
    from trainer.models.trained import TrainedModel

    path = Path(name)
    if not path.exists():
        raise ModelError(f"{path}: no such file (and not one of the built-in models: {', '.join(BUILT_IN)})")
    try:
        return TrainedModel.load(path, threads=threads, engine=engine, precision=precision)
    except ModelError as exc:
        if path.suffix == ".onnx" and "class list" in str(exc):
            raise ModelError(f"{exc}. A Perch v2 export is added as: perch-v2 {path}") from None
        raise
