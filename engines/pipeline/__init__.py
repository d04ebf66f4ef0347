"""The top of the engine room: resolve -> prepare (import, export, build) -> run on a
device -> evaluate -> store, plus sweeps and the job matrix. The CLI and the GUI call
these; neither chains engine steps itself."""
