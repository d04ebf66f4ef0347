"""`edgebench-gui`: the desktop app's entry point."""

from __future__ import annotations


def main() -> int:
    print("The EdgeBench desktop app is coming soon; use the `edgebench` CLI meanwhile.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
