"""Runtime adapters (onnxruntime, LiteRT, torch) behind one registry (`registry.py`).

Importing this package imports nothing, not even numpy: the device probe reads runtime
versions from `versions.py` on devices that have no numpy yet (and says to install it),
and each adapter imports its library inside the methods that need it, so
`edgebench --help` and the agent stay light.
"""
