"""The BirdCLEF 2024 classifier pipeline: mel front end, timm model, Lightning training,
sliding-window inference, ONNX export. No Qt here: the birdview app calls it."""

__version__ = "0.1.0"
