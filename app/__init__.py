"""EdgeBench front ends: the `edgebench` CLI and (soon) the desktop app."""
