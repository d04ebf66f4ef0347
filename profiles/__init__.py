"""Data EdgeBench ships: device profiles and compression presets (TOML), with their loader."""
