"""The names of a BirdCLEF-layout folder: ``train_metadata.csv`` and ``train_audio/``.

Apart from the readers in :mod:`trainer.data.metadata`, so that writers of the layout (birdview's
exports and retraining set) name the same files without importing pandas and scikit-learn."""

METADATA_FILE = "train_metadata.csv"
AUDIO_FOLDER = "train_audio"
