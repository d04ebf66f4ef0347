"""Run colours shared by the Compare page and the PDF report, so run #n has one colour.

Tableau 10 plus two: distinct in print, on screen and for most colour-blind readers.
"""

RUN_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#393b79",
    "#637939",
)
