"""PDF benchmark reports of stored runs, built headless (reportlab, vector charts).

`build.build_report(ReportRequest, store)` is the entry point; the CLI's `edgebench
report` and the GUI's Export PDF… both drive it.
"""
