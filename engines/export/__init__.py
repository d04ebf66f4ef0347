"""Exports from torch to ONNX and TFLite; conversion runs in a worker process."""
