"""Where runs happen: a device takes a BenchSpec and yields the agent's events."""
