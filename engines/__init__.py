"""EdgeBench engine room: model import, runtimes, the benchmark agent, the results store.

Nothing here imports Qt, and nothing at package level imports a heavy runtime, so the
agent can ship as a zip of this package alone.
"""

__version__ = "0.1.0"
