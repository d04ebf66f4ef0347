"""Icons, stylesheet and demo data shipped with EdgeBench."""
