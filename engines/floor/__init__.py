"""The floor of the engine room (standard library only): the run spec, the event protocol,
statistics, the figure catalogue and its number formats, errors, atomic writes and paths.

Everything in `engines` may import it; it imports nothing above it (import-linter checks
this), so the agent can ship to a device with it.
"""
