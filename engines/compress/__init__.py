"""Compression: steps with typed settings, recipes, variant building with lineage, sweeps."""
