"""Model kinds behind one interface: a recording in, per-window probabilities and embeddings out.

- ``base``: the interface (:class:`WindowModel`), the species identity and the windows' audio.
- ``trained``: birdview-train checkpoints and their ONNX exports.
- ``birdnet``: BirdNET V2.4 through LiteRT (the ``birdview[birdnet]`` extra).
- ``perch``: Perch v2 from its ONNX export, a file the user downloads.
- ``registry``: a model from what the user names (``birdnet``, ``perch-v2 FILE``, a file).
"""
